"""`redline store push`: a personal store (a DuckDB file) copied into a lake.

What is copied: the message tree and blobs, conversations and their calls, tasks and their
workspaces (and their own files), finished replay runs (with their steps, samples, judgings and
verdicts), `redline scan`'s verdict cache and the `run` checks' (check_runs: a command that ran
on the file is not run again on the lake). What is not: the spool's bookkeeping (the file's own
spool stays with the file) and the web view's search index (derived; the lake makes its own).

Idempotent and resumable. Every row is copied only when the lake lacks its key (rows are
content-addressed or carry global ids: ULIDs), in write transactions of a bounded size: the tree
in sixteen slices of its hashes, calls a slice of conversations at a time, a run at a time. An
interrupted push leaves whole slices behind, and the next push copies what is missing. A task
whose name the lake holds with other content is not copied; it is named in the report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb

from redline.errors import StoreLocked, StoreUnavailable
from redline.transcripts.store import bulk
from redline.transcripts.store.db import LOCK_WAIT_SECONDS, write

SOURCE = "personal"
CONVERSATIONS_PER_WRITE = 2_000
ROWS_PER_WRITE = 100_000  # a bigger content-addressed table is copied in sixteen writes
_HEX = "0123456789abcdef"


@dataclass
class PushReport:
    """What a push copied (rows new to the lake), and the tasks it left out."""

    calls: int = 0
    conversations: int = 0
    messages: int = 0
    tasks: int = 0
    runs: int = 0
    verdicts: int = 0
    conflicting_tasks: list[str] = field(default_factory=list)

    @property
    def copied(self) -> int:
        return self.calls + self.conversations + self.messages + self.tasks + self.runs


def push(lake: duckdb.DuckDBPyConnection, source: Path) -> PushReport:
    """Copy what the file at `source` holds and the lake (`lake`, an open, migrated lake
    connection) lacks. The file must be migrated and ingested already (open_store does)."""
    report = PushReport()
    with _attached(lake, source):
        report.messages = _by_hash(lake, "nodes", "id")
        _by_hash(lake, "blobs", "hash")
        _by_hash(lake, "workspace_files", "sha256")
        _copy(lake, "scan_checks", "key")
        report.conversations, report.calls = _calls(lake)
        report.tasks, report.conflicting_tasks = _tasks(lake)
        report.runs = _runs(lake)
        report.verdicts = _scan_verdicts(lake)
        _by_hash(lake, "check_runs", "key")
    return report


@contextmanager
def _attached(con: duckdb.DuckDBPyConnection, source: Path) -> Iterator[None]:
    """The file attached read-only as `personal`, waiting while another process writes it
    (a proxy's background ingest holds it for a moment at a time)."""
    if not source.is_file():
        raise StoreUnavailable(source, "no such database file")
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    delay = 0.05
    quoted = str(source).replace("'", "''")
    while True:
        try:
            con.execute(f"ATTACH '{quoted}' AS {SOURCE} (READ_ONLY)")
            break
        except duckdb.IOException as exc:
            if "could not set lock" not in str(exc).lower():
                raise StoreUnavailable(source, str(exc)) from None
            if time.monotonic() >= deadline:
                raise StoreLocked(source) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        con.execute(f"DETACH {SOURCE}")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The lake table's columns, named (the two schemas come from the same migrations)."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return ", ".join(f'"{r[0]}"' for r in rows)


def _missing(table: str, key: str, where: str) -> str:
    return f"""
        FROM {SOURCE}.{table} p
        WHERE NOT EXISTS (SELECT 1 FROM {table} l WHERE l.{key} = p.{key}) {where}"""


def _insert_missing(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    where: str = "",
    params: list[object] | None = None,
) -> int:
    """Copy the rows of `table` (filtered by `where`) whose `key` the lake lacks; how many."""
    columns = _columns(con, table)
    row = con.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} {_missing(table, key, where)}",
        params or [],
    ).fetchone()
    return int(row[0]) if row else 0


def _copy(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    where: str = "",
    params: list[object] | None = None,
) -> int:
    """`_insert_missing` in a write of its own, when there is anything to copy (a write with
    nothing in it still commits a snapshot to the lake)."""
    row = con.execute(f"SELECT count(*) {_missing(table, key, where)}", params or []).fetchone()
    if not row or not row[0]:
        return 0
    return write(con, partial(_insert_missing, con, table, key, where, params))


