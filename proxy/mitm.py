"""`redline proxy --mode mitm`: an HTTPS intercepting proxy, mitmproxy embedded in-process.

For agents whose base URL cannot be changed: they reach their API through `HTTPS_PROXY`, trust
redline's CA (proxy/mitm_ca.py), and the calls they make are recorded into the same spool as
the reverse proxy's, by the same `Capture` and `Recorder` (proxy/mitm_addon.py).

    MitmRunner       the proxy bound to host:port, recording into a spool; `serve()` runs it on
                     the caller's event loop until `stop()` (`drain()` first lets the recorded
                     calls under way finish)
    run_forever      in the foreground until SIGINT or SIGTERM (`redline proxy --mode mitm`)
    ThreadedMitm     the same on a thread of its own (tests, benchmarks)

How it is embedded (mitmproxy 12):

* A plain `Master` with the few addons a forwarding proxy needs, not `DumpMaster`: that one
  adds `ErrorCheck`, which calls `sys.exit(1)` and prints to stderr when anything logs an
  error during start-up, plus a flow dumper and a dozen addons redline does not use.
* mitmproxy keeps its master in the module global `mitmproxy.ctx.master`: one master runs in a
  process at a time; a second `serve()` while one runs is refused.
* It runs on the stock asyncio loop. `Master.run` installs `asyncio.eager_task_factory`, which
  uvloop (0.21+) calls with a keyword the factory of Python 3.12/3.13 does not accept, so every
  task creation fails on uvloop.
* mitmproxy logs at INFO what a client sent (headers included: credentials) when a request is
  cut short. Its loggers stop propagating while the proxy runs; only warnings and errors are
  passed on, with credentials scrubbed out of them.
* Importing `mitmproxy.addons` imports ldap3, which touches pyasn1 names that pyasn1 >= 0.6.1
  deprecates: a DeprecationWarning at import, an error under `-W error`. Ignored here, for
  that import only.
* mitmproxy gathers each WebSocket message whole before it relays it, with no bound. While the
  proxy runs, its WebSocket layer reads through `_CappedConnection`, which counts a message's
  bytes as they arrive and, past `max_body` (the cap of an HTTP body), ends the WebSocket as if
  the sender had closed it with 1009 (message too big): both sides get that close, and the
  addon records the turn under way as cut, saying why. mitmproxy then stops reading the
  sender's connection without closing it (it waits for the peer to hang up, which it can no
  longer see once its read buffer is full): `_FrameCap` closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from redline.config import Location
from redline.errors import RedlineError
from redline.proxy.capture import BODY_LIMIT
from redline.proxy.headers import scrubbed
from redline.proxy.mitm_addon import DEFAULT_PATTERNS, OVER_CAP, ApiPattern, RecordingAddon
from redline.proxy.mitm_ca import CaFiles, ensure_ca, upstream_trust_bundle
from redline.proxy.mitm_guard import LocalTargetsGuard
from redline.proxy.recorder import Recorder
from redline.proxy.runner import _log_to_stderr
from redline.transcripts import BackgroundIngest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ldap3(\.|$)")
    import wsproto.events
    from mitmproxy import ctx
    from mitmproxy.addons import block, core, next_layer, proxyserver, tlsconfig
    from mitmproxy.master import Master
    from mitmproxy.options import Options
    from mitmproxy.proxy.layers import websocket as websocket_layer

log = logging.getLogger("redline.proxy.mitm")

OnLog = Callable[[int, str], None]

# mitmproxy.ctx.master is a module global: one master at a time in a process.
_ONE_MASTER = threading.Lock()


class MitmRunner:
    """The mitm proxy bound to host:port, recording the calls that match `patterns`."""

    def __init__(
        self,
        spool_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        patterns: Sequence[ApiPattern] = DEFAULT_PATTERNS,
        upstream_ca: Path | None = None,
        confdir: Path | None = None,
        on_log: OnLog | None = None,
        drain: float = 30.0,
        ingest_into: Location | None = None,
        max_body: int = BODY_LIMIT,
    ) -> None:
        self.spool_dir, self.host, self.port = spool_dir, host, port
        self.drain_seconds = drain
        self.max_body = max_body
        # With a database, it is kept current in the background while the proxy runs, as in
        # reverse mode (never on the request path).
        self.ingest_into = ingest_into
        self.background: BackgroundIngest | None = None
        self.patterns = tuple(patterns)
        self.ca: CaFiles = ensure_ca(confdir)
        self.upstream_bundle = (
            upstream_trust_bundle(self.ca.confdir, upstream_ca) if upstream_ca else None
        )
        self.log_sink = _LogSink(on_log)
        self.recorder: Recorder | None = None
        self.addon: RecordingAddon | None = None
        self._master: Master | None = None
        self._stop_requested = False
        self._startup_error: RedlineError | None = None
        self._on_ready: Callable[[int], None] | None = None

    @property
    def in_flight(self) -> int:
        return self.addon.in_flight if self.addon is not None else 0

    async def serve(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Serve until `stop()`; `on_ready(port)` once listening. What is in flight when it
        stops is recorded as incomplete, and everything recorded is on disk when this returns.
        Raises RedlineError if it cannot start."""
        loop = asyncio.get_running_loop()
        if type(loop).__module__.startswith("uvloop"):
            raise RuntimeError("the mitm proxy runs on the stock asyncio loop, not uvloop")
        if not _ONE_MASTER.acquire(blocking=False):
            raise RedlineError("a mitm proxy is running in this process already")
        try:
            try:
                self.recorder = Recorder(self.spool_dir)
            except OSError as exc:
                raise RedlineError(
                    f"cannot write the spool in {self.spool_dir}: {exc.strerror}; "
                    "check --db / REDLINE_DB"
                ) from None
            try:
                self.addon = RecordingAddon(self.patterns, self.recorder, self.max_body)
                with _quiet_mitmproxy_logging(self.log_sink), _frames_capped(self.max_body):
                    await self._run(loop, on_ready)
            finally:
                self.recorder.close()
                if self.background is not None:
                    self.background.stop()
                    self.background = None
        finally:
            _ONE_MASTER.release()
        if self._startup_error is not None:
            raise self._startup_error

    async def _run(
        self, loop: asyncio.AbstractEventLoop, on_ready: Callable[[int], None] | None
    ) -> None:
        assert self.addon is not None
        self._on_ready = on_ready
        opts = Options(
            mode=["regular"],
            listen_host=self.host,
            listen_port=self.port,
            confdir=str(self.ca.confdir),
            # Only these hosts are decrypted; a CONNECT to any other becomes a plain TCP relay,
            # and its client sees the real server's certificate.
            allow_hosts=[p.allow_hosts_regex() for p in self.patterns],
            ssl_insecure=False,
            ssl_verify_upstream_trusted_ca=str(self.upstream_bundle)
            if self.upstream_bundle
            else None,
            http3=False,
        )
        master = Master(opts, event_loop=loop, with_termlog=False)
        # Master puts a handler on the ROOT logger that forwards every record of the process to
        # its loop, for the deprecated `add_log` hook no addon here uses: take it off at once.
        master._legacy_log_events.uninstall()
        try:
            master.addons.add(
                core.Core(),
                block.Block(),  # refuses clients from public addresses if bound to 0.0.0.0
                proxyserver.Proxyserver(),
                next_layer.NextLayer(),
                tlsconfig.TlsConfig(),
                LocalTargetsGuard(),
                self.addon,
                _FrameCap(),
                _Lifecycle(self),
            )
            # Options an addon declares can be set only once that addon is added.
            master.options.update(
                # The upstream is connected when the request has arrived, so a failure
                # (unreachable, certificate refused) is recorded with the request it failed.
                connection_strategy="lazy",
                validate_inbound_headers=True,
                stream_large_bodies=None,
                store_streamed_bodies=False,
                block_global=True,
            )
            self._master = master
            if self._stop_requested:
                return
            await master.run()  # returns after stop(), once the `done` hooks have run
        finally:
            self._master = None
            # Master.run does not close the listening sockets, and skips done() (which removes
            # its root-logger handler) when stopped before the servers were up.
            servers = master.addons.get("proxyserver")
            if servers is not None:
                with contextlib.suppress(Exception):
                    await servers.servers.update([])
            master._legacy_log_events.uninstall()
            # Recorded exchanges still open (stopped before the servers came up): recorded now.
            self.addon.done()

    async def drain(self, hurry: asyncio.Event | None = None) -> int:
        """Let the recorded calls under way finish, for at most `drain_seconds` (or until `hurry`
        is set); what is left is recorded as cut when `stop()` follows. Returns how many."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_seconds
        while self.in_flight and loop.time() < deadline and not (hurry and hurry.is_set()):
            await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
        why = (
            "the proxy was stopped a second time"
            if hurry is not None and hurry.is_set()
            else f"the drain bound ({self.drain_seconds:g} s) was reached"
        )
        if self.addon is not None:
            self.addon.stopping = f"redline proxy shut down while the call was under way: {why}"
        return self.in_flight

    def stop(self) -> None:
        """Stop serving; thread-safe and idempotent. Open client connections are dropped."""
        self._stop_requested = True
        master = self._master
        if master is not None:
            master.shutdown()

    def _started(self, port: int | None, error: RedlineError | None) -> None:
        if error is not None:
            self._startup_error = error
            self.stop()
            return
        assert port is not None
        self.port = port
        if self.ingest_into is not None:
            self.background = BackgroundIngest(self.ingest_into).start()
        if self._on_ready is not None:
            self._on_ready(port)


class _Lifecycle:
    """Tells the runner when mitmproxy's servers are up, or why they are not."""

    def __init__(self, runner: MitmRunner) -> None:
        self.runner = runner

    def running(self) -> None:
        servers = ctx.master.addons.get("proxyserver")
        failures = [s.last_exception for s in servers.servers if s.last_exception]
        addrs = servers.listen_addrs()
        if failures or not addrs:
            self.runner._started(None, _listen_error(self.runner, failures))
        else:
            self.runner._started(addrs[0][1], None)


