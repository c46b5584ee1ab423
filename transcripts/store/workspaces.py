"""Workspaces in the store: each file's content once, under its SHA-256, shared by every task
that holds it (a task's own `--file` files too: `store_contents`); each task's manifest beside
it.

A task's workspace is replaced whole when it is put again. File contents are never deleted, as
nodes and blobs are not: a task exported, removed and imported again finds them there.
`write_workspace` writes inside the caller's transaction, so a task and its workspace are saved
together or not at all (task_store.save_tasks).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

import duckdb

from redline.errors import NotFound, RedlineError
from redline.transcripts.store import bulk
from redline.transcripts.store.db import write
from redline.transcripts.workspace import Workspace


def put_workspace(
    con: duckdb.DuckDBPyConnection, task: str, workspace: Workspace, blobs: Mapping[str, bytes]
) -> int:
    """Store `workspace` as the workspace of `task` (a stored task) with the contents it lacks
    from `blobs` (sha256 -> bytes); returns how many contents were new."""
    if not con.execute("SELECT 1 FROM tasks WHERE name = ?", [task]).fetchone():
        raise NotFound("task", task)
    return write(con, lambda: write_workspace(con, task, workspace, blobs))


def write_workspace(
    con: duckdb.DuckDBPyConnection, task: str, workspace: Workspace, blobs: Mapping[str, bytes]
) -> int:
    """`put_workspace` inside the caller's transaction (the task may be written in it too)."""
    wanted = {f.sha256 for f in workspace.files}
    new = sorted(wanted - bulk.existing(con, "workspace_files", "sha256", wanted))
    for sha in new:
        if sha not in blobs:
            raise RedlineError(f"the content {sha[:12]} of the workspace is missing")
    store_contents(con, {sha: blobs[sha] for sha in new})
    con.execute("DELETE FROM task_workspaces WHERE task = ?", [task])
    con.execute(
        "INSERT INTO task_workspaces VALUES (?, ?, ?, ?)",
        [task, workspace.id, json.dumps(workspace.to_dict()), datetime.now(UTC)],
    )
    return len(new)


def workspace_id(con: duckdb.DuckDBPyConnection, task: str) -> str | None:
    """The id of the stored workspace of the task named exactly `task` (None: it has none)."""
    row = con.execute("SELECT workspace_id FROM task_workspaces WHERE task = ?", [task]).fetchone()
    return None if row is None else str(row[0])


def load_workspace(con: duckdb.DuckDBPyConnection, task: str) -> Workspace | None:
    """The workspace of the task named exactly `task`, or None when it has none."""
    row = con.execute("SELECT manifest FROM task_workspaces WHERE task = ?", [task]).fetchone()
    return Workspace.from_dict(json.loads(row[0])) if row else None


def read_files(con: duckdb.DuckDBPyConnection, shas: Collection[str]) -> dict[str, bytes]:
    """The contents of `shas`, each once; NotFound names the first one missing."""
    rows = con.execute(
        "SELECT sha256, content FROM workspace_files "
        "WHERE sha256 IN (SELECT unnest(?::JSON::VARCHAR[]))",
        [bulk.listed(set(shas))],
    ).fetchall()
    found = {sha: bytes(content) for sha, content in rows}
    missing = sorted(set(shas) - set(found))
    if missing:
        raise NotFound("workspace file", missing[0])
    return found


def delete_workspace(con: duckdb.DuckDBPyConnection, task: str) -> None:
    con.execute("DELETE FROM task_workspaces WHERE task = ?", [task])


def store_contents(con: duckdb.DuckDBPyConnection, blobs: Mapping[str, bytes]) -> int:
    """Store the contents of `blobs` (sha256 -> bytes) the store lacks, inside the caller's
    transaction; returns how many were new."""
    for sha, data in blobs.items():
        if hashlib.sha256(data).hexdigest() != sha:
            raise RedlineError(f"the content given for {sha[:12]} does not match its hash")
    new = sorted(set(blobs) - bulk.existing(con, "workspace_files", "sha256", set(blobs)))
    bulk.insert(
        con,
        "workspace_files",
        {
            "sha256": new,
            "size": [len(blobs[s]) for s in new],
            "content": [blobs[s] for s in new],
        },
    )
    return len(new)
