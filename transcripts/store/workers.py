"""Laying calls out in worker processes, for a backlog: parsing and hashing are most of ingest's
work and need no database, so they run on every core while this process threads and writes.

Each worker keeps its own cache of known histories (store/prefixes.py), so the calls of one
conversation must reach the same worker, in the order they started: records are dealt out by
their agent session (the session header), else by client, and each worker gets its share of a
batch in call order. A worker reads the bodies itself, from the segment; only metadata goes to
it, and only what a row needs comes back (store/layout.py).

The next batch is laid out while this one is threaded and written. A worker that fails takes
ingest down with a clear error, like a failure of this process would; nothing is committed for
the batch it was working on.

Workers are plain child processes (`python -m redline.transcripts.store.workers`), talking over
their stdin and stdout: never a fork of this process, whose DuckDB threads a fork would copy,
and never a re-run of the program that called ingest (multiprocessing's spawn and fork server
run the caller's main module again in each child, which a script without a main guard does not
survive).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import zlib
from collections.abc import Callable
from multiprocessing.connection import Connection

from redline.transcripts.exchange import header
from redline.transcripts.parse import session_key
from redline.transcripts.spool import Record, load
from redline.transcripts.store.layout import Placed, place
from redline.transcripts.store.prefixes import PrefixCache

# A backlog smaller than this is laid out in this process: starting workers costs more.
THRESHOLD_BYTES = 16 * 1024 * 1024
MAX_WORKERS = 8

_FORGET = "forget"


def workers_for(pending_bytes: int) -> int:
    """How many workers a backlog of this size is worth (0: none)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if pending_bytes < THRESHOLD_BYTES or not cores or cores < 2:
        return 0
    return min(cores, MAX_WORKERS)


class Pool:
    """Worker processes that lay calls out; `submit` a batch, call what it returns for the
    result. Not thread-safe: the ingest that owns it uses it from one thread."""

    def __init__(self, size: int) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._conns: list[Connection] = []
        for _ in range(size):
            proc = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            assert proc.stdin is not None and proc.stdout is not None
            self._procs.append(proc)
            self._conns.append(_Duplex(os.dup(proc.stdout.fileno()), os.dup(proc.stdin.fileno())))
            proc.stdin.close()  # the connection holds its own copies
            proc.stdout.close()
        self._waiting: list[int] = []  # workers sent a batch whose results are not read yet
        self.generation = 0  # how many times the workers forgot what they laid out

    def submit(self, records: list[Record]) -> Callable[[], list[Placed]]:
        """Send `records` out; the function returned collects them laid out, in this order."""
        self._collect_pending()
        shares: list[list[int]] = [[] for _ in self._conns]
        for i, r in enumerate(records):
            shares[_worker(r, len(self._conns))].append(i)
        used = [w for w, share in enumerate(shares) if share]
        for w in used:
            self._conns[w].send([records[i] for i in shares[w]])
        self._waiting = used

        def result() -> list[Placed]:
            out: list[Placed | None] = [None] * len(records)
            for w in used:
                for i, placed in zip(shares[w], self._receive(w), strict=True):
                    out[i] = placed
            self._waiting = []
            return [p for p in out if p is not None]

        return result

    def _receive(self, w: int) -> list[Placed]:
        try:
            answer = self._conns[w].recv()
        except EOFError:
            raise RuntimeError("an ingest worker process ended unexpectedly") from None
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, list)
        return answer

    def _collect_pending(self) -> None:
        """Results nobody read (a batch given up after a failure): read and drop them."""
        for w in self._waiting:
            self._receive(w)
        self._waiting = []

    def forget(self) -> None:
        """After a rolled-back transaction: the nodes the workers remember may not be kept."""
        self._collect_pending()
        for conn in self._conns:
            conn.send(_FORGET)
        self.generation += 1

    def close(self) -> None:
        """Stop the workers: each ends at the end of its input, after what it is working on."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        for proc in self._procs:
            proc.wait()  # blocking, not polled: a worker ends as soon as its input does


def _worker(record: Record, workers: int) -> int:
    """The worker for a record: the same for every call of a conversation."""
    headers = record.meta.get("request_headers") or []
    key = (
        session_key(headers)
        if record.legacy is None
        else session_key(record.legacy.request_headers)
    )
    if key is None:
        key = f"{record.meta.get('upstream')} {header(headers, 'user-agent')}"
    return zlib.crc32(key.encode("utf-8", "replace")) % workers


class _Duplex(Connection):
    """multiprocessing's framing (pickles, length-prefixed) over two pipe ends: one to read
    from, one to write to."""

    def __init__(self, read: int, write: int) -> None:
        super().__init__(read)
        self._write_fd = write

    def _send(self, buf: bytes, write: Callable[[int, memoryview], int] = os.write) -> None:
        view = memoryview(buf)
        while view:
            view = view[write(self._write_fd, view) :]

    def _close(self, _close: Callable[[int], None] = os.close) -> None:
        _close(self._handle)  # type: ignore[attr-defined]
        _close(self._write_fd)


def _serve(conn: Connection) -> None:
    """A worker's life: lay out what it is sent, until it is sent None (or its parent goes)."""
    prefixes = PrefixCache()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        if message == _FORGET:
            prefixes.forget()
            continue
        try:
            conn.send([place(x, prefixes) for x in load(message)])
        except Exception as exc:  # sent back, raised in ingest
            prefixes.forget()
            conn.send(exc)


if __name__ == "__main__":
    # Our stdout carries results: whatever else would print goes to stderr.
    channel = _Duplex(os.dup(0), os.dup(1))
    os.dup2(2, 1)
    _serve(channel)
