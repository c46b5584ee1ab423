"""Short-lived DuckDB connections that wait politely for a lock held by another process.

A new database is created whole or not at all: under a temporary name, then renamed, so a full
disk or a crash never leaves a 0-byte or half-made file that every later command trips over (a
0-byte file left by an older redline counts as absent). New databases use 16 KiB blocks instead
of DuckDB's 256 KiB: a few blocks per table is most of a small store's size.

A new file is written in an explicit storage version, the oldest that the pinned DuckDB writes
compactly, so that a later DuckDB (which reads older versions) never leaves a store behind by
writing a format an older redline cannot open; `tests/test_store_versions.py` opens a store made
by the previous release.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from redline.errors import StoreLocked, StoreUnavailable, StoreWriteFailed
from redline.transcripts.store.lake import conflicted, exclusive, fence, lake_of

log = logging.getLogger("redline.store")

# How long to wait for another process that holds the database. Commands wait as long as a
# live process holds it (ingest is quick; a reader must not fail because another is ingesting).
LOCK_WAIT_SECONDS = 600.0
# How long a write on a lake keeps running again while other writers' commits win.
CONFLICT_WAIT = 300.0
BLOCK_SIZE = 16 * 1024
STORAGE_VERSION = "v1.5.0"
_HOLDER = re.compile(r"held in (.+?) \(PID (\d+)\)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create(path: Path) -> None:
    """Create an empty database at `path` atomically (nothing when one exists already)."""
    if path.exists() and path.stat().st_size > 0:
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        con = duckdb.connect()
        try:
            con.execute(
                f"ATTACH '{temporary}' AS new "
                f"(BLOCK_SIZE {BLOCK_SIZE}, STORAGE_VERSION '{STORAGE_VERSION}')"
            )
            con.execute("DETACH new")
        finally:
            con.close()
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        if path.exists() and path.stat().st_size > 0:  # another process made it meanwhile
            return
        os.replace(temporary, path)
    except OSError as exc:
        raise StoreUnavailable(path, f"cannot create it: {exc.strerror}") from None
    except duckdb.Error as exc:
        raise StoreUnavailable(path, f"cannot create it: {exc}") from None
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)


def connect(path: Path, *, wait: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the database for writing (creating it when absent), waiting with backoff while
    another live process holds it, up to `wait` seconds."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(path, f"cannot create its folder: {exc.strerror}") from None
    create(path)
    deadline = time.monotonic() + wait
    delay = 0.02
    told = time.monotonic() - 4.0  # the first notice after a second of waiting
    while True:
        try:
            con = duckdb.connect(str(path))
            con.execute("SET TimeZone = 'UTC'")
            return con
        except duckdb.IOException as exc:
            message = str(exc)
            # "Could not set lock on file ...: Conflicting lock is held in ... (PID n)"; a
            # damaged file's "checksum ... in block at ..." also says "lock" and is not one.
            if "could not set lock" not in message.lower():
                raise StoreUnavailable(path, message) from None
            holder = _HOLDER.search(message)
            who = f"{holder.group(1)} (PID {holder.group(2)})" if holder else "another process"
            gone = holder is not None and not _alive(int(holder.group(2)))
            if time.monotonic() >= deadline or (gone and delay >= 0.5):
                if holder:
                    raise StoreLocked(path, holder.group(1), int(holder.group(2))) from None
                raise StoreLocked(path) from None
            if time.monotonic() - told > 5.0:
                log.warning("waiting for the database %s: %s holds it", path, who)
                told = time.monotonic()
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise StoreUnavailable(path, f"not a redline database ({exc})") from None


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything the block writes is kept, or nothing: an error rolls back and goes on. A
    write the disk refused (full, or a file size limit) is a StoreWriteFailed. On a lake the
    transaction is fenced (lake.py): its commit fails if another writer committed meanwhile
    (that error is raised as it is, and `write` runs the work again)."""
    con.execute("BEGIN TRANSACTION")
    try:
        if lake_of(con) is not None:
            fence(con)
        yield
        con.execute("COMMIT")
    except BaseException as exc:
        # A COMMIT that failed (a full disk, a lost race on a lake) has ended the transaction
        # already: then there is nothing to roll back, and the error to report is the one that
        # ended it.
        with contextlib.suppress(duckdb.TransactionException):
            con.execute("ROLLBACK")
        if not conflicted(exc) and (
            isinstance(exc, duckdb.IOException)
            or (isinstance(exc, duckdb.TransactionException) and "Failed to commit" in str(exc))
        ):
            reason = str(exc).split("Failed to commit: ", 1)[-1].removeprefix("IO Error: ")
            lake = lake_of(con)
            raise StoreWriteFailed(reason, lake.url if lake else None) from None
        raise


def write[T](con: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """`work()` in a transaction, run again (from the start, on what the other writer
    committed) as long as its commit conflicts with another writer's: only on a lake, where
    writers do not lock each other out. StoreLocked after CONFLICT_WAIT seconds of that."""
    deadline = time.monotonic() + CONFLICT_WAIT
    delay = 0.02
    while True:
        try:
            with exclusive(con), transaction(con):
                return work()
        except duckdb.TransactionException as exc:
            if not conflicted(exc):
                raise
            if time.monotonic() >= deadline:
                lake = lake_of(con)
                raise StoreLocked(lake.url if lake else "the database") from None
        # A random wait: writers that conflicted do not all come back at once.
        time.sleep(random.uniform(delay / 2, delay))
        delay = min(delay * 2, 1.0)


# Bytes 8-11 of every DuckDB file, damaged or not.
_MAGIC = b"DUCK"


def looks_like_duckdb(path: Path) -> bool:
    """True when the file has DuckDB's header: a database, even if it will not open."""
    try:
        with open(path, "rb") as f:
            return f.read(12)[8:12] == _MAGIC
    except OSError:
        return False


def set_aside(path: Path) -> Path:
    """Move a database that will not open (and its WAL) out of the way; returns where."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    os.replace(path, aside)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))
    return aside
