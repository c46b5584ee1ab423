"""OpenAI Chat Completions (`POST /v1/chat/completions`).

Facts: docs/wire-formats.md section 1a. How a message's `content` was spelled
(a string, a list of parts, null or absent) is kept in `Message.extra["content_form"]` so that
render(parse(x)) gives back x.
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

NAME = _convert.CHAT
# The `data:` value that ends a stream.
DONE = "[DONE]"


# --- content ----------------------------------------------------------------------------------


def _parse_content_item(item: Mapping[str, Any]) -> Part:
    kind = item.get("type")
    if kind == "text" and isinstance(item.get("text"), str):
        return Text(item["text"], {k: v for k, v in item.items() if k not in ("type", "text")})
    if kind == "image_url" and isinstance(item.get("image_url"), Mapping):
        image = dict(item["image_url"])
        url = image.pop("url", "")
        rest = {k: v for k, v in item.items() if k not in ("type", "image_url")}
        if image:
            rest["image_url"] = image
        return Image(url, None, rest)
    return Opaque(dict(item))


def _render_content_item(part: Part) -> JSON:
    match part:
        case Text(text, extra):
            return {"type": "text", "text": text, **extra}
        case Image(url, _, extra):
            rest = dict(extra)
            image = {"url": url, **rest.pop("image_url", {})}
            return {"type": "image_url", "image_url": image, **rest}
        case Opaque(data):
            return dict(data)
    raise ValueError(f"{type(part).__name__} has no Chat Completions content form")


def _parse_content(content: Any) -> tuple[tuple[Part, ...], str | None]:
    """Parts plus the form marker (None for a plain string)."""
    if content is None:
        return (), "null"
    if isinstance(content, str):
        return (Text(content),), None
    if isinstance(content, list):
        return tuple(_parse_content_item(i) for i in content if isinstance(i, Mapping)), "list"
    return (Opaque({"content": content}),), "other"


def _render_content(parts: Sequence[Part], form: str | None) -> Any:
    if form == "null" and not parts:
        return None
    if form == "other" and len(parts) == 1 and isinstance(parts[0], Opaque):
        return parts[0].data["content"]
    if form is None and len(parts) == 1 and isinstance(parts[0], Text) and not parts[0].extra:
        return parts[0].text
    if form is None and not parts:
        return ""
    return [_render_content_item(p) for p in parts]


# --- messages ---------------------------------------------------------------------------------


def _parse_tool_call(call: Mapping[str, Any]) -> ToolCall:
    kind = call.get("type", "function")
    extra = {k: v for k, v in call.items() if k not in ("id", "type", kind)}
    if "type" not in call:
        extra["_no_type"] = True
    body = call.get(kind) if isinstance(call.get(kind), Mapping) else {}
    assert isinstance(body, Mapping)
    args = body.get("input", "") if kind == "custom" else body.get("arguments", "")
    rest = {k: v for k, v in body.items() if k not in ("name", "arguments", "input")}
    if rest:
        extra["_body"] = rest
    return ToolCall(str(call.get("id", "")), str(body.get("name", "")), str(args), kind, extra)


def _render_tool_call(call: ToolCall) -> JSON:
    extra = dict(call.extra)
    body: JSON = {"name": call.name}
    body["input" if call.kind == "custom" else "arguments"] = call.arguments
    body.update(extra.pop("_body", {}))
    out: JSON = {"id": call.id}
    if not extra.pop("_no_type", False):
        out["type"] = call.kind
    out[call.kind] = body
    out.update(extra)
    return out


_MESSAGE_KEYS = {"role", "content", "tool_calls", "tool_call_id"}


def parse_message(d: Mapping[str, Any]) -> Message:
    role = as_role(d.get("role"))
    extra = {k: v for k, v in d.items() if k not in _MESSAGE_KEYS}
    if "content" in d:
        parts, form = _parse_content(d["content"])
    else:
        parts, form = (), "absent"
    if form is not None:
        extra["content_form"] = form
    if role == "tool":
        content: str | tuple[Part, ...]
        content = parts[0].text if form is None and isinstance(parts[0], Text) else parts
        return Message(role, (ToolResult(str(d.get("tool_call_id", "")), content),), extra)
    calls = d.get("tool_calls")
    if isinstance(calls, list):
        parts = parts + tuple(_parse_tool_call(c) for c in calls if isinstance(c, Mapping))
    elif "tool_calls" in d:
        extra["tool_calls"] = calls
    return Message(role, parts, extra)


def render_message(m: Message) -> JSON:
    extra = dict(m.extra)
    form = extra.pop("content_form", None)
    out: JSON = {"role": m.role}
    if m.role == "tool" and m.parts and isinstance(m.parts[0], ToolResult):
        result = m.parts[0]
        out["tool_call_id"] = result.call_id
        if isinstance(result.content, str):
            out["content"] = (
                result.content if form is None else [{"type": "text", "text": result.content}]
            )
        else:
            out["content"] = _render_content(list(result.content), form)
        out.update(extra)
        return out
    calls = [p for p in m.parts if isinstance(p, ToolCall)]
    # Reasoning is not sent back to Chat Completions upstreams; the other parts are content.
    others = [p for p in m.parts if not isinstance(p, ToolCall | ToolResult | Thinking)]
    if form != "absent":
        out["content"] = _render_content(others, form)
    if calls:
        out["tool_calls"] = [_render_tool_call(c) for c in calls]
    out.update(extra)
    return out


# --- tools ------------------------------------------------------------------------------------


def _parse_tool(d: Mapping[str, Any]) -> Tool:
    kind = str(d.get("type", "function"))
    body = d.get(kind)
    if kind not in ("function", "custom") or not isinstance(body, Mapping):
        return Tool(str(d.get("name", "")), None, None, kind, {"_raw": dict(d)})
    extra = {k: v for k, v in body.items() if k not in ("name", "description", "parameters")}
    outer = {k: v for k, v in d.items() if k not in ("type", kind)}
    if outer:
        extra["_outer"] = outer
    return Tool(
        str(body.get("name", "")), body.get("description"), body.get("parameters"), kind, extra
    )


def _render_tool(t: Tool) -> JSON:
    if "_raw" in t.extra:
        return dict(t.extra["_raw"])
    extra = dict(t.extra)
    outer = extra.pop("_outer", {})
    body: JSON = {"name": t.name}
    if t.description is not None:
        body["description"] = t.description
    if t.parameters is not None:
        body["parameters"] = t.parameters
    body.update(extra)
    return {"type": t.kind, t.kind: body, **outer}


# --- requests ---------------------------------------------------------------------------------


def parse_request(body: Mapping[str, Any]) -> Request:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ValueError("a chat completions request needs a `messages` list")
    tools = body.get("tools")
    params = {k: v for k, v in body.items() if k not in ("model", "messages", "tools")}
    if tools is not None and not isinstance(tools, list):
        params["tools"] = tools
        tools = None
    return Request(
        model=body.get("model"),
        messages=tuple(parse_message(m) for m in messages if isinstance(m, Mapping)),
        tools=None
        if tools is None
        else tuple(_parse_tool(t) for t in tools if isinstance(t, Mapping)),
        params=params,
        wire=NAME,
    )


def _from_other_format(request: Request) -> Request:
    """Shape a neutral request (see _convert) by Chat Completions' rules: a tool message's
    content is text only, and an assistant turn without text has `content: null`."""
    neutral = _convert.neutral(request)
    messages: list[Message] = []
    for m in neutral.messages:
        result = m.parts[0]
        if m.role == "tool" and isinstance(result, ToolResult):
            if not isinstance(result.content, str):
                text = "\n".join(p.text for p in result.content if isinstance(p, Text))
                m = Message("tool", (ToolResult(result.call_id, text),))
        elif m.role == "assistant" and not any(isinstance(p, Text) for p in m.parts):
            m = Message("assistant", m.parts, {"content_form": "null"})
        messages.append(m)
    tools = (
        None if neutral.tools is None else tuple(_tool_from_other_format(t) for t in neutral.tools)
    )
    return dataclasses.replace(neutral, messages=tuple(messages), tools=tools)


def _tool_from_other_format(tool: Tool) -> Tool:
    """A neutral custom tool's grammar nests under `grammar`, as Chat Completions spells it."""
    fmt = tool.extra.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "grammar":
        grammar = {k: v for k, v in fmt.items() if k != "type"}
        return dataclasses.replace(tool, extra={"format": {"type": "grammar", "grammar": grammar}})
    return tool


