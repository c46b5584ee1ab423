"""The DuckDB store: short-lived connections, ingest from the spool, then read."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from redline import config
from redline.config import Location
from redline.errors import RedlineError, StoreUnavailable, StoreWriteFailed
from redline.transcripts.model import Request, message_from_dict
from redline.transcripts.store import queries
from redline.transcripts.store.db import LOCK_WAIT_SECONDS, connect, looks_like_duckdb, set_aside
from redline.transcripts.store.migrations import migrate
from redline.transcripts.store.queries import Call, CallSummary, ConversationSummary
from redline.transcripts.store.report import IngestReport, Progress

# The rest is imported where it is used: `redline ls` opens the store and reads, and needs
# neither ingest's parsers (when the spool holds nothing new) nor tasks, runs, scans or browse.
if TYPE_CHECKING:
    from redline.transcripts.store.background import BackgroundIngest, IngestProcess
    from redline.transcripts.store.browse import Browse
    from redline.transcripts.store.check_runs import CheckRunStore
    from redline.transcripts.store.prefixes import PrefixCache
    from redline.transcripts.store.push import PushReport
    from redline.transcripts.store.runs import RunStore, RunSummary
    from redline.transcripts.store.scan import (
        CallOutput,
        FollowUp,
        OutputRows,
        ScanCall,
        ScanStore,
        rebuild_outputs,
    )
    from redline.transcripts.store.task_store import TaskSummary, WithFiles
    from redline.transcripts.task import Task
    from redline.transcripts.workspace import Workspace

_LAZY = {
    **dict.fromkeys(("BackgroundIngest", "IngestProcess"), "background"),
    **dict.fromkeys(("RunStore", "RunSummary"), "runs"),
    **dict.fromkeys(
        ("CallOutput", "FollowUp", "OutputRows", "ScanCall", "ScanStore", "rebuild_outputs"),
        "scan",
    ),
    "TaskSummary": "task_store",
    "PushReport": "push",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"redline.transcripts.store.{module}"), name)


log = logging.getLogger("redline.store")


def rebuild(path: str | Path | None = None) -> tuple[Path | None, IngestReport]:
    """A new database from the spool segments that are still there: the current one (if any)
    is set aside first. Returns where it went and what was ingested."""
    db = config.location(path)
    if isinstance(db, config.Lake):
        raise RedlineError(
            "store rebuild makes a new database file from this machine's spool; a lake is "
            "not rebuilt (its catalog keeps every snapshot): give a file with --db"
        )
    aside = set_aside(db) if db.exists() else None
    with open_store(db) as store:
        return aside, store.last_ingest


def push_store(source: str | Path | None, to: str | Location | None) -> PushReport:
    """Copy the store file `source` (default: the usual one) into the lake `to` (see push.py);
    the file is migrated and its spool ingested first."""
    from redline.transcripts.store.push import push

    lake = to if isinstance(to, config.Lake) else config.location(to) if to else None
    if not isinstance(lake, config.Lake):
        raise RedlineError("push copies a store into a lake: give --to ducklake:...")
    path = config.db_path(source)
    if str(path).startswith(config.LAKE_PREFIX):
        raise RedlineError("push copies a database file: give its path with --db")
    if not path.is_file():
        raise StoreUnavailable(path, "no such database file")
    with open_store(path):
        pass
    with open_store(lake, ingest=False) as store:
        return push(store.con, path)


class Store:
    """An open store. Use `open_store()`; the connection closes when the block ends."""

    def __init__(self, con: duckdb.DuckDBPyConnection, location: Location) -> None:
        self.con = con
        self.location = location  # a file's path, or a lake
        self.last_ingest = IngestReport()

    def ingest(
        self, *, prefixes: PrefixCache | None = None, progress: Progress | None = None
    ) -> IngestReport:
        """Read what the proxy spooled into the store. `progress` defaults to
        `config.ingest_progress`, which a front end may set (the CLI draws a bar on a
        terminal)."""
        spool = config.spool_dir(self.location)
        if not _pending(self.con, spool):
            self.last_ingest = IngestReport()
            return self.last_ingest
        from redline.transcripts.spool import ingest_lock
        from redline.transcripts.store.ingest import ingest_spool

        # A file's lock keeps a second process from ingesting beside this one; a lake has
        # none, so the spool is locked (the second finds nothing left when its turn comes).
        with ingest_lock(spool) if isinstance(self.location, config.Lake) else nullcontext():
            self.last_ingest = ingest_spool(
                self.con,
                spool,
                prefixes=prefixes,
                progress=progress if progress is not None else config.ingest_progress,
            )
        return self.last_ingest

    def conversations(self, limit: int | None = None) -> list[ConversationSummary]:
        return queries.conversations(self.con, limit)

    def conversation(self, prefix: str) -> ConversationSummary:
        return queries.conversation(self.con, prefix)

    def calls(self, conversation_id: str) -> list[CallSummary]:
        return queries.calls(self.con, conversation_id)

    def load_call(self, prefix: str) -> Call:
        return queries.load_call(self.con, prefix)

    def transcript(self, call: Call) -> Request | None:
        """The call's request standing on its own: a call that continued a conversation held
        by the server (and so sent only its newest messages) gets that conversation back."""
        from redline.transcripts import wire
        from redline.transcripts.store.tree import messages_up_to

        request = call.request
        if request is None or call.summary.wire is None:
            return request
        fmt = wire.get(call.summary.wire)
        if fmt.continues(request) is None:
            return request
        row = self.con.execute(
            "SELECT request_node FROM exchanges WHERE id = ?", [call.id]
        ).fetchone()
        chain = messages_up_to(self.con, row[0]) if row and row[0] else []
        earlier = chain[: len(chain) - len(request.messages)]
        return fmt.detach(request, tuple(message_from_dict(m) for m in earlier))

    @property
    def runs(self) -> RunStore:
        """Replay runs: their samples (the replay cache too) and verdicts."""
        from redline.transcripts.store.runs import RunStore

        return RunStore(self.con)

    @property
    def check_runs(self) -> CheckRunStore:
        """The verdicts of checks that ran the answer's code, by what they depend on."""
        from redline.transcripts.store.check_runs import CheckRunStore

        return CheckRunStore(self.con)

    @property
    def browse(self) -> Browse:
        """Pages of conversations (filters, search) and timelines, for the web view."""
        from redline.transcripts.store.browse import Browse

        return Browse(self.con)

    @property
    def scans(self) -> ScanStore:
        """`redline scan`: recorded answers in bulk, the verdict cache, what followed a call."""
        from redline.transcripts.store.scan import ScanStore

        return ScanStore(self.con)

    def save_task(self, task: Task, workspace: WithFiles | None = None) -> None:
        """Store a new task (TaskExists when one of its name, with other content, is stored),
        with its workspace (the manifest and the contents it lists) when it has one."""
        from redline.transcripts.store import task_store

        task_store.save_tasks(
            self.con, [task], workspaces=None if workspace is None else {task.name: workspace}
        )

    def save_tasks(
        self,
        many: list[Task],
        *,
        replace_existing: bool = False,
        workspaces: Mapping[str, WithFiles] | None = None,
    ) -> tuple[int, int]:
        """Store tasks, with their workspaces by task name, all at once or not at all; returns
        (stored, already there unchanged)."""
        from redline.transcripts.store import task_store

        return task_store.save_tasks(
            self.con, many, replace_existing=replace_existing, workspaces=workspaces
        )

    def task(self, name: str) -> Task:
        """A task by name (or a unique prefix of one)."""
        from redline.transcripts.store import task_store

        return task_store.load_task(self.con, name)

    def tasks(self) -> list[TaskSummary]:
        from redline.transcripts.store import task_store

        return task_store.list_tasks(self.con)

    def task_names(self) -> set[str]:
        from redline.transcripts.store import task_store

        return task_store.task_names(self.con)

    def delete_task(self, name: str) -> None:
        from redline.transcripts.store import task_store, workspaces
        from redline.transcripts.store.db import write

        def delete() -> None:
            task_store.delete_task(self.con, name)
            workspaces.delete_workspace(self.con, name)

        write(self.con, delete)

    def put_workspace(self, task: str, workspace: Workspace, blobs: Mapping[str, bytes]) -> int:
        """Give the stored task named `task` its workspace (replacing any it had), storing the
        file contents (sha256 -> bytes) the store lacks; returns how many were new."""
        from redline.transcripts.store import workspaces

        return workspaces.put_workspace(self.con, task, workspace, blobs)

    def workspace(self, task: str) -> Workspace | None:
        """The workspace of the task named exactly `task`, or None when it has none."""
        from redline.transcripts.store import workspaces

        return workspaces.load_workspace(self.con, task)

    def workspace_files(self, shas: Collection[str]) -> dict[str, bytes]:
        """File contents by SHA-256 (NotFound for one the store does not hold)."""
        from redline.transcripts.store import workspaces

        return workspaces.read_files(self.con, shas)

    def workspace_file(self, sha256: str) -> bytes:
        """One file's content: a `read_blob` for `materialize` and `pack`."""
        return self.workspace_files([sha256])[sha256]


