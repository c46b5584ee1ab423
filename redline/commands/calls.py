"""`redline ls` and `redline show`: reading what the proxy recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from redline.clikit import DB_OPTION, JSON_OPTION, print_json, user_errors, warn

if TYPE_CHECKING:
    # Imported where used: `redline --help` and the commands that never print a table need
    # neither rich nor the store (and DuckDB with it).
    from rich.console import Console
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.text import Text as RichText

    from redline.transcripts import Call, Message, Part, Store


def make_console() -> Console:
    from rich.console import Console

    # Piped output is not cut to 80 columns: ids must survive a copy and paste.
    width = None if sys.stdout.isatty() else 160
    return Console(highlight=False, soft_wrap=False, width=width)


def report_ingest(store: Store) -> None:
    """Warn about spool lines the store could not take in (a crash cut one short...)."""
    for problem in store.last_ingest.problems:
        warn(problem)


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
    db: Path | None = DB_OPTION,
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


def print_table(console: Console, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    """Columns keep their natural width (ids are for copying, never cut); on a narrow terminal
    the optional ones are left out, and the last column gets the room that is left."""
    from rich.markup import escape
    from rich.table import Table

    natural = [max([len(name)] + [len(r[i]) for r in rows]) for i, (name, _) in enumerate(columns)]
    keep = list(range(len(columns)))
    for i in reversed(range(len(columns))):
        used = sum(natural[j] + 2 for j in keep if columns[j][1] != "fill")
        if used + 20 <= console.width:
            break
        if columns[i][1] == "opt":
            keep.remove(i)
    room = console.width - sum(natural[j] + 2 for j in keep if columns[j][1] != "fill") - 1
    table = Table(box=None, header_style="bold", pad_edge=False)
    for i in keep:
        table.add_column(columns[i][0], no_wrap=True)
    for r in rows:
        cells = [r[i] if columns[i][1] != "fill" else _cut(r[i], room) for i in keep]
        table.add_row(*(escape(c) for c in cells))
    console.print(table)


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"


# Readable output stays quick whatever a call holds (a 50,000-message request, a 33 MB
# message): at most this many request messages unless --last says otherwise, and at most this
# many characters of any one part, each cut said so. `--json` and `--raw` print everything.
SHOWN_MESSAGES = 100
SHOWN_CHARS = 20_000


def clipped(text: str, style: str = "") -> RichText:
    """`text` as rich text, cut after SHOWN_CHARS characters with a note saying how much more
    there was."""
    from rich.text import Text as RichText

    if len(text) <= SHOWN_CHARS:
        return RichText(text, style=style)
    shown = RichText(text[:SHOWN_CHARS], style=style)
    more = len(text) - SHOWN_CHARS
    shown.append(f"\n… {more:,} more characters not shown (--json shows them)", style="dim")
    return shown


def render_part(part: Part) -> RichText | Syntax | Panel:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.text import Text as RichText

    from redline.transcripts import Image, Opaque, Text, Thinking, ToolCall, ToolResult

    match part:
        case Text(text):
            return clipped(text)
        case Thinking(text, signature, redacted):
            shown = text or ("[redacted thinking]" if redacted else "")
            sig = " (signed)" if signature else ""
            return clipped(f"thinking{sig}: {shown}", style="dim italic")
        case ToolCall(id_, name, arguments):
            body: RichText | Syntax
            try:
                if len(arguments) > SHOWN_CHARS:
                    raise ValueError("too long to lay out")
                pretty = json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
                body = Syntax(pretty, "json", word_wrap=True)
            except ValueError:
                body = clipped(arguments)
            broken = " [red](arguments cut off)[/]" if part.parse_error is not None else ""
            return Panel(
                body,
                title=f"tool call {escape(name)} ({escape(id_)}){broken}",
                title_align="left",
                border_style="cyan",
            )
        case ToolResult(call_id, content, is_error):
            text = (
                content
                if isinstance(content, str)
                else "\n".join(
                    p.text if isinstance(p, Text) else f"[{type(p).__name__.lower()}]"
                    for p in content
                )
            )
            style = "red" if is_error else "green"
            label = "tool error" if is_error else "tool result"
            return Panel(
                clipped(text), title=f"{label} ({call_id})", title_align="left", border_style=style
            )
        case Image(url, media_type):
            return RichText(f"[image {media_type or ''} {url[:60]}]", style="magenta")
        case Opaque(data):
            return RichText(
                f"[{data.get('type', 'block')}] {json.dumps(data)[:200]}", style="yellow"
            )
    raise TypeError(part)


def render_message(m: Message, title: str | None = None) -> Panel:
    from rich.console import Group
    from rich.panel import Panel

    colors = {
        "system": "blue",
        "developer": "blue",
        "user": "white",
        "assistant": "green",
        "tool": "cyan",
    }
    return Panel(
        Group(*(render_part(p) for p in m.parts)),
        title=title or m.role,
        title_align="left",
        border_style=colors.get(m.role, "white"),
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
    db: Path | None = DB_OPTION,
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
