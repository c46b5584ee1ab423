"""Anthropic Messages (`POST /v1/messages`).

Facts: docs/wire-formats.md section 1c. The mapping:

* top-level `system` (a string or text blocks) is `Request.system`; a string is one `Text` marked
  `content_form: "string"`. A message's `content` is a list of blocks unless marked the same way.
* blocks: `text` -> `Text`, `image` -> `Image` (base64 as a `data:` URL), `tool_use` ->
  `ToolCall`, `server_tool_use` / `mcp_tool_use` -> `ToolCall` whose kind is the block type,
  `tool_result` -> `ToolResult`, `thinking` / `redacted_thinking` -> `Thinking` with the
  signature or data verbatim; any other block (documents, server tool results, ...) -> `Opaque`.
  The keys a block has beyond those (`cache_control`, `citations`, ...) stay in `extra`.
* `ToolCall.arguments` is the JSON text of the `input` object, written by `arguments_text`
  (compact separators, key order kept, non-ASCII kept). A streamed call is parsed from its
  fragments and written by the same function, so a stream and a non-streamed answer agree; only
  when the fragments do not parse does `arguments` hold them raw, with `parse_error` set.
* tools with an `input_schema` are `Tool`s; server tools (`type: "web_search_20250305"`, ...) are
  kept whole in `extra["_raw"]`. Every other body key is a param.

A response's blocks are read the same way, minus keys whose value is null, so an answer parses
to what a client sends back as the next request's assistant message.
"""

from __future__ import annotations

import json
import re
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
    Role,
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

NAME = _convert.ANTHROPIC
# The API version sent with replayed requests (the one every current SDK sends).
ANTHROPIC_VERSION = "2023-06-01"

# Keys this module adds to `extra` for itself; never sent.
_BOOKKEEPING = frozenset({"content_form", "_source"})


