"""Run an aiohttp application on 127.0.0.1 in a background thread, for fakes of upstream APIs."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web


class ServerThread:
    """`app` served on 127.0.0.1 in a thread of its own, for as long as the `with` block lasts.
    `runner_options` go to aiohttp's AppRunner (say `auto_decompress=False`)."""

    def __init__(self, app: web.Application, **runner_options: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner = web.AppRunner(app, access_log=None, **runner_options)
        self.port = 0

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _shutdown(self) -> None:
        await self._runner.cleanup()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] | None = (
        None  # the client's address: the same one means a reused connection
    )


async def remember(log: list[Received], request: web.Request) -> bytes:
    """Read a request's body and keep the request in `log`, as the fakes' tests inspect it."""
    body = await request.read()
    log.append(
        Received(
            request.method,
            request.path,
            request.query_string,
            {k.lower(): v for k, v in request.headers.items()},
            body,
            request.transport.get_extra_info("peername") if request.transport else None,
        )
    )
    return body
