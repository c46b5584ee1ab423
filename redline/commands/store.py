"""`redline store`: the database itself."""

from __future__ import annotations

import typer

from redline.commands.shared import DB_OPTION, user_errors

store_app = typer.Typer(
    help="The database itself: rebuild it from the spool.", no_args_is_help=True
)


@store_app.command("rebuild")
@user_errors
def rebuild(db: str | None = DB_OPTION) -> None:
    """Make a new database from the spool segments still on disk; the old one is set aside."""
    from redline.transcripts import rebuild as rebuild_store

    aside, report = rebuild_store(db)
    if aside is not None:
        typer.echo(f"the old database is at {aside}")
    typer.echo(
        f"rebuilt from the spool: {report.ingested} exchange{'s' * (report.ingested != 1)} "
        f"ingested, {len(report.problems)} line{'s' * (len(report.problems) != 1)} not readable"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
