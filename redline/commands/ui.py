"""`redline ui`: the web view, on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import typer

from redline.commands.shared import DB_OPTION, PLUGIN_OPTION, user_errors

DEFAULT_PORT = 8790


@user_errors
def ui(
    port: int = typer.Option(
        DEFAULT_PORT, "--port", "-p", min=0, max=65535, help="Port on 127.0.0.1 (0 picks one)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in a browser."),
    plugin: list[Path] | None = PLUGIN_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Serve the web view: read conversations, flag calls, see reports (until Ctrl-C)."""
    from redline import config
    from redline.commands.shared import load_registry
    from redline.ui import serve

    registry = load_registry(plugin)
    serve(
        config.location(db),
        port=port,
        registry=registry,
        say=lambda text: typer.echo(text, err=False),
        open_browser=open_browser,
    )


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
