"""Answering a replayed model's tool calls from the task's workspace: its files at the cut.

    TaskWorkspaces.load(store, tasks, sandboxed)  a run's workspaces, by task
      .source(task) -> WorkspaceSource | None    a sample's source (a copy of its own once it
                                                 writes)
      .release(source), .close()                 its copy removed; every copy removed
    WorkspaceCopies(workspace, read_blob)        one task's files, written once per run (`base`)
      .copy() -> Path                            a private copy for one sample
    WorkspaceSource(files, agent, cwd, copy=..., sandboxed=...)   one sample's source:
                                                 answer(call, use)

The source answers what a tool call does (`agents.ToolUse`), on its sample's copy:

    read     the file's lines (from `first_line`, `limit` of them), as the agent shows a read
    list     the files under a folder, matching a glob when one is given, in path order
    search   the lines that match a regex, as `path:line:text` (the pattern comes from a model:
             matched by the `regex` module under a time limit, the matches capped)
    command  run by `sh -c` in the sandbox (`analyzers.sandbox`) on the copy, at the recorded
             working directory; answered in the agent's shape (exit status, output)
    edit     applied to the copy, whole or not at all, so the next read sees it; one that does
             not apply is answered as the agent's tool answers it: an error result
    other    declined: the next source of the chain tries

A read, listing or search done through a shell command (`sed -n`, `rg`) runs as the command:
its output is the command's own. Paths are placed by the recorded working directory (absolute
under it, or relative to it); a path outside the copy is an error result and is never read.
Commands run unsandboxed only when the run was asked to (`--no-sandbox`); each such answer
says so in its note.

A source is what `replay.tool_answers` chains (`name`, `answer(call, use) -> Served | None`):
the first of a task's chain, before the transcript's (`replay.trajectory.Stepper`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import regex
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from redline.analyzers import apply_edits, extract, locate
from redline.analyzers import sandbox as sandboxing
from redline.errors import RedlineError, SandboxUnavailable
from redline.replay.tool_answers import Served
from redline.transcripts import (
    Message,
    Store,
    Task,
    ToolCall,
    Workspace,
    agents,
    materialize,
)

__all__ = [
    "MAX_LISTED",
    "MAX_MATCHES",
    "SEARCH_SECONDS",
    "TaskWorkspaces",
    "WorkspaceCopies",
    "WorkspaceSource",
]

MAX_LISTED = 1000
"""The most paths a listing gives."""
MAX_MATCHES = 500
"""The most lines a search gives."""
SEARCH_SECONDS = 5.0
"""How long a search or a glob may match, in all: a model's pattern may backtrack forever."""
_MAX_PATTERN = 1000  # characters of a pattern
_MAX_LINE = 500  # characters of a matching line shown
COMMAND_LIMITS = sandboxing.Limits(seconds=60.0)