def arguments_text(value: Any) -> str:
    """The one spelling of a tool_use `input` as `ToolCall.arguments`."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def arguments_object(call: ToolCall) -> Any:
    """A call's arguments as a tool_use `input` (an object). A custom (free-form) call from an
    OpenAI transcript, or arguments that are not a JSON object, become `{"input": <raw>}`."""
    if call.kind != "custom":
        if not call.arguments.strip():
            return {}
        try:
            value = json.loads(call.arguments)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    return {"input": call.arguments}


def _wire(extra: Mapping[str, Any]) -> JSON:
    return {k: v for k, v in extra.items() if k not in _BOOKKEEPING}


# --- blocks -----------------------------------------------------------------------------------


# Blocks that call a tool: the client's tools (`tool_use`, kind "function"), and the tools the
# API runs itself (`server_tool_use`) or through an MCP server (`mcp_tool_use`), whose kind is
# their block type: they are not sent to another API (their results come from the server).
_CALLS = ("tool_use", "server_tool_use", "mcp_tool_use")


def _rest(block: Mapping[str, Any], mapped: tuple[str, ...], drop_null: bool) -> JSON:
    return {
        k: v
        for k, v in block.items()
        if k != "type" and k not in mapped and not (drop_null and v is None)
    }


def _parse_image(block: Mapping[str, Any], rest: JSON) -> Part:
    source = block.get("source")
    if not isinstance(source, Mapping):
        return Opaque(dict(block))
    kind = source.get("type")
    media_type: str | None
    mapped: tuple[str, ...]
    if kind == "base64" and isinstance(source.get("data"), str):
        media_type = str(source.get("media_type", ""))
        url, mapped = f"data:{media_type};base64,{source['data']}", ("type", "media_type", "data")
    elif kind == "url" and isinstance(source.get("url"), str):
        media_type, url, mapped = None, source["url"], ("type", "url")
    else:
        return Opaque(dict(block))
    source_rest = {k: v for k, v in source.items() if k not in mapped}
    if source_rest:
        rest["_source"] = source_rest
    return Image(url, media_type or None, rest)


def _parse_result_content(block: Mapping[str, Any], rest: JSON) -> str | tuple[Part, ...]:
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return tuple(parse_block(b) for b in content if isinstance(b, Mapping))
    rest["content_form"] = "absent"
    if "content" in block:
        rest["content"] = content
    return ""


def parse_block(block: Mapping[str, Any], *, drop_null: bool = False) -> Part:
    """One content block as a part. `drop_null` leaves out keys whose value is null (used for
    responses, whose blocks carry nulls a client does not send back)."""
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return Text(block["text"], _rest(block, ("text",), drop_null))
    if kind == "image":
        return _parse_image(block, _rest(block, ("source",), drop_null))
    if kind in _CALLS and isinstance(block.get("id"), str) and "input" in block:
        rest = _rest(block, ("id", "name", "input"), drop_null)
        name = str(block.get("name", ""))
        call_kind = "function" if kind == "tool_use" else str(kind)
        return ToolCall(block["id"], name, arguments_text(block["input"]), call_kind, rest)
    if kind == "tool_result" and isinstance(block.get("tool_use_id"), str):
        is_error = block.get("is_error") is True
        rest = _rest(
            block, ("tool_use_id", "content", *(("is_error",) if is_error else ())), drop_null
        )
        content = _parse_result_content(block, rest)
        return ToolResult(block["tool_use_id"], content, is_error, rest)
    if kind == "thinking" and isinstance(block.get("thinking"), str):
        signature = block.get("signature")
        signed = isinstance(signature, str)
        rest = _rest(block, ("thinking", *(("signature",) if signed else ())), drop_null)
        return Thinking(block["thinking"], signature if signed else None, None, rest)
    if kind == "redacted_thinking" and isinstance(block.get("data"), str):
        return Thinking("", None, block["data"], _rest(block, ("data",), drop_null))
    return Opaque(dict(block))


def _render_image(image: Image) -> JSON:
    extra = dict(image.extra)
    source: JSON
    head, sep, data = image.url.partition(";base64,")
    if image.url.startswith("data:") and sep:
        source = {"type": "base64", "media_type": head.removeprefix("data:"), "data": data}
    else:
        source = {"type": "url", "url": image.url}
    source.update(extra.pop("_source", {}))
    return {"type": "image", "source": source, **_wire(extra)}


def render_block(part: Part) -> JSON:
    match part:
        case Text(text, extra):
            return {"type": "text", "text": text, **_wire(extra)}
        case Image():
            return _render_image(part)
        case ToolCall(id_, name, _, kind, extra):
            return {
                "type": kind if kind in _CALLS else "tool_use",
                "id": id_,
                "name": name,
                "input": arguments_object(part),
                **_wire(extra),
            }
        case ToolResult(call_id, content, is_error, extra):
            out: JSON = {"type": "tool_result", "tool_use_id": call_id}
            if extra.get("content_form") != "absent":
                out["content"] = (
                    content if isinstance(content, str) else [render_block(p) for p in content]
                )
            if is_error:
                out["is_error"] = True
            return {**out, **_wire(extra)}
        case Thinking(text, signature, redacted, extra):
            if redacted is not None:
                return {"type": "redacted_thinking", "data": redacted, **_wire(extra)}
            out = {"type": "thinking", "thinking": text}
            if signature is not None:
                out["signature"] = signature
            return {**out, **_wire(extra)}
        case Opaque(data):
            return dict(data)
    raise TypeError(f"not a part: {part!r}")


# --- messages ---------------------------------------------------------------------------------


def parse_message(d: Mapping[str, Any]) -> Message:
    extra = {k: v for k, v in d.items() if k not in ("role", "content")}
    content = d.get("content")
    parts: tuple[Part, ...] = ()
    if isinstance(content, str):
        parts = (Text(content),)
        extra["content_form"] = "string"
    elif isinstance(content, list):
        parts = tuple(parse_block(b) for b in content if isinstance(b, Mapping))
    else:
        extra["content_form"] = "absent"
        if "content" in d:
            extra["content"] = content
    return Message(as_role(d.get("role")), parts, extra)


def render_message(m: Message) -> JSON:
    form = m.extra.get("content_form")
    out: JSON = {"role": m.role}
    first = m.parts[0] if len(m.parts) == 1 else None
    if form == "string" and isinstance(first, Text) and not _wire(first.extra):
        out["content"] = first.text
    elif form != "absent":
        out["content"] = [render_block(p) for p in m.parts]
    return {**out, **_wire(m.extra)}


# --- tools ------------------------------------------------------------------------------------


def _parse_tool(d: Mapping[str, Any]) -> Tool:
    name = d.get("name")
    if d.get("type", "custom") != "custom" or not isinstance(name, str):
        return Tool(
            str(name or d.get("type", "")), None, None, str(d.get("type")), {"_raw": dict(d)}
        )
    if not isinstance(d.get("input_schema"), Mapping):
        return Tool(name, None, None, "function", {"_raw": dict(d)})
    described = isinstance(d.get("description"), str)
    mapped = ("name", "input_schema", *(("description",) if described else ()))
    extra = {k: v for k, v in d.items() if k not in mapped}
    return Tool(
        name, d["description"] if described else None, dict(d["input_schema"]), "function", extra
    )


_CUSTOM_TOOL_SCHEMA: JSON = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
}


def _render_tool(t: Tool) -> JSON:
    if "_raw" in t.extra:
        return dict(t.extra["_raw"])
    out: JSON = {"name": t.name}
    if t.description is not None:
        out["description"] = t.description
    if t.kind == "custom":
        out["input_schema"] = _CUSTOM_TOOL_SCHEMA
    else:
        out["input_schema"] = (
            t.parameters if t.parameters is not None else _convert.EMPTY_OBJECT_SCHEMA
        )
    return {**out, **t.extra}


# --- requests ---------------------------------------------------------------------------------


def parse_request(body: Mapping[str, Any]) -> Request:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ValueError("an Anthropic messages request needs a `messages` list")
    params = {k: v for k, v in body.items() if k not in ("model", "messages", "system", "tools")}
    system: tuple[Part, ...] | None = None
    raw_system = body.get("system")
    if isinstance(raw_system, str):
        system = (Text(raw_system, {"content_form": "string"}),)
    elif isinstance(raw_system, list):
        system = tuple(parse_block(b) for b in raw_system if isinstance(b, Mapping))
    elif "system" in body:
        params["system"] = raw_system
    tools = body.get("tools")
    if "tools" in body and not isinstance(tools, list):  # null or junk: kept as sent
        params["tools"] = tools
        tools = None
    return Request(
        model=body.get("model"),
        messages=tuple(parse_message(m) for m in messages if isinstance(m, Mapping)),
        system=system,
        tools=None
        if tools is None
        else tuple(_parse_tool(t) for t in tools if isinstance(t, Mapping)),
        params=params,
        wire=NAME,
    )


_SAFE_ID = re.compile(r"[^a-zA-Z0-9_-]")


def _safe_id(part: Part) -> Part:
    """Anthropic tool ids must match ^[a-zA-Z0-9_-]+$; other APIs allow more."""
    if isinstance(part, ToolCall):
        return ToolCall(_SAFE_ID.sub("_", part.id) or "_", part.name, part.arguments, part.kind)
    if isinstance(part, ToolResult):
        return ToolResult(_SAFE_ID.sub("_", part.call_id) or "_", part.content, part.is_error)
    return part


def _from_other_format(request: Request) -> Request:
    """Shape a neutral request by Anthropic's rules: no system role (leading system and developer
    messages join `system`, later ones become user text), only user and assistant turns, tool
    results as user blocks ahead of any other content, consecutive same-role turns merged."""
    neutral = _convert.neutral(request)
    system = list(neutral.system or ())
    messages = list(neutral.messages)
    while messages and messages[0].role in ("system", "developer"):
        system.extend(messages.pop(0).parts)
    shaped: list[Message] = []
    for m in messages:
        role: Role = "assistant" if m.role == "assistant" else "user"
        parts = tuple(_safe_id(p) for p in m.parts if role == "user" or not isinstance(p, Image))
        if shaped and shaped[-1].role == role:
            parts = shaped.pop().parts + parts
        if role == "user":
            parts = tuple(sorted(parts, key=lambda p: not isinstance(p, ToolResult)))
        if parts:
            shaped.append(Message(role, parts))
    text = _convert.system_text(tuple(system))
    return Request(
        neutral.model,
        tuple(shaped),
        (Text(text, {"content_form": "string"}),) if text else None,
        None if neutral.tools is None else tuple(_tool_from_other_format(t) for t in neutral.tools),
        neutral.params,
    )


def _tool_from_other_format(tool: Tool) -> Tool:
    """A neutral tool; a custom (free-form) tool takes one string, `input`, and its grammar, if
    it has one, is told in the description."""
    if tool.kind != "custom":
        return tool
    description = tool.description
    fmt = tool.extra.get("format") or {}
    if isinstance(fmt.get("definition"), str):
        told = f"The input follows this {fmt.get('syntax', '')} grammar:\n{fmt['definition']}"
        description = f"{description}\n\n{told}" if description else told
    return Tool(tool.name, description, None, "custom")


def _render_system(system: tuple[Part, ...]) -> str | list[JSON]:
    first = system[0] if len(system) == 1 else None
    if isinstance(first, Text) and first.extra == {"content_form": "string"}:
        return first.text
    return [render_block(p) for p in system]


def render_request(request: Request) -> JSON:
    source = _convert.origin(request)
    params = _convert.convert_params(request.params, source, NAME)
    if source != NAME:
        request = _from_other_format(request)
    out: JSON = {}
    if request.model is not None:
        out["model"] = request.model
    if request.system is not None:
        out["system"] = _render_system(request.system)
    out["messages"] = [render_message(m) for m in request.messages]
    if request.tools is not None:
        out["tools"] = [_render_tool(t) for t in request.tools]
    out.update(params)
    return out


# --- responses --------------------------------------------------------------------------------


def parse_usage(u: Any) -> Usage | None:
    if not isinstance(u, Mapping):
        return None
    return Usage(
        input_tokens=u.get("input_tokens"),
        output_tokens=u.get("output_tokens"),
        cache_read_tokens=u.get("cache_read_input_tokens"),
        cache_write_tokens=u.get("cache_creation_input_tokens"),
        raw=dict(u),
    )


_RESPONSE_KEYS = frozenset({"id", "type", "role", "model", "content", "stop_reason", "usage"})


def _response(body: Mapping[str, Any], parts: list[Part], extra: JSON) -> Response:
    """The canonical response from a whole message body; `parts` are its content, already read.
    Keys beyond the known ones (`stop_sequence`, `container`, ...) go to `extra` when not null."""
    extra = {
        **{k: v for k, v in body.items() if k not in _RESPONSE_KEYS and v is not None},
        **extra,
    }
    return Response(
        message=Message(as_role(body.get("role") or "assistant"), tuple(parts)),
        finish_reason=body.get("stop_reason"),
        usage=parse_usage(body.get("usage")),
        id=body.get("id"),
        model=body.get("model"),
        extra=extra,
    )


def parse_response(body: Mapping[str, Any]) -> Response:
    content = body.get("content")
    if not isinstance(content, list):
        raise ValueError("an Anthropic message needs a `content` list")
    parts = [parse_block(b, drop_null=True) for b in content if isinstance(b, Mapping)]
    return _response(body, parts, {})


class _Block:
    """A content block being streamed: the start event's block, grown by its deltas."""

    __slots__ = ("block", "json")

    def __init__(self, block: Mapping[str, Any]) -> None:
        self.block = dict(block)
        self.json: list[str] = []

    def apply(self, delta: Mapping[str, Any]) -> bool:
        """Apply one delta; False when its type is unknown."""
        b = self.block
        match delta.get("type"):
            case "text_delta":
                b["text"] = str(b.get("text") or "") + str(delta.get("text", ""))
            case "thinking_delta":
                b["thinking"] = str(b.get("thinking") or "") + str(delta.get("thinking", ""))
            case "signature_delta":
                b["signature"] = delta.get("signature")
            case "input_json_delta":
                self.json.append(str(delta.get("partial_json", "")))
            case "citations_delta":
                b["citations"] = [*(b.get("citations") or []), delta.get("citation")]
            case _:
                return False
        return True

    def part(self) -> Part:
        from redline.transcripts import fastjson  # here, not at the top: see reassemble

        raw = "".join(self.json)
        if raw.strip():
            try:
                self.block["input"] = fastjson.loads(raw)
            except ValueError as e:
                return self._cut_off(raw, str(e))
        return parse_block(self.block, drop_null=True)

    def _cut_off(self, raw: str, error: str) -> Part:
        b = self.block
        kind = b.get("type")
        if kind in _CALLS:
            extra = _rest(b, ("id", "name", "input"), True)
            call_kind = "function" if kind == "tool_use" else str(kind)
            return ToolCall(
                str(b.get("id", "")), str(b.get("name", "")), raw, call_kind, extra, error
            )
        return Opaque({**b, "_partial_json": raw, "_parse_error": error})


