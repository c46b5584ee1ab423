"""A task's workspace at its cut: the files as the model saw them when it went wrong.

    take_workspace(task, WorkspaceSpec(folder, rev, include)) -> TakenWorkspace

The snapshot of `folder` (`transcripts.snapshot`: a git commit's tree, or a plain folder as it
is now) at `rev`; by default the commit the transcript's agent states as HEAD at the session's
start, when it states one and the repository has it, else HEAD. Then the transcript's own
edits before the cut, those whose calls succeeded (`analyzers.transcript_edits`), are applied in
order to a copy, placed by the recorded working directory: so the files are as the model saw
them at the cut. An edit that does not apply is named, in the result and in the manifest's
warnings, and the workspace is still made: the user decides.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from redline.analyzers import Edit, Unapplied, apply_edits, transcript_edits
from redline.transcripts import (
    Request,
    Snapshot,
    Task,
    Workspace,
    agents,
    commit_of,
    materialize,
    reread,
    snapshot,
)

__all__ = ["TakenWorkspace", "WorkspaceSpec", "take_workspace", "workspace_at_cut"]

# The most uncommitted paths a warning names.
_NAMED = 5


@dataclass(frozen=True, slots=True)
class WorkspaceSpec:
    """What `redline flag --workspace DIR [--rev REV] [--include PATTERN ...]` asks for."""

    folder: str | os.PathLike[str]
    rev: str | None = None
    include: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class TakenWorkspace:
    """The workspace and its contents (sha256 -> bytes); where its revision came from
    (`rev`: asked for; `transcript`: the commit the session started at; `HEAD`; None for a
    plain folder); the transcript's edits applied and those that did not apply."""

    workspace: Workspace
    blobs: dict[str, bytes]
    revision_from: str | None
    applied: int
    unapplied: tuple[Unapplied, ...]


def take_workspace(task: Task, spec: WorkspaceSpec) -> TakenWorkspace:
    """The workspace of `task` at its cut. Raises RedlineError (nothing made) for a folder
    that is missing or unreadable, or a `--rev` it does not have."""
    return workspace_at_cut(task.request, spec)


def workspace_at_cut(request: Request, spec: WorkspaceSpec) -> TakenWorkspace:
    """The workspace at the cut of the transcript `request` (what `take_workspace` takes for
    a task; `redline check --call` takes it for a call)."""
    start = agents.session_start(request)
    rev, revision_from, warnings = _revision(spec, start)
    taken = snapshot(spec.folder, rev, spec.include)
    if taken.workspace.kind == "git":
        warnings += _uncommitted(start, revision_from)
    else:
        revision_from = None
    edits = transcript_edits(request)
    cwd = start.cwd if start is not None else None
    if edits:
        taken, unapplied = _edited(taken, edits, cwd)
    else:
        unapplied = ()
    applied = len(edits) - len(unapplied)
    warnings += [_unapplied_warning(u) for u in unapplied]
    workspace = replace(
        taken.workspace, warnings=(*taken.workspace.warnings, *warnings), edits=applied
    )
    return TakenWorkspace(workspace, taken.blobs, revision_from, applied, unapplied)


def _revision(
    spec: WorkspaceSpec, start: agents.SessionStart | None
) -> tuple[str | None, str | None, list[str]]:
    """The revision to take, where it came from, and a warning when the transcript's HEAD is
    not in the repository."""
    if spec.rev is not None:
        return spec.rev, "rev", []
    stated = start.head if start is not None else None
    if stated is None or stated.startswith("-"):
        return None, "HEAD", []
    if commit_of(spec.folder, stated) is not None:
        return stated, "transcript", []
    if commit_of(spec.folder, "HEAD") is None:
        return None, "HEAD", []  # not a repository (or one with no commit): snapshot says
    return (
        None,
        "HEAD",
        [
            f"the transcript says the session started at commit {stated}, which this "
            "repository does not have: the workspace is HEAD (fetch that commit and give "
            f"--rev {stated} to take it)"
        ],
    )


def _uncommitted(start: agents.SessionStart | None, revision_from: str | None) -> list[str]:
    """A warning when the session started on uncommitted changes the commit lacks."""
    if start is None or not start.status or revision_from != "transcript":
        return []
    named = ", ".join(start.status[:_NAMED]) + (", ..." if len(start.status) > _NAMED else "")
    return [
        f"the session started with uncommitted changes ({named}): the workspace has the "
        "commit without them, then the transcript's own edits"
    ]


def _edited(
    taken: Snapshot, edits: Sequence[Edit], cwd: str | None
) -> tuple[Snapshot, tuple[Unapplied, ...]]:
    """The snapshot with the transcript's edits applied to a copy of it, read back."""
    left_out = {o.path: o.reason for o in taken.workspace.left_out}
    with tempfile.TemporaryDirectory(prefix="redline-workspace-") as scratch:
        copy = Path(scratch) / "copy"
        materialize(taken.workspace, taken.blobs.__getitem__, copy)
        unapplied = apply_edits(edits, copy, cwd)
        edited = reread(copy, taken.workspace)
    return edited, tuple(_why(u, left_out, cwd) for u in unapplied)


def _why(unapplied: Unapplied, left_out: dict[str, str], cwd: str | None) -> Unapplied:
    """An edit of a file the workspace left out says so (the reason it does not apply)."""
    path = unapplied.path
    if cwd and path.startswith(cwd.rstrip("/") + "/"):
        path = path[len(cwd.rstrip("/")) + 1 :]
    reason = left_out.get(path)
    if reason is None or unapplied.reason != "no such file":
        return unapplied
    return replace(unapplied, reason=f"no such file: the workspace left it out ({reason})")


def _unapplied_warning(unapplied: Unapplied) -> str:
    return (
        f"an edit the transcript made to {unapplied.path} did not apply ({unapplied.reason}): "
        "the file is as it was before that edit"
    )
