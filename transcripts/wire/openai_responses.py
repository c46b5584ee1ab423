"""OpenAI Responses (`POST /v1/responses`).

Facts: docs/wire-formats.md section 1b. The mapping:

* `instructions` is `Request.system` (one `Text`); absent stays None. `input` as a bare string is
  one user message marked `content_form: "input_string"`.
* Consecutive items of the model's side (an assistant `message`, `function_call`,
  `custom_tool_call`, `reasoning` and the built-in `*_call` items) form ONE assistant message,
  as a Chat Completions or Anthropic turn would: output_text -> `Text`, calls -> `ToolCall`
  (`id` is the `call_id`; custom calls have kind "custom" and their raw `input` as arguments;
  a built-in tool's `*_call` item has the item type as its kind and the whole item's JSON as
  arguments, and is named by its `name`, else its type: `apply_patch_call`, `shell_call`...),
  reasoning -> `Thinking` (summary text as `text`, `encrypted_content` as `redacted`, the rest of
  the item verbatim), anything else -> `Opaque`. The first `Text` of each message item carries
  that item's own keys in `extra["_item"]`, which is how render finds the item boundaries again.
* every other item is a message of its own: `message` items by role, `*_call_output` items with
  a `call_id` and an `output` as `tool` messages holding one `ToolResult`, unknown items as an
  `Opaque` part in a message marked `_raw_item`.
* tools: function and custom tools are `Tool`s; built-ins (`web_search`, `apply_patch`, `shell`,
  `namespace`, ...) are kept whole in `extra["_raw"]`. Every other body key, including
  `previous_response_id`, is a param.

A response's output parses the same way, without the item keys a client does not send back (the
item `id` and `status`, empty `annotations`/`logprobs`; Codex's `codex-rs/protocol/src/models.rs`
skips them), so the answer matches the assistant message of the next request's `input`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from redline.transcripts.model import (
    JSON,
    Image,
    Message,
    Opaque,
    Part,
    Request,
    Response,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
    as_role,
)
from redline.transcripts.sse import SSEEvent
from redline.transcripts.wire import _convert
from redline.transcripts.wire.format import BodyKeys, Reassembly
from redline.transcripts.wire.openai_responses_stream import TERMINAL, assemble

NAME = _convert.RESPONSES

# Keys this module adds to `extra` for itself; never sent.
_BOOKKEEPING = frozenset({"content_form", "_item", "_raw_item"})

# Per item type, the keys a client leaves out when it sends an answer back as history.
_NOT_RESENT: dict[str, tuple[str, ...]] = {
    "message": ("id", "status"),
    "function_call": ("id", "status"),
    "custom_tool_call": ("id",),
    "reasoning": ("id", "status"),
}

_CALL_KINDS = {"function_call": ("function", "arguments"), "custom_tool_call": ("custom", "input")}


def _wire(extra: Mapping[str, Any]) -> JSON:
    return {k: v for k, v in extra.items() if k not in _BOOKKEEPING}


def _without(d: Mapping[str, Any], keys: tuple[str, ...]) -> JSON:
    return {k: v for k, v in d.items() if k not in keys}


def _is_model_item(item: Mapping[str, Any]) -> bool:
    """True for the items the model produces (they form one assistant message)."""
    kind = item.get("type", "message")
    if kind == "message":
        return item.get("role") == "assistant"
    return kind in ("reasoning", "compaction", "mcp_list_tools", "mcp_approval_request") or (
        isinstance(kind, str) and kind.endswith("_call")
    )


# --- content parts ----------------------------------------------------------------------------


def _parse_content_part(part: Mapping[str, Any], default_type: str) -> Part:
    kind = part.get("type")
    if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
        extra = {k: v for k, v in part.items() if k != "text" and (k, v) != ("type", default_type)}
        return Text(part["text"], extra)
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        return Image(part["image_url"], None, _without(part, ("type", "image_url")))
    return Opaque(dict(part))


def _render_content_part(part: Part, default_type: str) -> JSON:
    match part:
        case Text(text, extra):
            return {"type": default_type, "text": text, **_wire(extra)}
        case Image(url, _, extra):
            return {"type": "input_image", "image_url": url, **_wire(extra)}
        case Opaque(data):
            return dict(data)
    raise ValueError(f"{type(part).__name__} has no Responses content form")


# --- items ------------------------------------------------------------------------------------


def _parse_model_message(item: Mapping[str, Any], keys: JSON, strip: bool) -> list[Part]:
    content = item.get("content")
    meta = _without(keys, ("role", "content"))
    if isinstance(content, str):
        return [Text(content, {"_item": meta, "content_form": "string"})]
    if (
        not isinstance(content, list)
        or not content
        or not all(
            isinstance(p, Mapping)
            and p.get("type") == "output_text"
            and isinstance(p.get("text"), str)
            for p in content
        )
    ):
        return [Opaque(dict(item))]  # a refusal, or a shape we do not know: kept whole
    parts: list[Part] = []
    for p in content:
        extra = _without(p, ("type", "text"))
        if strip:
            extra = {k: v for k, v in extra.items() if v or k not in ("annotations", "logprobs")}
        if not parts:
            extra["_item"] = meta
        parts.append(Text(p["text"], extra))
    return parts


def _reasoning_text(item: Mapping[str, Any]) -> str:
    for key in ("summary", "content"):
        texts = [
            s["text"]
            for s in item.get(key) or []
            if isinstance(s, Mapping) and isinstance(s.get("text"), str)
        ]
        if texts:
            return "\n\n".join(texts)
    return ""


def _model_parts(item: Mapping[str, Any], *, strip: bool = False) -> list[Part]:
    """The parts one model-side item contributes to its assistant message. `strip` leaves out
    the keys a client does not send back (for items read from a response)."""
    kind = item.get("type", "message")
    keys = _without(item, _NOT_RESENT.get(str(kind), ())) if strip else dict(item)
    if kind == "message" and item.get("role") == "assistant":
        return _parse_model_message(item, keys, strip)
    if kind in _CALL_KINDS:
        call_kind, field = _CALL_KINDS[str(kind)]
        values = [item.get(k) for k in ("call_id", "name", field)]
        if all(isinstance(v, str) for v in values):
            call_id, name, arguments = (str(v) for v in values)
            extra = _without(keys, ("type", "call_id", "name", field))
            return [ToolCall(call_id, name, arguments, call_kind, extra)]
    if isinstance(kind, str) and kind.endswith("_call") and (call := _builtin_call(item, keys)):
        return [call]
    if kind == "reasoning":
        encrypted = item.get("encrypted_content")
        sealed = isinstance(encrypted, str)
        extra = _without(keys, ("type", *(("encrypted_content",) if sealed else ())))
        return [Thinking(_reasoning_text(item), None, encrypted if sealed else None, extra)]
    return [Opaque(dict(item))]


def _builtin_call(item: Mapping[str, Any], keys: JSON) -> ToolCall | None:
    """A built-in tool's call (`apply_patch_call`, `shell_call`, `local_shell_call`,
    `web_search_call`, `mcp_call`...) as a `ToolCall` whose kind is the item type, named by its
    `name` or else its type, its arguments the JSON of the whole item."""
    kind = str(item["type"])
    ident = item.get("call_id") if isinstance(item.get("call_id"), str) else item.get("id")
    if not isinstance(ident, str):
        return None
    name = item.get("name")
    return ToolCall(ident, name if isinstance(name, str) else kind, json.dumps(keys), kind)


def _parse_result(item: Mapping[str, Any]) -> Message | None:
    output, call_id = item.get("output"), item.get("call_id")
    if not isinstance(call_id, str) or not isinstance(output, str | list):
        return None
    content: str | tuple[Part, ...] = (
        output
        if isinstance(output, str)
        else tuple(_parse_content_part(p, "input_text") for p in output if isinstance(p, Mapping))
    )
    extra = {
        k: v
        for k, v in item.items()
        if k not in ("call_id", "output") and (k, v) != ("type", "function_call_output")
    }
    return Message("tool", (ToolResult(call_id, content, False, extra),))


def _parse_item(item: Mapping[str, Any]) -> Message:
    """A message from one item that is not the model's."""
    kind = item.get("type", "message")
    content = item.get("content")
    if kind == "message" and isinstance(content, str | list):
        extra = _without(item, ("role", "content"))
        if isinstance(content, str):
            parts: tuple[Part, ...] = (Text(content),)
            extra["content_form"] = "string"
        else:
            parts = tuple(
                _parse_content_part(p, "input_text") for p in content if isinstance(p, Mapping)
            )
        return Message(as_role(item.get("role", "user")), parts, extra)
    if isinstance(kind, str) and kind.endswith("_call_output"):
        result = _parse_result(item)
        if result is not None:
            return result
    role = item.get("role")
    if role is None:
        role = "tool" if str(kind).endswith("_output") else "user"
    return Message(as_role(role), (Opaque(dict(item)),), {"_raw_item": True})


