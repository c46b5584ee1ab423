"""Wire formats: how each API spells a request, a response and a stream.

Every format is registered the same way and has the same shape (`WireFormat`), and everything
redline knows about a format lives behind it: which paths it serves, how its bodies parse and
render, which body keys hold the history, the tool list and the system prompt, which finish
reasons mean the answer was cut off, which stream events end an answer. Adding a format is one
new module and one `register` call; the store, the proxy, the checks and replay only ask.

The proxy never calls these on the hot path; the store does, when it ingests finished exchanges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redline.errors import RedlineError
from redline.transcripts.model import JSON, Request
from redline.transcripts.sse import SSEEvent
from redline.transcripts.wire import anthropic_messages, openai_chat, openai_responses
from redline.transcripts.wire.format import BlobKind, BodyKeys, Reassembly, SplitBody, WireFormat

_REGISTRY: dict[str, WireFormat] = {}


def register(fmt: WireFormat) -> WireFormat:
    _REGISTRY[fmt.name] = fmt
    return fmt


def get(name: str) -> WireFormat:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise RedlineError(f"unknown wire format {name!r}; known formats: {known}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def detect(path: str) -> WireFormat | None:
    """The format of a request from its URL path (query string excluded), or None."""
    for fmt in _REGISTRY.values():
        if fmt.matches(path):
            return fmt
    return None


def guess_response(body: Mapping[str, Any]) -> list[WireFormat]:
    """Every format, those whose shape the response body has first: the order to try them in."""
    formats = [_REGISTRY[n] for n in names()]
    return sorted(formats, key=lambda f: not f.sniff_response(body))


def guess_stream(events: list[SSEEvent]) -> WireFormat | None:
    """The format a stream's events belong to, or None."""
    types = {e.event for e in events}
    for fmt in _REGISTRY.values():
        if fmt.sniff_stream(types):
            return fmt
    return None


def error_body(path: str, status: int, message: str, kind: str) -> JSON:
    """An error answer for a request to `path`, shaped as its format's clients read one (a
    path of no known format gets OpenAI's shape, which most clients read)."""
    fmt = detect(path) or _REGISTRY["openai-chat"]
    return fmt.error_body(status, message, kind)


def stream_sentinels() -> list[str]:
    """The `data:` values that end a stream, of every format that has one."""
    return sorted({f.stream_sentinel for f in _REGISTRY.values() if f.stream_sentinel})


def conversion_losses(request: Request, target: str) -> list[str]:
    """What rendering `request` in the format `target` leaves out (nothing when it is the format
    the request came from): reasoning blocks, blocks of unknown type, provider built-in tools,
    cache markers and other format-specific keys, params with no counterpart."""
    from redline.transcripts.wire import _convert

    return _convert.losses(request, target)


def is_cut_off(finish_reason: str | None, wire: str | None = None) -> bool:
    """True when `finish_reason` means the answer was cut off: by the format `wire` when it is
    known, else by any registered format."""
    if wire is not None and wire in _REGISTRY:
        return _REGISTRY[wire].is_cut_off(finish_reason)
    return any(f.is_cut_off(finish_reason) for f in _REGISTRY.values())


for _builtin in (openai_chat.FORMAT, anthropic_messages.FORMAT, openai_responses.FORMAT):
    register(_builtin)

__all__ = [
    "BlobKind",
    "BodyKeys",
    "Reassembly",
    "SplitBody",
    "WireFormat",
    "conversion_losses",
    "detect",
    "error_body",
    "get",
    "guess_response",
    "guess_stream",
    "is_cut_off",
    "names",
    "register",
    "stream_sentinels",
]
