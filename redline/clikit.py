"""Small shared pieces for the CLI of every part: error handling and JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer

from redline.errors import RedlineError

P = ParamSpec("P")
R = TypeVar("R")


def user_errors[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a RedlineError into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RedlineError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


JSON_OPTION = typer.Option(False, "--json", help="Print stable JSON (documented in README.md).")
DB_OPTION = typer.Option(
    None, "--db", envvar="REDLINE_DB", help="The database file.", show_default="user data dir"
)
