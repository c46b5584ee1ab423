"""Checks that run the answer's code (`run`), as flag, replay, recheck and task show use them:
each task's environment from the store, and their verdicts kept in it.

    StoredVerdicts()                       a VerdictCache: `read(store, scopes)` what the store
                                           keeps, `save(store)` what was added
    environments(store, tasks, checks, stack, sandbox=, cache=, read=) -> {task: Environment}
    folder_environment(folder, files, stack, sandbox=)   a folder as `check`/`scan` take it

A task whose checks run code gets an Environment: its workspace (when it has one) written once
into a folder that each run copies, its own files, the sandbox unless `--no-sandbox`. Static
checks get none and need none. Verdicts are cached by the check, the environment, the
transcript and the answer (`redline.analyzers.verdict_scope`, `verdict_key`), so replaying or
rechecking the same answer runs nothing again.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from redline.analyzers import (
    Check,
    Environment,
    Verdict,
    prepared,
    runs_code,
    verdict_from_dict,
    verdict_scope,
    verdict_to_dict,
)
from redline.replay.task_workspace import WorkspaceSpec, workspace_at_cut
from redline.transcripts import OwnFile, Request, Store, Task, Workspace, snapshot

__all__ = ["StoredVerdicts", "environments", "folder_environment", "scopes"]


class StoredVerdicts:
    """A `VerdictCache` over what the store keeps: read once for the scopes a command will
    judge in, added to as checks run (from any thread), written back with `save`."""

    def __init__(self, known: Mapping[str, str] | None = None) -> None:
        self._known = dict(known or {})
        self._new: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def read(self, store: Store, scopes: Iterable[str]) -> None:
        """Take in what the store keeps for `scopes`."""
        found = store.check_runs.load(set(scopes))
        with self._lock:
            self._known.update(found)

    def get(self, scope: str, key: str) -> Verdict | None:
        with self._lock:
            found = self._known.get(key)
        return None if found is None else verdict_from_dict(json.loads(found))

    def put(self, scope: str, key: str, verdict: Verdict) -> None:
        text = json.dumps(verdict_to_dict("", verdict), ensure_ascii=False)
        with self._lock:
            self._known[key] = text
            self._new.append((scope, key, text))

    def save(self, store: Store) -> int:
        """Write the verdicts added since the last save; returns how many were new."""
        with self._lock:
            new, self._new = self._new, []
        return store.check_runs.save(new)


def scopes(checks: Iterable[Check], environment: Environment) -> list[str]:
    """The cache scopes of the checks that run code, in this environment."""
    return [s for c in checks if runs_code(c) and (s := verdict_scope(c, environment))]


def folder_environment(
    folder: str | os.PathLike[str],
    files: Sequence[OwnFile],
    stack: contextlib.ExitStack,
    *,
    sandbox: bool = True,
    request: Request | None = None,
) -> tuple[Environment, Workspace]:
    """An environment for `check --workspace` and `scan --workspace`, kept until `stack`
    closes. For one call (`request`), the folder at its cut, as `flag --workspace` takes it
    (the session's commit, then the transcript's own edits). For many (scan), the folder's
    snapshot (its git HEAD's tree, or a plain folder's files now), taken before any session:
    each answer's run then gets its transcript's own edits first. Returns the workspace too,
    whose warnings the command shows."""
    if request is not None:
        at_cut = workspace_at_cut(request, WorkspaceSpec(folder))
        workspace, blobs, before_cut = at_cut.workspace, at_cut.blobs, False
    else:
        taken = snapshot(folder)
        workspace, blobs, before_cut = taken.workspace, taken.blobs, True
    environment = stack.enter_context(
        prepared(workspace, blobs.__getitem__, files, sandbox=sandbox, before_cut=before_cut)
    )
    return environment, workspace


def environments(
    store: Store,
    tasks: Sequence[Task],
    checks: Mapping[str, Sequence[Check]],
    stack: contextlib.ExitStack,
    *,
    sandbox: bool = True,
    cache: StoredVerdicts | None = None,
    read: bool = True,
    written: Mapping[str, Path] | None = None,
) -> dict[str, Environment]:
    """An environment for each task whose checks run code, kept until `stack` closes; its
    workspace, when the store holds one, written once into a temporary folder (or the folder
    `written` gives for the task: replay's, already written for its models' tool calls). With
    a `cache`, its verdicts in these environments are read from the store (unless `read` is
    False: judge everything again)."""
    out: dict[str, Environment] = {}
    for task in tasks:
        own = checks.get(task.name, ())
        if not any(runs_code(c) for c in own):
            continue
        workspace = store.workspace(task.name)
        folder = (written or {}).get(task.name)
        wanted = {f.sha256 for f in workspace.files} if workspace and folder is None else set()
        contents = store.workspace_files(wanted) if wanted else {}
        environment = stack.enter_context(
            prepared(
                workspace,
                contents.__getitem__,
                task.files,
                sandbox=sandbox,
                cache=cache,
                written=folder,
            )
        )
        if cache is not None and read:
            cache.read(store, scopes(own, environment))
        out[task.name] = environment
    return out
