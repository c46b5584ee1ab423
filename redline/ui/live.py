"""Live: new calls appear while the proxy records, by server-sent events.

    GET /api/events        event `calls`: {"calls": N, "last_at": ..., "last_id": ...} whenever
                           the store's calls change (and once on connecting)

One poller serves every open page, and only while one is open. It looks at the files first (the
database, its WAL and the spool: sizes and times) and opens the store only when they changed;
opening it ingests what the proxy spooled, as every command does, then closes it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from typing import Any

from aiohttp import web

from redline import config
from redline.config import Location
from redline.ui.shared import GATE, StoreGate

INTERVAL = 1.0  # seconds between looks at the files
LAKE_INTERVAL = 5.0  # seconds between looks at a lake
KEEPALIVE = 15.0  # seconds between comments on an idle stream


def fingerprint(db: Location) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """What changes when anything writes: (the database and its WAL, the spool's segments). A
    lake is written by other machines too, which no file here shows: it is looked at every
    LAKE_INTERVAL seconds."""
    files: list[Any] = []
    if isinstance(db, config.Lake):
        files.append(int(time.monotonic() // LAKE_INTERVAL))
    for path in () if isinstance(db, config.Lake) else (db, db.with_name(db.name + ".wal")):
        try:
            st = path.stat()
            files.append((path.name, st.st_size, st.st_mtime_ns))
        except OSError:
            files.append((path.name, None))
    spool: list[Any] = []
    try:
        with os.scandir(config.spool_dir(db)) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    st = entry.stat()
                    spool.append((entry.name, st.st_size, st.st_mtime_ns))
    except OSError:
        pass
    return tuple(files), tuple(sorted(spool))


class Live:
    def __init__(self, gate: StoreGate) -> None:
        self.gate = gate
        self.state: dict[str, Any] | None = None
        self.version = 0
        self.closing = False
        self._listeners = 0
        self._changed: asyncio.Condition | None = None
        self._poller: asyncio.Task[None] | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def join(self) -> None:
        self._listeners += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    def leave(self) -> None:
        self._listeners -= 1

    async def wait(self, seen: int, timeout: float) -> int:
        """The version after `seen`, or `seen` again after `timeout` (or when closing)."""
        changed = self._condition()
        async with changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    changed.wait_for(lambda: self.version != seen or self.closing), timeout
                )
        return self.version

    async def _poll(self) -> None:
        last: tuple[Any, ...] | None = None
        while self._listeners > 0 and not self.closing:
            now = fingerprint(self.gate.db)
            if now != last:
                try:
                    state = await self.gate.run(lambda store: store.browse.latest().to_json())
                except Exception:  # a locked or broken store: try again at the next look
                    last = None
                else:
                    # Opening the store wrote to the database (ingest): take its files as they
                    # are now, but the spool as it was, so a line written meanwhile is seen.
                    last = (fingerprint(self.gate.db)[0], now[1])
                    if state != self.state:
                        self.state = state
                        changed = self._condition()
                        async with changed:
                            self.version += 1
                            changed.notify_all()
            await asyncio.sleep(INTERVAL)

    async def close(self) -> None:
        self.closing = True
        changed = self._condition()
        async with changed:
            changed.notify_all()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller


LIVE = web.AppKey("live", Live)


async def events(request: web.Request) -> web.StreamResponse:
    live = request.app[LIVE]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    live.join()
    seen = 0
    try:
        while not live.closing:
            version = await live.wait(seen, KEEPALIVE)
            if live.closing:
                break
            if version != seen and live.state is not None:
                seen = version
                await response.write(f"event: calls\ndata: {json.dumps(live.state)}\n\n".encode())
            else:
                await response.write(b": still here\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        live.leave()
    return response


def routes(app: web.Application) -> None:
    app[LIVE] = Live(app[GATE])
    app.router.add_get("/api/events", events)

    async def stop(app: web.Application) -> None:
        await app[LIVE].close()

    app.on_shutdown.append(stop)