def _by_hash(con: duckdb.DuckDBPyConnection, table: str, key: str) -> int:
    """A content-addressed table; a big one a sixteenth of its hashes per write."""
    row = con.execute(f"SELECT count(*) FROM {SOURCE}.{table}").fetchone()
    if not row or row[0] < ROWS_PER_WRITE:
        return _copy(con, table, key)
    return sum(_copy(con, table, key, f"AND left(p.{key}, 1) = '{d}'") for d in _HEX)


def _calls(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Conversations and their calls, a slice of conversations per write (calls of a
    conversation the lake has already are copied too: it may have grown since), then the
    calls that belong to no conversation."""
    ids = [
        r[0] for r in con.execute(f"SELECT id FROM {SOURCE}.conversations ORDER BY id").fetchall()
    ]
    conversations = calls = 0
    for at in range(0, len(ids), CONVERSATIONS_PER_WRITE):
        chunk = bulk.listed(ids[at : at + CONVERSATIONS_PER_WRITE])

        def copy(chunk: str = chunk) -> tuple[int, int]:
            inside = "AND p.{} IN (SELECT unnest(?::JSON::VARCHAR[]))"
            made = _insert_missing(con, "conversations", "id", inside.format("id"), [chunk])
            added = _insert_missing(
                con, "exchanges", "id", inside.format("conversation_id"), [chunk]
            )
            return made, added

        inside = "AND p.conversation_id IN (SELECT unnest(?::JSON::VARCHAR[]))"
        row = con.execute(f"SELECT count(*) {_missing('exchanges', 'id', inside)}", [chunk])
        if row.fetchone() != (0,):
            made, added = write(con, copy)
            conversations, calls = conversations + made, calls + added
    calls += _copy(con, "exchanges", "id", "AND p.conversation_id IS NULL")
    return conversations, calls


def _tasks(con: duckdb.DuckDBPyConnection) -> tuple[int, list[str]]:
    """Tasks the lake lacks, with their workspaces; the names it holds with other content."""
    conflicting = [
        r[0]
        for r in con.execute(
            f"""
            SELECT p.name FROM {SOURCE}.tasks p JOIN tasks l ON l.name = p.name
            WHERE l.content_hash <> p.content_hash ORDER BY p.name
            """
        ).fetchall()
    ]
    added = _copy(con, "tasks", "name")
    # A workspace goes with its task: only where the lake's task is this one.
    _copy(
        con,
        "task_workspaces",
        "task",
        f"""AND EXISTS (
            SELECT 1 FROM tasks l JOIN {SOURCE}.tasks t ON t.name = l.name
            WHERE l.name = p.task AND l.content_hash = t.content_hash)""",
    )
    return added, conflicting


def _runs(con: duckdb.DuckDBPyConnection) -> int:
    """Finished runs the lake lacks, each with everything it holds, one write per run (a run
    still going is pushed once it has finished)."""
    todo = [
        r[0]
        for r in con.execute(
            f"""
            SELECT id FROM {SOURCE}.runs p WHERE status <> 'running'
            AND NOT EXISTS (SELECT 1 FROM runs l WHERE l.id = p.id) ORDER BY id
            """
        ).fetchall()
    ]
    for run_id in todo:

        def copy(run_id: str = run_id) -> None:
            if con.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
                return  # another push copied it meanwhile
            for table in ("evaluations", "steps", "samples", "verdicts"):
                columns = _columns(con, table)
                con.execute(
                    f"INSERT INTO {table} ({columns}) "
                    f"SELECT {columns} FROM {SOURCE}.{table} WHERE run_id = ?",
                    [run_id],
                )
            columns = _columns(con, "runs")
            con.execute(
                f"INSERT INTO runs ({columns}) SELECT {columns} FROM {SOURCE}.runs WHERE id = ?",
                [run_id],
            )

        write(con, copy)
    return len(todo)


def _scan_verdicts(con: duckdb.DuckDBPyConnection) -> int:
    missing = f"""
        FROM {SOURCE}.scan_verdicts p WHERE NOT EXISTS (
            SELECT 1 FROM scan_verdicts l
            WHERE l.call_id = p.call_id AND l.check_key = p.check_key)"""
    row = con.execute(f"SELECT count(*) {missing}").fetchone()
    if not row or not row[0]:
        return 0
    columns = _columns(con, "scan_verdicts")

    def copy() -> int:
        found = con.execute(
            f"INSERT INTO scan_verdicts ({columns}) SELECT {columns} {missing}"
        ).fetchone()
        return int(found[0]) if found else 0

    return write(con, copy)
