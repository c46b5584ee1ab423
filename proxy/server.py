"""The reverse proxy: forwards every request to its upstream and hands the finished exchange to
the recorder.

The hot path does no parsing, no tokenizing and no disk I/O while bytes flow: the request body
is read once (as it came: compressed bodies stay compressed) and sent on, response bytes go to
the client the moment they arrive (a `Capture` keeps a copy). One write happens before the end:
the record is appended to the spool before the bytes that complete the answer are released (the
chunk that reaches `Content-Length`, the chunk that completes a stream's end event, or else the
end of the chunked body), so a client never holds an answer that a `kill -9` of the proxy could
take out of the recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

import aiohttp
from aiohttp import web

from redline.errors import RedlineError
from redline.proxy.capture import BODY_LIMIT, Capture, error_body
from redline.proxy.headers import forwardable
from redline.proxy.recorder import Recorder
from redline.proxy.routes import Route, match_route, normalised
from redline.proxy.websocket import RedirectRefused, WebSocketRelay, is_upgrade
from redline.transcripts import WireFormat, wire

log = logging.getLogger("redline.proxy")

MAX_BODY_BYTES = BODY_LIMIT
# Records up to this size are built and written on the event loop (tens of microseconds); a
# larger one is built on a worker thread while the handler waits, so other calls keep flowing.
INLINE_RECORD_BYTES = 512 * 1024
# Models may think for minutes before the first byte; agents wait 5 minutes or more.
UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=15 * 60)
# Headers aiohttp's client would add on its own; the upstream must see only what the agent sent.
_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept", "Content-Type")
# `Expect: 100-continue` was already answered by our server; passed on, it would make our
# client wait for a 100 the upstream need never send.
_NOT_FORWARDED = ("host", "content-length", "expect")
# Statuses whose answers have no body (RFC 9110 6.4.1).
_BODYLESS = frozenset({204, 304})


async def _refuse_redirect(
    session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    params: aiohttp.TraceRequestRedirectParams,
) -> None:
    """A redirect is never followed, whatever a call site asked (aiohttp's `ws_connect` has no
    way to ask): following one would send the client's credentials to wherever it points."""
    params.response.close()
    raise RedirectRefused(params.response.status)


def _payload(body: bytes) -> bytes | io.BytesIO | None:
    # aiohttp writes a large bytes body in one go on the loop; a file-like body is streamed.
    if not body:
        return None
    return io.BytesIO(body) if len(body) > 1024 * 1024 else body


def _error(status: int, message: str, kind: str, path: str = "") -> web.Response:
    """An answer of the proxy's own, before any upstream is involved (never recorded), shaped
    for the clients of `path`'s API."""
    body = error_body(status, message, kind, path)
    return web.Response(status=status, body=body, content_type="application/json")


def _too_large(limit: int, path: str) -> web.Response:
    response = _error(
        413,
        f"redline: the request body is larger than {limit // (1024 * 1024)} MB",
        "request_too_large",
        path,
    )
    # The rest of the body is read and thrown away (briefly), not kept: the connection closes.
    response.force_close()
    return response


class _TooLarge(Exception):
    pass


class EndMarker:
    """Tells when a server-sent-event stream's last event has fully arrived: a `data:` sentinel
    (`wire.stream_sentinels()`: `[DONE]`) or an event of the wire format's terminal types, at
    the start of a line, followed by the blank line that ends an event. A search over each chunk and the end of the one before (a
    marker may be split between chunks); no parsing. Inside a message's text a newline is
    escaped (JSON), so the text can never look like the end."""

    _TAIL = 64

    def __init__(self, fmt: WireFormat | None) -> None:
        names = sorted(fmt.terminal_events) if fmt is not None else []
        # Any format's sentinel: a server that speaks one API may still end as another does.
        alternatives = [rb"data: ?" + re.escape(s.encode()) for s in wire.stream_sentinels()]
        if names:
            events = b"|".join(re.escape(n.encode()) for n in names)
            alternatives.append(rb"event: ?(?:" + events + rb")")
        self._pattern = re.compile(rb"\n(?:" + b"|".join(alternatives) + rb")\r?\n")
        self._armed = False
        self._tail = b"\n"  # the stream starts at the start of a line

    def done(self, chunk: bytes) -> bool:
        """True when this chunk completes the terminal event (and so the answer)."""
        seen = self._tail + chunk
        if not self._armed and self._pattern.search(seen) is not None:
            self._armed = True
        self._tail = seen[-self._TAIL :]
        return self._armed and seen.endswith((b"\n\n", b"\r\n\r\n"))


