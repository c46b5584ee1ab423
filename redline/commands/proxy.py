"""`redline proxy`: run the recording proxy in the foreground (reverse or mitm mode)."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path

import typer

from redline import config
from redline.commands.shared import DB_OPTION, user_errors
from redline.errors import RedlineError

MITM_PORT = 8788


class Mode(StrEnum):
    reverse = "reverse"
    mitm = "mitm"


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
    port: int | None = typer.Option(
        None,
        "--port",
        "-p",
        min=0,
        max=65535,
        help=f"Port to listen on (0 picks a free one).  [default: {config.DEFAULT_PORT}, "
        f"{MITM_PORT} with --mode mitm]",
        show_default=False,
    ),
    mode: Mode = typer.Option(
        Mode.reverse,
        "--mode",
        help="reverse: agents point their base URL at the proxy. mitm: an HTTPS proxy for "
        "agents whose base URL cannot change (HTTPS_PROXY and redline's CA).",
    ),
    host_match: list[str] = typer.Option(
        [],
        "--host-match",
        metavar="PATTERN",
        help="mitm: also record HOST, *.DOMAIN or HOST/PATH-PREFIX. Repeatable.",
    ),
    upstream_ca: Path | None = typer.Option(
        None,
        "--upstream-ca",
        metavar="FILE",
        help="mitm: also trust this CA (PEM) for upstream certificates.",
    ),
    print_ca: bool = typer.Option(
        False, "--print-ca", help="mitm: print the CA certificate's path and exit."
    ),
    drain: float = typer.Option(
        30.0,
        "--drain",
        min=0,
        metavar="SECONDS",
        help="On SIGTERM/Ctrl-C, let calls under way finish for at most this long, then cut "
        "them (recorded as cut). A second signal cuts them at once.",
    ),
    db: str | None = DB_OPTION,
) -> None:
    """Run the recording proxy: point your agent's base URL at it (or HTTPS_PROXY, --mode mitm)."""
    _check_options(mode, upstream, route, host_match, upstream_ca, print_ca)
    if mode is Mode.mitm:
        port = MITM_PORT if port is None else port
        _mitm(host, port, host_match, upstream_ca, print_ca, drain, db)
        return
    port = config.DEFAULT_PORT if port is None else port
    from redline.proxy import ProxyRunner, parse_routes, run_forever

    routes = parse_routes(upstream, route)
    db_path = config.location(db)
    runner = ProxyRunner(
        routes, config.spool_dir(db_path), host, port, drain=drain, ingest_into=db_path
    )

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
        at = f"{base}{routes[0].prefix}"
        typer.echo(
            f"e.g. export ANTHROPIC_BASE_URL={at} (Claude Code) "
            f"or OPENAI_BASE_URL={at}/v1 (OpenAI SDKs, aider)",
            err=True,
        )

    run_forever(runner, ready)


def _check_options(
    mode: Mode,
    upstream: str | None,
    route: list[str],
    host_match: list[str],
    upstream_ca: Path | None,
    print_ca: bool,
) -> None:
    """--upstream/--route belong to reverse mode, the mitm options to mitm mode."""
    if mode is Mode.mitm:
        given = ["--upstream"] * bool(upstream) + ["--route"] * bool(route)
        if given:
            raise RedlineError(
                f"{given[0]} is for the reverse mode; --mode mitm records the hosts of "
                "--host-match (and the usual API hosts) wherever the agent connects"
            )
        return
    given = (
        ["--host-match"] * bool(host_match)
        + ["--upstream-ca"] * (upstream_ca is not None)
        + ["--print-ca"] * print_ca
    )
    if given:
        raise RedlineError(f"{given[0]} is for --mode mitm")


def _mitm(
    host: str,
    port: int,
    host_match: list[str],
    upstream_ca: Path | None,
    print_ca: bool,
    drain: float,
    db: str | None,
) -> None:
    """`redline proxy --mode mitm`: the HTTPS intercepting proxy in the foreground."""
    from redline.proxy import DEFAULT_PATTERNS, ensure_ca, parse_pattern

    if print_ca:
        typer.echo(str(ensure_ca().cert_pem))
        return
    patterns = [*DEFAULT_PATTERNS, *(parse_pattern(spec) for spec in host_match)]
    from redline.proxy import MitmRunner, run_mitm

    def on_log(level: int, message: str) -> None:
        kind = "error" if level >= logging.ERROR else "warning"
        typer.echo(f"{kind}: mitmproxy: {message}", err=True)

    db_path = config.location(db)
    runner = MitmRunner(
        config.spool_dir(db_path),
        host,
        port,
        patterns=patterns,
        upstream_ca=upstream_ca,
        on_log=on_log,
        drain=drain,
        ingest_into=db_path,
    )
    ca = runner.ca

    def say(line: str) -> None:
        typer.echo(line, err=True)

    def ready(bound: int) -> None:
        url = f"http://{host}:{bound}"
        say(f"redline proxy (mitm) listening on {url}")
        say("  recording " + ", ".join(str(p) for p in patterns))
        say("  every other host passes through untouched (not decrypted, not recorded)")
        say(f"recording into {db_path} (spool {config.spool_dir(db_path)})")
        say(f"CA certificate: {ca.cert_pem}")
        if host not in ("127.0.0.1", "localhost", "::1"):
            say(f"warning: listening on {host}: other machines can send traffic through it")
        say("for the agent's shell:")
        say(f"  export HTTPS_PROXY={url}")
        say(f"  export NODE_EXTRA_CA_CERTS={ca.cert_pem}  # Node (Claude Code): adds the CA")
        say(f"  export CODEX_CA_CERTIFICATE={ca.cert_pem}  # Codex CLI: adds the CA")
        say(f"  export SSL_CERT_FILE={ca.client_bundle}  # replaces the roots: this bundle")
        say(f"  export REQUESTS_CA_BUNDLE={ca.client_bundle}  # holds the usual ones too")

    run_mitm(runner, ready)


def register(app: typer.Typer) -> None:
    app.command("proxy")(user_errors(proxy))