class WorkspaceCopies:
    """A task's workspace written out once (its files checked against their hashes), then
    copied for each sample, so no sample sees another's edits. `close` removes them all."""

    def __init__(self, workspace: Workspace, read_blob: Callable[[str], bytes]) -> None:
        self.workspace = workspace
        self._root = Path(tempfile.mkdtemp(prefix="redline-replay-")).resolve()
        self._base = self._root / "base"
        self._made = 0
        try:
            materialize(workspace, read_blob, self._base)
        except BaseException:
            self.close()
            raise

    @property
    def base(self) -> Path:
        """The files as written: shared by every sample's reads, never written."""
        return self._base

    def copy(self) -> Path:
        """A new private copy of the workspace."""
        self._made += 1
        copy = self._root / f"sample-{self._made}"
        shutil.copytree(self._base, copy, symlinks=True)
        return copy

    def release(self, copy: Path) -> None:
        """Remove one copy (its sample is done)."""
        if copy.parent == self._root and copy != self._base:
            _remove(copy)

    def close(self) -> None:
        _remove(self._root)

    def __enter__(self) -> WorkspaceCopies:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TaskWorkspaces:
    """The workspaces of a run's tasks, each written once, and a source on a copy of its own
    for each sample. `sandboxed`: commands run in the sandbox (False only with --no-sandbox)."""

    def __init__(self, copies: Mapping[str, WorkspaceCopies], *, sandboxed: bool = True) -> None:
        self._copies = dict(copies)
        self.sandboxed = sandboxed

    @classmethod
    def load(cls, store: Store, tasks: Sequence[Task], *, sandboxed: bool = True) -> TaskWorkspaces:
        """The workspaces `store` holds for `tasks`, written out. Raises SandboxUnavailable
        (saying what to install or allow, and that --no-sandbox exists) when a task has one,
        commands are to be sandboxed and the sandbox cannot start here."""
        copies: dict[str, WorkspaceCopies] = {}
        try:
            for task in tasks:
                workspace = store.workspace(task.name)
                if workspace is not None:
                    contents = store.workspace_files([f.sha256 for f in workspace.files])
                    copies[task.name] = WorkspaceCopies(workspace, contents.__getitem__)
            if copies and sandboxed:
                sandboxing.require()
        except BaseException:
            for made in copies.values():
                made.close()
            raise
        return cls(copies, sandboxed=sandboxed)

    def __contains__(self, task: str) -> bool:
        return task in self._copies

    def folders(self) -> dict[str, Path]:
        """Each task's workspace as written once, by task: shared, never to be written (checks
        that run code copy it, as samples do)."""
        return {name: copies.base for name, copies in self._copies.items()}

    def recorded(self) -> dict[str, dict[str, Any]]:
        """What a run records of each task's workspace: which one, and whether the commands
        its models ask for run in the sandbox."""
        return {
            name: {"id": copies.workspace.id, "sandboxed": self.sandboxed}
            for name, copies in self._copies.items()
        }

    def source(self, task: Task) -> WorkspaceSource | None:
        """A sample's source on the task's workspace (None when it has none): it reads the
        shared files until its first edit or command, which gets it a private copy."""
        copies = self._copies.get(task.name)
        if copies is None:
            return None
        start = agents.session_start(task.request)
        cwd = start.cwd if start is not None else None
        agent = agents.identify(task.request)
        return WorkspaceSource(copies.base, agent, cwd, copy=copies.copy, sandboxed=self.sandboxed)

    def release(self, source: WorkspaceSource | None) -> None:
        """Remove the copy a sample's source worked on (if it made one)."""
        if source is not None and source.copied is not None:
            for copies in self._copies.values():
                copies.release(source.copied)

    def close(self) -> None:
        for made in self._copies.values():
            made.close()

    def __enter__(self) -> TaskWorkspaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WorkspaceSource:
    """One sample's answers from the task's workspace. `files`: the folder it answers from;
    with `copy`, that folder is shared and never written: the first edit or command asks
    `copy` for a private copy (`copied`) and works there from then on. `cwd`: the working
    directory the transcript recorded, which the folder stands for; `sandboxed`: commands run
    in the sandbox (False only when the run was asked to run them without it)."""

    name = "workspace"

    def __init__(
        self,
        files: Path,
        agent: agents.Agent,
        cwd: str | None,
        *,
        copy: Callable[[], Path] | None = None,
        sandboxed: bool = True,
        limits: sandboxing.Limits = COMMAND_LIMITS,
    ) -> None:
        self.root = Path(files).resolve()
        self.agent = agent
        self.cwd = cwd
        self.sandboxed = sandboxed
        self.limits = limits
        self._copy = copy
        self.copied: Path | None = None

    def _writable(self) -> None:
        """From here on, work on a private copy (made now if the files are shared)."""
        if self._copy is not None and self.copied is None:
            self.copied = self.root = self._copy().resolve()

    def answer(self, call: ToolCall, use: agents.ToolUse) -> Served | None:
        if use.kind == "edit":
            return self._edit(call, use)
        if use.command is not None and use.kind in ("read", "list", "search", "command"):
            return self._command(use)
        if use.kind == "read":
            return self._read(use)
        if use.kind == "list":
            return self._list(use)
        if use.kind == "search":
            return self._search(use)
        return None

    # -- results -------------------------------------------------------------------------------

    def _served(self, content: str, note: str = "") -> Served:
        return Served(content, False, self.name, note)

    def _error(self, message: str, note: str = "") -> Served:
        return Served(self.agent.shape_error(message), True, self.name, note)

    def _shown(self, path: Path) -> str:
        """A path in the copy as the model knows it: under the recorded working directory."""
        relative = path.relative_to(self.root).as_posix()
        if self.cwd is None:
            return relative
        return self.cwd.rstrip("/") + ("/" + relative if relative != "." else "")

    def _where(self, path: str | None) -> Path | str:
        """The file or folder `path` names in the copy (the copy itself for none), or why it
        is not in it."""
        if path is None or not path.strip():
            return self.root
        given = path.strip().rstrip("/") or "/"
        if given in (".", "./") or (self.cwd and given == self.cwd.rstrip("/")):
            return self.root
        return locate(given, self.root, self.cwd)

    # -- reads, listings, searches -------------------------------------------------------------

    def _read(self, use: agents.ToolUse) -> Served:
        target = self._where(use.path)
        if isinstance(target, str):
            return self._error(f"{use.path} cannot be read: {target}")
        if target.is_dir():
            return self._error(f"{use.path} is a folder, not a file")
        if not target.is_file():
            return self._error(f"File does not exist: {use.path}")
        data = target.read_bytes()
        if b"\0" in data:
            return self._error(f"{use.path} is a binary file")
        lines = data.decode("utf-8", "replace").splitlines(keepends=True)
        first = use.first_line or 1
        if first > max(len(lines), 1):
            return self._served(
                f"{use.path} has {len(lines)} lines; line {first} is past its end",
                "past the file's end",
            )
        shown = lines[first - 1 : None if use.limit is None else first - 1 + use.limit]
        text = "".join(line if line.endswith("\n") else line + "\n" for line in shown)
        return self._served(self.agent.shape_read(replace(use, first_line=first), text))

    def _files(self, under: Path) -> Iterator[Path]:
        """Every file (or link) under `under` in the copy, in path order; links never followed."""
        if not under.is_dir():
            yield under
            return
        for folder, dirs, files in os.walk(under):
            dirs.sort()
            for name in sorted([*files, *(d for d in dirs if os.path.islink(f"{folder}/{d}"))]):
                yield Path(folder) / name

    def _list(self, use: agents.ToolUse) -> Served:
        under = self._where(use.path)
        if isinstance(under, str):
            return self._error(f"{use.path} cannot be listed: {under}")
        if not under.exists():
            return self._error(f"No such folder: {use.path}")
        matcher = None
        if use.pattern:
            try:
                matcher = _glob(use.pattern)
            except (regex.error, ValueError) as error:
                return self._error(f"not a glob pattern the listing can use: {error}")
        deadline = time.monotonic() + SEARCH_SECONDS
        found: list[str] = []
        for path in self._files(under):
            relative = path.relative_to(under).as_posix() if under.is_dir() else path.name
            if matcher is not None:
                try:
                    hit = matcher.match(relative, timeout=_left(deadline))
                except TimeoutError:
                    return self._error(
                        f"the pattern {use.pattern!r} took longer than {SEARCH_SECONDS:g} s to "
                        "match; use a simpler one"
                    )
                if hit is None:
                    continue
            found.append(self._shown(path))
            if len(found) > MAX_LISTED:
                break
        if not found:
            return self._served("No files found", "nothing matched")
        return self._served(*_capped(found, MAX_LISTED, "paths"))

    def _search(self, use: agents.ToolUse) -> Served:
        if not use.pattern:
            return self._error("a search needs a pattern")
        if len(use.pattern) > _MAX_PATTERN:
            return self._error(f"the pattern is longer than {_MAX_PATTERN} characters")
        try:
            pattern = regex.compile(use.pattern, regex.MULTILINE)
        except (regex.error, ValueError, OverflowError) as error:
            return self._error(f"not a regular expression: {error}")
        under = self._where(use.path)
        if isinstance(under, str):
            return self._error(f"{use.path} cannot be searched: {under}")
        if not under.exists():
            return self._error(f"No such file or folder: {use.path}")
        deadline = time.monotonic() + SEARCH_SECONDS
        lines: list[str] = []
        try:
            for path in self._files(under):
                if path.is_symlink() or not path.is_file():
                    continue
                lines += _matches(pattern, path, self._shown(path), deadline, MAX_MATCHES + 1)
                if len(lines) > MAX_MATCHES:
                    break
        except TimeoutError:
            return self._error(
                f"the search for {use.pattern!r} took longer than {SEARCH_SECONDS:g} s; "
                "use a simpler pattern or a narrower path"
            )
        if not lines:
            return self._served("No matches found", "nothing matched")
        return self._served(*_capped(lines, MAX_MATCHES, "matching lines"))

    # -- commands ------------------------------------------------------------------------------

    def _command(self, use: agents.ToolUse) -> Served:
        assert use.command is not None
        self._writable()  # a command may write anything
        command = use.command
        if use.workdir and use.workdir.rstrip("/") != (self.cwd or "").rstrip("/"):
            where = self._where(use.workdir)
            if isinstance(where, str) or not where.is_dir():
                why = where if isinstance(where, str) else "no such folder"
                return self._error(f"cannot run in {use.workdir}: {why}")
            command = f"cd {shlex.quote(where.relative_to(self.root).as_posix())} && {command}"
        try:
            if self.sandboxed:
                ran = sandboxing.run(command, self.root, self.limits, workdir=self._workdir())
            else:
                ran = sandboxing.run_unsandboxed(command, self.root, self.limits)
        except SandboxUnavailable as error:
            return self._error(
                f"the command was not run: the sandbox cannot start here ({error.reason})",
                "not run: no sandbox",
            )
        except RedlineError as error:
            return self._error(f"the command was not run: {error}", "not run")
        output = ran.output
        if ran.killed is not None:
            output += f"\n[redline: {ran.summary}]"
        status = ran.exit_status if ran.exit_status is not None else 137
        note = ran.summary if ran.sandboxed else f"{ran.summary}: commands are not sandboxed"
        return Served(self.agent.shape_command(output, status), not ran.ok, self.name, note)

    def _workdir(self) -> str:
        """Where the copy appears in the sandbox: the recorded working directory, when it is a
        place the sandbox can mount it at."""
        return sandboxing.workdir(self.cwd)

    # -- edits ---------------------------------------------------------------------------------

    def _edit(self, call: ToolCall, use: agents.ToolUse) -> Served:
        edits = extract(Message("assistant", (call,))).edits
        if not edits:
            return self._error("the edit could not be read from the call's arguments")
        self._writable()
        placed = {e.path: locate(e.path, self.root, self.cwd) for e in edits}
        before = {
            target: target.read_bytes() if target.is_file() else None
            for target in placed.values()
            if isinstance(target, Path)
        }
        missed = apply_edits(edits, self.root, self.cwd)
        if missed:
            _restore(before)  # as the agents' tools do: all of the call's edits, or none
            reasons = "; ".join(f"{m.path}: {m.reason}" for m in missed)
            return self._error(f"the edit was not applied ({reasons})", "not applied")
        changed: list[tuple[str, agents.Change]] = []
        for path, target in placed.items():
            assert isinstance(target, Path)  # an edit outside the copy did not apply
            how: agents.Change = (
                "deleted"
                if not target.exists()
                else ("added" if before[target] is None else "updated")
            )
            changed.append((path, how))
        return self._served(self.agent.shape_edit(use, changed))


