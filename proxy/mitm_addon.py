"""The mitmproxy addon of `redline proxy --mode mitm`: model API calls in, `Capture`s out.

A thin adapter, like the reverse proxy's handler: it recognises model API calls by host and
path, describes each as a `Capture` (proxy/capture.py builds and redacts the record) and hands
it to the same `Recorder`, so a call recorded here is stored exactly as the reverse proxy would
store it. Everything else is streamed through and not kept; hosts that match no pattern are
not even decrypted (the runner gives mitmproxy `allow_hosts`).

mitmproxy's hooks, in the order it calls them for one request (every flow ends with either
`response` or `error`, never both):

    requestheaders   a recorded request starts its Capture; any other is streamed through
    responseheaders  the response is streamed through a tee: each chunk reaches the client as
                     it arrives (SSE events included), and the Capture keeps the bytes as
                     received (chunked framing removed, content-encoding kept)
    (the tee)        as in reverse mode, the record is written to the spool just before the
                     bytes that complete the answer go on: the chunk that reaches the
                     Content-Length, or completes a stream's end event (`EndMarker`)
    response         the answer ended otherwise (a chunked body without an end event): the
                     record is written before the end of the message is sent
    error            no response (upstream unreachable, its certificate refused) or a broken
                     one (either side hung up): recorded as `error` or `incomplete`
    done             the proxy stops: what is still in flight is recorded as incomplete

A WebSocket on a recorded path of a known wire format (Codex's Responses API over
`GET /v1/responses`) is recorded as the reverse proxy's relay records it (proxy/websocket.py):
not the handshake, but each turn, a client frame and the server events up to the one that ends
it (`websocket_message`, `websocket_end`). A refused upgrade is recorded like any exchange.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redline.errors import RedlineError
from redline.proxy.capture import BODY_LIMIT, Capture
from redline.proxy.recorder import Recorder
from redline.proxy.server import INLINE_RECORD_BYTES, EndMarker
from redline.proxy.websocket import _event as sse_event
from redline.transcripts import WireFormat, wire

log = logging.getLogger("redline.proxy.mitm")

if TYPE_CHECKING:  # mitmproxy is imported by the runner; the patterns need none of it
    from mitmproxy import http


@dataclass(frozen=True, slots=True)
class ApiPattern:
    """A host (exact, or `*.domain` for any subdomain) and the path prefixes recorded on it."""

    host: str
    path_prefixes: tuple[str, ...] = ("/",)

    def matches_host(self, host: str) -> bool:
        host, pattern = host.lower().rstrip("."), self.host.lower()
        if pattern.startswith("*."):
            return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
        return host == pattern

    def matches(self, host: str, path: str) -> bool:
        return self.matches_host(host) and path.startswith(self.path_prefixes)

    def allow_hosts_regex(self) -> str:
        """For mitmproxy's `allow_hosts`, which it searches in "host:port" (and "ip:port")."""
        pattern = self.host.lower()
        if pattern.startswith("*."):
            return rf"^[^:/]+{re.escape(pattern[1:])}:\d+$"
        return rf"^{re.escape(pattern)}:\d+$"

    def __str__(self) -> str:
        """As `--host-match` takes it: `host/prefix/` (one per prefix), or `host` for all."""
        if self.path_prefixes == ("/",):
            return self.host
        return ", ".join(self.host + p for p in self.path_prefixes)


DEFAULT_PATTERNS: tuple[ApiPattern, ...] = (
    ApiPattern("api.openai.com", ("/v1/",)),
    ApiPattern("api.anthropic.com", ("/v1/",)),
    ApiPattern("openrouter.ai", ("/api/v1/",)),
    ApiPattern("generativelanguage.googleapis.com", ("/v1beta/", "/v1/", "/v1alpha/")),
    ApiPattern("*.openai.azure.com", ("/openai/",)),
)

