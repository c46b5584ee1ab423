"""The canonical transcript model, shared by every wire format.

A transcript captured from one API can be replayed to another because every wire format parses
into, and renders from, these types. Fields a format carries that the model has no place for are
kept verbatim in `extra`, so parse then render gives back what was sent.

All types are frozen, plain data. `to_dict`/`from_dict` give the stable JSON form that
`redline show --json` prints and the store hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

Role = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset(get_args(Role))
JSON = dict[str, Any]


def as_role(value: object) -> Role:
    """A role read from a body; any other value is a ValueError (the call is then kept raw,
    with that as its parse error)."""
    if value not in ROLES:
        raise ValueError(f"unknown message role {value!r}")
    return cast(Role, value)


def _no_extra() -> JSON:
    return {}


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    extra: JSON = field(default_factory=_no_extra)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made. `arguments` is the raw string as sent (JSON for function tools,
    free text for custom tools), never re-serialized: it may be invalid JSON. `parse_error`
    says why arguments that had to be JSON could not be read (a stream cut mid-arguments)."""

    id: str
    name: str
    arguments: str
    kind: str = "function"
    extra: JSON = field(default_factory=_no_extra)
    parse_error: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: str | tuple[Part, ...]
    is_error: bool = False
    extra: JSON = field(default_factory=_no_extra)


@dataclass(frozen=True, slots=True)
class Image:
    """An image by URL; inline images use a `data:` URL."""

    url: str
    media_type: str | None = None
    extra: JSON = field(default_factory=_no_extra)


@dataclass(frozen=True, slots=True)
class Thinking:
    """Reasoning text. `signature` and `redacted` are provider ciphertext, kept verbatim."""

    text: str
    signature: str | None = None
    redacted: str | None = None
    extra: JSON = field(default_factory=_no_extra)


@dataclass(frozen=True, slots=True)
class Opaque:
    """A content block no parser knows yet, kept verbatim so nothing is lost."""

    data: JSON


