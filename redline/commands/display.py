"""How commands print: the console, tables whose ids are never cut, messages and their parts
(cut to a readable size), and checks' verdicts.

rich is imported where it is used: commands that print no table do not load it."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.text import Text as RichText

    from redline.analyzers import Verdict
    from redline.transcripts import Message, Part


def make_console() -> Console:
    from rich.console import Console

    # Piped output is not cut to 80 columns: ids must survive a copy and paste.
    width = None if sys.stdout.isatty() else 160
    return Console(highlight=False, soft_wrap=False, width=width)


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


def print_verdicts(specs: list[str], verdicts: list[Verdict], indent: str = "") -> None:
    """Each check's verdict, its findings (with a few lines of code) and what it could not
    judge: the form `redline check`, `flag` and `task show` share."""
    width = max(len(s) for s in specs)
    for spec, verdict in zip(specs, verdicts, strict=True):
        count = len(verdict.findings)
        status = "pass" if verdict.passed else f"FAIL  {count} finding{'s' * (count != 1)}"
        if verdict.passed and verdict.judged == ():
            status = "nothing to judge: no code this check reads"
        typer.echo(f"{indent}{spec:<{width}}  {status}")
        for f in verdict.findings:
            where = f"{f.path}:{f.line}" if f.path and f.line else (f.path or "output")
            typer.echo(f"{indent}  {where}  {f.message}")
            for line in f.snippet.splitlines()[:3]:
                typer.echo(f"{indent}      {line}")
        for u in verdict.unparsed:
            typer.echo(f"{indent}  not judged: {u.path or 'output'}: {u.reason}")
