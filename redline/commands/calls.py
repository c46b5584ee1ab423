"""`redline ls` and `redline show`: reading what the proxy recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from redline.commands.display import (
    SHOWN_MESSAGES,
    make_console,
    print_table,
    render_message,
)
from redline.commands.shared import (
    DB_OPTION,
    JSON_OPTION,
    print_json,
    report_ingest,
    user_errors,
)

if TYPE_CHECKING:
    # Imported where used: `redline --help` needs neither the store nor DuckDB.
    from redline.transcripts import Call


def _tokens(inp: int | None, out: int | None) -> str:
    if inp is None and out is None:
        return ""
    return f"{inp or 0:,} → {out or 0:,}"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value / 1000:.2f}s" if value >= 1000 else f"{value:.0f}ms"


def ls(
    conversation: str | None = typer.Argument(
        None, help="A conversation id (or unique prefix): list its calls instead."
    ),
    limit: int = typer.Option(
        50, "--limit", "-n", min=0, help="Show at most this many conversations (0: all)."
    ),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """List conversations, newest first; or, given one, its calls in order."""
    from rich.markup import escape

    from redline.transcripts import open_store

    with open_store(db) as store:
        report_ingest(store)
        if conversation is None:
            convs = store.conversations(limit)
            if as_json:
                print_json({"conversations": [c.to_json() for c in convs]})
                return
            if not convs:
                typer.echo(
                    "No conversations yet. Start `redline proxy` and point your agent at it."
                )
                return
            print_table(
                make_console(),
                [
                    ("conversation", "id"),
                    ("last call (UTC)", "opt"),
                    ("calls", ""),
                    ("model", ""),
                    ("tokens in → out", "opt"),
                    ("title", "fill"),
                ],
                [
                    [
                        c.id,
                        f"{c.last_at:%Y-%m-%d %H:%M}",
                        str(c.calls),
                        c.model or "",
                        _tokens(c.input_tokens, c.output_tokens),
                        c.title or "",
                    ]
                    for c in convs
                ],
            )
            return
        conv = store.conversation(conversation)
        calls = store.calls(conv.id)
        if as_json:
            print_json({"conversation": conv.to_json(), "calls": [c.to_json() for c in calls]})
            return
        console = make_console()
        console.print(f"[bold]{conv.id}[/]  {escape(conv.title or '')}")
        print_table(
            console,
            [
                ("#", ""),
                ("call", "id"),
                ("started (UTC)", "opt"),
                ("status", ""),
                ("msgs", "opt"),
                ("tokens in → out", "opt"),
                ("ttfb", "opt"),
                ("time", ""),
                ("answer", "fill"),
            ],
            [
                [
                    str(c.seq),
                    c.id,
                    f"{c.started_at:%H:%M:%S}",
                    c.status
                    if c.http_status in (None, 101, 200)
                    else f"{c.status} {c.http_status}",
                    str(c.messages or ""),
                    _tokens(c.input_tokens, c.output_tokens),
                    _ms(c.ttfb_ms),
                    _ms(c.duration_ms),
                    c.preview or "",
                ]
                for c in calls
            ],
        )


def _show_human(call: Call, last: int | None) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text as RichText

    from redline.transcripts import Message

    console = make_console()
    s = call.summary
    console.print(f"[bold]call {s.id}[/]  conversation {s.conversation_id or '-'}  #{s.seq or '-'}")
    console.print(
        f"{s.method} {escape(call.upstream.rstrip('/') + s.path)}  wire {s.wire or '-'}  model {s.model or '-'}"
    )
    status = f"{s.status}" + (f" (HTTP {s.http_status})" if s.http_status is not None else "")
    console.print(
        f"status {status}  started {s.started_at:%Y-%m-%d %H:%M:%S} UTC  "
        f"ttfb {_ms(s.ttfb_ms) or '-'}  total {_ms(s.duration_ms)}"
    )
    if call.response and call.response.usage:
        u = call.response.usage
        extra = f"  cache read {u.cache_read_tokens}" if u.cache_read_tokens else ""
        console.print(f"tokens in {u.input_tokens}  out {u.output_tokens}{extra}")
    if call.user_agent:
        console.print(f"client {escape(call.user_agent)}")
    for label, value in (("error", call.error), ("parse error", call.parse_error)):
        if value:
            console.print(f"[red]{label}: {escape(value)}[/]")
    if call.request is not None:
        req = call.request
        if req.system:
            console.print(render_message(Message("system", req.system), "system"))
        shown = SHOWN_MESSAGES if last is None else last
        messages = req.messages[-shown:] if shown else req.messages
        if len(messages) < len(req.messages):
            earlier = len(req.messages) - len(messages)
            console.print(
                f"[dim]... {earlier:,} earlier messages not shown (--last N shows N, --last 0 "
                "all of them)[/]"
            )
        for m in messages:
            console.print(render_message(m))
        if req.tools:
            console.print(f"[dim]tools offered: {', '.join(t.name for t in req.tools)}[/]")
    elif call.request_raw:
        console.print(
            Panel(RichText(call.request_raw[:4000].decode("utf-8", "replace")), title="raw request")
        )
    if call.response is not None:
        finish = call.response.finish_reason
        console.print(
            render_message(call.response.message, f"answer ({finish or 'no finish reason'})")
        )
    elif call.response_raw:
        console.print(
            Panel(
                RichText(call.response_raw[:4000].decode("utf-8", "replace")), title="raw response"
            )
        )


def show(
    call_id: str = typer.Argument(..., help="A call id, or any unique prefix of one."),
    last: int | None = typer.Option(
        None,
        "--last",
        min=0,
        help=f"Show only the last N request messages (default {SHOWN_MESSAGES}; 0: all).",
    ),
    raw: bool = typer.Option(False, "--raw", help="Print the response body exactly as recorded."),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Show one call: messages, tool calls, the answer, tokens and timings."""
    from redline.transcripts import open_store

    with open_store(db) as store:
        report_ingest(store)
        call = store.load_call(call_id)
    if raw:
        typer.echo((call.response_raw or b"").decode("utf-8", "replace"), nl=False)
    elif as_json:
        print_json(call.to_json())
    else:
        _show_human(call, last)


def register(app: typer.Typer) -> None:
    app.command("ls")(user_errors(ls))
    app.command("show")(user_errors(show))
