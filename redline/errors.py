"""The one error family that reaches the user.

    RedlineError            any mistake the user can fix; the CLI prints its message, exits 2
     ├── NotFound           an id or prefix that matches nothing (or too much)
     ├── StoreLocked        another process holds the database longer than we wait
     ├── StoreUnavailable   the database cannot be created or opened
     ├── StoreWriteFailed   the disk refused a write to the database (full?): nothing was kept
     ├── TaskExists         a task of that name is stored already, with other content
     ├── TaskFileError      a task file that cannot be imported: its path and the field at fault
     ├── SandboxUnavailable the sandbox (bubblewrap) cannot start on this machine
     └── TaskFilesInvalid   some of the task files given cannot be imported: each one's error

A message says what happened; the CLI adds what to do about it there (`--db`, `redline ls`),
so the library's words fit any front end. Errors carry their context as attributes, so a
front end never parses a message. This module imports nothing of redline's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path


class RedlineError(Exception):
    """A user-facing error: its message is printed as one line and the CLI exits with 2."""


class NotFound(RedlineError):
    """`query` names no `what` (a call, a conversation, a task...), or several (`matches`)."""

    def __init__(self, what: str, query: str, matches: Sequence[str] = ()) -> None:
        self.what, self.query, self.matches = what, query, tuple(matches)
        if not query:
            message = f"give a {what} id (or a unique prefix of one)"
        elif not self.matches:
            message = f"no {what} matches {query!r}"
        else:
            shown = ", ".join(self.matches[:2])
            message = f"{query!r} matches several {what}s ({shown}, ...); give more characters"
        super().__init__(message)


class StoreLocked(RedlineError):
    """Another process holds the database (`holder`, `pid` when DuckDB names them); for a lake
    (`path` its URL), other writers' commits kept conflicting with ours."""

    def __init__(self, path: Path | str, holder: str | None = None, pid: int | None = None) -> None:
        self.path, self.holder, self.pid = path, holder, pid
        who = f"{holder} (PID {pid})" if holder and pid else "another process"
        super().__init__(f"the database {path} is locked by {who}")


class StoreUnavailable(RedlineError):
    """The database at `path` (a file, or a lake's URL) cannot be created or opened, for
    `reason`."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"cannot open the database {path}: {reason}")


class StoreWriteFailed(RedlineError):
    """The disk refused a write to the database (`reason`, as DuckDB gives it), or a lake's
    catalog or share did; the transaction was rolled back whole."""

    def __init__(self, reason: str, lake: str | None = None) -> None:
        self.reason, self.lake = reason, lake  # lake: a lake's URL (its catalog or share)
        super().__init__(
            f"{f'the lake {lake}' if lake else 'the database'} could not be written: {reason}"
        )


class TaskExists(RedlineError):
    """A task named `name` is stored already, with other content."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a task named {name!r} exists already")


class TaskFileError(RedlineError):
    """A task file that cannot be imported: `source` (its path) and the `field` at fault."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source, self.field, self.problem = source, field, problem
        where = f"field `{field}`: " if field else ""
        super().__init__(f"{source}: {where}{problem}")


class SandboxUnavailable(RedlineError):
    """The sandbox cannot run commands here, for `reason` (no bubblewrap, no user namespaces...).
    The message names what to install or allow; running unsandboxed is a separate, explicit
    choice (`--no-sandbox`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"the sandbox cannot start: {reason}; or run without it, explicitly, with --no-sandbox"
        )


class TaskFilesInvalid(RedlineError):
    """Of `total` task files, those in `errors` cannot be imported (so none is). With one, its
    message is that error's; with more, a count (a front end lists `errors`, one a line)."""

    def __init__(self, errors: Iterable[TaskFileError], total: int) -> None:
        self.errors, self.total = tuple(errors), total
        if len(self.errors) == 1:
            message = str(self.errors[0])
        else:
            message = f"{len(self.errors)} of {total} task files are invalid; nothing was imported"
        super().__init__(message)
