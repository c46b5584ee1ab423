"""The reverse proxy: forwards every request to its upstream and hands the finished exchange to
the recorder.

The hot path does no parsing, no tokenizing and no disk I/O: the request body is read once and
sent on, response bytes go to the client the moment they arrive (a `Capture` keeps a copy), and the
exchange is queued for the recorder only after the last byte.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from redline.errors import RedlineError
from redline.proxy.capture import Capture, error_body
from redline.proxy.headers import forwardable
from redline.proxy.recorder import Recorder
from redline.proxy.routes import Route, match_route
from redline.proxy.websocket import WebSocketRelay, is_upgrade

MAX_BODY_BYTES = 256 * 1024 * 1024
# Models may think for minutes before the first byte; agents wait 5 minutes or more.
UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=15 * 60)
# Headers aiohttp's client would add on its own; the upstream must see only what the agent sent.
_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept", "Content-Type")
# `Expect: 100-continue` was already answered by our server; passed on, it would make our
# client wait for a 100 the upstream need never send.
_NOT_FORWARDED = ("host", "content-length", "expect")


def _payload(body: bytes) -> bytes | io.BytesIO | None:
    # aiohttp writes a large bytes body in one go on the loop; a file-like body is streamed.
    if not body:
        return None
    return io.BytesIO(body) if len(body) > 1024 * 1024 else body


def _error(status: int, message: str, kind: str) -> web.Response:
    """An answer of the proxy's own, before any upstream is involved (never recorded)."""
    body = error_body(status, message, kind)
    return web.Response(status=status, body=body, content_type="application/json")


class Proxy:
    def __init__(self, routes: Sequence[Route], recorder: Recorder) -> None:
        if not routes:
            raise RedlineError("give an upstream: --upstream URL or --route /PREFIX=URL")
        self.routes = list(routes)
        self.recorder = recorder
        self._session: aiohttp.ClientSession | None = None
        self._hosts = {(r.upstream.host, r.upstream.port) for r in routes}
        self.in_flight = 0  # exchanges not yet handed to the recorder

    async def start(self, app: web.Application) -> None:
        # Pooled keep-alive connections to the upstreams; bytes are passed through as they
        # came, so the client decodes any Content-Encoding, not us.
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=UPSTREAM_TIMEOUT,
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled client for the upstreams (exists while the app runs)."""
        assert self._session is not None, "the proxy app has not started"
        return self._session

    async def stop(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self.start)
        app.on_cleanup.append(self.stop)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        started = datetime.now(UTC)
        # An absolute-form target is what a client sends to a forward proxy: refuse any host
        # but the upstreams, so the proxy can never be used to reach elsewhere.
        if not request.raw_path.startswith("/"):
            asked = request.url
            if request.method == "CONNECT" or (asked.host, asked.port) not in self._hosts:
                return _error(
                    400,
                    f"redline forwards only to its configured upstreams, not {asked.host}",
                    "forbidden_host",
                )
        path = request.rel_url.raw_path
        query = request.rel_url.raw_query_string
        route = match_route(self.routes, path)
        if route is None:
            prefixes = ", ".join(r.prefix for r in self.routes)
            return _error(404, f"redline has no route for {path}; routes: {prefixes}", "no_route")
        if is_upgrade(request):
            return await WebSocketRelay(self, request, route, path, query).run()
        self.in_flight += 1
        try:
            body = await request.read()
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
        )
        return await _Exchange(self, request, route, capture).run()


class _Exchange:
    """One request's trip through the proxy; records itself exactly once, however it ends."""

    def __init__(self, proxy: Proxy, request: web.Request, route: Route, capture: Capture) -> None:
        self.proxy, self.request, self.route, self.capture = proxy, request, route, capture

    async def run(self) -> web.StreamResponse:
        request, capture = self.request, self.capture
        session = self.proxy.session
        present = {k.lower() for k in request.headers}
        headers = forwardable(request.headers.items(), drop=_NOT_FORWARDED)
        skip = [h for h in _AUTO_HEADERS if h.lower() not in present]
        target = self.route.target(capture.path, capture.query)
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
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"cannot reach upstream {self.route.public}: {exc or type(exc).__name__}"
                body = capture.failed(502, error, "upstream_unreachable")
                return web.Response(status=502, body=body, content_type="application/json")
            async with upstream:
                return await self._relay(upstream)
        except asyncio.CancelledError:
            capture.end("incomplete", "the client went away")
            raise
        finally:
            # Only references are handed over; the record is built (ids, redaction, joining
            # the chunks) on the recorder's thread, off the event loop.
            if capture.duration_ms is None:
                capture.end(capture.outcome, capture.error)
            self.proxy.recorder.record(capture.to_raw)
            self.proxy.in_flight -= 1

    async def _relay(self, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        capture = self.capture
        capture.status = upstream.status
        capture.response_headers = list(upstream.headers.items())
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for k, v in forwardable(upstream.headers.items()):
            response.headers.add(k, v)
        try:
            await response.prepare(self.request)
            async for chunk in upstream.content.iter_any():
                capture.received(chunk)
                await response.write(chunk)
        except ConnectionResetError:
            capture.end("incomplete", "the client went away mid-response")
            return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Never end a broken upstream stream cleanly: the agent must see a failure and retry.
            capture.end("incomplete", f"upstream stopped mid-response: {exc or type(exc).__name__}")
            if self.request.transport is not None:
                self.request.transport.abort()
            return response
        try:
            await response.write_eof()
        except ConnectionResetError:
            capture.end("incomplete", "the client went away mid-response")
            return response
        capture.end("complete")
        return response
