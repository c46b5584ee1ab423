"""Taking a workspace: a git commit's tree read with git itself, or a folder as it is now.

    snapshot(folder, rev=None, include=()) -> Snapshot(workspace, blobs)

A git repository gives the tree of `rev` (default HEAD; a caller passes the commit the
transcript states), read with `git ls-tree` and `git cat-file --batch`: nothing is checked out
and the user's working tree is never touched; what `.gitignore` ignores is not in a tree. A
folder that is no repository gives its files as they are now (its `.gitignore` files honoured,
dependency and cache folders skipped), with a warning that they are today's, not the cut's.

Either way the rules leave out secrets by name (`.env*`, keys and credential files), files over
`FILE_CAP`, and files past `TOTAL_CAP` in all (in path order); `include` (gitignore-style
patterns) takes back what a rule left out. Binary files are kept: a test may read a fixture;
only text is masked when the workspace is exported. What is left out is listed with the reason.

`reread(copy, base)` takes back a copy of `base` that edits changed (materialized, then edited
by the transcript): every file as it is now, under `base`'s source and revision, within the
same caps.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pathspec

from redline.errors import RedlineError
from redline.transcripts.workspace import (
    FILE_CAP,
    MAX_FILES,
    TOTAL_CAP,
    LeftOut,
    Workspace,
    WorkspaceFile,
    check_path,
    link_inside,
)

__all__ = ["SECRET_NAMES", "SKIPPED_FOLDERS", "Snapshot", "commit_of", "reread", "snapshot"]

# Left out by name (case-insensitive, on the file's own name): environment files and the usual
# keys, certificates with their keys, keystores and credential files.
SECRET_NAMES = (
    ".env",
    ".env.*",
    ".envrc",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".git-credentials",
    ".htpasswd",
    ".pgpass",
    "credentials",
    "credentials.json",
    "service-account*.json",
    ".dockercfg",
)
# Skipped when a plain folder is taken (a git tree does not hold them): dependencies and caches.
SKIPPED_FOLDERS = frozenset(
    {
        ".git",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".cache",
    }
)
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}


@dataclass(frozen=True, slots=True)
class Snapshot:
    workspace: Workspace
    blobs: dict[str, bytes]  # sha256 -> content


@dataclass(frozen=True, slots=True)
class _Candidate:
    path: str
    size: int
    executable: bool
    link: bool
    ref: str  # a git blob id, or a path on disk


def snapshot(
    folder: str | os.PathLike[str], rev: str | None = None, include: Sequence[str] = ()
) -> Snapshot:
    """The workspace of `folder`: its git tree at `rev`, or (not a repository) its files now.
    Raises RedlineError for a folder that is missing or unreadable, or a rev it does not have."""
    root = Path(folder).expanduser().absolute()
    if not root.is_dir():
        raise RedlineError(f"no folder at {root}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise RedlineError(f"cannot read the folder {root}")
    try:
        wanted = pathspec.GitIgnoreSpec.from_lines(list(include))
    except (ValueError, TypeError) as error:
        raise RedlineError(f"bad --include pattern: {error}") from None
    if not _is_repository(root):
        if rev is not None:
            raise RedlineError(f"{root} is not a git repository, so it has no revision {rev!r}")
        return _folder(root, wanted)
    return _git(root, rev or "HEAD", wanted)


# --- rules ----------------------------------------------------------------------------------


def _secret(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_NAMES)


def _choose(
    candidates: Iterable[_Candidate], wanted: pathspec.GitIgnoreSpec, left_out: list[LeftOut]
) -> list[_Candidate]:
    """Apply the rules; `wanted` (--include) takes back what a rule left out and goes first
    when the total is counted."""
    kept: list[_Candidate] = []
    for c in sorted(candidates, key=lambda c: c.path):
        asked = wanted.match_file(c.path)
        if not asked and _secret(c.path):
            left_out.append(LeftOut(c.path, "may hold secrets (by its name)"))
        elif not asked and c.size > FILE_CAP:
            left_out.append(LeftOut(c.path, f"larger than {FILE_CAP >> 20} MB"))
        else:
            kept.append(c)
    kept.sort(key=lambda c: (not wanted.match_file(c.path), c.path))
    chosen: list[_Candidate] = []
    total = 0
    for c in kept:
        if total + c.size > TOTAL_CAP or len(chosen) >= MAX_FILES:
            left_out.append(LeftOut(c.path, f"beyond {TOTAL_CAP >> 20} MB in all"))
            continue
        total += c.size
        chosen.append(c)
    return sorted(chosen, key=lambda c: c.path)


def _manifest(
    source: Path,
    kind: str,
    revision: str | None,
    contents: dict[str, bytes],
    chosen: list[_Candidate],
    left_out: list[LeftOut],
    warnings: list[str],
) -> Snapshot:
    files: list[WorkspaceFile] = []
    blobs: dict[str, bytes] = {}
    for c in chosen:
        data = contents[c.path]
        sha = hashlib.sha256(data).hexdigest()
        blobs[sha] = data
        files.append(WorkspaceFile(c.path, sha, len(data), c.executable, c.link))
    workspace = Workspace(
        str(source),
        "git" if kind == "git" else "folder",
        revision,
        tuple(files),
        tuple(sorted(left_out, key=lambda o: o.path)),
        tuple(warnings),
    )
    return Snapshot(workspace, blobs)


def _safe(path: str, left_out: list[LeftOut]) -> bool:
    try:
        check_path(path)
    except ValueError:
        left_out.append(LeftOut(path, "a path redline does not store"))
        return False
    return True


# --- git ------------------------------------------------------------------------------------


def _run_git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            input=stdin,
            capture_output=True,
            env={**os.environ, **_GIT_ENV},
            check=False,
        )
    except FileNotFoundError:
        raise RedlineError(
            "git was not found; install it to take a workspace from a repository"
        ) from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RedlineError(
            f"git {args[0]} failed in {root}: {said[-1] if said else done.returncode}"
        )
    return done.stdout


def _is_repository(root: Path) -> bool:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            env={**os.environ, **_GIT_ENV},
            check=False,
        )
    except FileNotFoundError:
        return False
    return done.returncode == 0 and done.stdout.strip() == b"true"


def commit_of(folder: str | os.PathLike[str], rev: str) -> str | None:
    """The full id of the commit `rev` names in the repository at `folder`; None when `folder`
    is no repository or has no such commit (a short hash an agent stated, say)."""
    root = Path(folder).expanduser().absolute()
    if not root.is_dir() or not _is_repository(root):
        return None
    try:
        return _commit(root, rev)
    except RedlineError:
        return None


def _commit(root: Path, rev: str) -> str:
    if rev.startswith("-") or "\0" in rev:
        raise RedlineError(f"not a revision: {rev!r}")
    try:
        commit = _run_git(
            root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
    except RedlineError:
        raise RedlineError(f"{root} has no commit {rev!r}") from None
    return commit.decode().strip()


def _git(root: Path, rev: str, wanted: pathspec.GitIgnoreSpec) -> Snapshot:
    revision = _commit(root, rev)
    prefix = _run_git(root, "rev-parse", "--show-prefix").decode().strip()
    listing = _run_git(
        root, "ls-tree", "-r", "-z", "-l", "--full-tree", revision, "--", prefix or "."
    )
    left_out: list[LeftOut] = []
    candidates: list[_Candidate] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, size = meta.split()
        full = raw_path.decode("utf-8", "surrogateescape")
        path = full[len(prefix) :] if prefix and full.startswith(prefix) else full
        if kind == b"commit":
            left_out.append(LeftOut(path, "a git submodule"))
        elif kind == b"blob" and _safe(path, left_out):
            link = mode == b"120000"
            candidates.append(_Candidate(path, int(size), mode == b"100755", link, blob.decode()))
    chosen = _choose(candidates, wanted, left_out)
    contents = _cat_files(root, chosen)
    chosen = [c for c in chosen if not c.link or _link_ok(c, contents, left_out)]
    return _manifest(root, "git", revision, contents, chosen, left_out, [])


def _cat_files(root: Path, chosen: list[_Candidate]) -> dict[str, bytes]:
    """Every chosen blob through one `git cat-file --batch`."""
    ids = list(dict.fromkeys(c.ref for c in chosen))
    if not ids:
        return {}
    out = _run_git(root, "cat-file", "--batch", stdin="".join(f"{i}\n" for i in ids).encode())
    by_id: dict[str, bytes] = {}
    at = 0
    for blob in ids:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if len(header) != 3 or header[0].decode() != blob:
            raise RedlineError(f"git cat-file answered {out[at:end]!r} for {blob}")
        size = int(header[2])
        by_id[blob] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1
    return {c.path: by_id[c.ref] for c in chosen}


def _link_ok(c: _Candidate, contents: dict[str, bytes], left_out: list[LeftOut]) -> bool:
    target = contents[c.path].decode("utf-8", "surrogateescape")
    if link_inside(c.path, target):
        return True
    left_out.append(LeftOut(c.path, "a link that points out of the workspace"))
    return False


# --- a plain folder -------------------------------------------------------------------------


def _folder(root: Path, wanted: pathspec.GitIgnoreSpec) -> Snapshot:
    left_out: list[LeftOut] = []
    candidates: list[_Candidate] = []
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]] = []  # (folder, its .gitignore)
    for dirpath, dirnames, filenames in os.walk(root, onerror=_unreadable(root)):
        here = Path(dirpath).relative_to(root).as_posix()
        here = "" if here == "." else here + "/"
        ignore = Path(dirpath) / ".gitignore"
        if ignore.is_file():
            try:
                lines = ignore.read_text("utf-8", "replace").splitlines()
                ignores.append((here, pathspec.GitIgnoreSpec.from_lines(lines)))
            except (OSError, ValueError) as error:
                left_out.append(LeftOut(here + ".gitignore", f"not honoured: {error}"))
        for name in sorted(dirnames):
            path = here + name
            if name in SKIPPED_FOLDERS or _ignored(path + "/", ignores):
                dirnames.remove(name)
                if name in SKIPPED_FOLDERS:
                    left_out.append(LeftOut(path + "/", "a dependency, cache or git folder"))
            elif os.path.islink(os.path.join(dirpath, name)):
                dirnames.remove(name)  # a link to a folder: kept as a link, never walked
                filenames.append(name)
        for name in filenames:
            path = here + name
            if _ignored(path, ignores) or not _safe(path, left_out):
                continue
            candidate = _on_disk(root, path, left_out)
            if candidate is not None:
                candidates.append(candidate)
    chosen = _choose(candidates, wanted, left_out)
    contents: dict[str, bytes] = {}
    for c in list(chosen):
        try:
            contents[c.path] = (
                os.readlink(c.ref).encode("utf-8", "surrogateescape")
                if c.link
                else Path(c.ref).read_bytes()
            )
        except OSError as error:
            chosen.remove(c)
            left_out.append(LeftOut(c.path, f"unreadable: {error.strerror}"))
    chosen = [c for c in chosen if not c.link or _link_ok(c, contents, left_out)]
    warning = f"{root} is not a git repository: its files are as they are now, not as they were at the cut"
    return _manifest(root, "folder", None, contents, chosen, left_out, [warning])


def _unreadable(root: Path) -> Callable[[OSError], None]:
    def fail(error: OSError) -> None:
        if Path(error.filename or "") == root:
            raise RedlineError(f"cannot read the folder {root}: {error.strerror}")

    return fail


def _ignored(path: str, ignores: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    """As git decides: the deepest .gitignore that has a say about `path` wins."""
    ignored = False
    for folder, spec in ignores:
        if path.startswith(folder):
            result = spec.check_file(path[len(folder) :])
            if result.include is not None:
                ignored = result.include
    return ignored


def _on_disk(root: Path, path: str, left_out: list[LeftOut]) -> _Candidate | None:
    full = root / path
    try:
        info = full.lstat()
    except OSError as error:
        left_out.append(LeftOut(path, f"unreadable: {error.strerror}"))
        return None
    if stat.S_ISLNK(info.st_mode):
        return _Candidate(path, len(os.readlink(full)), False, True, str(full))
    if not stat.S_ISREG(info.st_mode):
        left_out.append(LeftOut(path, "not a regular file"))
        return None
    return _Candidate(path, info.st_size, bool(info.st_mode & 0o100), False, str(full))


# --- a copy, edited ---------------------------------------------------------------------------


def reread(copy: str | os.PathLike[str], base: Workspace) -> Snapshot:
    """The workspace `base` once edits changed its copy at `copy`: its files as they are now
    (links kept as links, never followed), `base`'s source, kind, revision, what it left out
    and its warnings. No rule by name applies (the files were chosen already, or written by
    the transcript); a path redline does not store and anything past the caps is left out."""
    root = Path(copy)
    left_out = list(base.left_out)
    candidates: list[_Candidate] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath).relative_to(root).as_posix()
        here = "" if here == "." else here + "/"
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                dirnames.remove(name)
                filenames.append(name)
        for name in sorted(filenames):
            path = here + name
            if _safe(path, left_out):
                candidate = _on_disk(root, path, left_out)
                if candidate is not None:
                    candidates.append(candidate)
    chosen = _choose_within_caps(candidates, {f.path for f in base.files}, left_out)
    contents = {
        c.path: (
            os.readlink(c.ref).encode("utf-8", "surrogateescape")
            if c.link
            else Path(c.ref).read_bytes()
        )
        for c in chosen
    }
    chosen = [c for c in chosen if not c.link or _link_ok(c, contents, left_out)]
    taken = _manifest(
        Path(base.source), base.kind, base.revision, contents, chosen, left_out, list(base.warnings)
    )
    return Snapshot(replace(taken.workspace, source=base.source), taken.blobs)


def _choose_within_caps(
    candidates: list[_Candidate], had: set[str], left_out: list[LeftOut]
) -> list[_Candidate]:
    """The caps of `_choose`; a file the base held already (included by name) stays."""
    chosen: list[_Candidate] = []
    total = 0
    for c in sorted(candidates, key=lambda c: c.path):
        if c.size > FILE_CAP and not c.link and c.path not in had:
            left_out.append(LeftOut(c.path, f"larger than {FILE_CAP >> 20} MB"))
        elif total + c.size > TOTAL_CAP or len(chosen) >= MAX_FILES:
            left_out.append(LeftOut(c.path, f"beyond {TOTAL_CAP >> 20} MB in all"))
        else:
            total += c.size
            chosen.append(c)
    return chosen
