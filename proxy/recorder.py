"""The recorder: takes finished exchanges off the request path and makes them durable.

Handlers call `record()`, which only puts the exchange (or a function that builds it) on a
queue. One thread drains the queue, builds the records and appends everything waiting to the
spool with a single fsync, so a burst of calls costs one disk flush and no handler ever waits
on the disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from redline.transcripts import RawExchange, SpoolWriter, to_line

log = logging.getLogger("redline.proxy")

_STOP = object()


class Recorder:
    def __init__(self, spool_dir: Path) -> None:
        self._writer = SpoolWriter(spool_dir)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="redline-recorder", daemon=True)
        self._done = threading.Condition()
        self.queued = 0
        self.written = 0
        self.failed = 0
        self._thread.start()

    @property
    def segment(self) -> Path:
        return self._writer.path

    def record(self, exchange: RawExchange | Callable[[], RawExchange]) -> None:
        """Queue an exchange, or a function that builds it (called on the recorder's thread)."""
        with self._done:
            self.queued += 1
        self._queue.put(exchange)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is on disk (or failed); False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self.written + self.failed >= self.queued, timeout)

    def _take(self) -> tuple[list[object], bool]:
        """Block for one item, then take whatever else is already waiting."""
        items = [self._queue.get()]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stop = any(i is _STOP for i in items)
        return [i for i in items if i is not _STOP], stop

    def _run(self) -> None:
        while True:
            items, stop = self._take()
            lines: list[bytes] = []
            failed = 0
            for item in items:
                try:
                    exchange = item if isinstance(item, RawExchange) else item()  # type: ignore[operator]
                    lines.append(to_line(exchange))
                except Exception:  # one bad exchange must not stop the recording of the rest
                    log.exception("could not build the record of an exchange")
                    failed += 1
            written = 0
            if lines:
                try:
                    self._writer.write_lines(lines)
                    written = len(lines)
                except OSError:
                    log.exception("could not write %d exchange(s) to the spool", len(lines))
                    failed += len(lines)
            with self._done:
                self.written += written
                self.failed += failed
                self._done.notify_all()
            if stop:
                self._writer.close()
                return

    def close(self) -> None:
        """Flush what is queued, then stop. Safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
