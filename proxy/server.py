"""The reverse proxy: forwards every request to its upstream and hands the finished exchange to
the recorder.

The hot path does no parsing, no tokenizing and no disk I/O: the request body is read once and
sent on, response bytes go to the client the moment they arrive (a list keeps a copy), and the
exchange is queued for the recorder only after the last byte.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from yarl import URL

from redline.errors import RedlineError
from redline.proxy.headers import forwardable, redacted, redacted_query
from redline.proxy.recorder import Recorder
from redline.proxy.websocket import WebSocketRelay, is_upgrade
from redline.transcripts.spool import RawExchange, header, new_id

MAX_BODY_BYTES = 256 * 1024 * 1024
# Models may think for minutes before the first byte; agents wait 5 minutes or more.
UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=15 * 60)
# Headers aiohttp's client would add on its own; the upstream must see only what the agent sent.
_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept", "Content-Type")
# `Expect: 100-continue` was already answered by our server; passed on, it would make our
# client wait for a 100 the upstream need never send.
_NOT_FORWARDED = ("host", "content-length", "expect")


@dataclass(frozen=True, slots=True)
class Route:
    """Requests whose path starts with `prefix` go to `upstream`, with the prefix removed."""

    prefix: str
    upstream: URL

    @classmethod
    def parse(cls, prefix: str, upstream: str) -> Route:
        problem = f"upstream {upstream!r} is not an http(s) URL; give e.g. https://api.openai.com"
        try:
            url = URL(upstream.strip())
            valid = url.scheme in ("http", "https") and bool(url.host) and url.port is not None
        except ValueError:  # yarl's word for a malformed host or port
            valid = False
        if not valid:
            raise RedlineError(problem)
        prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        return cls(prefix, url.with_fragment(None))

    @property
    def public(self) -> str:
        """The upstream as shown and stored: no user:password, no credential parameters."""
        url = self.upstream.with_user(None)
        query = redacted_query(url.raw_query_string)
        return str(url.with_query(None)) + (f"?{query}" if query else "")

    def target(self, path: str, query: str) -> URL:
        """The upstream URL for a request path; an upstream's own query (Azure's
        `?api-version=`) comes first, then the request's."""
        rest = path[len(self.prefix) :] or "/"
        base = str(self.upstream.with_query(None)).rstrip("/")
        both = "&".join(q for q in (self.upstream.raw_query_string, query) if q)
        return URL(base + rest + (f"?{both}" if both else ""), encoded=True)


def match_route(routes: Sequence[Route], path: str) -> Route | None:
    """The route with the longest prefix that matches whole path segments."""
    best: Route | None = None
    for route in routes:
        p = route.prefix
        if (not p or path == p or path.startswith(p + "/")) and (
            best is None or len(p) > len(best.prefix)
        ):
            best = route
    return best


def _payload(body: bytes) -> bytes | io.BytesIO | None:
    # aiohttp writes a large bytes body in one go on the loop; a file-like body is streamed.
    if not body:
        return None
    return io.BytesIO(body) if len(body) > 1024 * 1024 else body


def _error(status: int, message: str, kind: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": status}}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


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
        x = _Exchange(self, request, route, path, query, body, t0, started)
        return await x.run()


class _Exchange:
    """One request's trip through the proxy; records itself exactly once, however it ends."""

    def __init__(
        self,
        proxy: Proxy,
        request: web.Request,
        route: Route,
        path: str,
        query: str,
        body: bytes,
        t0: float,
        started: datetime,
    ) -> None:
        self.proxy, self.request, self.route = proxy, request, route
        self.path, self.query, self.body = path, query, body
        self.t0, self.started = t0, started
        self.status: int | None = None
        self.response_headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.ttfb: float | None = None
        self.outcome = "incomplete"
        self.error: str | None = None

    def _ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000

    async def run(self) -> web.StreamResponse:
        request = self.request
        session = self.proxy.session
        present = {k.lower() for k in request.headers}
        headers = forwardable(request.headers.items(), drop=_NOT_FORWARDED)
        skip = [h for h in _AUTO_HEADERS if h.lower() not in present]
        target = self.route.target(self.path, self.query)
        try:
            try:
                upstream = await session.request(
                    request.method,
                    target,
                    headers=headers,
                    data=_payload(self.body),
                    allow_redirects=False,
                    skip_auto_headers=skip,
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.outcome = "error"
                self.error = (
                    f"cannot reach upstream {self.route.public}: {exc or type(exc).__name__}"
                )
                self.status = 502
                response = _error(502, f"redline: {self.error}", "upstream_unreachable")
                self.response_headers = list(response.headers.items())
                self.chunks = [response.body]  # type: ignore[list-item]
                return response
            async with upstream:
                return await self._relay(upstream)
        except asyncio.CancelledError:
            self.outcome, self.error = "incomplete", "the client went away"
            raise
        finally:
            self._record()

    async def _relay(self, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        self.status = upstream.status
        self.response_headers = list(upstream.headers.items())
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for k, v in forwardable(upstream.headers.items()):
            response.headers.add(k, v)
        try:
            await response.prepare(self.request)
            async for chunk in upstream.content.iter_any():
                if self.ttfb is None:
                    self.ttfb = self._ms()
                self.chunks.append(chunk)
                await response.write(chunk)
        except ConnectionResetError:
            self.outcome, self.error = "incomplete", "the client went away mid-response"
            return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Never end a broken upstream stream cleanly: the agent must see a failure and retry.
            self.outcome = "incomplete"
            self.error = f"upstream stopped mid-response: {exc or type(exc).__name__}"
            if self.request.transport is not None:
                self.request.transport.abort()
            return response
        try:
            await response.write_eof()
        except ConnectionResetError:
            self.outcome, self.error = "incomplete", "the client went away mid-response"
            return response
        self.outcome = "complete"
        return response

    def _record(self) -> None:
        # Only references are captured here; building the record (ids, redaction, joining the
        # chunks) happens on the recorder's thread, off the event loop.
        self.duration_ms = self._ms()
        self.request_headers = list(self.request.headers.items())
        self.proxy.recorder.record(self.to_raw)
        self.proxy.in_flight -= 1

    def to_raw(self) -> RawExchange:
        return RawExchange(
            id=new_id(self.started),
            started_at=self.started,
            method=self.request.method,
            path=self.path,
            query=redacted_query(self.query),
            upstream=self.route.public,
            request_headers=redacted(self.request_headers),
            request_body=self.body,
            status=self.status,
            response_headers=redacted(self.response_headers),
            response_body=b"".join(self.chunks),
            ttfb_ms=self.ttfb,
            duration_ms=self.duration_ms,
            outcome=self.outcome,
            error=self.error,
            client=header(self.request_headers, "user-agent"),
            extra={"route": self.route.prefix} if self.route.prefix else {},
        )
