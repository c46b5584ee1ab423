"""The recorder: takes finished exchanges off the request path and makes them durable.

Handlers call `record()`, which only puts the exchange on a queue. One thread drains the queue
and appends everything waiting to the spool with a single fsync, so a burst of calls costs one
disk flush and no handler ever waits on the disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from redline.transcripts.spool import RawExchange, SpoolWriter

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

    def record(self, exchange: RawExchange) -> None:
        with self._done:
            self.queued += 1
        self._queue.put(exchange)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is on disk (or failed); False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self.written + self.failed >= self.queued, timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[RawExchange] = []
            stop = item is _STOP
            if not stop:
                batch.append(item)  # type: ignore[arg-type]
            while not stop:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                else:
                    batch.append(more)  # type: ignore[arg-type]
            if batch:
                try:
                    self._writer.append(batch)
                    written, failed = len(batch), 0
                except OSError:
                    log.exception("could not write %d exchange(s) to the spool", len(batch))
                    written, failed = 0, len(batch)
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
