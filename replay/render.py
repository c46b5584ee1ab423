"""The report of a replay run as Markdown for posting and as tables for the terminal.

The input is the dict that `redline report --format json` prints: plain JSON values, so a
saved report renders exactly like a fresh one. Every format takes its rows from the builders
below (the HTML page, redline.replay.render_html, uses them too), so two formats cannot
disagree about a number. Errored samples are never folded into failures: a cell reads `2/3 (1 error)`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["render_html", "render_markdown", "render_table"]

Report = Mapping[str, Any]
"""The report dict: run, models, variants, tasks, cells, summary, comparisons, errors, samples."""

Row = Mapping[str, Any]
"""One entry of a list in the report (a cell, a summary row, an error...)."""

FIRST_ERRORS = 5
"""How many errors Markdown and the terminal quote; the HTML page lists them all."""

DASH = "—"
"""Stands for a value the report does not have (no price, nothing judged)."""

SUMMARY_HEADER = (
    "model",
    "variant",
    "pass rate",
    "95% interval",
    "tasks",
    "tokens in → out",
    "cost",
    "p50 latency",
)
SUMMARY_NUMERIC = frozenset(range(2, len(SUMMARY_HEADER)))


# Values


def percent(rate: float | None) -> str:
    """A rate as a whole percentage, never rounded to 0% or 100% unless it is exactly that.

    With 199 passes of 200, "100%" would claim what did not happen; it reads ">99%".
    """
    if rate is None:
        return DASH
    value = rate * 100
    if 0 < value < 0.5:
        return "<1%"
    if 99.5 <= value < 100:
        return ">99%"
    return f"{value:.0f}%"


def k_of_n(passes: int, samples: int, errors: int) -> str:
    """Passes of judged samples, with errored samples named apart: `2/3 (1 error)`."""
    return f"{passes}/{samples}" + (f" ({counted(errors, 'error')})" if errors else "")


def pass_rate(row: Row) -> str:
    """A pass rate with its counts: `67% (2/3)`, `67% (2/3, 1 error)`."""
    errors = f", {counted(row['errors'], 'error')}" if row["errors"] else ""
    return f"{percent(row.get('rate'))} ({row['passes']}/{row['samples']}{errors})"


def interval(bounds: Sequence[float] | None) -> str:
    """A Wilson interval as a range of percentages: `44–100%`."""
    if bounds is None:
        return DASH
    lo, hi = bounds
    return f"{percent(lo).rstrip('%')}–{percent(hi)}"


def tokens(row: Row) -> str:
    """Input and output tokens; `~` marks tiktoken estimates where the upstream gave no usage."""
    mark = "~" if row.get("tokens_estimated") else ""
    counts = (row.get("input_tokens"), row.get("output_tokens"))
    return " → ".join(DASH if n is None else f"{mark}{n:,}" for n in counts)


def money(cost: float | None) -> str:
    """Dollars, with enough digits that a cheap run does not read as free."""
    if cost is None:
        return DASH
    if cost == 0:
        return "$0"
    return f"${cost:.4f}" if cost < 0.01 else f"${cost:,.2f}"


def latency(ms: float | None) -> str:
    if ms is None:
        return DASH
    return f"{ms / 1000:.1f}s" if ms >= 1000 else f"{ms:.0f}ms"


def counted(n: int, noun: str) -> str:
    """`1 task`, `2 tasks`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _when(stamp: str | None) -> datetime | None:
    try:
        return None if stamp is None else datetime.fromisoformat(stamp).astimezone(UTC)
    except ValueError:
        return None


def _took(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02}m" if hours else f"{minutes}m{secs:02}s" if minutes else f"{secs}s"


# What every format shows


def title(report: Report) -> str:
    """`redline run <id> — <day>`: the id finds the run again, the day places it."""
    run = report["run"]
    started = _when(run.get("started_at"))
    return f"redline run {run['id']}" + (f" — {started:%Y-%m-%d}" if started else "")


def run_facts(report: Report) -> list[str]:
    """How the run was made, one short clause each."""
    run = report["run"]
    temperature = run.get("temperature")
    facts = [
        f"{counted(run['samples'], 'sample')} per task, model and variant at "
        + ("the default temperature" if temperature is None else f"temperature {temperature}"),
        f"{counted(len(report['tasks']), 'task')}, {counted(len(report['models']), 'model')}, "
        f"{counted(len(report['variants']), 'variant')}",
        f"status {run['status']}",
    ]
    started, finished = _when(run.get("started_at")), _when(run.get("finished_at"))
    if started:
        facts.append(f"started {started:%Y-%m-%d %H:%M} UTC")
    if started and finished:
        facts.append(f"took {_took((finished - started).total_seconds())}")
    evaluated = _when(run.get("evaluated_at"))
    if run.get("evaluation") is not None:
        facts.append(
            f"judged in evaluation {run['evaluation']}"
            + (f" at {evaluated:%Y-%m-%d %H:%M} UTC" if evaluated else "")
        )
    cached = sum(cell.get("from_cache") or 0 for cell in report["cells"])
    if cached:
        total = sum(cell["samples"] + cell["errors"] for cell in report["cells"])
        facts.append(f"{cached} of {total} samples replayed from the cache")
    return facts


