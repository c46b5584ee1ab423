"""Wire formats: how each API spells a request, a response and a stream.

Every format is registered the same way and has the same shape (`WireFormat`). The proxy never
calls these on the hot path; the store does, when it ingests finished exchanges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from redline.transcripts.model import Request, Response
from redline.transcripts.sse import SSEEvent


@dataclass(frozen=True, slots=True)
class Reassembly:
    """A response rebuilt from a stream. `complete` is False when the stream stopped before the
    format's end marker; `error` holds an error the stream itself carried."""

    response: Response
    complete: bool
    error: str | None = None


class WireFormat(Protocol):
    name: str
    history_key: str  # the body key that holds the conversation (dedup'd in the message tree)

    def matches(self, path: str) -> bool: ...
    def parse_request(self, body: Mapping[str, Any]) -> Request: ...
    def render_request(self, request: Request) -> dict[str, Any]: ...
    def parse_response(self, body: Mapping[str, Any]) -> Response: ...
    def reassemble(self, events: list[SSEEvent]) -> Reassembly: ...


_REGISTRY: dict[str, WireFormat] = {}


def register(fmt: WireFormat) -> WireFormat:
    _REGISTRY[fmt.name] = fmt
    return fmt


def get(name: str) -> WireFormat:
    try:
        return _REGISTRY[name]
    except KeyError:
        from redline.errors import RedlineError

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


def _register_builtins() -> None:
    from redline.transcripts.wire import anthropic_messages, openai_chat, openai_responses

    register(openai_chat.FORMAT)
    register(anthropic_messages.FORMAT)
    register(openai_responses.FORMAT)


_register_builtins()

__all__ = ["Reassembly", "WireFormat", "detect", "get", "names", "register"]