def reassemble(events: list[SSEEvent]) -> Reassembly:
    """Rebuild the message from its events, keyed by block `index`. Usage in `message_delta` is
    cumulative, so it overwrites. The stream is complete at `message_stop`, or after a
    `message_delta` with a stop_reason. Events of unknown type, deltas of unknown type and
    events for a block never started are kept verbatim in `extra["unknown_events"]`."""
    # Imported here, where a stream is read (ingest, replay): `show` uses this module for its
    # requests only and need not load msgspec (9 ms of a cold start).
    from redline.transcripts import fastjson

    message: JSON = {}
    usage: JSON = {}
    blocks: dict[int, _Block] = {}
    unknown: list[Any] = []
    complete = False
    error: str | None = None
    for ev in events:
        try:
            data = fastjson.loads(ev.data)
        except ValueError:
            continue
        if not isinstance(data, Mapping):
            continue
        kind = data.get("type") or ev.event
        index = data.get("index")
        match kind:
            case "message_start":
                message = dict(data.get("message") or {})
                usage = dict(message.get("usage") or {})
            case "content_block_start" if isinstance(index, int):
                blocks[index] = _Block(data.get("content_block") or {})
            case "content_block_delta" if index in blocks:
                if not blocks[index].apply(data.get("delta") or {}):
                    unknown.append(dict(data))
            case "content_block_stop" if index in blocks:
                pass
            case "message_delta":
                delta = data.get("delta") or {}
                message.update(delta)
                usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
                complete = complete or bool(delta.get("stop_reason"))
            case "message_stop":
                complete = True
            case "ping":
                pass
            case "error":
                err = data.get("error")
                if isinstance(err, Mapping):
                    error = f"{err.get('type', 'error')}: {err.get('message', '')}"
                else:
                    error = str(err)
            case _:
                unknown.append(dict(data))
    parts = [blocks[i].part() for i in sorted(blocks)]
    if usage:
        message["usage"] = usage
    response = _response(message, parts, {"unknown_events": unknown} if unknown else {})
    return Reassembly(response, complete and error is None, error)


