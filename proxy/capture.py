"""Building records, once for every way redline captures a call.

The reverse proxy, the WebSocket relay and the mitmproxy addon each describe a finished
exchange as a `Capture` and hand it to the recorder; `Capture.to_raw` turns it into the
`RawExchange` the spool stores, removing secrets here and nowhere else. The answers the proxy
gives itself (a 502 for an unreachable upstream...) are built here too, so every path says the
same thing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redline.proxy.headers import redacted, redacted_query
from redline.transcripts import RawExchange, header, new_id


@dataclass(slots=True)
class Capture:
    """A call on its way through the proxy, filled in as it goes. Times count from `t0`, the
    moment the proxy received the request (`time.perf_counter`)."""

    method: str
    path: str
    query: str
    upstream: str  # as shown and stored: no credentials (Route.public)
    request_headers: list[tuple[str, str]]
    request_body: bytes = b""
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=time.perf_counter)
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    ttfb_ms: float | None = None
    duration_ms: float | None = None
    outcome: str = "incomplete"
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000

    def received(self, chunk: bytes) -> None:
        """Keep a copy of a response chunk; the first one sets the time to first byte."""
        if self.ttfb_ms is None:
            self.ttfb_ms = self.elapsed_ms()
        self.chunks.append(chunk)

    def end(self, outcome: str, error: str | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.duration_ms = self.elapsed_ms()

    def failed(self, status: int, error: str, kind: str) -> bytes:
        """The exchange ends with the proxy's own JSON error answer; returns its body."""
        body = error_body(status, f"redline: {error}", kind)
        self.status = status
        self.response_headers = [("Content-Type", "application/json")]
        self.chunks = [body]
        self.end("error", error)
        return body

    def to_raw(self) -> RawExchange:
        """The record as stored: credentials in headers and the query string replaced."""
        return RawExchange(
            id=new_id(self.started),
            started_at=self.started,
            method=self.method,
            path=self.path,
            query=redacted_query(self.query),
            upstream=self.upstream,
            request_headers=redacted(self.request_headers),
            request_body=self.request_body,
            status=self.status,
            response_headers=redacted(self.response_headers),
            response_body=b"".join(self.chunks),
            ttfb_ms=self.ttfb_ms,
            duration_ms=self.duration_ms if self.duration_ms is not None else self.elapsed_ms(),
            outcome=self.outcome,
            error=self.error,
            client=header(self.request_headers, "user-agent"),
            extra=self.extra,
        )


def error_body(status: int, message: str, kind: str) -> bytes:
    """An error in the shape OpenAI-style clients read (`error.message`, `error.type`)."""
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()