def _pending(con: duckdb.DuckDBPyConnection, spool: Path) -> bool:
    """Whether ingest has anything to do: a segment with unread bytes, or one whose writer is
    gone (read to its end, it is deleted). Cheap: no parser is loaded to find out."""
    from redline.transcripts.spool import segment_is_live, segments

    found = segments(spool)
    if not found:
        return False
    offsets = dict(con.execute("SELECT segment, byte_offset FROM spool_progress").fetchall())
    for path in found:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if size > int(offsets.get(path.name, 0)) or not segment_is_live(path):
            return True
    return False


@contextmanager
def open_store(
    path: str | Location | None = None, *, ingest: bool = True, wait: float = LOCK_WAIT_SECONDS
) -> Iterator[Store]:
    """Open (creating and migrating as needed) and, by default, ingest what the proxy spooled.
    `path`: a database file, a lake (`ducklake:...`, see lake.py), or None for the default.

    A database that will not open although it is one (damaged: DuckDB's header is there) is
    set aside under a `.broken-TIME` name, loudly, and a new one is made, so no command and no
    proxy loops on it; `rebuild` recovers what the spool still holds. `wait`: how long to wait
    for another process that holds the database (then StoreLocked)."""
    where = path if isinstance(path, config.Lake) else config.location(path)
    if isinstance(where, config.Lake):
        with _open_lake(where, ingest=ingest) as store:
            yield store
        return
    db = where
    try:
        con = connect(db, wait=wait)
    except StoreUnavailable:
        if not (db.is_file() and looks_like_duckdb(db)):
            raise
        aside = set_aside(db)
        log.error(
            "the database %s could not be opened; it was moved to %s and a new one was made "
            "(`redline store rebuild` recovers what the spool still holds)",
            db,
            aside,
        )
        con = connect(db, wait=wait)
    try:
        migrate(con)
        store = Store(con, db)
        if ingest:
            store.ingest()
        yield store
    finally:
        con.close()


@contextmanager
def _open_lake(where: config.Lake, *, ingest: bool) -> Iterator[Store]:
    """A lake's store, on a connection of this process's pool (connecting costs half a second,
    and a lake has no lock to give back between uses)."""
    from redline.transcripts.store import lake

    con = lake.checkout(where)
    healthy = True
    try:
        migrate(con)
        store = Store(con, where)
        if ingest:
            store.ingest()
        yield store
    except BaseException as exc:
        # A user's mistake is not the connection's; a write the catalog refused may be.
        healthy = isinstance(exc, RedlineError) and not isinstance(exc, StoreWriteFailed)
        raise
    finally:
        lake.checkin(con, healthy=healthy)


__all__ = [
    "BackgroundIngest",
    "Call",
    "CallOutput",
    "CallSummary",
    "ConversationSummary",
    "FollowUp",
    "IngestProcess",
    "IngestReport",
    "OutputRows",
    "PushReport",
    "RunStore",
    "RunSummary",
    "ScanCall",
    "ScanStore",
    "Store",
    "TaskSummary",
    "open_store",
    "push_store",
    "rebuild",
    "rebuild_outputs",
]
