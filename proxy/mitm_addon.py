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
    response         the last body byte went to the client; the record is queued before the
                     end of the message is sent
    error            no response (upstream unreachable, its certificate refused) or a broken
                     one (either side hung up): recorded as `error` or `incomplete`
    done             the proxy stops: what is still in flight is recorded as incomplete

A WebSocket on a recorded path of a known wire format (Codex's Responses API over
`GET /v1/responses`) is recorded as the reverse proxy's relay records it (proxy/websocket.py):
not the handshake, but each turn, a client frame and the server events up to the one that ends
it (`websocket_message`, `websocket_end`). A refused upgrade is recorded like any exchange.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redline.errors import RedlineError
from redline.proxy.capture import Capture
from redline.proxy.recorder import Recorder
from redline.proxy.websocket import _event as sse_event
from redline.transcripts import WireFormat, wire

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


# The extra every mitm record carries; WebSocket turns add the transport parse_exchange reads.
MITM = {"mode": "mitm"}


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


class RecordingAddon:
    """Records the flows that match `patterns` into `recorder`; streams the rest through."""

    def __init__(self, patterns: Sequence[ApiPattern], recorder: Recorder) -> None:
        self.patterns = tuple(patterns)
        self.recorder = recorder
        self._live: dict[str, Capture] = {}  # flow id -> its capture, until recorded
        self._sockets: dict[str, _Socket] = {}  # flow id -> a recorded WebSocket, while open

    @property
    def in_flight(self) -> int:
        """Recorded exchanges (WebSocket turns included) not yet handed to the recorder."""
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
        path, _, query = request.path.partition("?")
        self._live[flow.id] = Capture(
            method=request.method,
            path=path,
            query=query,
            upstream=_origin(request.scheme, request.host, request.port),
            request_headers=_headers(request.headers),
            extra=dict(MITM),
        )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response is not None
        capture = self._live.get(flow.id)
        if capture is None:
            response.stream = True
            return
        # The request body was buffered (recorded requests are not streamed): it is complete.
        capture.request_body = flow.request.raw_content or b""
        capture.status = response.status_code
        capture.response_headers = _headers(response.headers)

        def tee(chunk: bytes) -> bytes:
            # mitmproxy calls this with each body chunk before it goes on, and with b"" at the
            # end; the bytes are those received, before any content decoding.
            if chunk:
                capture.received(chunk)
            return chunk

        # Every recorded response is streamed, SSE or not: nothing is held back from the client.
        response.stream = tee

    def response(self, flow: http.HTTPFlow) -> None:
        capture = self._live.get(flow.id)
        if capture is None:
            return
        upgrade = flow.request.headers.get("upgrade", "").lower() == "websocket"
        if flow.websocket is not None:  # the upgrade was accepted: turns are recorded instead
            del self._live[flow.id]
            fmt = wire.detect(capture.path)
            if fmt is not None:
                self._sockets[flow.id] = _Socket(capture, fmt)
            return
        refused = f"the upstream refused the WebSocket upgrade with {capture.status}"
        self._record(flow, "complete", refused if upgrade else None)

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
            # Recorded before the event goes on to the client (the hook runs first): the client
            # never sees a turn end that is not yet queued for the spool.
            kind, event = sse_event(message.text)
            socket.turn.received(event)
            if kind in socket.fmt.terminal_events:
                self._end_turn(socket, "complete", None)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        socket = self._sockets.pop(flow.id, None)
        if socket is not None and socket.turn is not None:
            self._end_turn(socket, "incomplete", "the WebSocket closed before the turn ended")

    def _end_turn(self, socket: _Socket, outcome: str, error: str | None) -> None:
        turn, socket.turn = socket.turn, None
        assert turn is not None
        turn.end(outcome, error)
        self.recorder.record(turn.to_raw)

    def error(self, flow: http.HTTPFlow) -> None:
        capture = self._live.get(flow.id)
        if capture is None:
            return
        why = flow.error.msg if flow.error is not None else "unknown error"
        if capture.status is None:  # no answer at all: the client got mitmproxy's 502
            capture.request_body = flow.request.raw_content or b""
            self._record(flow, "error", f"cannot reach upstream {capture.upstream}: {why}")
        else:
            self._record(flow, "incomplete", f"the exchange broke off mid-response: {why}")

    def done(self) -> None:
        stopped = "the proxy stopped before the exchange finished"
        for flow_id, capture in list(self._live.items()):
            del self._live[flow_id]
            capture.end("incomplete" if capture.status is not None else "error", stopped)
            self.recorder.record(capture.to_raw)
        for flow_id, socket in list(self._sockets.items()):
            del self._sockets[flow_id]
            if socket.turn is not None:
                self._end_turn(socket, "incomplete", stopped)

    def _record(self, flow: http.HTTPFlow, outcome: str, error: str | None) -> None:
        capture = self._live.pop(flow.id, None)
        if capture is None:
            return
        response = flow.response
        if capture.status is None and response is not None and outcome == "complete":
            # Answered without passing responseheaders (not streamed): the body is whole.
            capture.request_body = flow.request.raw_content or b""
            capture.status = response.status_code
            capture.response_headers = _headers(response.headers)
            capture.received(response.raw_content or b"")
        capture.end(outcome, error)
        # Only a reference is queued: the record is built (ids, redaction, joining the chunks)
        # on the recorder's thread, off mitmproxy's event loop.
        self.recorder.record(capture.to_raw)


def _origin(scheme: str, host: str, port: int) -> str:
    """`https://host` (with the port when it is not the scheme's own): no credentials."""
    shown = f"[{host}]" if ":" in host else host
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{shown}" + ("" if port == default else f":{port}")
