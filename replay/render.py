"""The report of a replay run as Markdown for posting and as tables for the terminal.

Both take their rows and lines from redline.replay.report_view, as the HTML page
(redline.replay.render_html) does, so the formats cannot disagree about a number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from redline.replay.report_view import (
    FIRST_ERRORS,
    FIRST_SAMPLES,
    Report,
    comparison_lines,
    detectable_line,
    error_line,
    errors_heading,
    loss_rows,
    no_attempt_line,
    notes,
    run_facts,
    sample_lines,
    setup_lines,
    summary_header,
    summary_numeric,
    summary_rows,
    task_header,
    task_rows,
    title,
)

__all__ = ["render_markdown", "render_table"]

# Markdown

_MD_SPECIAL = re.compile(
    r"[`*|\[\]]"  # code, emphasis, table cells, links
    r"|\\(?=[!-/:-@\[-`{-~])"  # a backslash that would escape what follows it
    r"|<(?=[A-Za-z/!?])"  # what could open an HTML tag or comment
    r"|&(?=#?\w+;)"  # what could be an entity
    r"|(?<![^\W_])_|_(?![^\W_])"  # emphasis; snake_case is left alone
    r"|(?<=\S)~"  # strikethrough: escaping every `~` that could close one leaves none
)


def _md(text: str) -> str:
    """Text that renders as itself in GitHub Markdown, on one line.

    Only what would change the rendering is escaped, so the raw text reads as the data does:
    a verdict's `p<0.001`, an estimate's `~3,600` and a `snake_case` name stay as they are,
    while a `|` cannot split a table cell nor a `<b>` turn into HTML.
    """
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(), " ".join(text.split()))


def _md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int] = frozenset()
) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(_md(cell) for cell in cells) + " |"

    rule = "|" + "|".join("---:" if i in numeric else "---" for i in range(len(header))) + "|"
    return [line(header), rule, *(line(row) for row in rows)]


def render_markdown(report: Report) -> str:
    """The report for posting (GitHub-flavoured Markdown): tables, verdicts, losses, errors."""
    out = [f"# {_md(title(report))}", "", _md("; ".join(run_facts(report))) + ".", ""]
    out += [f"- {_md(line)}" for line in setup_lines(report)]
    out += ["", "## Summary", ""]
    out += _md_table(summary_header(report), summary_rows(report), summary_numeric(report))
    if none := no_attempt_line(report):
        out += ["", f"**{_md(none)}**"]
    out += ["", *(_md(note) for note in notes(report))]
    out += ["", "## Per task", ""]
    out += _md_table(task_header(report), task_rows(report))
    if report["comparisons"]:
        out += ["", "## Comparisons", ""]
        out += [f"- **{_md(pair)}**: {_md(verdict)}" for pair, verdict in comparison_lines(report)]
    if reach := detectable_line(report):
        out += ["", _md(reach)]
    if losses := loss_rows(report):
        out += ["", "## Conversion losses", ""]
        out += ["What replaying each task to another wire format could not carry over:", ""]
        out += [f"- {_md(task)} → {_md(model)}: {_md(lost)}" for task, model, lost in losses]
    if errors := report["errors"]:
        out += ["", "## Errors", "", _md(errors_heading(report)) + ".", ""]
        out += [f"- {_md(error_line(e))}" for e in errors[:FIRST_ERRORS]]
        if len(errors) > FIRST_ERRORS:
            out.append(f"- and {len(errors) - FIRST_ERRORS} more")
    if listed := sample_lines(report):
        out += ["", "## Samples", ""]
        out += [f"- {_md(line)}" for line in listed]
        if len(report["samples"]) > FIRST_SAMPLES:
            more = len(report["samples"]) - FIRST_SAMPLES
            out.append(f"- and {more} more (the HTML report lists every sample)")
    return "\n".join(out) + "\n"


# Terminal


def _rich_table(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: frozenset[int] = frozenset(),
) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i in numeric else "left")
    for row in rows:
        # Text, not str: a name such as "[bold]" is data, not rich markup.
        table.add_row(*(Text(cell) for cell in row))
    return table


def render_table(report: Report, console: Console) -> None:
    """The report in the terminal: the same content as render_markdown, as rich tables."""
    console.print(Text(title(report), style="bold"))
    console.print(Text("; ".join(run_facts(report)) + "."))
    for line in setup_lines(report):
        console.print(Text(f"  {line}"))
    console.print()
    console.print(
        _rich_table(
            "Summary", summary_header(report), summary_rows(report), summary_numeric(report)
        )
    )
    if none := no_attempt_line(report):
        console.print(Text(none, style="bold"))
    for note in notes(report):
        console.print(Text(note, style="dim"))
    console.print()
    console.print(_rich_table("Per task", task_header(report), task_rows(report)))
    if report["comparisons"]:
        console.print()
        console.print(Text("Comparisons", style="bold"))
        for pair, verdict in comparison_lines(report):
            console.print(Text.assemble("  ", (pair, "bold"), ": ", verdict))
    if reach := detectable_line(report):
        console.print()
        console.print(Text(reach, style="dim"))
    if losses := loss_rows(report):
        console.print()
        console.print(
            _rich_table("Conversion losses", ("task", "model", "not carried over"), losses)
        )
    if errors := report["errors"]:
        console.print()
        console.print(Text(f"Errors: {errors_heading(report)}", style="bold"))
        for error in errors[:FIRST_ERRORS]:
            console.print(Text(f"  {error_line(error)}"))
        if len(errors) > FIRST_ERRORS:
            console.print(Text(f"  and {len(errors) - FIRST_ERRORS} more"))
