"""The web view (`redline ui`): read conversations, flag a call from the page, see reports.

    server         the aiohttp app: security rules (127.0.0.1, Host check, token, CSP), the
                   route modules composed from one list (ROUTES)
    shared         what the route modules share: the app's keys, the store opened per request
                   (StoreGate), JSON in and out
    conversations  the list (filters, search, pages), a conversation's timeline, a raw call
    task_routes    the checks, checks tried live on an output, tasks under `flag`'s rules
    runs           replay runs and their reports
    live           server-sent events when calls are recorded
    static/        the page: plain HTML, CSS and JavaScript, no build step

The glue package: it may use every part (transcripts, analyzers, replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import threading
from collections.abc import Callable

from aiohttp import web

from redline.analyzers import Registry
from redline.config import Location
from redline.errors import RedlineError
from redline.ui.server import HOST, allow_port, make_app
from redline.ui.shared import TOKEN

INDEX_BATCH = 20_000  # calls indexed per short transaction when the UI starts


def prepare(db: Location, say: Callable[[str], None]) -> None:
    """Open the store once (create, migrate, ingest) and bring the search index up to date, a
    batch at a time, each batch on a connection of its own: a store of 100,000 calls that was
    never browsed takes some seconds, once."""
    from redline.transcripts import open_store

    told = False
    while True:
        with open_store(db) as store:
            waiting = store.browse.pending()
            if waiting == 0:
                return
            if not told and waiting > INDEX_BATCH:
                say(f"indexing {waiting:,} calls for search (once)...")
                told = True
            store.browse.refresh_index(INDEX_BATCH)


class UiServer:
    """The web view on its own event loop in a background thread (tests, benchmarks, the
    screenshots); `redline ui` runs `serve` in the foreground instead."""

    def __init__(self, db: Location, registry: Registry | None = None, port: int = 0) -> None:
        from redline.analyzers import default_registry

        self.db = db
        self.app = make_app(db, registry or default_registry())
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def token(self) -> str:
        return self.app[TOKEN]

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.port)
        await site.start()
        self.port = _bound_port(self._runner)
        allow_port(self.app, self.port)

    def __enter__(self) -> UiServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise RedlineError("the web view did not start listening")


def serve(
    db: Location,
    *,
    port: int,
    registry: Registry,
    say: Callable[[str], None],
    open_browser: bool = False,
) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM)."""
    prepare(db, say)
    app = make_app(db, registry)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await runner.setup()
        try:
            await web.TCPSite(runner, HOST, port).start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise RedlineError(
                    f"port {port} on {HOST} is in use; choose another with --port"
                ) from None
            raise RedlineError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
        bound = _bound_port(runner)
        allow_port(app, bound)
        url = f"http://{HOST}:{bound}"
        say(f"redline ui: {url}  (Ctrl-C stops it)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


__all__ = ["UiServer", "make_app", "prepare", "serve"]