def matches(path: str) -> bool:
    """`/v1/messages` (and any prefix before it); `/v1/messages/count_tokens` is not a call."""
    path = path.rstrip("/")
    # OpenAI's Assistants API also has `.../threads/{id}/messages`; that is not a model call.
    return path.endswith("/messages") and "/threads/" not in path


# Finish reasons that mean the model was stopped before it finished.
_CUT_OFF = frozenset({"max_tokens", "model_context_window_exceeded"})
_STREAM_EVENTS = frozenset({"message_start", "content_block_start", "content_block_delta"})


class _AnthropicMessages(BodyKeys):
    name = NAME
    history_key = "messages"
    system_key = "system"
    terminal_events = frozenset({"message_stop", "error"})
    stream_end = "message_stop"

    def error_body(self, status: int, message: str, kind: str) -> JSON:
        return {"type": "error", "error": {"type": kind, "message": message}}

    matches = staticmethod(matches)
    parse_request = staticmethod(parse_request)
    render_request = staticmethod(render_request)
    parse_response = staticmethod(parse_response)
    reassemble = staticmethod(reassemble)

    default_key_env = "ANTHROPIC_API_KEY"

    def answering(self, results: Sequence[ToolResult]) -> tuple[Message, ...]:
        """The results of one answer's calls come back in one user message."""
        return (Message("user", tuple(results)),) if results else ()

    def endpoint(self, base_url: str) -> str:
        # The SDK takes the base URL without /v1 (https://api.anthropic.com) and adds it.
        return base_url.rstrip("/") + "/v1/messages"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        return headers

    def is_cut_off(self, finish_reason: str | None) -> bool:
        return finish_reason in _CUT_OFF

    def continues(self, request: Request) -> str | None:
        return None

    def sniff_response(self, body: Mapping[str, Any]) -> bool:
        return body.get("type") == "message" or ("content" in body and "stop_reason" in body)

    def sniff_stream(self, event_types: Collection[str]) -> bool:
        return bool(_STREAM_EVENTS.intersection(event_types))


FORMAT = _AnthropicMessages()
