"""WebSocket relay: frames pass both ways untouched; Responses API turns are recorded.

Recent Codex CLI versions first try a WebSocket on `GET /v1/responses`. Each turn is one client
frame (`{"type": "response.create", ...}`, often only the new items plus
`previous_response_id`) answered by the same events the SSE stream carries. A turn is recorded
as one exchange whose response is those events in SSE framing, so ingest reassembles it like a
stream. A handshake the upstream refuses is passed back as its status, so the client falls back
to HTTP as it would without the proxy.

A frame has the cap of an HTTP body (the proxy's `max_body`), either way. A WebSocket message
cannot be passed on a piece at a time as a body can, so a frame over the cap is never read: the
WebSocket is closed on both sides with 1009 (message too big), and the turn under way is recorded
as cut, saying so.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Protocol

import aiohttp
from aiohttp import web

from redline.proxy.capture import Capture
from redline.proxy.headers import forwardable
from redline.transcripts import WireFormat, wire

if TYPE_CHECKING:
    from redline.proxy.recorder import Recorder
    from redline.proxy.routes import Route

log = logging.getLogger("redline.proxy")


class Host(Protocol):
    """What the relay needs of the proxy that runs it (`server.Proxy`): its upstream client,
    its recorder, the count of turns under way, and why it is stopping, once it is."""

    @property
    def session(self) -> aiohttp.ClientSession: ...

    recorder: Recorder
    turns: int
    stopping: str | None
    max_body: int

    async def persist(self, capture: Capture) -> None: ...


class RedirectRefused(Exception):
    """The upstream answered with a redirect where aiohttp would have followed it (server.py
    raises it from a trace hook: `ws_connect` cannot be told not to follow)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the upstream answered {status}, a redirect; redline never follows one")
        self.status = status


# The handshake headers aiohttp computes itself for the upstream connection.
_SEC_WEBSOCKET = (
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
)
_HANDSHAKE = ("host", "content-length", *_SEC_WEBSOCKET)


def _too_big(msg: aiohttp.WSMessage) -> bool:
    return (
        isinstance(msg.data, aiohttp.WebSocketError)
        and msg.data.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    )


def is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _event(data: str) -> tuple[str | None, bytes]:
    """A server event's type, and the event in SSE framing."""
    try:
        kind = json.loads(data).get("type")
    except (ValueError, AttributeError):
        kind = None
    kind = kind if isinstance(kind, str) else None
    return kind, ((f"event: {kind}\n" if kind else "") + f"data: {data}\n\n").encode()


