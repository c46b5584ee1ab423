"""Applying a model's edits to a folder: a workspace's private copy.

    apply_edits(edits, folder, cwd=None) -> (Unapplied, ...)   in order; what did not apply
    transcript_edits(request) -> (Edit, ...)                   the edits a transcript made
                                                               before its cut, that succeeded
    locate(path, folder, cwd=None) -> Path | str               where a path a model wrote is
                                                               in the folder, or why it is not

An edit that does not apply is reported by path and reason, never raised: text not found, found
more than once (without `replace_all`), no such file, a lazy sketch (only the agent's own tool
can merge one), an edit cut off by the output's end, or a path outside the folder. Agents write
absolute paths (`/home/u/app/src/x.py`): `cwd` is the recorded working directory the folder
stands for, and a path outside it is refused. A link in the folder is followed only while it
stays inside.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from redline.analyzers._files import Files, Placed, View, _result, place
from redline.analyzers._model import Edit
from redline.errors import RedlineError
from redline.transcripts import Request, ToolCall, ToolResult

__all__ = ["Unapplied", "apply_edits", "locate", "transcript_edits"]


@dataclass(frozen=True, slots=True)
class Unapplied:
    """An edit that did not apply: `path` as the edit wrote it, and why."""

    edit: Edit
    path: str
    reason: str


def apply_edits(
    edits: Sequence[Edit], folder: str | os.PathLike[str], cwd: str | None = None
) -> tuple[Unapplied, ...]:
    """Apply `edits` to the files in `folder`, in order; each edit sees the ones before it."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise RedlineError(f"no folder at {root} to apply edits to")
    missed: list[Unapplied] = []
    for edit in edits:
        try:
            reason = _apply(edit, root, cwd)
        except OSError as error:  # a folder where the file goes, a file where a folder does
            reason = f"cannot write it: {error.strerror}"
        if reason is not None:
            missed.append(Unapplied(edit, edit.path, reason))
    return tuple(missed)


def _apply(edit: Edit, root: Path, cwd: str | None) -> str | None:
    target = locate(edit.path, root, cwd)
    if isinstance(target, str):
        return target
    if edit.truncated:
        return "the output was cut off inside this edit"
    if edit.kind == "lazy":
        return "a lazy edit (a sketch with elisions) only the agent's own tool can merge"
    if edit.kind == "delete":
        if not target.is_file():
            return "no such file"
        target.unlink()
        return None
    if edit.kind == "write":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(edit.after, encoding="utf-8")
        return None
    if not target.is_file():
        return "no such file"
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "not a text file"
    placed = place(View(edit.path, text, 1, True), edit)
    if placed is None:
        return _why_not(edit, text)
    target.write_text(placed.new.text, encoding="utf-8")
    return None


def _why_not(edit: Edit, text: str) -> str:
    if edit.kind == "insert" and not edit.before:
        return (
            "an insertion without a line number" if edit.start_line is None else "line out of range"
        )
    if not edit.before:
        return "the edit does not say which text it replaces"
    count = text.count(edit.before)
    if count == 0:
        return "text not found"
    return f"text found {count} times"


def locate(path: str, root: Path, cwd: str | None = None) -> Path | str:
    """Where `path` (as a model wrote it: absolute under the recorded working directory `cwd`,
    or relative to it) is in the folder `root` (resolved), or why it is not in it: outside
    the working directory or the folder, or through a link that leads out."""
    path = path.strip().replace("\\", "/")
    if not path:
        return "no path"
    if path.startswith("/"):
        if cwd is None:
            return "an absolute path, and no working directory to place it"
        base = posixpath.normpath(cwd)
        normal = posixpath.normpath(path)
        if normal != base and not normal.startswith(base.rstrip("/") + "/"):
            return f"outside the working directory {base}"
        path = posixpath.relpath(normal, base)
    relative = posixpath.normpath(path)
    if relative == "." or relative == ".." or relative.startswith("../"):
        return "outside the folder"
    target = (root / relative).resolve()
    if target != root and not target.is_relative_to(root):
        return "outside the folder (through a link)"
    return target


class _Edits(Files):
    """The views `_files` keeps, replaced by a list of the edits it would apply: the same walk
    decides which calls succeeded."""

    def __init__(self) -> None:
        super().__init__()
        self.edits: list[Edit] = []

    def put(self, view: View) -> None:
        pass

    def apply(self, edit: Edit) -> Placed | None:
        self.edits.append(edit)
        return None

    def drop(self, path: str) -> None:
        pass


def transcript_edits(request: Request) -> tuple[Edit, ...]:
    """The edits the transcript's tool calls made, in order, for each call whose result says it
    succeeded (an error result, or a call never answered, made no change). An edit cut off in
    the output is left out: what it wrote past the cut is unknown."""
    found = _Edits()
    calls: dict[str, ToolCall] = {}
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, ToolCall):
                calls[part.id] = part
            elif isinstance(part, ToolResult) and part.call_id in calls:
                _result(found, calls[part.call_id], part)
    return tuple(e for e in found.edits if not e.truncated)
