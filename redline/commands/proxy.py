"""`redline proxy`: run the recording proxy in the foreground."""

from __future__ import annotations

from pathlib import Path

import typer

from redline import config
from redline.clikit import DB_OPTION, user_errors


def proxy(
    upstream: str | None = typer.Option(
        None,
        "--upstream",
        "-u",
        help="Forward everything to this base URL, e.g. https://api.openai.com.",
    ),
    route: list[str] = typer.Option(
        [],
        "--route",
        help="/PREFIX=URL: forward paths under /PREFIX (prefix removed) to URL. Repeatable.",
    ),
    host: str = typer.Option(config.DEFAULT_HOST, "--host", help="Interface to listen on."),
    port: int = typer.Option(
        config.DEFAULT_PORT,
        "--port",
        "-p",
        min=0,
        max=65535,
        help="Port to listen on (0 picks a free one).",
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Run the recording proxy: point your agent's base URL at it."""
    from redline.proxy import ProxyRunner, parse_routes, run_forever

    routes = parse_routes(upstream, route)
    db_path = config.db_path(db)
    runner = ProxyRunner(routes, config.spool_dir(db_path), host, port)

    def ready(bound: int) -> None:
        base = f"http://{host}:{bound}"
        typer.echo(f"redline proxy listening on {base}", err=True)
        for r in routes:
            typer.echo(f"  {base}{r.prefix or '/'} -> {r.public}", err=True)
        typer.echo(f"recording into {db_path} (spool {config.spool_dir(db_path)})", err=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(
                f"warning: listening on {host}: other machines can use your upstream credentials' proxy",
                err=True,
            )
        typer.echo(f"e.g. export OPENAI_BASE_URL={base}{routes[0].prefix}/v1", err=True)

    run_forever(runner, ready)


def register(app: typer.Typer) -> None:
    app.command("proxy")(user_errors(proxy))