def _remove(folder: Path) -> None:
    """Remove a folder a model's commands may have made hard to remove (folders made
    unreadable or unwritable): its folders get their owner's rights back first."""
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)
    for parent, dirs, _ in os.walk(folder):  # top-down: a folder is opened after its chmod
        for name in dirs:
            path = os.path.join(parent, name)
            if not os.path.islink(path):  # a link's target may lie outside: never touched
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
    shutil.rmtree(folder, ignore_errors=True)


def _restore(before: dict[Path, bytes | None]) -> None:
    for target, data in before.items():
        if data is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _glob(pattern: str) -> regex.Pattern[str]:
    """A glob (`**/*.py`, `src/*.ts`) as a regex over paths relative to where it is applied."""
    if len(pattern) > _MAX_PATTERN:
        raise ValueError(f"longer than {_MAX_PATTERN} characters")
    source, include = GitIgnoreSpecPattern.pattern_to_regex("/" + pattern.lstrip("/"))
    if source is None or not include:
        raise ValueError(f"{pattern!r} matches nothing")
    return regex.compile(source)


def _matches(
    pattern: regex.Pattern[str], path: Path, shown: str, deadline: float, most: int
) -> list[str]:
    """`shown:line:text` of the lines of the file at `path` the pattern matches."""
    data = path.read_bytes()
    if b"\0" in data:
        return []
    text = data.decode("utf-8", "replace")
    found: list[str] = []
    number, counted = 1, 0  # the line number at offset `counted`
    last_line = 0
    for match in pattern.finditer(text, timeout=_left(deadline)):
        number += text.count("\n", counted, match.start())
        counted = match.start()
        if number == last_line:
            continue
        last_line = number
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.start())
        line = text[start : None if end < 0 else end]
        if len(line) > _MAX_LINE:
            line = line[:_MAX_LINE] + "…"
        found.append(f"{shown}:{number}:{line}")
        if len(found) >= most:
            break
    return found


def _capped(lines: list[str], limit: int, what: str) -> tuple[str, str]:
    """The answer's text and its note: at most `limit` lines, and a last line saying so when
    there were more (the model should know it did not see everything)."""
    if len(lines) <= limit:
        return "\n".join(lines) + "\n", ""
    shown = [*lines[:limit], f"[redline: more than {limit} {what}; the first {limit} shown]"]
    return "\n".join(shown) + "\n", f"the first {limit} {what}"
