"""`redline demo`: record, flag, draft a check, replay and report, offline, against a stand-in
model."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from redline.commands.shared import user_errors


@user_errors
def demo(
    db: Path | None = typer.Option(
        None, "--db", help="Keep the demo's data in this new database file (default: temporary)."
    ),
) -> None:
    """Show the whole loop offline, with a stand-in model: record, flag, draft, replay, report."""
    from redline.commands.display import make_console
    from redline.demo import run
    from redline.replay import render_table

    started = time.perf_counter()
    run(
        lambda text: typer.secho(text, bold=True),
        typer.echo,
        lambda report: render_table(report, make_console()),
        keep=db,
    )
    typer.echo(f"(demo finished in {time.perf_counter() - started:.1f}s)")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
