"""What every format needs to render a request captured in another format.

Each parser keeps what the canonical model has no field for verbatim in `extra`: a
`cache_control` marker, an item id, how a content field was spelled. Those keys belong to the
format that produced them; sent to another API they are at best ignored and usually a 400. So the
parsers record their name in `Request.wire` (a request without one counts as openai-chat), and a
renderer given a request from another format first reduces it with `neutral`:

* no `extra` anywhere: only what the model itself says (text, images, calls, results);
* `Thinking` and `Opaque` parts dropped, and the calls of a provider's built-in tools (a
  `ToolCall` whose kind is neither function nor custom) with their results. Signatures, redacted thinking and encrypted reasoning are
  bound to the provider that made them, and replaying reasoning as visible text would change
  the prompt;
* each tool result moved out into its own `tool` message, ahead of whatever else its message
  said, so a call is followed by its result;
* consecutive user or assistant messages merged, empty and whitespace-only text dropped;
* only function and custom (free-form) tools kept: provider built-ins do not travel. A custom
  tool's `format` is spelled as Responses spells it (`{"type": "grammar", "syntax",
  "definition"}`; Chat Completions nests the last two under `grammar`);
* params translated through the few that mean the same everywhere (`convert_params`).

Each renderer then shapes the neutral request by its own API's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from redline.transcripts.model import (
    JSON,
    Image,
    Message,
    Opaque,
    Part,
    Request,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
)

CHAT = "openai-chat"
RESPONSES = "openai-responses"
ANTHROPIC = "anthropic-messages"

# Anthropic requires max_tokens; a request from a format where it is optional gets this.
DEFAULT_MAX_TOKENS = 8192

EMPTY_OBJECT_SCHEMA: JSON = {"type": "object", "properties": {}}


def origin(request: Request) -> str:
    """The wire format a request was parsed from."""
    return request.wire or CHAT


def system_text(parts: tuple[Part, ...]) -> str:
    """System parts as one string, for formats whose system prompt is a single string."""
    return "\n\n".join(p.text for p in parts if isinstance(p, Text))


# --- messages ---------------------------------------------------------------------------------


def _neutral_content(part: Part) -> Part | None:
    match part:
        case Text(text) if text.strip():
            return Text(text)
        case Image(url, media_type):
            return Image(url, media_type)
    return None


def _neutral_result(result: ToolResult) -> ToolResult:
    content = result.content
    if not isinstance(content, str):
        parts = [p for p in (_neutral_content(c) for c in content) if p is not None]
        if all(isinstance(p, Text) for p in parts):
            content = "\n".join(p.text for p in parts if isinstance(p, Text))
        else:
            content = tuple(parts)
    return ToolResult(result.call_id, content, result.is_error)


def _neutral_call(call: ToolCall) -> ToolCall:
    return ToolCall(
        call.id, call.name, call.arguments, "custom" if call.kind == "custom" else "function"
    )


def _travels(call: ToolCall) -> bool:
    """A call of the client's own tools (function or custom); a provider's built-in tool's call
    (its kind is the wire's item or block type) stays with that provider, its result too."""
    return call.kind in ("function", "custom")


def _split(message: Message, staying: set[str]) -> list[Message]:
    """A message as neutral messages: its tool results first, one `tool` message each; calls
    of built-in tools and their results (`staying`: their ids) left out."""
    results = [
        Message("tool", (_neutral_result(p),))
        for p in message.parts
        if isinstance(p, ToolResult) and p.call_id not in staying
    ]
    rest: list[Part] = []
    for p in message.parts:
        if isinstance(p, ToolCall):
            if _travels(p):
                rest.append(_neutral_call(p))
        elif (content := _neutral_content(p)) is not None:
            rest.append(content)
    role = "user" if message.role == "tool" else message.role
    return results + ([Message(role, tuple(rest))] if rest else [])


def neutral(request: Request) -> Request:
    """The request with everything format-specific removed (see the module docstring)."""
    staying = {c.id for m in request.messages for c in m.tool_calls if not _travels(c)}
    messages: list[Message] = []
    for message in request.messages:
        for m in _split(message, staying):
            if messages and m.role in ("user", "assistant") and messages[-1].role == m.role:
                m = Message(m.role, messages.pop().parts + m.parts)
            messages.append(m)
    system = None
    if request.system is not None:
        system = tuple(Text(p.text) for p in request.system if isinstance(p, Text) and p.text)
    tools = None
    if request.tools is not None:
        tools = tuple(t for t in (_neutral_tool(t) for t in request.tools) if t is not None)
    return Request(request.model, tuple(messages), system, tools, dict(request.params))


def _neutral_tool(tool: Tool) -> Tool | None:
    if "_raw" in tool.extra:
        return None
    if tool.kind == "custom":
        fmt = tool.extra.get("format")
        if isinstance(fmt, Mapping) and isinstance(fmt.get("grammar"), Mapping):
            fmt = {"type": "grammar", **fmt["grammar"]}  # Chat nests the grammar; Responses not
        return Tool(tool.name, tool.description, None, "custom", {"format": fmt} if fmt else {})
    if tool.kind == "function":
        return Tool(tool.name, tool.description, tool.parameters)
    return None


# --- params -----------------------------------------------------------------------------------
#
# The portable form: max_tokens, temperature, top_p, stop (a list), stream, parallel (bool),
# effort (OpenAI reasoning effort) and tool_choice, one of "auto", "none", "required" or
# {"name": NAME}. Everything else is specific to its API and is dropped on the way across.


def _choice_from_chat(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping):
        body = choice.get(str(choice.get("type")))
        if isinstance(body, Mapping) and isinstance(body.get("name"), str):
            return {"name": body["name"]}
    return None


def _choice_from_responses(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") in ("function", "custom"):
        return {"name": choice.get("name")} if isinstance(choice.get("name"), str) else None
    return None


_ANTHROPIC_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def _read_chat(p: Mapping[str, Any]) -> JSON:
    stop = p.get("stop")
    return {
        "max_tokens": p.get("max_completion_tokens", p.get("max_tokens")),
        "temperature": p.get("temperature"),
        "top_p": p.get("top_p"),
        "stop": [stop] if isinstance(stop, str) else stop,
        "stream": p.get("stream"),
        "parallel": p.get("parallel_tool_calls"),
        "effort": p.get("reasoning_effort"),
        "tool_choice": _choice_from_chat(p.get("tool_choice")),
    }


def _read_responses(p: Mapping[str, Any]) -> JSON:
    reasoning = p.get("reasoning")
    return {
        "max_tokens": p.get("max_output_tokens"),
        "temperature": p.get("temperature"),
        "top_p": p.get("top_p"),
        "stream": p.get("stream"),
        "parallel": p.get("parallel_tool_calls"),
        "effort": reasoning.get("effort") if isinstance(reasoning, Mapping) else None,
        "tool_choice": _choice_from_responses(p.get("tool_choice")),
    }


def _read_anthropic(p: Mapping[str, Any]) -> JSON:
    choice = p.get("tool_choice")
    out: JSON = {
        "max_tokens": p.get("max_tokens"),
        "temperature": p.get("temperature"),
        "top_p": p.get("top_p"),
        "stop": p.get("stop_sequences"),
        "stream": p.get("stream"),
    }
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        if kind == "tool" and isinstance(choice.get("name"), str):
            out["tool_choice"] = {"name": choice["name"]}
        else:
            out["tool_choice"] = _ANTHROPIC_CHOICES.get(str(kind))
        if choice.get("disable_parallel_tool_use"):
            out["parallel"] = False
    return out


def _write_chat(p: Mapping[str, Any]) -> JSON:
    choice = p.get("tool_choice")
    if isinstance(choice, Mapping):
        choice = {"type": "function", "function": {"name": choice["name"]}}
    return {
        "max_completion_tokens": p.get("max_tokens"),
        "temperature": p.get("temperature"),
        "top_p": p.get("top_p"),
        "stop": p.get("stop"),
        "stream": p.get("stream"),
        "parallel_tool_calls": p.get("parallel"),
        "reasoning_effort": p.get("effort"),
        "tool_choice": choice,
    }


def _write_responses(p: Mapping[str, Any]) -> JSON:
    choice = p.get("tool_choice")
    if isinstance(choice, Mapping):
        choice = {"type": "function", "name": choice["name"]}
    return {
        "max_output_tokens": p.get("max_tokens"),
        "temperature": p.get("temperature"),
        "top_p": p.get("top_p"),
        "stream": p.get("stream"),
        "parallel_tool_calls": p.get("parallel"),
        "reasoning": {"effort": p["effort"]} if p.get("effort") else None,
        "tool_choice": choice,
    }


def _write_anthropic(p: Mapping[str, Any]) -> JSON:
    choice = p.get("tool_choice")
    tool_choice: JSON | None = None
    if isinstance(choice, Mapping):
        tool_choice = {"type": "tool", "name": choice["name"]}
    elif choice is not None:
        tool_choice = {"type": {"required": "any"}.get(choice, choice)}
    if p.get("parallel") is False and (tool_choice or {}).get("type") != "none":
        tool_choice = {"type": "auto", **(tool_choice or {}), "disable_parallel_tool_use": True}
    temperature = p.get("temperature")
    stop = p.get("stop")
    return {
        "max_tokens": p.get("max_tokens") or DEFAULT_MAX_TOKENS,
        # Anthropic's temperature runs from 0 to 1, OpenAI's from 0 to 2.
        "temperature": None if temperature is None else min(temperature, 1.0),
        "top_p": p.get("top_p"),
        "stop_sequences": stop or None,
        "stream": p.get("stream"),
        "tool_choice": tool_choice,
    }


_READERS: dict[str, Callable[[Mapping[str, Any]], JSON]] = {
    CHAT: _read_chat,
    RESPONSES: _read_responses,
    ANTHROPIC: _read_anthropic,
}
_WRITERS: dict[str, Callable[[Mapping[str, Any]], JSON]] = {
    CHAT: _write_chat,
    RESPONSES: _write_responses,
    ANTHROPIC: _write_anthropic,
}


# The params each reader turns into portable ones; the others have no counterpart elsewhere.
_READ_KEYS = {
    CHAT: frozenset(
        {
            "max_completion_tokens",
            "max_tokens",
            "temperature",
            "top_p",
            "stop",
            "stream",
            "parallel_tool_calls",
            "reasoning_effort",
            "tool_choice",
        }
    ),
    RESPONSES: frozenset(
        {
            "max_output_tokens",
            "temperature",
            "top_p",
            "stream",
            "parallel_tool_calls",
            "reasoning",
            "tool_choice",
        }
    ),
    ANTHROPIC: frozenset(
        {"max_tokens", "temperature", "top_p", "stop_sequences", "stream", "tool_choice"}
    ),
}


def _parts(request: Request) -> list[Part]:
    parts: list[Part] = list(request.system or ())
    for m in request.messages:
        for p in m.parts:
            parts.append(p)
            if isinstance(p, ToolResult) and not isinstance(p.content, str):
                parts.extend(p.content)
    return parts


def _has_key(value: Any, key: str) -> bool:
    if isinstance(value, Mapping):
        return key in value or any(_has_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_has_key(v, key) for v in value)
    return False


def losses(request: Request, target: str) -> list[str]:
    """What `neutral` (and so rendering to `target`) leaves out of `request`, in words."""
    source = origin(request)
    if source == target:
        return []
    out: list[str] = []
    parts = _parts(request)
    thinking = [p for p in parts if isinstance(p, Thinking)]
    if thinking:
        signed = sum(p.signature is not None or p.redacted is not None for p in thinking)
        out.append(
            f"{len(thinking)} reasoning block{'s' * (len(thinking) != 1)}"
            + (f" ({signed} signed or encrypted)" if signed else "")
        )
    staying = {p.id: p.kind for p in parts if isinstance(p, ToolCall) and not _travels(p)}
    kinds = [str(p.data.get("type", "unknown")) for p in parts if isinstance(p, Opaque)]
    kinds += staying.values()  # built-in tools' calls, and their results
    kinds += [
        str(p.extra.get("type", f"{staying[p.call_id]}_output"))
        for p in parts
        if isinstance(p, ToolResult) and p.call_id in staying
    ]
    if kinds:
        out.append(
            f"{len(kinds)} block{'s' * (len(kinds) != 1)} of other types "
            f"({', '.join(sorted(set(kinds)))})"
        )
    builtins = [t.name or t.kind for t in request.tools or () if _neutral_tool(t) is None]
    if builtins:
        out.append(f"provider tools: {', '.join(builtins)}")
    carriers = [*request.messages, *parts]
    if any(_has_key(getattr(c, "extra", {}), "cache_control") for c in carriers):
        out.append("cache markers")
    dropped = sorted(set(request.params) - _READ_KEYS.get(source, frozenset(request.params)))
    if dropped:
        out.append(f"params with no counterpart: {', '.join(dropped)}")
    return out


def convert_params(params: Mapping[str, Any], source: str, target: str) -> JSON:
    """Params for `target`: verbatim when the request came from `target` itself, otherwise only
    the portable ones, translated. A source or target nobody knows passes params verbatim."""
    own = dict(params)
    if source == target or source not in _READERS or target not in _WRITERS:
        return own
    portable = _READERS[source](own)
    return {k: v for k, v in _WRITERS[target](portable).items() if v is not None}


__all__ = [
    "ANTHROPIC",
    "CHAT",
    "DEFAULT_MAX_TOKENS",
    "EMPTY_OBJECT_SCHEMA",
    "RESPONSES",
    "convert_params",
    "losses",
    "neutral",
    "origin",
    "system_text",
]
