"""The recorder: the one writer of a proxy's spool segment.

Two ways in:

* `write(exchange)` builds the record and appends it to the spool on the caller's thread, before
  the caller releases the last bytes of the answer: once it returns, a `kill -9` of the proxy
  cannot lose the record (the kernel holds the record). The fsync that makes it survive a power
  loss too follows on the recorder's thread, batched with every other record written meanwhile,
  so no request ever waits on the disk.
* `record(exchange)` only queues it (or a function that builds it); the recorder's thread builds,
  writes and fsyncs. For exchanges nobody is waiting on: a call the client abandoned, a capture
  path of its own (the mitmproxy addon).

A record that cannot be written (a full disk) is lost, never retried and never blocking: each
loss is logged as an error, counted in `failed`, and when the spool takes records again a
warning says how many were lost meanwhile.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from redline.transcripts import RawExchange, SpoolWriter, to_record

log = logging.getLogger("redline.proxy")

# The shortest time between two fsyncs: the longest a written record waits to be made durable
# against a power loss, beyond the fsync itself.
SYNC_INTERVAL = 0.02

_STOP = object()
_SYNC = object()  # a record was written on another thread: fsync it

Buildable = RawExchange | Callable[[], RawExchange]


class Recorder:
    def __init__(self, spool_dir: Path) -> None:
        # Two segments, written in turn: records go to the active one while the other is
        # fsync'd, since a write to a file being fsync'd can wait for the disk (milliseconds).
        self._writers = (SpoolWriter(spool_dir), SpoolWriter(spool_dir))
        self._active = 0
        # Serializes writes, the switch between segments and rotation; never held during an
        # fsync.
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._done = threading.Condition()
        self.queued = 0  # exchanges handed over, by either way
        self.written = 0  # records in the spool file
        self.synced = 0  # of those, fsync'd
        self.failed = 0  # lost: the record could not be built or written
        self._losing = 0  # lost since the last record that was written
        self._dirty = [False, False]  # a segment holds records not yet fsync'd
        self._sync_asked = False  # a _SYNC is on its way to the recorder's thread
        self._thread = threading.Thread(target=self._run, name="redline-recorder", daemon=True)
        self._thread.start()

    @property
    def segment(self) -> Path:
        """The segment being written now."""
        return self._writers[self._active].path

    @property
    def segments(self) -> list[Path]:
        return [w.path for w in self._writers]

    def record(self, exchange: Buildable) -> None:
        """Queue an exchange, or a function that builds it (called on the recorder's thread)."""
        with self._done:
            self.queued += 1
        self._queue.put(exchange)

    def write(self, exchange: Buildable) -> bool:
        """Build the record and append it to the spool now, on this thread. True: the record is
        in the spool file (fsync'd soon after). False: the record is lost, which has been
        logged and counted; the caller carries on as if it had been written."""
        with self._done:
            self.queued += 1
        built = self._build(exchange)
        if built is None:
            return False
        ok = self._append([built])
        if not self._sync_asked:  # one wake-up of the recorder's thread per group commit
            self._sync_asked = True
            self._queue.put(_SYNC)
        return ok

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is fsync'd (or lost); False on timeout."""
        with self._done:
            return self._done.wait_for(
                lambda: self.written + self.failed >= self.queued and self.synced >= self.written,
                timeout,
            )

    def _build(self, exchange: Buildable) -> tuple[bytes, str] | None:
        """The spool record, and what it is for the log; None (logged, counted) if it failed."""
        try:
            x = exchange if isinstance(exchange, RawExchange) else exchange()
            return to_record(x), f"{x.method} {x.path}"
        except Exception:  # one bad exchange must not stop the recording of the rest
            log.exception("could not build the record of an exchange; it is lost")
            with self._done:
                self.failed += 1
                self._losing += 1
                self._done.notify_all()
            return None

    def _append(self, built: list[tuple[bytes, str]]) -> bool:
        try:
            with self._lock:
                self._writers[self._active].write_records(
                    [record for record, _ in built], sync=False
                )
                self._dirty[self._active] = True
        except OSError as exc:
            with self._done:
                self.failed += len(built)
                self._losing += len(built)
                losing = self._losing
                self._done.notify_all()
            for _, what in built:
                log.error(
                    "could not write the record of %s to the spool (%s): the call went through "
                    "but is not recorded (%d lost since the spool stopped taking records)",
                    what,
                    exc.strerror or exc,
                    losing,
                )
            return False
        with self._done:
            self.written += len(built)
            lost, self._losing = self._losing, 0
            self._done.notify_all()
        if lost:
            log.warning(
                "the spool takes records again: %d record(s) were lost while it could not be "
                "written",
                lost,
            )
        return True

    def _take(self, block: bool = True) -> tuple[list[object], bool]:
        """Block for one item (unless told not to), then take whatever else is waiting."""
        items = [self._queue.get()] if block else []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stop = any(i is _STOP for i in items)
        return [i for i in items if i is not _STOP], stop

    def _run(self) -> None:
        last_sync = 0.0
        while True:
            items, stop = self._take()
            # Group commit: at most one fsync per SYNC_INTERVAL; records arriving meanwhile
            # share it.
            wait = last_sync + SYNC_INTERVAL - time.monotonic()
            if wait > 0 and not stop:
                time.sleep(wait)
                more, stop = self._take(block=False)
                items += more
            built = [
                b
                for item in items
                if item is not _SYNC and (b := self._build(item)) is not None  # type: ignore[arg-type]
            ]
            if built:
                self._append(built)
            self._sync()
            last_sync = time.monotonic()
            if stop:
                with self._lock:
                    for writer in self._writers:
                        writer.close()
                if self._losing:
                    log.error(
                        "%d record(s) were lost and the spool still could not be written",
                        self._losing,
                    )
                return

    def _sync(self) -> None:
        """fsync every record written so far: switch writing to the other segment, then fsync
        this one, which nobody writes meanwhile (so the fsync needs no lock, and no write waits
        on it); start a new segment in its place if it is full."""
        with self._lock, self._done:
            self._sync_asked = False  # a record written from now on asks for the next fsync
            target = self.written
            synced = self._active
            if not self._dirty[synced]:
                synced = 1 - synced  # records written before the last switch (a failed fsync)
            if self._dirty[synced]:
                self._active = 1 - synced
                self._dirty[synced] = False
        if target > self.synced:
            writer = self._writers[synced]
            try:
                writer.sync()
            except OSError as exc:
                log.error(
                    "could not fsync the spool (%s): records written since the last fsync "
                    "survive a crash of the proxy but may not survive a power loss",
                    exc.strerror or exc,
                )
            if writer.full:
                writer.rotate()  # not the active segment: nobody writes to it
        with self._done:
            self.synced = max(self.synced, target)
            self._done.notify_all()

    def close(self) -> None:
        """Write and fsync what is queued, then stop. Safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
