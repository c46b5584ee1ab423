"""Tasks in the store.

A task's transcript is kept by reference to the message tree (its last node and how many
messages of that chain it holds), so a task made from a call 200 KB into a session stores a few
ids, not another copy of the history. The tool list and system prompt go to the blobs, shared
with every other task that has the same; the task's own files to the workspaces' file
contents, listed by hash. Nodes, blobs and contents are never deleted, so a task stays whole
whatever else is removed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from redline.errors import NotFound, RedlineError, TaskExists
from redline.transcripts.model import (
    canonical_json,
    message_from_dict,
    part_from_dict,
    part_to_dict,
    request_from_dict,
    request_to_dict,
    text_hash,
    tool_from_dict,
    tool_to_dict,
)
from redline.transcripts.store.db import write
from redline.transcripts.store.decorations import restore
from redline.transcripts.store.queries import records
from redline.transcripts.store.tree import DedupWriter, chain, messages_up_to
from redline.transcripts.store.workspaces import (
    delete_workspace,
    read_files,
    store_contents,
    workspace_id,
    write_workspace,
)
from redline.transcripts.task import OwnFile, Provenance, Task
from redline.transcripts.task_file import output_from_dict, output_to_dict, task_hash
from redline.transcripts.workspace import Workspace

# A workspace to save with a task: its manifest and the contents (sha256 -> bytes) it lists.
WithFiles = tuple[Workspace, Mapping[str, bytes]]


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """A task as `redline tasks` lists it."""

    name: str
    created_at: datetime
    checks: tuple[str, ...]
    wire: str | None
    model: str | None
    origin_call: str | None
    note: str
    messages: int
    has_good: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "checks": list(self.checks),
            "wire": self.wire,
            "model": self.model,
            "origin_call": self.origin_call,
            "note": self.note,
            "messages": self.messages,
            "good_output": self.has_good,
        }


def _blob(writer: DedupWriter, kind: str, value: Any) -> str:
    content = canonical_json(value)
    digest = text_hash(content)
    writer.put_blobs([(digest, kind, content)])
    return digest


def save_tasks(
    con: duckdb.DuckDBPyConnection,
    tasks: list[Task],
    *,
    replace_existing: bool = False,
    workspaces: Mapping[str, WithFiles] | None = None,
) -> tuple[int, int]:
    """Store `tasks`, with the `workspaces` given by task name, in one transaction: all or
    none. A task identical to the stored one of its name (and a workspace, when one is given,
    identical to its stored one) is left as it is; a different one is TaskExists unless
    `replace_existing`. A task replaced without a workspace loses the one it had. Returns
    (stored, left unchanged)."""
    given_workspaces = workspaces or {}

    def save() -> tuple[int, int]:
        # Looked up in the write transaction: on a lake, another machine may save a task of
        # the same name at the same time, and one of the two commits then runs again.
        todo = []
        for task in tasks:
            digest = task_hash(task)
            row = con.execute(
                "SELECT content_hash FROM tasks WHERE name = ?", [task.name]
            ).fetchone()
            given = given_workspaces.get(task.name)
            same_workspace = given is None or workspace_id(con, task.name) == given[0].id
            if row is not None and row[0] == digest and same_workspace:
                continue
            if row is not None and not replace_existing:
                raise TaskExists(task.name)
            todo.append((task, digest))
        writer = DedupWriter(con)
        for task, digest in todo:
            _insert(con, writer, task, digest)
            given = given_workspaces.get(task.name)
            if given is None:
                delete_workspace(con, task.name)
            else:
                write_workspace(con, task.name, *given)
        return len(todo), len(tasks) - len(todo)

    return write(con, save)


def _insert(con: duckdb.DuckDBPyConnection, writer: DedupWriter, task: Task, digest: str) -> None:
    request = task.request
    nodes, decorations = chain(request.messages)
    shell = request_to_dict(replace(request, messages=(), system=None, tools=None))
    p = task.provenance
    writer.put_nodes(nodes)
    tools = None
    if request.tools is not None:
        tools = _blob(writer, "task-tools", [tool_to_dict(t) for t in request.tools])
    system = None
    if request.system is not None:
        system = _blob(writer, "task-system", [part_to_dict(s) for s in request.system])
    files = None
    if task.files:
        store_contents(con, {f.sha256: f.data for f in task.files})
        files = json.dumps(
            [
                {
                    "path": f.path,
                    "sha256": f.sha256,
                    "size": len(f.data),
                    "executable": f.executable,
                }
                for f in task.files
            ]
        )
    con.execute("DELETE FROM tasks WHERE name = ?", [task.name])
    con.execute(
        """
        INSERT INTO tasks (name, created_at, note, checks, wire, model, request_node,
            message_count, request_shell, tools_hash, system_hash, request_decorations,
            output, good_output, tool_call, drop_last, origin_call, origin_conversation,
            origin_model, origin_client, origin_at, content_hash, files)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            task.name,
            task.created_at,
            task.note,
            json.dumps(list(task.checks)),
            request.wire,
            request.model,
            nodes[-1].id if nodes else None,
            len(nodes),
            canonical_json(shell),
            tools,
            system,
            json.dumps(decorations) if decorations else None,
            canonical_json(output_to_dict(task.output)),
            None if task.good is None else canonical_json(output_to_dict(task.good)),
            task.tool_call,
            task.drop_last,
            p.call,
            p.conversation,
            p.model,
            p.client,
            p.recorded_at,
            digest,
            files,
        ],
    )