def _listen_error(runner: MitmRunner, failures: Sequence[BaseException]) -> RedlineError:
    where = f"{runner.host}:{runner.port}"
    for exc in failures:
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return RedlineError(f"{where} is already in use; choose another with --port")
    why = "; ".join(str(e) for e in failures) or "mitmproxy is not listening"
    return RedlineError(f"cannot listen on {where}: {why}")


def run_forever(runner: MitmRunner, on_ready: Callable[[int], None]) -> None:
    """Serve on the main thread until SIGINT or SIGTERM; then let the recorded calls under way
    finish (`runner.drain_seconds` at most; a second signal cuts them at once), record what is
    cut, and return once everything is on disk."""
    _log_to_stderr()  # redline's own warnings (a record lost to a full disk...), as reverse mode

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop, hurry = asyncio.Event(), asyncio.Event()

        def signalled() -> None:
            (hurry if stop.is_set() else stop).set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, signalled)
        serving = asyncio.ensure_future(runner.serve(on_ready))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                await runner.drain(hurry)
            runner.stop()
            await serving  # raises what kept it from starting, if anything did
        finally:
            stopping.cancel()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    asyncio.run(main())  # the stock loop, never uvloop (module docstring)


class ThreadedMitm:
    """The mitm proxy on its own event loop in a background thread (tests, benchmarks)."""

    def __init__(self, runner: MitmRunner, timeout: float = 30.0) -> None:
        self.runner = runner
        self.timeout = timeout
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="redline-mitm", daemon=True)

    def _main(self) -> None:
        try:
            # asyncio.run cancels leftover tasks (open client connections) and shuts the default
            # executor down before closing the loop.
            asyncio.run(self.runner.serve(lambda port: self._ready.set()))
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> ThreadedMitm:
        self._thread.start()
        if not self._ready.wait(self.timeout):
            self.runner.stop()
            self._thread.join(10)
            raise RedlineError(f"the mitm proxy did not start within {self.timeout:.0f}s")
        if self._error is not None:
            self._thread.join(10)
            raise self._error
        return self

    @property
    def port(self) -> int:
        return self.runner.port

    @property
    def url(self) -> str:
        """The proxy's address, for HTTPS_PROXY."""
        return f"http://{self.runner.host}:{self.runner.port}"

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every recorded exchange the proxy has seen is in the spool."""
        deadline = time.monotonic() + timeout
        while self.runner.in_flight:
            if time.monotonic() > deadline:
                raise TimeoutError("the mitm proxy still has exchanges in flight")
            time.sleep(0.005)
        recorder = self.runner.recorder
        assert recorder is not None
        if not recorder.flush(max(0.0, deadline - time.monotonic())):
            raise TimeoutError("the recorder did not finish writing")

    def __exit__(self, *exc: object) -> None:
        self.runner.stop()
        self._thread.join(30)
        if self._thread.is_alive():
            raise RuntimeError("the mitm proxy thread did not stop")
        if self._error is not None and not isinstance(self._error, RedlineError):
            raise self._error


# ------------------------------------------------------------------ mitmproxy's WebSocket frames


class _CappedConnection(websocket_layer.WebsocketConnection):
    """A side of a WebSocket whose messages may not pass `cap` bytes: past it, its events end
    with a close 1009 the layer passes to both sides (see the module's docstring)."""

    cap = BODY_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._message = 0  # bytes of the message under way
        self._over = False

    def events(self) -> Iterator[wsproto.events.Event]:
        if self._over:
            return
        for event in super().events():
            if isinstance(event, wsproto.events.Message):
                data = event.data
                self._message += len(data.encode() if isinstance(data, str) else data)
                if self._message > self.cap:
                    self._over = True
                    yield wsproto.events.CloseConnection(1009, OVER_CAP)
                    return
                if event.message_finished:
                    self._message = 0
            yield event


class _FrameCap:
    """Closes the connections of a WebSocket `_CappedConnection` ended: mitmproxy cancels their
    readers, and a reader whose buffer is full never learns that the peer hung up."""

    def websocket_end(self, flow: Any) -> None:
        ws = flow.websocket
        if ws is None or ws.close_code != 1009 or ws.close_reason != OVER_CAP:
            return
        handler = ctx.master.addons.get("proxyserver").connections.get(flow.client_conn.id)
        for conn in (flow.server_conn, flow.client_conn):
            io = handler.transports.get(conn) if handler is not None else None
            if io is not None and io.writer is not None and not io.writer.is_closing():
                io.writer.close()


@contextlib.contextmanager
def _frames_capped(cap: int) -> Iterator[None]:
    """mitmproxy's WebSocket layer reads through `_CappedConnection` (capped at `cap`) while the
    proxy runs; one master runs in a process at a time (`_ONE_MASTER`)."""
    _CappedConnection.cap = cap
    original = websocket_layer.WebsocketConnection
    websocket_layer.WebsocketConnection = _CappedConnection  # type: ignore[misc]
    try:
        yield
    finally:
        websocket_layer.WebsocketConnection = original  # type: ignore[misc]


# --------------------------------------------------------------------------- mitmproxy's logging


def scrub(text: str) -> str:
    """A mitmproxy log message with credential values (headers, bearer tokens, query
    parameters) replaced by `[redacted]`: the names proxy/headers.py never stores."""
    return scrubbed(text)


class _LogSink(logging.Handler):
    """Takes mitmproxy's warnings and errors, scrubbed; passes them to `on_log` (or to
    redline's logger at debug level) and keeps the last hundred."""

    def __init__(self, on_log: OnLog | None) -> None:
        super().__init__(logging.WARNING)
        self.on_log = on_log
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = scrub(record.getMessage())
        except Exception:  # a log call with bad arguments must not break the proxy
            return
        self.records = [*self.records[-99:], (record.levelno, message)]
        if self.on_log is not None:
            self.on_log(record.levelno, message)
        else:
            log.debug("mitmproxy: %s", message)


_MITMPROXY_LOGGERS = ("mitmproxy", "mitmproxy_rs")


@contextlib.contextmanager
def _quiet_mitmproxy_logging(sink: _LogSink) -> Iterator[None]:
    """mitmproxy's loggers stop propagating to the root logger (the application's handlers)
    and go to `sink` only, at WARNING and above: INFO records are not even made. Having a
    handler also keeps `logging.lastResort` from printing them."""
    saved = []
    for name in _MITMPROXY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate, logger.level))
        logger.propagate = False
        logger.setLevel(logging.WARNING)
        logger.addHandler(sink)
    try:
        yield
    finally:
        for logger, propagate, level in saved:
            logger.removeHandler(sink)
            logger.propagate, logger.level = propagate, level
