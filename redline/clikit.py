"""Small shared pieces for every command: error handling, JSON output, common options."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import typer

from redline.errors import NotFound, RedlineError, StoreLocked, StoreUnavailable

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
    elif isinstance(exc, StoreUnavailable):
        hint = "choose another file with --db or $REDLINE_DB"
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


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


JSON_OPTION = typer.Option(False, "--json", help="Print stable JSON (documented in README.md).")
DB_OPTION = typer.Option(
    None, "--db", envvar="REDLINE_DB", help="The database file.", show_default="user data dir"
)
