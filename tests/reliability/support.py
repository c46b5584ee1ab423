"""What the reliability tests share: an upstream that misbehaves on cue and sees bytes exactly as
sent, a listener that must hear nothing, raw HTTP, the spool as written, resident memory.

The upstream answers `POST /v1/chat/completions` as the `X-Behave` request header says (the
proxy forwards it like any header):

    json            a chat completion, with Content-Length (the default)
    chunked         the same JSON in a chunked body
    stream          an SSE stream: `X-Events` deltas, then `data: [DONE]`
    slow-stream     the same, `X-Delay` seconds between events
    done-then-wait  the whole stream, then `X-Delay` seconds before the body ends
    forever         an SSE delta every 0.1 s, never ending
    no-done         an SSE stream that stops without `data: [DONE]`
    gzip / br / zstd / deflate   the JSON answer in that Content-Encoding
    redirect        302 to `X-Location`
    echo-key        401 whose error message quotes the key it was sent (as real APIs do)
    echo-key-gzip   the same, gzip-compressed
    echo-all        401 quoting every credential it was sent (`echoed`: the bearer token, a
                    Basic password, x-api-key, api-key, cookie values, query values)
    echo-all-gzip   the same, gzip-compressed
    echo-stream     an SSE stream (200) whose deltas quote every credential, each one cut in two
                    between two chunks
    echo-header     a chat completion (200) with every credential in response headers
    bomb            a gzip body of 1 MB that inflates to 1 GiB

`GET /v1/responses` with a WebSocket upgrade is refused with a 302 to `X-Location` (or 401
quoting the key with `X-Behave: echo-key`); with `X-Behave: echo-ws` it is accepted, and each
text frame is answered with Responses events quoting every credential of the handshake; with
`X-Behave: ws-frames` it is accepted, the size of each frame received is kept in `ws_frames`,
and each is answered with one event of `X-Size` bytes (default: a few) and a completed event.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import http.client
import json
import os
import socket
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import WSMsgType, web

from redline import config
from redline.transcripts import RawExchange
from redline.transcripts.spool import read_exchanges
from tests.fakes.server import ServerThread


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes  # exactly as it arrived: the upstream decompresses nothing
    raw_path: str = ""  # the request line's path, as sent


def completion(text: str = "ok") -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-rel",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    ).encode()


def sse_delta(text: str) -> bytes:
    chunk = {
        "id": "chatcmpl-rel",
        "object": "chat.completion.chunk",
        "created": 1_764_000_000,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


@cache
def gzip_bomb() -> bytes:
    """1 GiB of zeros in about 1 MB of gzip: 1024 members of 1 MiB each (gzip allows members
    one after another; every decoder reads them all)."""
    return gzip.compress(bytes(1 << 20), 9) * 1024


def _compress(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    if coding == "br":
        import brotli

        return bytes(brotli.compress(body))
    import zstandard

    return zstandard.ZstdCompressor().compress(body)


def compress(body: bytes, coding: str) -> bytes:
    return _compress(body, coding)


class Upstream:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.ws_frames: list[int] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/responses", self.websocket)
        app.router.add_route("*", "/{tail:.*}", self.other)
        return app

    async def _seen(self, request: web.Request) -> Seen:
        body = await request.read()
        seen = Seen(
            request.method,
            request.path,
            request.query_string,
            {k.lower(): v for k, v in request.headers.items()},
            body,
            request.raw_path,
        )
        self.seen.append(seen)
        return seen

    async def other(self, request: web.Request) -> web.Response:
        await self._seen(request)
        return web.json_response({"object": "list", "data": []})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        seen = await self._seen(request)
        if seen.headers.get("x-behave") == "echo-key":
            return self._echo_key(seen, gzipped=False)
        if seen.headers.get("x-behave") == "echo-ws":
            return await self._echo_ws(request, seen)
        if seen.headers.get("x-behave") == "ws-frames":
            return await self._ws_frames(request, int(seen.headers.get("x-size", "8")))
        return web.Response(status=302, headers={"Location": seen.headers.get("x-location", "/")})

    async def _ws_frames(self, request: web.Request, size: int) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            self.ws_frames.append(len(msg.data))
            head = '{"type": "response.output_text.delta", "delta": "'
            await ws.send_str(head + "x" * max(0, size - len(head) - 2) + '"}')
            await ws.send_str(json.dumps({"type": "response.completed", "response": {}}))
        return ws

    @staticmethod
    async def _echo_ws(request: web.Request, seen: Seen) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            for key in echoed(seen):
                event = {"type": "response.output_text.delta", "delta": f"you sent {key}"}
                await ws.send_str(json.dumps(event))
            await ws.send_str(json.dumps({"type": "response.completed", "response": {}}))
        return ws

    @staticmethod
    def _echo_key(seen: Seen, *, gzipped: bool) -> web.Response:
        key = seen.headers.get("authorization", "").removeprefix("Bearer ")
        key = key or seen.headers.get("x-api-key", "")
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {key}. Find your key in settings.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if gzipped:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        return web.Response(status=401, body=body, headers=headers)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        seen = await self._seen(request)
        behave = seen.headers.get("x-behave", "json")
        delay = float(seen.headers.get("x-delay", "0"))
        events = int(seen.headers.get("x-events", "3"))
        if behave == "json":
            return web.Response(body=completion(), content_type="application/json")
        if behave in ("gzip", "br", "zstd", "deflate"):
            return web.Response(
                body=_compress(completion(), behave),
                headers={"Content-Type": "application/json", "Content-Encoding": behave},
            )
        if behave == "redirect":
            return web.Response(status=302, headers={"Location": seen.headers["x-location"]})
        if behave in ("echo-key", "echo-key-gzip"):
            return self._echo_key(seen, gzipped=behave == "echo-key-gzip")
        if behave in ("echo-all", "echo-all-gzip"):
            message = "Refused credentials: " + ", ".join(echoed(seen))
            body = json.dumps({"error": {"message": message, "type": "auth"}}).encode()
            headers = {"Content-Type": "application/json"}
            if behave == "echo-all-gzip":
                body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
            return web.Response(status=401, body=body, headers=headers)
        if behave == "echo-header":
            headers = {f"X-Seen-{i}": f"got {key}" for i, key in enumerate(echoed(seen))}
            return web.Response(body=completion(), content_type="application/json", headers=headers)
        if behave == "bomb":
            return web.Response(
                body=gzip_bomb(),
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/json" if behave == "chunked" else "text/event-stream"
            }
        )
        await response.prepare(request)
        if behave == "chunked":
            body = completion()
            await response.write(body[:20])
            await response.write(body[20:])
        elif behave == "echo-stream":
            for key in echoed(seen):
                event = sse_delta(f"you sent {key} ok")
                cut = event.index(key.encode()) + len(key) // 2
                await response.write(event[:cut])
                await asyncio.sleep(0.01)  # two chunks on the wire
                await response.write(event[cut:])
            await response.write(DONE)
        elif behave == "forever":
            try:
                while True:
                    await response.write(sse_delta("more "))
                    await asyncio.sleep(0.1)
            except ConnectionResetError:  # the proxy hung up: the end of forever
                return response
        else:
            for i in range(events):
                await response.write(sse_delta(f"part {i} "))
                if behave == "slow-stream":
                    await asyncio.sleep(delay)
            if behave != "no-done":
                await response.write(DONE)
            if behave == "done-then-wait":
                await asyncio.sleep(delay)
        await response.write_eof()
        return response


def echoed(seen: Seen) -> list[str]:
    """Every credential value a request carried, as an upstream that quotes them would see them:
    the bearer token, a Basic password, x-api-key and api-key, cookie values, query values."""
    found: list[str] = []
    authorization = seen.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        found.append(authorization.removeprefix("Bearer "))
    elif authorization.startswith("Basic "):
        found.append(base64.b64decode(authorization[6:]).decode().partition(":")[2])
    found += [seen.headers[h] for h in ("x-api-key", "api-key") if h in seen.headers]
    for pair in seen.headers.get("cookie", "").split(";"):
        if "=" in pair:
            found.append(pair.split("=", 1)[1].strip())
    found += [unquote(v) for _, _, v in (p.partition("=") for p in seen.query.split("&")) if v]
    return found


class Listener:
    """A host an upstream redirects to: every request it gets is a leak."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.any)
        return app

    async def any(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path, dict(request.headers)))
        return web.Response(text="a third party's answer")


class Serving(ServerThread):
    """An aiohttp app on 127.0.0.1 in a background thread. Request bodies are not decompressed
    (`auto_decompress=False`): the app sees the bytes exactly as they were sent."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(app, auto_decompress=False, shutdown_timeout=0.1)

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        # Handlers still running (a stream the test walked away from) end here.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    url: str,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    """One request from the standard library, read to the end; nothing decoded."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def chat_body(content: str, *, stream: bool = False) -> bytes:
    return json.dumps(
        {"model": "gpt-test", "messages": [{"role": "user", "content": content}], "stream": stream}
    ).encode()


def raw_exchange(url: str, data: bytes, *, read_until: bytes | None = None) -> bytes:
    """Send raw bytes; read until the server closes (or `read_until` has been seen)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(data)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
            if read_until is not None and read_until in reply:
                break
    return reply


def spooled(db_path: Path) -> list[RawExchange]:
    """Every exchange in the spool, in file order (complete records only)."""
    return read_exchanges(config.spool_dir(db_path))


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def everything_written(root: Path) -> bytes:
    """Every byte of every file under `root`."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def environ(**extra: str) -> dict[str, Any]:
    return {**os.environ, **extra}
