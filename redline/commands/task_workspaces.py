"""A task's workspace on the command line: how `flag` and `task show` print one, and how
`export` and `import` carry its archive beside the task file.

An exported task `NAME.json` lists its workspace archive, `NAME.workspace.tar.zst` in the same
folder, with the archive's SHA-256; import reads the archive only from beside the task file, by
a plain file name, and keeps it only when every check of `unpack` holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from redline.commands.shared import warn
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.transcripts import ArchiveEntry, Packed, Store, Workspace

ARCHIVE_SUFFIX = ".workspace.tar.zst"
# The most left-out paths printed (the JSON lists them all).
_SHOWN = 8
_REVISION_FROM = {
    "rev": "--rev",
    "transcript": "the commit the session started at",
    "HEAD": "HEAD",
}


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1 << 20):.1f} MB"


def workspace_json(workspace: Workspace | None) -> dict[str, Any] | None:
    """What `flag --json` and `task show --json` say of a task's workspace."""
    return None if workspace is None else workspace.summary()


def workspace_lines(workspace: Workspace, revision_from: str | None = None) -> list[str]:
    """The workspace in a few lines: where it came from, its files, what was left out."""
    if workspace.kind == "git" and workspace.revision:
        origin = f"commit {workspace.revision[:12]} of {workspace.source}"
        if revision_from:
            origin += f" ({_REVISION_FROM.get(revision_from, revision_from)})"
    else:
        origin = f"the folder {workspace.source} as it was when taken"
    count = len(workspace.files)
    lines = [f"workspace: {origin}; {count} file{'s' * (count != 1)}, {size_text(workspace.size)}"]
    if workspace.edits:
        lines[0] += (
            f", with {workspace.edits} edit{'s' * (workspace.edits != 1)} the transcript made"
        )
    if workspace.left_out:
        shown = ", ".join(f"{o.path} ({o.reason})" for o in workspace.left_out[:_SHOWN])
        more = len(workspace.left_out) - _SHOWN
        lines.append(
            f"  left out: {shown}" + (f" and {more} more (--json lists them)" if more > 0 else "")
        )
        lines.append("  `--include PATTERN` takes a file back (gitignore syntax)")
    return lines


def print_workspace(workspace: Workspace, revision_from: str | None = None) -> None:
    """The workspace just taken: its lines, and its warnings on stderr."""
    for line in workspace_lines(workspace, revision_from):
        typer.echo(line)
    for warning in workspace.warnings:
        warn(warning)


# --- export and import ------------------------------------------------------------------------


def archive_name(task: str) -> str:
    return task + ARCHIVE_SUFFIX


def pack_workspace(store: Store, task: str) -> Packed | None:
    """The task's workspace packed for export (secrets in its text files masked), or None."""
    from redline.transcripts import pack

    workspace = store.workspace(task)
    if workspace is None:
        return None
    contents = store.workspace_files([f.sha256 for f in workspace.files])
    return pack(workspace, contents.__getitem__)


def read_archive(task_file: Path, entry: ArchiveEntry) -> tuple[Workspace, dict[str, bytes]]:
    """The workspace a task file lists, from beside it, checked whole (a RedlineError names
    the archive and what is wrong; nothing is kept)."""
    from redline.transcripts import ArchiveRefused, unpack_file

    path = task_file.parent / entry.archive
    if Path(entry.archive).name != entry.archive or not path.is_file():
        raise RedlineError(
            f"{task_file} lists the workspace archive {entry.archive!r}, which is not a file "
            "beside it; copy the archive with the task file"
        )
    try:
        return unpack_file(path, entry.sha256)
    except ArchiveRefused as exc:
        raise RedlineError(f"{path}: {exc}") from None