Part = Text | ToolCall | ToolResult | Image | Thinking | Opaque


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...]
    extra: JSON = field(default_factory=_no_extra)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCall))


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool definition. `parameters` is the JSON Schema of a function tool (None for custom,
    free-form tools, whose grammar stays in `extra`)."""

    name: str
    description: str | None = None
    parameters: JSON | None = None
    kind: str = "function"
    extra: JSON = field(default_factory=_no_extra)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the upstream reported them (`raw` keeps the original object)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    raw: JSON = field(default_factory=_no_extra)


@dataclass(frozen=True, slots=True)
class Request:
    model: str | None
    messages: tuple[Message, ...]
    system: tuple[Part, ...] | None = None
    tools: tuple[Tool, ...] | None = None
    params: JSON = field(default_factory=_no_extra)
    wire: str | None = None  # the format it was parsed from: `extra` keys are that format's


@dataclass(frozen=True, slots=True)
class Response:
    message: Message
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    extra: JSON = field(default_factory=_no_extra)


# ---------------------------------------------------------------------------------------------
# The JSON form. Keys with empty values are left out so the form is compact and stable.


def _with_extra(d: JSON, extra: Mapping[str, Any]) -> JSON:
    if extra:
        d["extra"] = dict(extra)
    return d


def part_to_dict(part: Part) -> JSON:
    match part:
        case Text(text, extra):
            return _with_extra({"type": "text", "text": text}, extra)
        case ToolCall(id_, name, arguments, kind, extra, parse_error):
            d: JSON = {"type": "tool_call", "id": id_, "name": name, "arguments": arguments}
            if kind != "function":
                d["kind"] = kind
            if parse_error is not None:
                d["parse_error"] = parse_error
            return _with_extra(d, extra)
        case ToolResult(call_id, content, is_error, extra):
            d = {"type": "tool_result", "call_id": call_id}
            d["content"] = (
                content if isinstance(content, str) else [part_to_dict(p) for p in content]
            )
            if is_error:
                d["is_error"] = True
            return _with_extra(d, extra)
        case Image(url, media_type, extra):
            d = {"type": "image", "url": url}
            if media_type:
                d["media_type"] = media_type
            return _with_extra(d, extra)
        case Thinking(text, signature, redacted, extra):
            d = {"type": "thinking", "text": text}
            if signature is not None:
                d["signature"] = signature
            if redacted is not None:
                d["redacted"] = redacted
            return _with_extra(d, extra)
        case Opaque(data):
            return {"type": "opaque", "data": data}
    raise TypeError(f"not a part: {part!r}")


def part_from_dict(d: Mapping[str, Any]) -> Part:
    extra = dict(d.get("extra") or {})
    match d["type"]:
        case "text":
            return Text(d["text"], extra)
        case "tool_call":
            # Stored before parse errors had a field of their own: they were kept in `extra`.
            parse_error = d.get("parse_error", extra.pop("_parse_error", None))
            return ToolCall(
                d["id"], d["name"], d["arguments"], d.get("kind", "function"), extra, parse_error
            )
        case "tool_result":
            content = d["content"]
            if not isinstance(content, str):
                content = tuple(part_from_dict(p) for p in content)
            return ToolResult(d["call_id"], content, bool(d.get("is_error")), extra)
        case "image":
            return Image(d["url"], d.get("media_type"), extra)
        case "thinking":
            return Thinking(d["text"], d.get("signature"), d.get("redacted"), extra)
        case "opaque":
            return Opaque(dict(d["data"]))
    raise ValueError(f"unknown part type {d['type']!r}")


def message_to_dict(m: Message) -> JSON:
    return _with_extra({"role": m.role, "parts": [part_to_dict(p) for p in m.parts]}, m.extra)


def message_from_dict(d: Mapping[str, Any]) -> Message:
    return Message(
        as_role(d["role"]), tuple(part_from_dict(p) for p in d["parts"]), dict(d.get("extra") or {})
    )


def tool_to_dict(t: Tool) -> JSON:
    d: JSON = {"name": t.name}
    if t.kind != "function":
        d["kind"] = t.kind
    if t.description is not None:
        d["description"] = t.description
    if t.parameters is not None:
        d["parameters"] = t.parameters
    return _with_extra(d, t.extra)


def tool_from_dict(d: Mapping[str, Any]) -> Tool:
    return Tool(
        d["name"],
        d.get("description"),
        d.get("parameters"),
        d.get("kind", "function"),
        dict(d.get("extra") or {}),
    )


def usage_to_dict(u: Usage) -> JSON:
    d: JSON = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
    }
    d["raw"] = u.raw
    return d


def usage_from_dict(d: Mapping[str, Any]) -> Usage:
    return Usage(
        d.get("input_tokens"),
        d.get("output_tokens"),
        d.get("cache_read_tokens"),
        d.get("cache_write_tokens"),
        d.get("reasoning_tokens"),
        dict(d.get("raw") or {}),
    )


def request_to_dict(r: Request) -> JSON:
    d: JSON = {"wire": r.wire, "model": r.model}
    if r.system is not None:
        d["system"] = [part_to_dict(p) for p in r.system]
    d["messages"] = [message_to_dict(m) for m in r.messages]
    if r.tools is not None:
        d["tools"] = [tool_to_dict(t) for t in r.tools]
    d["params"] = r.params
    return d


def request_from_dict(d: Mapping[str, Any]) -> Request:
    system = d.get("system")
    tools = d.get("tools")
    return Request(
        d.get("model"),
        tuple(message_from_dict(m) for m in d["messages"]),
        None if system is None else tuple(part_from_dict(p) for p in system),
        None if tools is None else tuple(tool_from_dict(t) for t in tools),
        dict(d.get("params") or {}),
        d.get("wire"),
    )


def response_to_dict(r: Response) -> JSON:
    d: JSON = {
        "id": r.id,
        "model": r.model,
        "message": message_to_dict(r.message),
        "finish_reason": r.finish_reason,
        "usage": None if r.usage is None else usage_to_dict(r.usage),
    }
    return _with_extra(d, r.extra)


def response_from_dict(d: Mapping[str, Any]) -> Response:
    usage = d.get("usage")
    return Response(
        message_from_dict(d["message"]),
        d.get("finish_reason"),
        None if usage is None else usage_from_dict(usage),
        d.get("id"),
        d.get("model"),
        dict(d.get("extra") or {}),
    )


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds on
# every call, built once: the same encoder, so the same text (ingest serializes every message).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """The one serialization that is hashed: sorted keys, no whitespace, UTF-8 kept."""
    return _CANONICAL.encode(value)


def content_hash(value: Any) -> str:
    return text_hash(canonical_json(value))


def text_hash(text: str) -> str:
    """The hash of a canonical JSON text (`content_hash` of the value it serializes)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
