"""Starting and stopping the proxy: in the foreground for `redline proxy`, or in a thread; and
`recording`, a proxy of its own for a call redline makes itself."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from yarl import URL

from redline.config import Location
from redline.errors import RedlineError
from redline.proxy.recorder import Recorder
from redline.proxy.routes import Route
from redline.proxy.server import MAX_BODY_BYTES, Proxy

if TYPE_CHECKING:
    from redline.transcripts import IngestProcess

log = logging.getLogger("redline.proxy")

# How long a stopping proxy lets the calls under way finish (`redline proxy --drain`).
DEFAULT_DRAIN = 30.0


class ProxyRunner:
    """A proxy bound to host:port, recording into `spool_dir`. When stopped, it lets the calls
    under way finish for up to `drain` seconds, then cuts the rest (recorded as such)."""

    def __init__(
        self,
        routes: Sequence[Route],
        spool_dir: Path,
        host: str,
        port: int,
        *,
        drain: float = DEFAULT_DRAIN,
        max_body: int = MAX_BODY_BYTES,
        ingest_into: Location | None = None,
    ) -> None:
        self.routes, self.spool_dir, self.host, self.port = list(routes), spool_dir, host, port
        self.drain, self.max_body = drain, max_body
        # With a database, the proxy keeps it current in the background (never on the
        # request path), so a command finds almost nothing left to ingest.
        self.ingest_into = ingest_into
        self.background: IngestProcess | None = None
        self.recorder: Recorder | None = None
        self.proxy: Proxy | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    async def start(self) -> int:
        """Bind and serve; returns the port (useful with port 0)."""
        _return_freed_memory()
        try:
            self.recorder = Recorder(self.spool_dir)
        except OSError as exc:
            raise RedlineError(
                f"cannot write the spool in {self.spool_dir}: {exc.strerror}; check --db / REDLINE_DB"
            ) from None
        proxy = self.proxy = Proxy(self.routes, self.recorder, max_body=self.max_body)
        # handler_cancellation: a client that hangs up cancels its handler, which closes the
        # upstream request, so an abandoned generation stops costing tokens.
        # auto_decompress=False: a compressed request body is forwarded as it came (aiohttp
        # would inflate it, unbounded, and send it on still labelled compressed).
        # shutdown_timeout: the drain (stop) has already waited for the calls under way.
        self._runner = web.AppRunner(
            proxy.app(),
            handler_cancellation=True,
            access_log=None,
            auto_decompress=False,
            shutdown_timeout=2.0,
        )
        await self._runner.setup()
        site = self._site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            if exc.errno == errno.EADDRINUSE:
                raise RedlineError(
                    f"{self.host}:{self.port} is already in use; choose another with --port"
                ) from None
            raise RedlineError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        if self.ingest_into is not None:
            from redline.transcripts import IngestProcess

            self.background = IngestProcess(self.ingest_into).start()
        return self.port

    async def stop(self, hurry: asyncio.Event | None = None) -> None:
        """Stop taking connections, let the calls under way finish (at most `drain` seconds,
        less if `hurry` is set), cut and record the rest, then write out what is queued."""
        if self._runner is not None:
            if self._site is not None:
                await self._site.stop()  # no new connections
                self._site = None
            if self._runner.server is not None:
                self._runner.server.pre_shutdown()  # idle keep-alive connections close
            if self.proxy is not None and self.proxy.busy:
                calls = self.proxy.in_flight + self.proxy.turns
                log.warning(
                    "stopping: waiting up to %g s for %d call(s) under way (stop again to cut "
                    "them now)",
                    self.drain,
                    calls,
                )
            if self.proxy is not None:
                cut = await self.proxy.drain(self.drain, hurry)
                if cut:
                    log.warning("cut %d call(s) still under way; each is recorded as cut", cut)
            await self._runner.cleanup()
            self._runner = None
        if self.recorder is not None:
            self.recorder.close()
        if self.background is not None:
            self.background.stop()
            self.background = None


def _return_freed_memory() -> None:
    """Bodies of megabytes come and go all day. glibc's malloc raises its mmap threshold after
    each large block is freed (up to 32 MB), so later bodies land in its heap, which it keeps
    when they are freed: resident memory climbs to a plateau and stays there. A fixed threshold
    (which also turns that adjustment off) gives every block of 256 KiB or more back to the
    system when it is freed. Elsewhere than glibc this does nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 256 * 1024)


def run_forever(runner: ProxyRunner, on_ready: Callable[[int], None]) -> None:
    """Serve until SIGINT or SIGTERM, then let the calls under way finish (`runner.drain`
    seconds at most; a second signal cuts them at once) and finish recording."""
    _log_to_stderr()

    async def main() -> None:
        port = await runner.start()
        on_ready(port)
        stop, hurry = asyncio.Event(), asyncio.Event()

        def signalled() -> None:
            (hurry if stop.is_set() else stop).set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, signalled)
        try:
            await stop.wait()
        finally:
            await runner.stop(hurry)

    asyncio.run(main(), loop_factory=_loop_factory())


def _log_to_stderr() -> None:
    """The proxy's warnings and errors (a record lost to a full disk...) go to stderr."""
    logger = logging.getLogger("redline.proxy")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("redline proxy: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    # uvloop roughly halves the proxy's own share of each request's latency (bench/).
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class ThreadedProxy:
    """The proxy on its own event loop in a background thread (tests, benchmarks)."""

    def __init__(self, runner: ProxyRunner) -> None:
        self.runner = runner
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.runner.start(), self.loop).result(10)
        return self

    @property
    def url(self) -> str:
        return f"http://{self.runner.host}:{self.runner.port}"

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every exchange the proxy has seen is in the spool."""
        deadline = time.monotonic() + timeout
        while self.runner.proxy is not None and self.runner.proxy.in_flight:
            if time.monotonic() > deadline:
                raise TimeoutError("the proxy still has exchanges in flight")
            time.sleep(0.005)
        assert self.runner.recorder is not None
        if not self.runner.recorder.flush(max(0.0, deadline - time.monotonic())):
            raise TimeoutError("the recorder did not finish writing")

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.stop(), self.loop).result(
            self.runner.drain + 30
        )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def recording(base_url: str, spool_dir: Path) -> Iterator[str]:
    """Calls of redline's own to a model (`redline draft`) recorded like any other: a proxy of
    their own on 127.0.0.1, in front of `base_url`'s origin, writing to `spool_dir`. Yields the
    base URL to send to instead (the same path, on the proxy); on leaving, every call made
    through it is in the spool."""
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise RedlineError(f"base URL {base_url!r} is not an http(s) URL")
    origin = url.with_path("").with_query(None).with_fragment(None)
    runner = ProxyRunner([Route.parse("", str(origin))], spool_dir, "127.0.0.1", 0)
    with ThreadedProxy(runner) as proxy:
        try:
            yield proxy.url + url.raw_path.rstrip("/")
        finally:
            proxy.flush()
