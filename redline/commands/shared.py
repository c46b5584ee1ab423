"""What every command shares: one-line errors (exit 2), the common options, JSON output,
warnings, the check registry as --plugin extends it, and the progress of a long ingest.

Nothing here imports rich or the parts at module level: `redline --help` stays quick."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from redline.errors import (
    NotFound,
    RedlineError,
    StoreLocked,
    StoreUnavailable,
    StoreWriteFailed,
)

if TYPE_CHECKING:
    from redline.analyzers import Registry
    from redline.replay import WorkspaceSpec
    from redline.transcripts import Store

# What to do when an id names nothing, by what it should have named.
_LISTED_BY = {
    "call": "`redline ls` lists conversations, `redline ls CONVERSATION` their calls",
    "conversation": "`redline ls` lists them",
    "task": "`redline tasks` lists them",
    "run": "`redline runs` lists them",
}


def describe(exc: RedlineError) -> str:
    """The one line a user sees: what happened (the library's words), then what to do here."""
    hint: str | None = None
    if isinstance(exc, NotFound) and exc.query and not exc.matches:
        hint = _LISTED_BY.get(exc.what)
    elif isinstance(exc, StoreLocked):
        hint = "wait for it to finish, or stop it"
    elif isinstance(exc, StoreUnavailable) and str(exc.path).startswith("ducklake:"):
        hint = "check the lake's settings (docs/team.md)"
    elif isinstance(exc, StoreUnavailable):
        hint = "choose another file with --db or $REDLINE_DB"
    elif isinstance(exc, StoreWriteFailed) and exc.lake:
        hint = (
            "check that its PostgreSQL catalog and its data folder can be reached and written "
            "(docs/team.md), then run it again (what the proxy recorded waits in the spool)"
        )
    elif isinstance(exc, StoreWriteFailed):
        hint = "free some disk space and run it again (what the proxy recorded waits in the spool)"
    return f"{exc}; {hint}" if hint else str(exc)


def fail(message: str) -> typer.Exit:
    """Print a usage error (one line) and return the Exit(2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def user_errors[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a RedlineError into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RedlineError as exc:
            raise fail(describe(exc)) from None

    return wrapper


class IngestBar:
    """A progress bar on stderr while a command reads a spool backlog big enough to notice
    (a few hundred calls); nothing for the usual handful."""

    THRESHOLD = 4 * 1024 * 1024  # bytes pending

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, pending: int) -> None:
        if self._bar is None:
            if pending < self.THRESHOLD:
                return
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("reading what the proxy recorded"),
                BarColumn(),
                DownloadColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("ingest", total=pending)
        self._bar.update(self._task, completed=done)
        if done >= pending:
            self._bar.stop()
            self._bar = None


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


JSON_OPTION = typer.Option(False, "--json", help="Print stable JSON (documented in docs/json.md).")
DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="REDLINE_DB",
    metavar="PATH",
    help="The database file, or a team's lake (ducklake:..., docs/team.md).",
    show_default="user data dir",
)
PLUGIN_OPTION = typer.Option(
    None, "--plugin", metavar="FILE", help="Load checks from this Python file; repeatable."
)


FILE_HELP = (
    "A file of the task's own (an input, an expected output, a test), put beside the answer's "
    "code for checks that run it; repeatable."
)
NO_SANDBOX_HELP = (
    "Run the answer's code on this machine, as you, without the sandbox (only its time, "
    "memory and output limits hold)."
)
FILE_OPTION = typer.Option(None, "--file", metavar="PATH", help=FILE_HELP, show_default=False)
# How `flag --workspace` (and `draft --workspace`) take a workspace: at the call's cut.
WORKSPACE_AT_CUT = (
    "as the model saw them at the call (a git commit's tree, then the transcript's own edits)"
)
REV_OPTION = typer.Option(
    None,
    "--rev",
    metavar="REV",
    help="The commit of --workspace to take (default: the one the transcript states at "
    "the session's start, when the repository has it; else HEAD).",
)
INCLUDE_OPTION = typer.Option(
    None,
    "--include",
    metavar="PATTERN",
    help="Take back into the workspace files its rules leave out (secrets by name, files "
    "over 1 MB), gitignore syntax; repeatable.",
)
NO_SANDBOX_OPTION = typer.Option(False, "--no-sandbox", help=NO_SANDBOX_HELP)
MODELS_FILE_OPTION = typer.Option(
    None, "--config", help="The models file (default: ./redline.toml, else the user config dir)."
)
RUN_JOBS_OPTION = typer.Option(
    0,
    "--jobs",
    "-j",
    min=0,
    metavar="N",
    help="Checks that run code (run) running at once (0: one per core).",
)


def warn_unsandboxed(what: str = "the answer's code runs") -> None:
    """What `--no-sandbox` means, said each time it is used: `what` runs on this machine."""
    warn(
        f"--no-sandbox: {what} on this machine as you, with your files, your network and your "
        "credentials within reach; only the time, memory, process and output limits hold"
    )


def load_registry(plugins: list[Path] | None) -> Registry:
    """The built-in checks, installed plugins and the user's checks folder (a broken one is a
    warning), and plugin files."""
    from redline.analyzers import default_registry
    from redline.config import checks_dir

    return default_registry(plugins or (), folder=checks_dir(), warn=warn)


def report_ingest(store: Store) -> None:
    """Warn about spool lines the store could not take in (a crash cut one short...)."""
    for problem in store.last_ingest.problems:
        warn(problem)


def workspace_spec(
    workspace: Path | None, rev: str | None, include: list[str] | None
) -> WorkspaceSpec | None:
    """What `--workspace DIR [--rev REV] [--include PATTERN ...]` ask for (None: no workspace);
    --rev and --include without --workspace are a mistake."""
    if workspace is None:
        if rev is not None or include:
            raise RedlineError(
                "--rev and --include choose what --workspace DIR takes; give --workspace"
            )
        return None
    from redline.replay import WorkspaceSpec

    return WorkspaceSpec(workspace, rev, tuple(include or ()))