def _resolve(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A task name, or a unique prefix of one."""
    name = name.strip()
    if not name:
        raise NotFound("task", name)
    exact = con.execute("SELECT name FROM tasks WHERE name = ?", [name]).fetchone()
    if exact:
        return str(exact[0])
    rows = con.execute(
        "SELECT name FROM tasks WHERE starts_with(name, ?) ORDER BY name LIMIT 3", [name]
    ).fetchall()
    if len(rows) != 1:
        raise NotFound("task", name, [r[0] for r in rows])
    return str(rows[0][0])


def _blob_value(con: duckdb.DuckDBPyConnection, digest: str | None) -> Any:
    if digest is None:
        return None
    row = con.execute("SELECT content FROM blobs WHERE hash = ?", [digest]).fetchone()
    if row is None:
        raise RedlineError(f"the store lost blob {digest}; `redline import` the task again")
    return json.loads(row[0])


def load_task(con: duckdb.DuckDBPyConnection, name: str) -> Task:
    found = _resolve(con, name)
    (row,) = records(con.execute("SELECT * FROM tasks WHERE name = ?", [found]))
    shell = request_from_dict(json.loads(row["request_shell"]))
    chain_ = messages_up_to(con, row["request_node"]) if row["request_node"] else []
    messages = chain_[len(chain_) - row["message_count"] :]
    for index, path, value in json.loads(row["request_decorations"] or "[]"):
        restore(messages[index], [(path, value)])
    tools = _blob_value(con, row["tools_hash"])
    system = _blob_value(con, row["system_hash"])
    request = replace(
        shell,
        messages=tuple(message_from_dict(m) for m in messages),
        tools=None if tools is None else tuple(tool_from_dict(t) for t in tools),
        system=None if system is None else tuple(part_from_dict(p) for p in system),
    )
    good = row["good_output"]
    return Task(
        name=row["name"],
        request=request,
        output=output_from_dict(json.loads(row["output"])),
        checks=tuple(json.loads(row["checks"])),
        good=None if good is None else output_from_dict(json.loads(good)),
        note=row["note"],
        tool_call=row["tool_call"],
        drop_last=row["drop_last"],
        provenance=Provenance(
            row["origin_call"],
            row["origin_conversation"],
            row["origin_model"],
            row["origin_client"],
            row["origin_at"],
        ),
        created_at=row["created_at"],
        files=_files(con, row["files"]),
    )


def _files(con: duckdb.DuckDBPyConnection, listed: str | None) -> tuple[OwnFile, ...]:
    """A task's own files from their listing, each content read from the store."""
    entries = json.loads(listed) if listed else []
    contents = read_files(con, [e["sha256"] for e in entries]) if entries else {}
    return tuple(
        OwnFile(e["path"], contents[e["sha256"]], bool(e.get("executable"))) for e in entries
    )


def list_tasks(con: duckdb.DuckDBPyConnection) -> list[TaskSummary]:
    rows = records(
        con.execute(
            """
            SELECT name, created_at, checks, wire, model, origin_call, note, message_count,
                   good_output IS NOT NULL AS has_good
            FROM tasks ORDER BY created_at, name
            """
        )
    )
    return [
        TaskSummary(
            r["name"],
            r["created_at"],
            tuple(json.loads(r["checks"])),
            r["wire"],
            r["model"],
            r["origin_call"],
            r["note"],
            r["message_count"],
            r["has_good"],
        )
        for r in rows
    ]


def task_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM tasks").fetchall()}


def delete_task(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Delete the task of exactly this name (never by prefix: a deletion names what it
    deletes)."""
    if not con.execute("SELECT 1 FROM tasks WHERE name = ?", [name]).fetchone():
        raise NotFound("task", name)
    con.execute("DELETE FROM tasks WHERE name = ?", [name])
