"""Wire formats: how each API spells a request, a response and a stream.

Every format is registered the same way and has the same shape (`WireFormat`), and everything
redline knows about a format lives behind it: which paths it serves, how its bodies parse and
render, which body keys hold the history, the tool list and the system prompt, which finish
reasons mean the answer was cut off, which stream events end an answer. Adding a format is one
new module and one `register` call; the store, the proxy, the checks and replay only ask.

The proxy never calls these on the hot path; the store does, when it ingests finished exchanges.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from redline.errors import RedlineError
from redline.transcripts.model import JSON, Message, Request, Response
from redline.transcripts.sse import SSEEvent

BlobKind = Literal["tools", "system"]


@dataclass(frozen=True, slots=True)
class Reassembly:
    """A response rebuilt from a stream. `complete` is False when the stream stopped before the
    format's end marker; `error` holds an error the stream itself carried."""

    response: Response
    complete: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SplitBody:
    """A request body taken apart for storage: the history goes to the message tree, the large
    repeated values (`blobs`: the tool list, the system prompt, only those present) are stored
    once by hash, and `meta` is everything else."""

    meta: JSON
    blobs: dict[BlobKind, Any]


class WireFormat(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def history_key(self) -> str:
        """The body key that holds the conversation (dedup'd in the message tree)."""
        ...

    @property
    def system_key(self) -> str | None:
        """The body key of a top-level system prompt, if the format has one."""
        ...

    @property
    def terminal_events(self) -> frozenset[str]:
        """Stream event types after which nothing more comes."""
        ...

    def matches(self, path: str) -> bool: ...
    def parse_request(self, body: Mapping[str, Any]) -> Request: ...
    def render_request(self, request: Request) -> JSON: ...
    def parse_response(self, body: Mapping[str, Any]) -> Response: ...
    def reassemble(self, events: list[SSEEvent]) -> Reassembly: ...
    def is_cut_off(self, finish_reason: str | None) -> bool:
        """True when the finish reason says the model was stopped before it finished."""
        ...

    def continues(self, request: Request) -> str | None:
        """The upstream id of an earlier answer this request continues on the server's side
        (the Responses API's `previous_response_id`), or None."""
        ...

    def detach(self, request: Request, history: tuple[Message, ...]) -> Request:
        """The request standing on its own: `history` (the conversation the server held)
        before its messages, and no reference to the server's copy."""
        ...

    def sniff_response(self, body: Mapping[str, Any]) -> bool:
        """True when a response body has this format's shape."""
        ...

    def sniff_stream(self, event_types: Collection[str]) -> bool:
        """True when a stream's SSE event types (`message` for events without one) are this
        format's."""
        ...

    @property
    def default_key_env(self) -> str:
        """The environment variable this API's SDKs read the key from."""
        ...

    def endpoint(self, base_url: str) -> str:
        """The URL a request goes to, given a base URL as this API's SDK takes it."""
        ...

    def auth_headers(self, key: str | None) -> dict[str, str]:
        """The headers that carry `key` (none without one: a local server)."""
        ...

    def can_split(self, items: Sequence[Any], index: int) -> bool:
        """True when the history list `items` can be cut before `items[index]`: the items
        before it parse to whole messages of their own (ingest reuses a known prefix)."""
        ...

    def split_body(self, body: Mapping[str, Any]) -> SplitBody: ...
    def join_body(self, split: SplitBody) -> JSON:
        """The body `split_body` took apart, with an empty history."""
        ...


class BodyKeys:
    """`split_body` and `join_body` for a format whose history, tools and system prompt are
    top-level keys of the request body (all three built-in formats), and `detach` for one
    that keeps no conversation on the server."""

    history_key: str
    system_key: str | None = None

    def detach(self, request: Request, history: tuple[Message, ...]) -> Request:
        return dataclasses.replace(request, messages=history + request.messages)

    def can_split(self, items: Sequence[Any], index: int) -> bool:
        return True  # one history item is one message

    def split_body(self, body: Mapping[str, Any]) -> SplitBody:
        meta = {k: v for k, v in body.items() if k != self.history_key}
        blobs: dict[BlobKind, Any] = {}
        if "tools" in meta:
            blobs["tools"] = meta.pop("tools")
        if self.system_key is not None and self.system_key in meta:
            blobs["system"] = meta.pop(self.system_key)
        return SplitBody(meta, blobs)

    def join_body(self, split: SplitBody) -> JSON:
        body = dict(split.meta)
        body[self.history_key] = []
        if "tools" in split.blobs:
            body["tools"] = split.blobs["tools"]
        if self.system_key is not None and "system" in split.blobs:
            body[self.system_key] = split.blobs["system"]
        return body


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


def _register_builtins() -> None:
    from redline.transcripts.wire import anthropic_messages, openai_chat, openai_responses

    register(openai_chat.FORMAT)
    register(anthropic_messages.FORMAT)
    register(openai_responses.FORMAT)


_register_builtins()

__all__ = [
    "BodyKeys",
    "Reassembly",
    "SplitBody",
    "WireFormat",
    "conversion_losses",
    "detect",
    "get",
    "guess_response",
    "guess_stream",
    "is_cut_off",
    "names",
    "register",
]