def parse_items(items: list[Any]) -> tuple[Message, ...]:
    messages: list[Message] = []
    run: list[Part] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if _is_model_item(item):
            run.extend(_model_parts(item))
            continue
        if run:
            messages.append(Message("assistant", tuple(run)))
            run = []
        messages.append(_parse_item(item))
    if run:
        messages.append(Message("assistant", tuple(run)))
    return tuple(messages)


def _render_model_part(part: Part) -> JSON:
    match part:
        case ToolCall(_, _, arguments, kind) if kind not in ("function", "custom"):
            whole: JSON = json.loads(arguments)  # a built-in tool's call: the whole item
            return whole
        case ToolCall(id_, name, arguments, kind, extra):
            item_type, field = (
                ("custom_tool_call", "input")
                if kind == "custom"
                else ("function_call", "arguments")
            )
            return {
                "type": item_type,
                "call_id": id_,
                "name": name,
                field: arguments,
                **_wire(extra),
            }
        case Thinking(text, _, redacted, extra):
            summary = [{"type": "summary_text", "text": text}] if text else []
            item: JSON = {"type": "reasoning", "summary": summary, **_wire(extra)}
            if redacted is not None:
                item["encrypted_content"] = redacted
            return item
        case ToolResult():
            return _render_result(part)
        case Opaque(data):
            return dict(data)
    raise ValueError(f"{type(part).__name__} is not a Responses item")