def render_request(request: Request) -> JSON:
    source = _convert.origin(request)
    params = _convert.convert_params(request.params, source, NAME)
    if source != NAME:
        request = _from_other_format(request)
    out: JSON = {}
    if request.model is not None:
        out["model"] = request.model
    messages = [render_message(m) for m in request.messages]
    if request.system:
        messages.insert(0, {"role": "system", "content": _convert.system_text(request.system)})
    out["messages"] = messages
    if request.tools is not None:
        out["tools"] = [_render_tool(t) for t in request.tools]
    out.update(params)
    return out


# --- responses --------------------------------------------------------------------------------


def parse_usage(u: Any) -> Usage | None:
    if not isinstance(u, Mapping):
        return None
    prompt_details = u.get("prompt_tokens_details") or {}
    completion_details = u.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=u.get("prompt_tokens"),
        output_tokens=u.get("completion_tokens"),
        cache_read_tokens=prompt_details.get("cached_tokens"),
        cache_write_tokens=prompt_details.get("cache_write_tokens"),
        reasoning_tokens=completion_details.get("reasoning_tokens"),
        raw=dict(u),
    )


def _response_message(
    role: str, text: str | None, refusal: str | None, reasoning: str | None, calls: list[ToolCall]
) -> Message:
    """One normal form for an answer, whether it arrived whole or as a stream, so the two
    spellings of the same answer compare equal."""
    parts: list[Part] = []
    if reasoning:
        parts.append(Thinking(reasoning))
    if text:
        parts.append(Text(text))
    parts.extend(calls)
    extra: JSON = {} if text else {"content_form": "null"}
    if refusal:
        extra["refusal"] = refusal
    return Message(as_role(role or "assistant"), tuple(parts), extra)


