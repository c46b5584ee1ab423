"""Workspaces: the files a task's model saw, as a manifest of content-addressed files.

    Workspace(source, kind, revision, files, left_out, warnings, edits)   the manifest
     ├── WorkspaceFile(path, sha256, size, executable, link)                 one file, by its content hash
     └── LeftOut(path, reason)                                      what the snapshot kept out
    snapshot(folder, rev=None, include=()) -> Snapshot              in workspace_snapshot
    pack(workspace, read_blob) -> Packed, unpack(data, sha256)      in workspace_archive
    materialize(workspace, read_blob, dest)                         the files, in a new folder

A file's content lives apart from the manifest, under its SHA-256 (`read_blob(sha256)`), so a
store keeps one copy of a file however many tasks hold it. A symbolic link is a `WorkspaceFile` with
`link=True` whose content is its target, which must stay inside the tree. Every path is checked
here, once, for everything that reads a manifest from elsewhere (an archive, a store): relative,
no `..`, no `.git`, no file below a link or below another file.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from redline.errors import RedlineError
from redline.transcripts.model import canonical_json

__all__ = [
    "FILE_CAP",
    "MAX_FILES",
    "TOTAL_CAP",
    "LeftOut",
    "Workspace",
    "WorkspaceFile",
    "check_path",
    "materialize",
]

FILE_CAP = 1 << 20  # a file larger than this is left out unless included by name
TOTAL_CAP = 50 << 20  # files beyond this, in path order, are left out
MAX_FILES = 100_000  # a manifest that lists more is refused

Kind = Literal["git", "folder"]


@dataclass(frozen=True, slots=True)
class WorkspaceFile:
    path: str  # relative, '/'-separated
    sha256: str  # of the content (a link's: of its target)
    size: int
    executable: bool = False
    link: bool = False


@dataclass(frozen=True, slots=True)
class LeftOut:
    path: str  # a file, or a folder ending in '/'
    reason: str


@dataclass(frozen=True, slots=True)
class Workspace:
    """`source`: the folder it was taken from; `kind`: `git` (a commit's tree, `revision` its
    id) or `folder` (the files as they were when taken); `left_out`: what the rules kept out
    and why; `warnings`: what the user should know (a folder's files are today's, an edit of
    the transcript did not apply); `edits`: how many of the transcript's own edits before its
    cut were applied on top of what was taken."""

    source: str
    kind: Kind
    revision: str | None
    files: tuple[WorkspaceFile, ...]
    left_out: tuple[LeftOut, ...] = ()
    warnings: tuple[str, ...] = ()
    edits: int = 0

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def id(self) -> str:
        """The manifest's own hash: equal workspaces have equal ids."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()

    def file(self, path: str) -> WorkspaceFile | None:
        return next((f for f in self.files if f.path == path), None)

    def summary(self) -> dict[str, Any]:
        """What a task's JSON says of its workspace (`task show --json`, the web view): the
        manifest without its list of files, counted instead."""
        return {
            "id": self.id,
            "source": self.source,
            "kind": self.kind,
            "revision": self.revision,
            "files": len(self.files),
            "size": self.size,
            "edits": self.edits,
            "left_out": [{"path": o.path, "reason": o.reason} for o in self.left_out],
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "revision": self.revision,
            "files": [
                {
                    "path": f.path,
                    "sha256": f.sha256,
                    "size": f.size,
                    **({"executable": True} if f.executable else {}),
                    **({"link": True} if f.link else {}),
                }
                for f in self.files
            ],
            "left_out": [{"path": o.path, "reason": o.reason} for o in self.left_out],
            "warnings": list(self.warnings),
            **({"edits": self.edits} if self.edits else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Workspace:
        """The manifest from its JSON form, every field and path checked (it may come from an
        archive someone else made). Raises RedlineError saying what is wrong."""
        try:
            return _from_dict(data)
        except (KeyError, TypeError, ValueError) as error:
            raise RedlineError(f"not a valid workspace manifest: {error}") from None


def _from_dict(data: Any) -> Workspace:
    if not isinstance(data, Mapping):
        raise TypeError("not an object")
    kind = data["kind"]
    if kind not in ("git", "folder"):
        raise ValueError(f"kind {kind!r}")
    revision = data.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise TypeError("revision is not a string")
    entries = data["files"]
    if not isinstance(entries, list) or len(entries) > MAX_FILES:
        raise ValueError(f"files must be a list of at most {MAX_FILES}")
    files = []
    for entry in entries:
        sha, size = entry["sha256"], entry["size"]
        if not isinstance(sha, str) or len(sha) != 64 or not _is_hex(sha):
            raise ValueError(f"bad sha256 for {entry.get('path')!r}")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= TOTAL_CAP:
            raise ValueError(f"bad size for {entry.get('path')!r}")
        flags = (entry.get("executable", False), entry.get("link", False))
        if not all(isinstance(flag, bool) for flag in flags):
            raise TypeError("executable and link are true or false")
        files.append(WorkspaceFile(check_path(entry["path"]), sha, size, *flags))
    check_tree(files)
    if sum(f.size for f in files) > TOTAL_CAP:
        raise ValueError(f"its files add up to more than {TOTAL_CAP >> 20} MB")
    left_out = tuple(LeftOut(_text(o["path"]), _text(o["reason"])) for o in data["left_out"])
    warnings = tuple(_text(w) for w in data["warnings"])
    edits = data.get("edits", 0)
    if not isinstance(edits, int) or isinstance(edits, bool) or edits < 0:
        raise ValueError("edits must be a count")
    source = _text(data["source"])
    return Workspace(source, kind, revision, tuple(files), left_out, warnings, edits)


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 4096:
        raise TypeError("expected a string of at most 4096 characters")
    return value


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def check_path(path: Any) -> str:
    """`path` if it is a safe relative path inside a tree; ValueError saying why not."""
    if not isinstance(path, str) or not path or len(path) > 4096:
        raise ValueError(f"bad path {path!r}")
    parts = path.split("/")
    if (
        path.startswith("/")
        or "\\" in path
        or "\0" in path
        or any(p in ("", ".", "..") or len(p.encode()) > 255 for p in parts)
    ):
        raise ValueError(f"path {path!r} is not a plain relative path")
    if ".git" in parts:
        raise ValueError(f"path {path!r} is inside a .git folder")
    return path


def check_tree(files: list[WorkspaceFile] | tuple[WorkspaceFile, ...]) -> None:
    """No path twice, none below a file or a link, and every link's target inside the tree."""
    paths = {f.path for f in files}
    if len(paths) != len(files):
        raise ValueError("a path is listed twice")
    for f in files:
        parent = posixpath.dirname(f.path)
        while parent:
            if parent in paths:
                raise ValueError(f"{f.path!r} is below the file or link {parent!r}")
            parent = posixpath.dirname(parent)


def link_inside(path: str, target: str) -> bool:
    """Whether a link at `path` pointing to `target` stays inside the tree."""
    if not target or target.startswith("/") or "\0" in target:
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved != ".." and not resolved.startswith("../") and resolved != "."


def materialize(workspace: Workspace, read_blob: Callable[[str], bytes], dest: Path) -> None:
    """Write the workspace's files into `dest`, a folder that does not exist yet (or is
    empty). Each file's bytes are checked against its hash."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise RedlineError(f"{dest} is not a new, empty folder")
    check_tree(workspace.files)
    dest.mkdir(parents=True, exist_ok=True)
    for f in workspace.files:
        data = read_blob(f.sha256)
        if hashlib.sha256(data).hexdigest() != f.sha256:
            raise RedlineError(f"the stored content of {f.path} does not match its hash")
        target = dest / check_path(f.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.link:
            text = data.decode("utf-8", "surrogateescape")
            if not link_inside(f.path, text):
                raise RedlineError(f"the link {f.path} points out of the workspace")
            os.symlink(text, target)
        else:
            target.write_bytes(data)
            target.chmod(0o755 if f.executable else 0o644)
