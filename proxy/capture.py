"""Building records, once for every way redline captures a call.

The reverse proxy, the WebSocket relay and the mitmproxy addon each describe a finished
exchange as a `Capture` and hand it to the recorder; `Capture.to_raw` turns it into the
`RawExchange` the spool stores, removing secrets here and nowhere else (the rules are in
proxy/headers.py). The answers the proxy gives itself (a 502 for an unreachable upstream...) are
built here too, so every path says the same thing.

The exact values the request carried as credentials (`headers.credentials`, and those the
proxy adds for its route) are masked (`[masked:credential]`) wherever else they appear in the
record: the response's headers and body (a stream, a WebSocket turn's events: the assembled
body, so a value cut between two chunks is found), the request's other headers and body, the
error. A body is searched as it reads: a compressed one is decoded first (within the body cap);
if a credential is in it, the record keeps it decoded and masked, without its
`Content-Encoding`, and says so in `extra`; if it is not, the record keeps the bytes as they
came; if it cannot be decoded, the record does not keep it and says why. None of this touches
what the client gets.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redline.proxy.headers import credentials, masked, redacted, redacted_path, redacted_query
from redline.transcripts import (
    Credentials,
    RawExchange,
    decode_body,
    header,
    mask_text,
    new_id,
    wire,
)

# The most of a body a record keeps. A request over it is refused (413); a response over it is
# passed on whole, and its record keeps this much and says how much there was.
BODY_LIMIT = 256 * 1024 * 1024


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
    kept: int = 0  # bytes of the response in `chunks`
    dropped: int = 0  # bytes of the response past BODY_LIMIT, passed on but not kept
    limit: int = BODY_LIMIT
    # Credentials the proxy sends itself (its route's), besides those the request carried.
    added_credentials: frozenset[str] = frozenset()
    # What `prepare` worked out ahead of time: the id, the request's stored form, and the
    # credentials to look for in the rest of the record.
    _prepared: tuple[str, list[tuple[str, str]], str, str, Credentials] | None = field(
        default=None, init=False, repr=False
    )

    def prepare(self) -> None:
        """Work out the request's part of the record now (its id, the redacted headers, path
        and query, the credentials it carried), so that less is left to do when the answer
        ends. The proxy calls it while it waits for the upstream; `to_raw` does it itself when
        nobody did."""
        echoes = Credentials(
            credentials(self.request_headers, self.path, self.query) | self.added_credentials
        )
        self._prepared = (
            new_id(self.started),
            echoes.headers(redacted(self.request_headers)),
            echoes.text(redacted_path(self.path))[0],
            echoes.text(redacted_query(self.query))[0],
            echoes,
        )

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000

    def received(self, chunk: bytes) -> None:
        """Keep a copy of a response chunk; the first one sets the time to first byte."""
        if self.ttfb_ms is None:
            self.ttfb_ms = self.elapsed_ms()
        if not self.dropped and self.kept + len(chunk) <= self.limit:
            self.chunks.append(chunk)
            self.kept += len(chunk)
        else:
            self.dropped += len(chunk)

    def end(self, outcome: str, error: str | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.duration_ms = self.elapsed_ms()

    def failed(self, status: int, error: str, kind: str) -> bytes:
        """The exchange ends with the proxy's own JSON error answer; returns its body."""
        body = error_body(status, f"redline: {error}", kind, self.path)
        self.status = status
        self.response_headers = [("Content-Type", "application/json")]
        self.chunks = [body]
        self.kept = len(body)
        self.end("error", error)
        return body

    @property
    def size(self) -> int:
        """Bytes of body the record will hold: what building it costs, roughly."""
        return len(self.request_body) + self.kept

    def to_raw(self) -> RawExchange:
        """The record as stored: credentials in headers, the path and the query string
        replaced, anything shaped like a credential masked, in an error body too, and the
        request's credentials masked wherever else they appear."""
        if self._prepared is None:
            self.prepare()
        assert self._prepared is not None
        ident, request_headers, path, query, echoes = self._prepared
        response_headers = echoes.headers(redacted(self.response_headers))
        body = b"".join(self.chunks)
        extra = self.extra
        if self.dropped:
            extra = {**extra, "response_bytes_not_kept": self.dropped}
        error = self.status is not None and self.status >= 400
        if body and (error or echoes):
            body, response_headers, note = _stored_body(body, response_headers, echoes, error)
            if note:
                extra = {**extra, "error_body" if error else "response_body": note}
        request_body = self.request_body
        if request_body and echoes:
            request_body, request_headers, note = _stored_body(
                request_body, request_headers, echoes, False
            )
            if note:
                extra = {**extra, "request_body": note}
        return RawExchange(
            id=ident,
            started_at=self.started,
            method=self.method,
            path=path,
            query=query,
            upstream=self.upstream,
            request_headers=request_headers,
            request_body=request_body,
            status=self.status,
            response_headers=response_headers,
            response_body=body,
            ttfb_ms=self.ttfb_ms,
            duration_ms=self.duration_ms if self.duration_ms is not None else self.elapsed_ms(),
            outcome=self.outcome,
            error=echoes.text(masked(self.error))[0] if self.error else self.error,
            client=header(request_headers, "user-agent"),
            extra=extra,
        )


def _stored_body(
    body: bytes, headers: list[tuple[str, str]], echoes: Credentials, error: bool
) -> tuple[bytes, list[tuple[str, str]], str | None]:
    """A body as stored, with the headers that go with it and a note for `extra` (None: kept as
    it came). An error body is searched for anything shaped like a credential too: upstreams
    echo the key they refused ("Incorrect API key provided: sk-..."). A body is read decoded
    if it is compressed; one with nothing to mask is kept as it came, one that cannot be read
    is not kept at all."""
    encoding = header(headers, "content-encoding")
    coded = encoding is not None and encoding.strip().lower() not in ("", "identity")
    try:
        plain = decode_body(body, encoding) if coded else body
    except ValueError as exc:
        what = "mask secrets" if error else "look for the request's credentials"
        return b"", headers, f"not kept: it could not be read to {what} ({exc})"
    plain, exact = echoes.data(plain)
    shaped = 0
    if error:
        result = mask_text(plain.decode("utf-8", "surrogateescape"))
        if result.count:
            plain, shaped = result.text.encode("utf-8", "surrogateescape"), result.count
    if not exact and not shaped:
        return body, headers, None
    dropped = ("content-encoding", "content-length") if coded else ("content-length",)
    kept = [(k, v) for k, v in headers if k.lower() not in dropped]
    if error:
        note = f"{exact + shaped} secret(s) masked"
    else:
        note = f"{exact} credential{'s' * (exact != 1)} of the request masked"
    return plain, kept, note + (f", decoded from {encoding}" if coded else "")


def error_body(status: int, message: str, kind: str, path: str = "") -> bytes:
    """An error of the proxy's own, in the shape the clients of `path`'s API read (Anthropic's
    for `/v1/messages`, OpenAI's otherwise)."""
    return json.dumps(wire.error_body(path, status, message, kind)).encode()