def parse_response(body: Mapping[str, Any]) -> Response:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError("a chat completion needs a non-empty `choices` list")
    choice = choices[0]
    msg = choice.get("message") or {}
    content = msg.get("content")
    text = content if isinstance(content, str) else None
    if isinstance(content, list):
        text = "".join(i.get("text", "") for i in content if isinstance(i, Mapping))
    calls = [_parse_tool_call(c) for c in msg.get("tool_calls") or [] if isinstance(c, Mapping)]
    calls += _legacy_function_call(msg.get("function_call"))
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    message = _response_message(
        msg.get("role", "assistant"), text, msg.get("refusal"), reasoning, calls
    )
    extra: JSON = {}
    if len(choices) > 1:
        extra["other_choices"] = choices[1:]
    return Response(
        message=message,
        finish_reason=choice.get("finish_reason"),
        usage=parse_usage(body.get("usage")),
        id=body.get("id"),
        model=body.get("model"),
        extra=extra,
    )


def _legacy_function_call(fc: Any) -> list[ToolCall]:
    """The pre-`tool_calls` spelling, `message.function_call` ({name, arguments}, no id): still
    a call the model made, so it is kept as one."""
    if not isinstance(fc, Mapping) or not isinstance(fc.get("name"), str):
        return []
    args = fc.get("arguments", "")
    raw = args if isinstance(args, str) else json.dumps(args)
    return [ToolCall("", fc["name"], raw)]