_HOST = re.compile(
    r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def parse_pattern(spec: str) -> ApiPattern:
    """`--host-match`: `host`, `*.domain`, either followed by a path prefix
    (`llm.corp.example/v1/`); with no path every path on the host is recorded."""
    host, slash, path = spec.strip().partition("/")
    if not _HOST.match(host):
        raise RedlineError(
            f"--host-match {spec!r} is not a host pattern; give e.g. llm.example.com, "
            "*.example.com or llm.example.com/v1/"
        )
    return ApiPattern(host.lower(), (f"/{path}",) if slash else ("/",))


def _headers(headers: http.Headers) -> list[tuple[str, str]]:
    """Every header as received, repeated ones included, in order."""
    return list(headers.items(multi=True))


# A recorded request is buffered whole (mitmproxy reads it before forwarding it); one that says
# it is larger than this is streamed through unrecorded instead, like any other traffic.
MAX_RECORDED_REQUEST = BODY_LIMIT

# The extra every mitm record carries; WebSocket turns add the transport parse_exchange reads.
MITM = {"mode": "mitm"}
# The reason of the close 1009 redline sends when a WebSocket frame passes the cap (mitm.py).
OVER_CAP = "redline: a frame larger than its cap"


class _Socket:
    """A recorded WebSocket: its handshake, and the turn under way."""

    def __init__(self, handshake: Capture, fmt: WireFormat) -> None:
        self.handshake, self.fmt = handshake, fmt
        self.turn: Capture | None = None

    def start_turn(self, frame: bytes) -> Capture:
        h = self.handshake
        self.turn = Capture(
            method="WEBSOCKET",
            path=h.path,
            query=h.query,
            upstream=h.upstream,
            request_headers=h.request_headers,
            request_body=frame,
            status=101,
            extra={"transport": "websocket", **MITM},
        )
        return self.turn


class _Flow:
    """A recorded HTTP exchange under way: its capture, and how to tell its last bytes."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.remaining: int | None = None  # body bytes still to come, when a length was given
        self.end: EndMarker | None = None  # for a stream: finds its end event
        self.note: str | None = None  # the error a complete record carries, if any
        self.recorded = False


class RecordingAddon:
    """Records the flows that match `patterns` into `recorder`; streams the rest through."""

    def __init__(
        self, patterns: Sequence[ApiPattern], recorder: Recorder, max_body: int = BODY_LIMIT
    ) -> None:
        self.patterns = tuple(patterns)
        self.recorder = recorder
        self.max_body = max_body
        self._live: dict[str, _Flow] = {}  # flow id -> a recorded exchange, until it ends
        self._sockets: dict[str, _Socket] = {}  # flow id -> a recorded WebSocket, while open
        # Why the calls still under way when the proxy stops are cut (the runner says more).
        self.stopping = "redline proxy shut down while the call was under way"

    @property
    def in_flight(self) -> int:
        """Recorded exchanges under way, WebSocket turns included. An exchange counts until its
        message has ended, though its record may be written before its last bytes go on."""
        return len(self._live) + sum(s.turn is not None for s in self._sockets.values())

    def recorded(self, host: str, path: str) -> bool:
        path = path.partition("?")[0]
        return any(p.matches(host, path) for p in self.patterns)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        # request.host is the CONNECT target (or the absolute-form URL's host), never the Host
        # header: a client cannot get a call recorded, or kept out, by naming another host in it.
        if not self.recorded(request.host, request.path):
            request.stream = True  # forwarded as it comes, nothing kept
            return
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_RECORDED_REQUEST:
            log.warning(
                "%s %s%s: a %s-byte request is passed on unrecorded (more than redline keeps)",
                request.method,
                request.host,
                request.path.partition("?")[0],
                length,
            )
            request.stream = True
            return
        path, _, query = request.path.partition("?")
        capture = Capture(
            method=request.method,
            path=path,
            query=query,
            upstream=_origin(request.scheme, request.host, request.port),
            request_headers=_headers(request.headers),
            # A WebSocket upgrade is recorded only when refused (or unreachable): as the relay's.
            extra={"transport": "websocket", **MITM} if _upgrade(flow) else dict(MITM),
        )
        self._live[flow.id] = _Flow(capture)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response is not None
        live = self._live.get(flow.id)
        if live is None:
            response.stream = True
            return
        capture = live.capture
        # The request body was buffered (recorded requests are not streamed): it is complete.
        capture.request_body = flow.request.raw_content or b""
        capture.status = response.status_code
        capture.response_headers = _headers(response.headers)
        # Which bytes complete the answer: a Content-Length says how many there are; a stream
        # ends with its end event; anything else ends with the message.
        length = response.headers.get("content-length", "")
        live.remaining = int(length) if length.isdigit() else None
        if "text/event-stream" in response.headers.get("content-type", "").lower():
            live.end = EndMarker(wire.detect(capture.path))
        if _upgrade(flow) and response.status_code != 101:
            live.note = f"the upstream refused the WebSocket upgrade with {response.status_code}"
        bodyless = flow.request.method == "HEAD" or response.status_code in (204, 304)
        if (bodyless or live.remaining == 0) and response.status_code != 101:
            self._persist(live, "complete", None)  # before the headers go on: they are all

        def tee(chunk: bytes) -> bytes:
            # mitmproxy calls this with each body chunk before it goes on, and with b"" at the
            # end; the bytes are those received, before any content decoding.
            if chunk:
                capture.received(chunk)
                if not live.recorded and _completes(live, chunk):
                    self._persist(live, "complete", None)
            return chunk

        # Every recorded response is streamed, SSE or not: nothing is held back from the client.
        response.stream = tee

    def response(self, flow: http.HTTPFlow) -> None:
        live = self._live.get(flow.id)
        if live is None:
            return
        capture = live.capture
        if flow.websocket is not None:  # the upgrade was accepted: turns are recorded instead
            del self._live[flow.id]
            fmt = wire.detect(capture.path)
            if fmt is not None:
                self._sockets[flow.id] = _Socket(capture, fmt)
            return
        if capture.status is None and flow.response is not None:
            # Answered without passing responseheaders (not streamed): the body is whole.
            capture.request_body = flow.request.raw_content or b""
            capture.status = flow.response.status_code
            capture.response_headers = _headers(flow.response.headers)
            capture.received(flow.response.raw_content or b"")
            if _upgrade(flow) and capture.status != 101:
                live.note = f"the upstream refused the WebSocket upgrade with {capture.status}"
        self._finish(flow, "complete", None)

    def error(self, flow: http.HTTPFlow) -> None:
        live = self._live.get(flow.id)
        if live is None:
            return
        capture = live.capture
        why = flow.error.msg if flow.error is not None else "unknown error"
        if capture.status is None:  # no answer at all: the client got mitmproxy's 502
            capture.request_body = flow.request.raw_content or b""
            self._finish(flow, "error", f"cannot reach upstream {capture.upstream}: {why}")
        else:
            # After the record was written (the whole answer was through), this changes nothing.
            self._finish(flow, "incomplete", f"the exchange broke off mid-response: {why}")

    def done(self) -> None:
        stopped = self.stopping
        for flow_id, live in list(self._live.items()):
            del self._live[flow_id]
            if not live.recorded:
                outcome = "incomplete" if live.capture.status is not None else "error"
                self._persist(live, outcome, stopped)
        for flow_id, socket in list(self._sockets.items()):
            del self._sockets[flow_id]
            if socket.turn is not None:
                self._end_turn(socket, "incomplete", stopped)

    def _finish(self, flow: http.HTTPFlow, outcome: str, error: str | None) -> None:
        live = self._live.pop(flow.id, None)
        if live is not None and not live.recorded:
            self._persist(live, outcome, error)

    def _persist(self, live: _Flow, outcome: str, error: str | None) -> None:
        live.recorded = True
        live.capture.end(outcome, live.note if outcome == "complete" else error)
        self._write(live.capture)

    def _write(self, capture: Capture) -> None:
        """Append the record to the spool now, as the reverse proxy does, so a crash after the
        client has its answer cannot lose it. A big one is only queued (built and written on
        the recorder's thread): building it here would hold up every other flow."""
        if capture.size <= INLINE_RECORD_BYTES:
            self.recorder.write(capture.to_raw)
        else:
            self.recorder.record(capture.to_raw)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        # mitmproxy keeps every message of a WebSocket in memory for as long as it is open;
        # nothing here needs them once seen (it sends on the message object it holds itself).
        flow.websocket.messages.clear()
        socket = self._sockets.get(flow.id)
        if socket is None or not message.is_text:
            return
        if message.from_client:
            if socket.turn is not None:
                self._end_turn(socket, "incomplete", "a new turn started before this one ended")
            socket.start_turn(message.content)
        elif socket.turn is not None:
            # Written before the event goes on to the client (the hook runs first): the client
            # never sees a turn end that is not in the spool.
            kind, event = sse_event(message.text)
            socket.turn.received(event)
            if kind in socket.fmt.terminal_events:
                self._end_turn(socket, "complete", None)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        socket = self._sockets.pop(flow.id, None)
        if socket is not None and socket.turn is not None:
            why = "the WebSocket closed before the turn ended"
            ws = flow.websocket
            if ws is not None and ws.close_code == 1009 and ws.close_reason == OVER_CAP:
                sender = "the client" if ws.closed_by_client else "the upstream"
                why = (
                    f"{sender} sent a WebSocket frame larger than the "
                    f"{self.max_body // (1024 * 1024)} MB cap: the WebSocket was closed "
                    "(1009, message too big)"
                )
                log.warning("%s %s", flow.request.path.partition("?")[0], why)
            self._end_turn(socket, "incomplete", why)

    def _end_turn(self, socket: _Socket, outcome: str, error: str | None) -> None:
        turn, socket.turn = socket.turn, None
        assert turn is not None
        turn.end(outcome, error)
        self._write(turn)


def _upgrade(flow: http.HTTPFlow) -> bool:
    return bool(flow.request.headers.get("upgrade", "").lower() == "websocket")


def _completes(live: _Flow, chunk: bytes) -> bool:
    """Whether this chunk completes the answer (the reverse proxy's rule)."""
    if live.remaining is not None:
        live.remaining -= len(chunk)
        return live.remaining <= 0
    return live.end is not None and live.end.done(chunk)


def _origin(scheme: str, host: str, port: int) -> str:
    """`https://host` (with the port when it is not the scheme's own): no credentials."""
    shown = f"[{host}]" if ":" in host else host
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{shown}" + ("" if port == default else f":{port}")
