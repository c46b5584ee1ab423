"""The `redline` command: mounts each part's commands (the parts own them)."""

from __future__ import annotations

import sys

import typer

from redline.errors import RedlineError

app = typer.Typer(
    name="redline",
    help="A personal LLM coding benchmark, built from the moments a coding model let you down.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _mount() -> None:
    from redline.proxy import cli as proxy_cli
    from redline.transcripts import cli as transcripts_cli

    proxy_cli.register(app)
    transcripts_cli.register(app)
    try:
        from redline.analyzers import cli as analyzers_cli
    except ImportError:
        return
    analyzers_cli.register(app)


_mount()


def main() -> None:
    try:
        app()
    except RedlineError as exc:  # a command that forgot @user_errors still fails in one line
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
