"""WebSocket relay: frames pass both ways untouched; Responses API turns are recorded.

Recent Codex CLI versions first try a WebSocket on `GET /v1/responses`. Each turn is one client
frame (`{"type": "response.create", ...}`, often only the new items plus
`previous_response_id`) answered by the same events the SSE stream carries. A turn is recorded
as one exchange whose response is those events in SSE framing, so ingest reassembles it like a
stream. A handshake the upstream refuses is passed back as its status, so the client falls back
to HTTP as it would without the proxy.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from redline.proxy.headers import forwardable, redacted, redacted_query
from redline.transcripts.spool import RawExchange, header, new_id

if TYPE_CHECKING:
    from redline.proxy.server import Proxy, Route

# The handshake headers aiohttp computes itself for the upstream connection.
_SEC_WEBSOCKET = (
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
)
_HANDSHAKE = ("host", "content-length", *_SEC_WEBSOCKET)
_TERMINAL = {
    "response.completed",
    "response.failed",
    "response.incomplete",
    "error",
    "response.error",
}


def is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class _Turn:
    def __init__(self, frame: str) -> None:
        self.t0 = time.perf_counter()
        self.started = datetime.now(UTC)
        self.frame = frame
        self.events: list[str] = []
        self.ttfb: float | None = None

    def add(self, data: str) -> str | None:
        """Keep one server event in SSE framing; returns its type."""
        if self.ttfb is None:
            self.ttfb = (time.perf_counter() - self.t0) * 1000
        try:
            kind = json.loads(data).get("type")
        except (ValueError, AttributeError):
            kind = None
        self.events.append((f"event: {kind}\n" if kind else "") + f"data: {data}\n\n")
        return kind if isinstance(kind, str) else None


class WebSocketRelay:
    def __init__(
        self, proxy: Proxy, request: web.Request, route: Route, path: str, query: str
    ) -> None:
        self.proxy, self.request, self.route, self.path, self.query = (
            proxy,
            request,
            route,
            path,
            query,
        )
        self.headers = list(request.headers.items())
        self.turn: _Turn | None = None

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
                headers=forwardable(self.headers, drop=_HANDSHAKE),
                protocols=protocols,
                max_msg_size=0,
                autoping=True,
            )
        except aiohttp.WSServerHandshakeError:
            return await self._refused()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._unreachable(exc)
        async with upstream:
            # Answer with the subprotocol the upstream chose, not merely the first offered.
            chosen = [upstream.protocol] if upstream.protocol else []
            client = web.WebSocketResponse(protocols=chosen, max_msg_size=0, autoping=True)
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
                    self._record("incomplete", "the WebSocket closed before the turn ended")
                await client.close(code=upstream.close_code or aiohttp.WSCloseCode.OK)
        return client

    def _unreachable(self, exc: BaseException) -> web.Response:
        error = f"cannot reach upstream {self.route.public}: {exc or type(exc).__name__}"
        body = {
            "error": {"message": f"redline: {error}", "type": "upstream_unreachable", "code": 502}
        }
        response = web.json_response(body, status=502)
        self._record_plain(502, [], json.dumps(body).encode(), "error", error)
        return response

    async def _refused(self) -> web.Response:
        """The upstream said no to the upgrade. aiohttp's WebSocket client drops the refusal's
        body, so the handshake is asked once more as a plain request and that answer (status,
        headers, error body) goes back: the client sees why, and falls back to HTTP as it would
        without the proxy. The refusal is recorded like any other exchange."""
        session = self.proxy.session
        handshake = [(k, v) for k, v in self.headers if k.lower() in _SEC_WEBSOCKET]
        headers = forwardable(self.headers, drop=_HANDSHAKE)
        headers += [("Connection", "Upgrade"), ("Upgrade", "websocket"), *handshake]
        try:
            async with session.get(
                self.route.target(self.path, self.query), headers=headers
            ) as refused:
                body = await refused.read()
                status, reply_headers = refused.status, list(refused.headers.items())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._unreachable(exc)
        response = web.Response(status=status, body=body)
        for k, v in forwardable(reply_headers, drop=("content-length",)):
            response.headers.add(k, v)
        error = f"the upstream refused the WebSocket upgrade with {status}"
        self._record_plain(status, reply_headers, body, "complete", error)
        return response

    def _record_plain(
        self, status: int, headers: list[tuple[str, str]], body: bytes, outcome: str, error: str
    ) -> None:
        """Record an upgrade that never became a WebSocket."""
        started = datetime.now(UTC)
        self._store(
            started, self.request.method, b"", status, headers, body, None, 0.0, outcome, error
        )

    def _store(
        self,
        started: datetime,
        method: str,
        request_body: bytes,
        status: int,
        response_headers: list[tuple[str, str]],
        response_body: bytes,
        ttfb_ms: float | None,
        duration_ms: float,
        outcome: str,
        error: str | None,
    ) -> None:
        """Hand one exchange of this connection to the recorder, secrets removed."""
        self.proxy.recorder.record(
            RawExchange(
                id=new_id(started),
                started_at=started,
                method=method,
                path=self.path,
                query=redacted_query(self.query),
                upstream=self.route.public,
                request_headers=redacted(self.headers),
                request_body=request_body,
                status=status,
                response_headers=redacted(response_headers),
                response_body=response_body,
                ttfb_ms=ttfb_ms,
                duration_ms=duration_ms,
                outcome=outcome,
                error=error,
                client=header(self.headers, "user-agent"),
                extra={"transport": "websocket"},
            )
        )

    async def _client_to_upstream(
        self, client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
    ) -> None:
        async for msg in client:
            if msg.type == aiohttp.WSMsgType.TEXT:
                if self.turn is not None:
                    self._record("incomplete", "a new turn started before this one ended")
                self.turn = _Turn(msg.data)
                await upstream.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await upstream.send_bytes(msg.data)
        # The client's close code and reason go on to the upstream unchanged.
        await upstream.close(code=client.close_code or aiohttp.WSCloseCode.OK)

    async def _upstream_to_client(
        self, upstream: aiohttp.ClientWebSocketResponse, client: web.WebSocketResponse
    ) -> None:
        async for msg in upstream:
            if msg.type == aiohttp.WSMsgType.TEXT:
                # Recorded before the last event is passed on: the client never sees a turn end
                # that is not yet queued for the spool.
                if self.turn is not None and self.turn.add(msg.data) in _TERMINAL:
                    self._record("complete", None)
                await client.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await client.send_bytes(msg.data)
        await client.close(code=upstream.close_code or aiohttp.WSCloseCode.OK)

    def _record(self, outcome: str, error: str | None) -> None:
        """Record the open turn: its frame as the request, its events in SSE framing."""
        turn, self.turn = self.turn, None
        assert turn is not None
        self._store(
            turn.started,
            "WEBSOCKET",
            turn.frame.encode(),
            101,
            [],
            "".join(turn.events).encode(),
            turn.ttfb,
            (time.perf_counter() - turn.t0) * 1000,
            outcome,
            error,
        )