def _render_model_message(parts: tuple[Part, ...]) -> list[JSON]:
    items: list[JSON] = []
    current: list[JSON] | None = None  # the content list Text and Image parts go into
    for part in parts:
        if not isinstance(part, Text | Image):
            items.append(_render_model_part(part))
            current = None
            continue
        meta = part.extra.get("_item")
        if meta is not None or current is None:
            current = []
            head = {"type": "message"} if meta is None else meta
            items.append({**head, "role": "assistant", "content": current})
        if isinstance(part, Text) and part.extra.get("content_form") == "string":
            items[-1]["content"], current = part.text, None
        else:
            current.append(_render_content_part(part, "output_text"))
    return items


def _render_result(result: ToolResult) -> JSON:
    content = result.content
    output = (
        content
        if isinstance(content, str)
        else [_render_content_part(p, "input_text") for p in content]
    )
    return {
        "type": "function_call_output",
        "call_id": result.call_id,
        "output": output,
        **_wire(result.extra),
    }


def render_items(m: Message) -> list[JSON]:
    if m.extra.get("_raw_item"):
        return [dict(p.data) for p in m.parts if isinstance(p, Opaque)]
    if m.role == "assistant":
        return _render_model_message(m.parts)
    results = [_render_result(p) for p in m.parts if isinstance(p, ToolResult)]
    others = [p for p in m.parts if not isinstance(p, ToolResult)]
    if m.role == "tool" or (results and not others):
        return results
    first = others[0] if len(others) == 1 else None
    content: str | list[JSON]
    if (
        m.extra.get("content_form") == "string"
        and isinstance(first, Text)
        and not _wire(first.extra)
    ):
        content = first.text
    else:
        content = [_render_content_part(p, "input_text") for p in others]
    return [*results, {**_wire(m.extra), "role": m.role, "content": content}]


# --- tools ------------------------------------------------------------------------------------


def _parse_tool(d: Mapping[str, Any]) -> Tool:
    kind, name = d.get("type"), d.get("name")
    if kind not in ("function", "custom") or not isinstance(name, str):
        return Tool(str(name or kind or ""), None, None, str(kind), {"_raw": dict(d)})
    described = isinstance(d.get("description"), str)
    schema = d.get("parameters") if kind == "function" else None
    mapped = ("type", "name", *(("description",) if described else ()))
    mapped += ("parameters",) if isinstance(schema, Mapping) else ()
    return Tool(
        name,
        d["description"] if described else None,
        dict(schema) if isinstance(schema, Mapping) else None,
        str(kind),
        _without(d, mapped),
    )


