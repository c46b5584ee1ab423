"""The `redline` command: the typer app, with every command mounted from redline.commands.

The parts (transcripts, proxy, analyzers, replay) are libraries and know nothing of the command
line; each module of `redline.commands` is one noun's commands, importing the parts it needs
only when a command runs, so `redline --help` and `redline ls` stay quick.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from redline import config
from redline.commands.shared import IngestBar, describe
from redline.errors import RedlineError


class _OneLine(logging.Handler):
    """What redline's parts log (a wait for the database, a store set aside) is one line on
    stderr, worded as the CLI words its own messages."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)
        except Exception:  # a broken stderr must not break the command
            self.handleError(record)


def _log_to_stderr() -> None:
    logger = logging.getLogger("redline")
    if not any(isinstance(h, _OneLine) for h in logger.handlers):
        logger.addHandler(_OneLine(logging.WARNING))
        logger.setLevel(logging.WARNING)
    if sys.stderr.isatty() and config.ingest_progress is None:
        config.ingest_progress = IngestBar()


class _OneLineErrors(TyperGroup):
    """Every mistake on the command line is one line on stderr and exit code 2: click's own
    usage errors (`--limit -1`, an unknown option) as much as redline's."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        _log_to_stderr()
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except TyperException as exc:  # click's usage errors, as typer vendors them
            ctx = getattr(exc, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            message = " ".join(exc.format_message().split())
            print(f"error: {message[:1].lower()}{message[1:]}{where}", file=sys.stderr)
            code = exc.exit_code
        except typer.Abort:
            print("aborted", file=sys.stderr)
            code = 1
        except RedlineError as exc:  # a command that forgot @user_errors still fails in one line
            print(f"error: {describe(exc)}", file=sys.stderr)
            code = 2
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="redline",
    help="A personal LLM coding benchmark, built from the moments a coding model let you down.",
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _mount() -> None:
    from redline.commands import register_all

    register_all(app)


_mount()


def main() -> None:
    app()