class _CallBuilder:
    __slots__ = ("args", "id", "kind", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.kind = "function"
        self.args: list[str] = []


def reassemble(events: list[SSEEvent]) -> Reassembly:
    """Rebuild the answer from chunks: text joined, tool calls merged by `index` (a new `id` at
    a seen index starts a new call, as some providers reuse index 0), usage from the last
    chunk that carried it."""
    from redline.transcripts import fastjson  # here: see anthropic_messages.reassemble

    role, text, refusal, reasoning = "", [], [], []
    calls: list[_CallBuilder] = []
    by_index: dict[int, _CallBuilder] = {}
    finish_reason: str | None = None
    usage: Usage | None = None
    resp_id = model = None
    complete = False
    error: str | None = None
    for ev in events:
        if ev.data.strip() == DONE:
            complete = True
            break
        try:
            chunk = fastjson.loads(ev.data)
        except ValueError:
            continue
        if not isinstance(chunk, Mapping):
            continue
        if "error" in chunk:
            err = chunk["error"]
            error = err.get("message", str(err)) if isinstance(err, Mapping) else str(err)
            continue
        resp_id = resp_id or chunk.get("id")
        model = model or chunk.get("model")
        usage = parse_usage(chunk.get("usage")) or usage
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            role = role or delta.get("role") or ""
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
            if isinstance(delta.get("refusal"), str):
                refusal.append(delta["refusal"])
            for key in ("reasoning_content", "reasoning"):
                if isinstance(delta.get(key), str):
                    reasoning.append(delta[key])
            legacy = delta.get("function_call")
            if isinstance(legacy, Mapping):  # pre-`tool_calls` streams: one call, no index
                builder = by_index.get(-1)
                if builder is None:
                    builder = by_index[-1] = _CallBuilder()
                    calls.append(builder)
                builder.name = builder.name or legacy.get("name") or ""
                if isinstance(legacy.get("arguments"), str):
                    builder.args.append(legacy["arguments"])
            for tc in delta.get("tool_calls") or []:
                index = tc.get("index", 0)
                builder = by_index.get(index)
                if builder is None or (tc.get("id") and builder.id and tc["id"] != builder.id):
                    builder = by_index[index] = _CallBuilder()
                    calls.append(builder)
                builder.id = builder.id or tc.get("id") or ""
                builder.kind = tc.get("type") or builder.kind
                fn = tc.get(builder.kind) or tc.get("function") or {}
                builder.name = builder.name or fn.get("name") or ""
                piece = fn.get("arguments", fn.get("input"))
                if isinstance(piece, str):
                    builder.args.append(piece)
            if choice.get("finish_reason"):
                finish_reason = choice["finish_reason"]
    tool_calls = [ToolCall(c.id, c.name, "".join(c.args), c.kind) for c in calls]
    message = _response_message(
        role, "".join(text), "".join(refusal), "".join(reasoning), tool_calls
    )
    response = Response(message, finish_reason, usage, resp_id, model)
    return Reassembly(response, complete and error is None, error)


def matches(path: str) -> bool:
    return path.rstrip("/").endswith("/chat/completions")


# Finish reasons that mean the model was stopped before it finished.
_CUT_OFF = frozenset({"length", "content_filter"})


class _OpenAIChat(BodyKeys):
    name = NAME
    history_key = "messages"
    system_key = None  # the system prompt is a message
    terminal_events: frozenset[str] = frozenset()  # the end is `data: [DONE]`, not an event type
    stream_sentinel = DONE
    stream_only = ("stream_options",)
    stream_end = f"data: {DONE}"
    matches = staticmethod(matches)
    parse_request = staticmethod(parse_request)
    render_request = staticmethod(render_request)
    parse_response = staticmethod(parse_response)
    reassemble = staticmethod(reassemble)

    default_key_env = "OPENAI_API_KEY"

    def endpoint(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/chat/completions"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def is_cut_off(self, finish_reason: str | None) -> bool:
        return finish_reason in _CUT_OFF

    def continues(self, request: Request) -> str | None:
        return None

    def sniff_response(self, body: Mapping[str, Any]) -> bool:
        return "choices" in body

    def sniff_stream(self, event_types: Collection[str]) -> bool:
        # Chat Completions streams carry no `event:` lines.
        return set(event_types) <= {"message"}


FORMAT = _OpenAIChat()