def _render_tool(t: Tool) -> JSON:
    if "_raw" in t.extra:
        return dict(t.extra["_raw"])
    out: JSON = {"type": t.kind, "name": t.name}
    if t.description is not None:
        out["description"] = t.description
    if t.parameters is not None:
        out["parameters"] = t.parameters
    return {**out, **t.extra}


# --- requests ---------------------------------------------------------------------------------


def parse_request(body: Mapping[str, Any]) -> Request:
    params = {k: v for k, v in body.items() if k not in ("model", "input", "instructions", "tools")}
    instructions = body.get("instructions")
    system = (Text(instructions),) if isinstance(instructions, str) else None
    if "instructions" in body and system is None:
        params["instructions"] = instructions
    raw_input = body.get("input")
    messages: tuple[Message, ...] = ()
    if isinstance(raw_input, str):
        messages = (Message("user", (Text(raw_input),), {"content_form": "input_string"}),)
    elif isinstance(raw_input, list):
        messages = parse_items(raw_input)
    elif "input" in body:
        params["input"] = raw_input
    tools = body.get("tools")
    if "tools" in body and not isinstance(tools, list):  # null or junk: kept as sent
        params["tools"] = tools
        tools = None
    return Request(
        model=body.get("model"),
        messages=messages,
        system=system,
        tools=None
        if tools is None
        else tuple(_parse_tool(t) for t in tools if isinstance(t, Mapping)),
        params=params,
        wire=NAME,
    )


def _with_detail(part: Part) -> Part:
    return Image(part.url, part.media_type, {"detail": "auto"}) if isinstance(part, Image) else part


def _from_other_format(request: Request) -> Request:
    """Shape a neutral request as Codex would send it: `type: "message"` items, assistant text
    as output_text, results of custom calls as custom_tool_call_output, function tools with
    `strict: false` (Responses defaults to strict schemas, which other APIs' schemas fail)."""
    neutral = _convert.neutral(request)
    kinds = {c.id: c.kind for m in neutral.messages for c in m.tool_calls}
    messages: list[Message] = []
    for m in neutral.messages:
        if m.role == "tool" and isinstance(result := m.parts[0], ToolResult):
            content = result.content
            if not isinstance(content, str):
                content = tuple(_with_detail(p) for p in content)
            extra = (
                {"type": "custom_tool_call_output"} if kinds.get(result.call_id) == "custom" else {}
            )
            messages.append(Message("tool", (ToolResult(result.call_id, content, False, extra),)))
        elif m.role == "assistant":
            parts: list[Part] = []
            for p in m.parts:
                if isinstance(p, Text) and not (parts and isinstance(parts[-1], Text)):
                    p = Text(p.text, {"_item": {"type": "message"}})  # starts a message item
                parts.append(p)
            messages.append(Message("assistant", tuple(parts)))
        else:
            messages.append(
                Message(m.role, tuple(_with_detail(p) for p in m.parts), {"type": "message"})
            )
    tools = None
    if neutral.tools is not None:
        tools = tuple(
            t
            if t.kind == "custom"
            else Tool(
                t.name,
                t.description,
                t.parameters or _convert.EMPTY_OBJECT_SCHEMA,
                "function",
                {"strict": False},
            )
            for t in neutral.tools
        )
    return Request(neutral.model, tuple(messages), neutral.system or None, tools, neutral.params)


def render_request(request: Request) -> JSON:
    source = _convert.origin(request)
    params = _convert.convert_params(request.params, source, NAME)
    if source != NAME:
        request = _from_other_format(request)
    out: JSON = {}
    if request.model is not None:
        out["model"] = request.model
    if request.system is not None:
        out["instructions"] = _convert.system_text(request.system)
    messages = request.messages
    first = messages[0] if len(messages) == 1 else None
    if first is not None and first.extra.get("content_form") == "input_string":
        out["input"] = first.text
    elif messages:
        out["input"] = [item for m in messages for item in render_items(m)]
    if request.tools is not None:
        out["tools"] = [_render_tool(t) for t in request.tools]
    out.update(params)
    return out


# --- responses --------------------------------------------------------------------------------