class WebSocketRelay:
    def __init__(
        self, proxy: Host, request: web.Request, route: Route, path: str, query: str
    ) -> None:
        self.proxy, self.request, self.route, self.path, self.query = (
            proxy,
            request,
            route,
            path,
            query,
        )
        self.headers = list(request.headers.items())
        self.turn: Capture | None = None
        # Why the WebSocket is being closed, when a frame was over the cap.
        self.too_big: str | None = None
        # The events that end a turn are the wire format's; a path of no known format (a
        # WebSocket to another endpoint) is relayed, and its frames are not turns.
        self.fmt: WireFormat | None = wire.detect(path)

    async def run(self) -> web.StreamResponse:
        session = self.proxy.session
        protocols = [
            p.strip()
            for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        # A malformed upgrade is refused here, before any connection to the upstream is made.
        if not web.WebSocketResponse(protocols=protocols).can_prepare(self.request).ok:
            return web.json_response(
                {
                    "error": {
                        "message": "redline: not a valid WebSocket upgrade",
                        "type": "bad_upgrade",
                    }
                },
                status=400,
            )
        try:
            upstream = await session.ws_connect(
                self.route.target(self.path, self.query),
                headers=self._upstream_headers(),
                protocols=protocols,
                max_msg_size=self.proxy.max_body,
                autoping=True,
            )
        except (aiohttp.WSServerHandshakeError, RedirectRefused):
            # A redirect is passed back like any other refusal, never followed.
            return await self._refused()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._unreachable(exc)
        async with upstream:
            # Answer with the subprotocol the upstream chose, not merely the first offered.
            chosen = [upstream.protocol] if upstream.protocol else []
            client = web.WebSocketResponse(
                protocols=chosen, max_msg_size=self.proxy.max_body, autoping=True
            )
            try:
                await client.prepare(self.request)
                pumps = [
                    asyncio.ensure_future(self._client_to_upstream(client, upstream)),
                    asyncio.ensure_future(self._upstream_to_client(upstream, client)),
                ]
                try:
                    await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for pump in pumps:
                        pump.cancel()
                    await asyncio.gather(*pumps, return_exceptions=True)
            finally:
                if self.turn is not None:
                    self._record(
                        "incomplete",
                        self.too_big
                        or self.proxy.stopping
                        or "the WebSocket closed before the turn ended",
                    )
                code = upstream.close_code or aiohttp.WSCloseCode.OK
                if self.proxy.stopping:
                    code = aiohttp.WSCloseCode.GOING_AWAY
                await client.close(code=code)
        return client

    def _upstream_headers(self) -> list[tuple[str, str]]:
        headers = forwardable(self.headers, drop=_HANDSHAKE)
        present = {k.lower() for k, _ in self.headers}
        if self.route.authorization is not None and "authorization" not in present:
            headers.append(("Authorization", self.route.authorization))
        return headers

    def _capture(self, method: str, request_body: bytes = b"") -> Capture:
        return Capture(
            method=method,
            path=self.path,
            query=self.query,
            upstream=self.route.public,
            request_headers=self.headers,
            request_body=request_body,
            extra={"transport": "websocket"},
            added_credentials=self.route.credentials,
        )

    def _unreachable(self, exc: BaseException) -> web.Response:
        error = f"cannot reach upstream {self.route.public}: {exc or type(exc).__name__}"
        capture = self._capture(self.request.method)
        body = capture.failed(502, error, "upstream_unreachable")
        self.proxy.recorder.write(capture.to_raw)
        return web.Response(status=502, body=body, content_type="application/json")

    async def _refused(self) -> web.Response:
        """The upstream said no to the upgrade. aiohttp's WebSocket client drops the refusal's
        body, so the handshake is asked once more as a plain request and that answer (status,
        headers, error body) goes back: the client sees why, and falls back to HTTP as it would
        without the proxy. The refusal is recorded like any other exchange."""
        session = self.proxy.session
        handshake = [(k, v) for k, v in self.headers if k.lower() in _SEC_WEBSOCKET]
        headers = self._upstream_headers()
        headers += [("Connection", "Upgrade"), ("Upgrade", "websocket"), *handshake]
        try:
            async with session.get(
                self.route.target(self.path, self.query), headers=headers, allow_redirects=False
            ) as refused:
                body = await refused.read()
                status, reply_headers = refused.status, list(refused.headers.items())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._unreachable(exc)
        response = web.Response(status=status, body=body)
        for k, v in forwardable(reply_headers, drop=("content-length",)):
            response.headers.add(k, v)
        capture = self._capture(self.request.method)
        capture.status, capture.response_headers, capture.chunks = status, reply_headers, [body]
        capture.kept = len(body)
        capture.end("complete", f"the upstream refused the WebSocket upgrade with {status}")
        await self.proxy.persist(capture)
        return response

    async def _client_to_upstream(
        self, client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
    ) -> None:
        async for msg in client:
            if msg.type == aiohttp.WSMsgType.TEXT:
                if self.turn is not None:
                    self._record("incomplete", "a new turn started before this one ended")
                if self.fmt is not None:
                    self.turn = self._capture("WEBSOCKET", msg.data.encode())
                    self.turn.status = 101
                    self.proxy.turns += 1
                await upstream.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await upstream.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR and _too_big(msg):
                self._over_cap("the client")
        # The client's close code and reason go on to the upstream unchanged (1009 when the
        # client's frame was over the cap).
        await upstream.close(code=client.close_code or aiohttp.WSCloseCode.OK)

    async def _upstream_to_client(
        self, upstream: aiohttp.ClientWebSocketResponse, client: web.WebSocketResponse
    ) -> None:
        async for msg in upstream:
            if msg.type == aiohttp.WSMsgType.TEXT:
                # Recorded before the last event is passed on: the client never sees a turn end
                # that is not yet queued for the spool.
                if self.turn is not None and self.fmt is not None:
                    kind, event = _event(msg.data)
                    self.turn.received(event)
                    if kind in self.fmt.terminal_events:
                        turn, self.turn = self.turn, None
                        turn.end("complete", None)
                        self.proxy.turns -= 1
                        await self.proxy.persist(turn)
                await client.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await client.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR and _too_big(msg):
                self._over_cap("the upstream")
        await client.close(code=upstream.close_code or aiohttp.WSCloseCode.OK)

    def _over_cap(self, sender: str) -> None:
        """A frame over the cap: aiohttp refused it unread and closes that side with 1009; the
        other side gets the same code when its pump ends."""
        cap = f"{self.proxy.max_body // (1024 * 1024)} MB"
        self.too_big = (
            f"{sender} sent a WebSocket frame larger than the {cap} cap: "
            "the WebSocket was closed (1009, message too big)"
        )
        log.warning("%s %s", self.path, self.too_big)

    def _record(self, outcome: str, error: str | None) -> None:
        """Record the open turn: its frame as the request, its events in SSE framing."""
        turn, self.turn = self.turn, None
        assert turn is not None
        self.proxy.turns -= 1
        turn.end(outcome, error)
        self.proxy.recorder.record(turn.to_raw)
