"""Ingest in the background: a proxy keeps the store current, so a command finds almost nothing
left to read from the spool after a day of recording.

A thread wakes when told that lines were written (or every `interval` seconds), opens the
database only for as long as one ingest takes, and closes it (a lake's connection is kept for
the next round instead: a lake has no lock to give back, and connecting costs half a second). When a command holds the database
it does not wait: it tries again later, backing off, because the commands' reads come first and
the spool keeps every line meanwhile. It never touches the request path and never stops the
proxy: a failure is logged and retried.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from redline.config import Lake, Location
from redline.errors import RedlineError, StoreLocked
from redline.transcripts.store.prefixes import PrefixCache

log = logging.getLogger("redline.store")
MAINTAIN_EVERY = 600.0  # seconds between foldings of a lake's small writes (lake.maintain)


class BackgroundIngest:
    def __init__(self, db: Location, *, interval: float = 5.0, max_backoff: float = 60.0) -> None:
        self.db, self.interval, self.max_backoff = db, interval, max_backoff
        # Histories seen in earlier rounds: the next round reuses them (see prefixes.py).
        self.prefixes = PrefixCache()
        self._identity: tuple[int, int] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redline-ingest", daemon=True)
        self._seen: tuple[tuple[str, int], ...] | None = None  # the spool at the last round
        self.rounds = 0
        self.ingested = 0
        self._maintained = time.monotonic()  # a lake's first maintenance after MAINTAIN_EVERY

    def start(self) -> BackgroundIngest:
        self._thread.start()
        return self

    def poke(self) -> None:
        """Lines were written: ingest soon."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.round()
                delay = self.interval
            except StoreLocked:  # a command is reading: its turn first
                delay = min(max(delay * 2, 1.0), self.max_backoff)
            except (RedlineError, OSError, duckdb.Error) as exc:
                # A lake whose catalog cannot be reached is one of these: the spool keeps
                # every record until it comes back.
                log.warning("background ingest failed, will retry: %s", " ".join(str(exc).split()))
                delay = min(max(delay * 2, 1.0), self.max_backoff)
            except Exception:  # never let the proxy lose its ingest thread to a bug
                log.exception("background ingest failed, will retry")
                delay = min(max(delay * 2, 1.0), self.max_backoff)

    def round(self) -> int:
        """One ingest, now (nothing when the spool has not changed since the last one);
        returns how many exchanges it stored."""
        from redline import config
        from redline.transcripts.store import open_store

        spool = config.spool_dir(self.db)
        try:
            seen = tuple(sorted((p.name, p.stat().st_size) for p in spool.glob("*.jsonl")))
        except OSError:  # a segment deleted while looked at: read it all again
            seen = None
        if seen is not None and seen == self._seen:
            return 0

        identity = self._db_identity()
        if identity != self._identity:  # a new or rebuilt database: its nodes are not ours
            self.prefixes.forget()
            self._identity = identity
        t0 = time.perf_counter()
        with open_store(self.db, ingest=False, wait=0.5) as store:
            report = store.ingest(prefixes=self.prefixes)
            if isinstance(self.db, Lake) and report.ingested:
                self._maintain(store.con)
        self._seen = seen
        self.rounds += 1
        self.ingested += report.ingested
        for problem in report.problems:
            log.warning("%s", problem)
        if report.ingested:
            log.debug("ingested %d exchanges in %.2fs", report.ingested, time.perf_counter() - t0)
        return report.ingested

    def _maintain(self, con: duckdb.DuckDBPyConnection) -> None:
        """A lake's small writes folded together, every MAINTAIN_EVERY seconds at most."""
        if time.monotonic() - self._maintained < MAINTAIN_EVERY:
            return
        from redline.transcripts.store.lake import maintain

        if maintain(con):
            self._maintained = time.monotonic()

    def _db_identity(self) -> tuple[int, int] | None:
        if isinstance(self.db, Lake):  # a lake is never replaced by a new one under us
            return None
        try:
            stat = self.db.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_dev


class IngestProcess:
    """A `BackgroundIngest` in a child process of its own: its parsing never competes with the
    proxy's event loop for the interpreter (the proxy's latency stays its own), and it ends
    when the proxy does, however the proxy ends (it watches its stdin, which the parent holds)."""

    def __init__(self, db: Location, *, interval: float = 2.0) -> None:
        self.db, self.interval = db, interval
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> IngestProcess:
        where = [str(self.db)]
        if isinstance(self.db, Lake):  # no password in these: never one in a process list
            where = [self.db.url, self.db.data_path, str(self.db.password_file or "")]
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "redline.transcripts.store.background",
                str(self.interval),
                *where,
            ],
            stdin=subprocess.PIPE,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()  # the child's cue: finish the round under way, then exit
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _child(db: Location, interval: float) -> None:
    """The child's life: ingest until stdin closes (the parent stopped or died)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("redline ingest: %(levelname)s: %(message)s"))
    logging.getLogger("redline").addHandler(handler)
    logging.getLogger("redline").setLevel(logging.WARNING)
    # Ctrl-C in the proxy's terminal reaches this process too; the proxy decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    background = BackgroundIngest(db, interval=interval).start()
    sys.stdin.buffer.read()  # returns at EOF
    background.stop()


def _where(args: list[str]) -> Location:
    if len(args) == 1:
        return Path(args[0])
    url, data, password_file = args
    return Lake(url, data, Path(password_file) if password_file else None)


if __name__ == "__main__":
    _child(_where(sys.argv[2:]), float(sys.argv[1]))
