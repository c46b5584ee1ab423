"""The shape every wire format has: `WireFormat`, and the pieces its methods return.

Each format module implements `WireFormat` and imports only this module (and `_convert`) from
the package; the package itself holds the registry and registers the built-in formats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from redline.transcripts.model import JSON, Message, Request, Response, ToolResult
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

    @property
    def stream_sentinel(self) -> str | None:
        """The `data:` value that ends a stream, for a format whose end is no event type
        (Chat Completions' `[DONE]`); None for the others."""
        ...

    @property
    def stream_end(self) -> str:
        """How a whole stream ends, in the words of the wire, for messages ("message_stop")."""
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

    def streamed(self, body: Mapping[str, Any], stream: bool) -> JSON:
        """A rendered body asking for a stream (`stream`) or a whole answer, without the
        stream's options a recorded client set (they were that client's choice)."""
        ...

    def error_body(self, status: int, message: str, kind: str) -> JSON:
        """An error answer shaped as this API's clients read one (`kind`: a short error type,
        `status`: the HTTP status it goes with)."""
        ...

    def split_body(self, body: Mapping[str, Any]) -> SplitBody: ...
    def join_body(self, split: SplitBody) -> JSON:
        """The body `split_body` took apart, with an empty history."""
        ...

    def answering(self, results: Sequence[ToolResult]) -> tuple[Message, ...]:
        """The messages that carry these results of one answer's tool calls in a request of
        this format, as its parser reads them (replay answers calls and asks again)."""
        ...


class BodyKeys:
    """`split_body` and `join_body` for a format whose history, tools and system prompt are
    top-level keys of the request body (all three built-in formats), `detach` for one that
    keeps no conversation on the server, `streamed` for one whose `stream` key asks for a
    stream, `answering` for one that gives each tool result a message of its own, and OpenAI's
    `error_body`."""

    history_key: str
    system_key: str | None = None
    stream_sentinel: str | None = None
    # Body keys that only mean something for a stream (a recorded client's stream options).
    stream_only: tuple[str, ...] = ()

    def streamed(self, body: Mapping[str, Any], stream: bool) -> JSON:
        out = {k: v for k, v in body.items() if k not in self.stream_only}
        if stream:
            out["stream"] = True
        else:
            out.pop("stream", None)
        return out

    def error_body(self, status: int, message: str, kind: str) -> JSON:
        """OpenAI's shape (`error.message`, `error.type`), which most clients read."""
        return {"error": {"message": message, "type": kind, "code": status}}

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

    def answering(self, results: Sequence[ToolResult]) -> tuple[Message, ...]:
        """One `tool` message per result, as Chat Completions and the Responses API read them."""
        return tuple(Message("tool", (r,)) for r in results)

    def join_body(self, split: SplitBody) -> JSON:
        body = dict(split.meta)
        body[self.history_key] = []
        if "tools" in split.blobs:
            body["tools"] = split.blobs["tools"]
        if self.system_key is not None and "system" in split.blobs:
            body[self.system_key] = split.blobs["system"]
        return body