class Proxy:
    def __init__(
        self, routes: Sequence[Route], recorder: Recorder, *, max_body: int = MAX_BODY_BYTES
    ) -> None:
        if not routes:
            raise RedlineError("give an upstream: --upstream URL or --route /PREFIX=URL")
        self.routes = list(routes)
        self.recorder = recorder
        self.max_body = max_body
        self._session: aiohttp.ClientSession | None = None
        self._builder = ThreadPoolExecutor(1, thread_name_prefix="redline-build")
        self._hosts = {(r.upstream.host, r.upstream.port) for r in routes}
        self.in_flight = 0  # exchanges not yet handed to the recorder
        self.turns = 0  # WebSocket turns under way
        self.tasks: set[asyncio.Task[object]] = set()  # handlers running
        # Set at shutdown, once the drain bound is reached: why the calls still open are cut.
        self.stopping: str | None = None

    async def start(self, app: web.Application) -> None:
        # Pooled keep-alive connections to the upstreams; bytes are passed through as they
        # came, so the client decodes any Content-Encoding, not us.
        trace = aiohttp.TraceConfig()
        trace.on_request_redirect.append(_refuse_redirect)
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=UPSTREAM_TIMEOUT,
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=[trace],
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled client for the upstreams (exists while the app runs)."""
        assert self._session is not None, "the proxy app has not started"
        return self._session

    async def stop(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
        self._builder.shutdown(wait=True)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body, middlewares=[self._only_origin_form])
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self.start)
        app.on_cleanup.append(self.stop)
        return app

    @property
    def busy(self) -> bool:
        """Calls under way: HTTP exchanges and WebSocket turns (an idle WebSocket is not one)."""
        return self.in_flight > 0 or self.turns > 0

    async def drain(self, seconds: float, hurry: asyncio.Event | None = None) -> int:
        """Let the calls under way finish, for at most `seconds` (or until `hurry` is set);
        then cut the rest, each recorded as cut by the shutdown. Returns how many were cut."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.busy and loop.time() < deadline and not (hurry and hurry.is_set()):
            await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
        cut = self.in_flight + self.turns
        why = (
            "the proxy was stopped a second time"
            if hurry is not None and hurry.is_set()
            else f"the drain bound ({seconds:g} s) was reached"
        )
        self.stopping = f"redline proxy shut down while the call was under way: {why}"
        tasks = [t for t in self.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        return cut

    @web.middleware
    async def _only_origin_form(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # An absolute-form target or a CONNECT is what a client sends to a forward proxy:
        # refuse any host but the upstreams, so the proxy can never be used to reach elsewhere.
        if request.method == "CONNECT":
            refused = _error(
                400,
                f"redline forwards only to its configured upstreams; CONNECT {request.raw_path} "
                "is refused",
                "forbidden_host",
            )
            refused.force_close()  # no tunnel follows
            return refused
        if not request.raw_path.startswith("/"):
            asked = request.url
            if (asked.host, asked.port) not in self._hosts:
                return _error(
                    400,
                    f"redline forwards only to its configured upstreams, not {asked.host}",
                    "forbidden_host",
                )
        return await handler(request)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        started = datetime.now(UTC)
        query = request.rel_url.raw_query_string
        try:
            path = normalised(request.rel_url.raw_path)
        except ValueError as exc:
            shown = request.rel_url.raw_path[:200]
            return _error(400, f"redline refuses the path {shown!r}: {exc}", "bad_path")
        route = match_route(self.routes, path)
        if route is None:
            prefixes = ", ".join(r.prefix for r in self.routes)
            return _error(
                404, f"redline has no route for {path}; routes: {prefixes}", "no_route", path
            )
        length = request.content_length
        if length is not None and length > self.max_body:
            # Refused before a byte of the body is read.
            log.warning("refused a request body of %d bytes (over the cap)", length)
            return _too_large(self.max_body, path)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            if is_upgrade(request):
                return await WebSocketRelay(self, request, route, path, query).run()
            self.in_flight += 1
            try:
                body = await self._read_body(request)
            except _TooLarge:
                self.in_flight -= 1
                log.warning("refused a request body of more than %d bytes", self.max_body)
                return _too_large(self.max_body, path)
            except BaseException:
                self.in_flight -= 1
                raise
            capture = Capture(
                method=request.method,
                path=path,
                query=query,
                upstream=route.public,
                request_headers=list(request.headers.items()),
                request_body=body,
                started=started,
                t0=t0,
                extra={"route": route.prefix} if route.prefix else {},
                added_credentials=route.credentials,
            )
            return await _Exchange(self, request, route, capture).run()
        finally:
            self.tasks.discard(task)

    async def _read_body(self, request: web.Request) -> bytes:
        """The body exactly as it came (the server does not decompress it: runner.py), read
        into one buffer that is refused as soon as it passes the cap."""
        if not request.body_exists:
            return b""
        buffer = bytearray()
        async for chunk in request.content.iter_any():
            buffer += chunk
            if len(buffer) > self.max_body:
                del buffer
                raise _TooLarge
        body = bytes(buffer)
        del buffer
        return body

    async def persist(self, capture: Capture) -> None:
        """Append the record to the spool now (see Recorder.write); a big one is built on the
        proxy's one builder thread (one thread: one more malloc arena, not one per core)."""
        if capture.size <= INLINE_RECORD_BYTES:
            self.recorder.write(capture.to_raw)
        else:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._builder, self.recorder.write, capture.to_raw)


class _Exchange:
    """One request's trip through the proxy; records itself exactly once, however it ends."""

    def __init__(self, proxy: Proxy, request: web.Request, route: Route, capture: Capture) -> None:
        self.proxy, self.request, self.route, self.capture = proxy, request, route, capture
        self.recorded = False

    async def _persist(self, outcome: str, error: str | None = None) -> None:
        self.capture.end(outcome, error)
        self.recorded = True  # before the await: a cancellation must not record it twice
        await self.proxy.persist(self.capture)

    async def run(self) -> web.StreamResponse:
        request, capture = self.request, self.capture
        session = self.proxy.session
        present = {k.lower() for k in request.headers}
        headers = forwardable(request.headers.items(), drop=_NOT_FORWARDED)
        if self.route.authorization is not None and "authorization" not in present:
            headers.append(("Authorization", self.route.authorization))
        skip = [h for h in _AUTO_HEADERS if h.lower() not in present]
        target = self.route.target(capture.path, capture.query)
        # Runs while this handler waits for the upstream: less to do before the last bytes.
        asyncio.get_running_loop().call_soon(capture.prepare)
        try:
            try:
                upstream = await session.request(
                    request.method,
                    target,
                    headers=headers,
                    data=_payload(capture.request_body),
                    allow_redirects=False,
                    skip_auto_headers=skip,
                )
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                error = f"cannot reach upstream {self.route.public}: {exc or type(exc).__name__}"
                body = capture.failed(502, error, "upstream_unreachable")
                await self._persist("error", capture.error)
                return web.Response(status=502, body=body, content_type="application/json")
            async with upstream:
                return await self._relay(upstream)
        except asyncio.CancelledError:
            capture.end("incomplete", self.proxy.stopping or "the client went away")
            raise
        finally:
            if not self.recorded:
                # Nobody waits on this record (the client is gone or was cut): queued, and
                # built (ids, redaction, joining the chunks) on the recorder's thread.
                if capture.duration_ms is None:
                    capture.end(capture.outcome, capture.error)
                self.proxy.recorder.record(capture.to_raw)
            self.proxy.in_flight -= 1

    async def _relay(self, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        capture, request = self.capture, self.request
        capture.status = upstream.status
        capture.response_headers = list(upstream.headers.items())
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for k, v in forwardable(upstream.headers.items()):
            response.headers.add(k, v)
        # Which bytes complete the answer: a Content-Length says how many there are; a stream
        # ends with its end event; anything else ends with the chunked body.
        remaining = upstream.content_length
        bodyless = request.method == "HEAD" or upstream.status in _BODYLESS or upstream.status < 200
        end: EndMarker | None = None
        if "text/event-stream" in upstream.headers.get("Content-Type", "").lower():
            end = EndMarker(wire.detect(capture.path))
        try:
            if bodyless or remaining == 0:
                await self._persist("complete")
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                capture.received(chunk)
                if not self.recorded:
                    if remaining is not None:
                        remaining -= len(chunk)
                        last = remaining <= 0
                    else:
                        last = end is not None and end.done(chunk)
                    if last:
                        await self._persist("complete")
                await response.write(chunk)
        except ConnectionResetError:
            if not self.recorded:
                capture.end("incomplete", "the client went away mid-response")
            return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Never end a broken upstream stream cleanly: the agent must see a failure and retry.
            if not self.recorded:
                capture.end(
                    "incomplete", f"upstream stopped mid-response: {exc or type(exc).__name__}"
                )
            if request.transport is not None:
                request.transport.abort()
            return response
        if not self.recorded:
            await self._persist("complete")
        # A client gone at the very end changes nothing: the whole answer came and is recorded.
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response
