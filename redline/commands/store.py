"""`redline store`: the database itself."""

from __future__ import annotations

import typer

from redline.commands.shared import DB_OPTION, user_errors, warn

store_app = typer.Typer(
    help="The database itself: rebuild it from the spool, push it into a team's lake.",
    no_args_is_help=True,
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


@store_app.command("push")
@user_errors
def push(
    to: str = typer.Option(
        ...,
        "--to",
        metavar="LAKE",
        help="The lake to copy into: ducklake:postgres:... (docs/team.md).",
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="REDLINE_DB",
        metavar="PATH",
        help="The database file to copy.",
        show_default="user data dir",
    ),
) -> None:
    """Copy a personal database into a team's lake (again: only what is new)."""
    from redline.transcripts import push_store

    report = push_store(db, to)
    copied = (
        f"{report.calls} call{'s' * (report.calls != 1)} in "
        f"{report.conversations} new conversation{'s' * (report.conversations != 1)}, "
        f"{report.messages} message{'s' * (report.messages != 1)}, "
        f"{report.tasks} task{'s' * (report.tasks != 1)}, "
        f"{report.runs} run{'s' * (report.runs != 1)}, "
        f"{report.verdicts} scan verdict{'s' * (report.verdicts != 1)}"
    )
    typer.echo(f"pushed into {to}: {copied}" if report.copied else f"{to} had everything already")
    for name in report.conflicting_tasks:
        warn(
            f"task {name!r} not pushed: the lake has a different task of that name "
            "(export yours, give it another name, import it and push again)"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
