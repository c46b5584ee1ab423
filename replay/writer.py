"""Writing a replay's results as they finish: steps, samples and verdicts, in batches.

A replay waits on the network for minutes, and the proxy's ingest and every other command need
the database meanwhile, so results are buffered and written in batches (one transaction each),
through a connection opened for that batch only. A batch is written on a thread of its own, one
at a time and in order, so sending and judging go on while the database is opened and written
(DuckDB lets go of the interpreter while it works).

A step is written as soon as it is answered, so a replay stopped in the middle of a sample's
steps resumes there; a sample's last step is written in the same batch as the sample, so a
stored step without its sample is always one the sample went on from.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from redline.config import Location
from redline.transcripts import open_store

__all__ = ["Writer"]

# Results are written in batches this big, or this often, whichever comes first.
_FLUSH_ROWS = 64
_FLUSH_SECONDS = 0.5


class Writer:
    def __init__(self, db: Location) -> None:
        self.db = db
        self.steps: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []
        self.verdicts: list[dict[str, Any]] = []
        self.last = time.monotonic()
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redline-replay-writer")
        self.writing: Future[None] | None = None

    def add_step(self, step: dict[str, Any]) -> None:
        """A step the sample goes on from."""
        self.steps.append(step)
        self._maybe_hand_over()

    def add(
        self,
        sample: dict[str, Any],
        verdict: dict[str, Any] | None,
        last_steps: Sequence[dict[str, Any]] = (),
    ) -> None:
        """A finished sample, its verdict (None when it errored) and its steps not yet added."""
        self.steps += last_steps
        self.samples.append(sample)
        if verdict is not None:
            self.verdicts.append(verdict)
        self._maybe_hand_over()

    def _maybe_hand_over(self) -> None:
        rows = len(self.samples) + len(self.steps)
        if rows >= _FLUSH_ROWS or time.monotonic() - self.last > _FLUSH_SECONDS:
            self._hand_over()

    def _hand_over(self) -> None:
        if self.writing is not None:
            if not self.writing.done():
                return  # the batch grows until the thread is free
            self.writing.result()  # a failed write stops the replay, as it would in line
        if self.samples or self.steps:
            self.writing = self.thread.submit(self._write, self.steps, self.samples, self.verdicts)
            self.steps, self.samples, self.verdicts = [], [], []
        self.last = time.monotonic()

    def _write(
        self,
        steps: list[dict[str, Any]],
        samples: list[dict[str, Any]],
        verdicts: list[dict[str, Any]],
    ) -> None:
        with open_store(self.db, ingest=False) as store:
            store.runs.add_results(steps, samples, verdicts)

    def close(self) -> None:
        """Write everything added so far, wait until it is written, and end the thread."""
        try:
            if self.writing is not None:
                self.writing.result()
            if self.samples or self.steps:
                self._write(self.steps, self.samples, self.verdicts)
                self.steps, self.samples, self.verdicts = [], [], []
        finally:
            self.thread.shutdown(wait=True)