def setup_lines(report: Report) -> list[str]:
    """What each model and variant name stands for."""
    lines = []
    for m in report["models"]:
        prices = (
            f"${m['price_in']:g} in / ${m['price_out']:g} out per 1M tokens"
            if m.get("price_in") is not None and m.get("price_out") is not None
            else "no prices"
        )
        lines.append(
            f"model {m['name']}: {m['model']} over {m['wire']} at {m['base_url']}; {prices}"
        )
    for v in report["variants"]:
        change = (
            "the recorded prompt unchanged"
            if v.get("mode") is None
            else f"{v['mode']} {v['path']}"
            + (f" (sha256 {v['sha256'][:12]})" if v.get("sha256") else "")
        )
        lines.append(f"variant {v['name']}: {change}")
    return lines


def notes(report: Report) -> list[str]:
    """How to read the numbers; a note about `~` only when some count is estimated."""
    lines = [
        "Pass rates are means over tasks with Wilson 95% intervals; a sample that errored was "
        "not judged and counts neither as a pass nor as a failure."
    ]
    if any(row.get("tokens_estimated") for row in report["summary"]):
        lines.append("~ marks token counts estimated with tiktoken: the upstream reported none.")
    if any(row.get("cost") is None for row in report["summary"]):
        lines.append(f"{DASH} for cost: the model has no prices configured.")
    return lines


def summary_rows(report: Report) -> list[tuple[str, ...]]:
    """One row per model and variant, in SUMMARY_HEADER's order."""
    return [
        (
            row["model"],
            row["variant"],
            pass_rate(row),
            interval(row.get("interval")),
            str(row["tasks"]),
            tokens(row),
            money(row.get("cost")),
            latency(row.get("latency_p50_ms")),
        )
        for row in report["summary"]
    ]


def task_grid(report: Report) -> list[tuple[Row, str, bool, list[Row | None]]]:
    """(task, model, first row of its task, cell per variant or None) for every task × model.

    Every pair gets a row, so a model that never ran a task shows dashes instead of vanishing.
    """
    cells = {(c["task"], c["model"], c["variant"]): c for c in report["cells"]}
    variants = [v["name"] for v in report["variants"]]
    return [
        (task, m["name"], i == 0, [cells.get((task["name"], m["name"], v)) for v in variants])
        for task in report["tasks"]
        for i, m in enumerate(report["models"])
    ]


def task_header(report: Report) -> tuple[str, ...]:
    return ("task", "checks", "model", *(v["name"] for v in report["variants"]))


def task_rows(report: Report) -> list[tuple[str, ...]]:
    """The task grid as text: every cell's passes of samples, errors named apart."""
    return [
        (
            task["name"] if first else "",
            ", ".join(task["checks"]) if first else "",
            model,
            *(DASH if c is None else k_of_n(c["passes"], c["samples"], c["errors"]) for c in cells),
        )
        for task, model, first, cells in task_grid(report)
    ]


def comparison_lines(report: Report) -> list[tuple[str, str]]:
    """(which pair, where, verdict) per comparison; the verdict is the statistics module's own."""
    return [
        (
            f"{c['a']} vs {c['b']} ({'model' if c['kind'] == 'variant' else 'variant'} "
            f"{c['within']})",
            c["verdict"],
        )
        for c in report["comparisons"]
    ]


def loss_rows(report: Report) -> list[tuple[str, str, str]]:
    """(task, model, what the conversion to that model's wire format dropped), when anything."""
    return [
        (task["name"], model, ", ".join(lost))
        for task in report["tasks"]
        for model, lost in (task.get("losses") or {}).items()
        if lost
    ]


def error_line(error: Row, limit: int = 200) -> str:
    """An error on one line, cut at `limit` characters: upstream bodies can run long."""
    message = " ".join(str(error["error"]).split())
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    where = f"{error['task']} · {error['model']} · {error['variant']} · sample {error['sample']}"
    return f"{where}: {message}"


def errors_heading(report: Report) -> str:
    n = len(report["errors"])
    return f"{counted(n, 'sample')} errored and {'was' if n == 1 else 'were'} not judged"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page, down to every sample's code and findings."""
    # The page lives in its own module, which builds on the rows above; importing it here,
    # when called, keeps that one-way.
    from redline.replay.render_html import render_html as page

    return page(report)


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
    out += _md_table(SUMMARY_HEADER, summary_rows(report), SUMMARY_NUMERIC)
    out += ["", *(_md(note) for note in notes(report))]
    out += ["", "## Per task", ""]
    out += _md_table(task_header(report), task_rows(report))
    if report["comparisons"]:
        out += ["", "## Comparisons", ""]
        out += [f"- **{_md(pair)}**: {_md(verdict)}" for pair, verdict in comparison_lines(report)]
    if losses := loss_rows(report):
        out += ["", "## Conversion losses", ""]
        out += ["What replaying each task to another wire format could not carry over:", ""]
        out += [f"- {_md(task)} → {_md(model)}: {_md(lost)}" for task, model, lost in losses]
    if errors := report["errors"]:
        out += ["", "## Errors", "", _md(errors_heading(report)) + ".", ""]
        out += [f"- {_md(error_line(e))}" for e in errors[:FIRST_ERRORS]]
        if len(errors) > FIRST_ERRORS:
            out.append(f"- and {len(errors) - FIRST_ERRORS} more")
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
    console.print(_rich_table("Summary", SUMMARY_HEADER, summary_rows(report), SUMMARY_NUMERIC))
    for note in notes(report):
        console.print(Text(note, style="dim"))
    console.print()
    console.print(_rich_table("Per task", task_header(report), task_rows(report)))
    if report["comparisons"]:
        console.print()
        console.print(Text("Comparisons", style="bold"))
        for pair, verdict in comparison_lines(report):
            console.print(Text.assemble("  ", (pair, "bold"), ": ", verdict))
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