def parse_usage(u: Any) -> Usage | None:
    if not isinstance(u, Mapping):
        return None
    input_details = u.get("input_tokens_details") or {}
    output_details = u.get("output_tokens_details") or {}
    return Usage(
        input_tokens=u.get("input_tokens"),
        output_tokens=u.get("output_tokens"),
        cache_read_tokens=input_details.get("cached_tokens"),
        cache_write_tokens=input_details.get("cache_write_tokens"),
        reasoning_tokens=output_details.get("reasoning_tokens"),
        raw=dict(u),
    )


def parse_response(body: Mapping[str, Any]) -> Response:
    output = body.get("output")
    if not isinstance(output, list):
        raise ValueError("a Responses response needs an `output` list")
    parts = [
        p for item in output if isinstance(item, Mapping) for p in _model_parts(item, strip=True)
    ]
    status = body.get("status")
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    return Response(
        message=Message("assistant", tuple(parts)),
        finish_reason=reason if status == "incomplete" and reason else status,
        usage=parse_usage(body.get("usage")),
        id=body.get("id"),
        model=body.get("model"),
        extra={k: body[k] for k in ("error", "incomplete_details") if body.get(k) is not None},
    )


def reassemble(events: list[SSEEvent]) -> Reassembly:
    """Rebuild the response from its events (`openai_responses_stream.assemble`): the terminal
    event's response, or the items accumulated when it has no `output`. No terminal event:
    complete=False with the partial output. An error event or `response.failed` sets `error`;
    events outside the `response.*` namespace are kept in `extra["unknown_events"]`."""
    assembled = assemble(events)
    response = parse_response(assembled.body)
    if not assembled.terminal:
        response = dataclasses.replace(response, finish_reason=None)
    if assembled.unknown:
        response = dataclasses.replace(
            response, extra={**response.extra, "unknown_events": assembled.unknown}
        )
    return Reassembly(response, assembled.terminal and assembled.error is None, assembled.error)


def matches(path: str) -> bool:
    """`POST /v1/responses` (and any prefix before it, e.g. the ChatGPT backend's
    `/backend-api/codex/responses`). `/responses/compact`, `/responses/{id}` and its
    `/cancel` and `/input_items` are other operations, with other bodies, and do not match."""
    return path.rstrip("/").endswith("/responses")


# Finish reasons (the status, or the reason an answer is incomplete) that mean the model was
# stopped before it finished.
_CUT_OFF = frozenset({"incomplete", "max_output_tokens", "content_filter"})


class _OpenAIResponses(BodyKeys):
    name = NAME
    history_key = "input"
    system_key = "instructions"
    # A WebSocket turn also ends at an error event, which the HTTP stream would end with too.
    terminal_events = frozenset({*TERMINAL, "error", "response.error"})
    stream_end = " or ".join(sorted(TERMINAL))
    stream_only = ("stream_options",)
    matches = staticmethod(matches)
    parse_request = staticmethod(parse_request)
    render_request = staticmethod(render_request)
    parse_response = staticmethod(parse_response)
    reassemble = staticmethod(reassemble)

    default_key_env = "OPENAI_API_KEY"

    def endpoint(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/responses"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def is_cut_off(self, finish_reason: str | None) -> bool:
        return finish_reason in _CUT_OFF

    def continues(self, request: Request) -> str | None:
        previous = request.params.get("previous_response_id")
        return previous if isinstance(previous, str) else None

    def can_split(self, items: Sequence[Any], index: int) -> bool:
        # Consecutive model items form one assistant message: never cut between two.
        if not 0 < index < len(items):
            return True
        before, after = items[index - 1], items[index]
        return not (
            isinstance(before, Mapping)
            and isinstance(after, Mapping)
            and _is_model_item(before)
            and _is_model_item(after)
        )

    def detach(self, request: Request, history: tuple[Message, ...]) -> Request:
        params = {k: v for k, v in request.params.items() if k != "previous_response_id"}
        return dataclasses.replace(request, messages=history + request.messages, params=params)

    def sniff_response(self, body: Mapping[str, Any]) -> bool:
        return "output" in body or body.get("object") == "response"

    def sniff_stream(self, event_types: Collection[str]) -> bool:
        return any(t.startswith("response.") for t in event_types)


FORMAT = _OpenAIResponses()
