"""What every format of a run's report shows, as text: the rows, the lines, the verdicts.

The input is the dict that `redline report --format json` prints: plain JSON values, so a
saved report renders exactly like a fresh one. The terminal and Markdown renderers
(redline.replay.render) and the HTML page (redline.replay.render_html) take their rows from
here and their numbers from redline.replay.numbers, so two formats cannot disagree about a
number. Errored samples are never folded into failures: a cell reads `2/3 (1 error)`; samples
that made no attempt are counted and named: `1/3 (2 no attempt)`. A report saved before
outcomes and steps existed lacks their keys and renders without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from redline.replay.numbers import DASH, counted, interval, percent

__all__ = [
    "FIRST_ERRORS",
    "FIRST_SAMPLES",
    "OUTCOME_WORDS",
    "Report",
    "Row",
    "cell_text",
    "comparison_lines",
    "detectable_line",
    "error_line",
    "errors_heading",
    "k_of_n",
    "latency",
    "loss_rows",
    "money",
    "no_attempt_line",
    "notes",
    "pass_k",
    "pass_k_header",
    "pass_rate",
    "run_facts",
    "sample_head",
    "sample_lines",
    "setup_lines",
    "step_lines",
    "steps",
    "summary_header",
    "summary_numeric",
    "summary_rows",
    "task_grid",
    "task_header",
    "task_rows",
    "title",
    "tokens",
]

Report = Mapping[str, Any]
"""The report dict: run, models, variants, tasks, cells, summary, comparisons, errors, samples."""

Row = Mapping[str, Any]
"""One entry of a list in the report (a cell, a summary row, an error...)."""

FIRST_ERRORS = 5
"""How many errors Markdown and the terminal quote; the HTML page lists them all."""

FIRST_SAMPLES = 50
"""How many samples Markdown lists; the HTML page lists them all."""

OUTCOME_WORDS = {"pass": "pass", "fail": "fail", "no_attempt": "no attempt", "error": "error"}
"""A sample's outcome as the pages word it."""


def pass_k_header(report: Report) -> str | None:
    """`pass^3` for a run of 3 samples per task; None with one sample (pass^1 is the rate)."""
    k = report["run"]["samples"]
    return f"pass^{k}" if k >= 2 else None


def _stepped(report: Report) -> bool:
    """True when the run could take more than one step per sample."""
    return (report["run"].get("max_steps") or 1) > 1


def summary_header(report: Report) -> tuple[str, ...]:
    """The summary table's columns; pass^k only where the run took two samples or more, steps
    only where a sample could take more than one."""
    every = f"{pass_k} (every time)" if (pass_k := pass_k_header(report)) else None
    return tuple(
        name
        for name in (
            "model",
            "variant",
            "pass rate",
            "no attempt",
            "95% interval",
            every,
            "tasks",
            "steps (median)" if _stepped(report) else None,
            "tokens in → out",
            "cost",
            "p50 latency",
        )
        if name is not None
    )


def summary_numeric(report: Report) -> frozenset[int]:
    """The summary columns that hold numbers (right-aligned): all but the two names."""
    return frozenset(range(2, len(summary_header(report))))


# Values


def k_of_n(passes: int, samples: int, errors: int, no_attempts: int = 0) -> str:
    """Passes of counted samples, with those that made no attempt and the errored ones named:
    `1/3 (2 no attempt, 1 error)`."""
    named = [
        *([f"{no_attempts} no attempt"] if no_attempts else []),
        *([counted(errors, "error")] if errors else []),
    ]
    return f"{passes}/{samples}" + (f" ({', '.join(named)})" if named else "")


def steps(row: Row, max_steps: int | None) -> str:
    """The median steps a side's or a cell's samples took, and how many reached the limit:
    `2 (1 at --max-steps 8)`."""
    median = row.get("steps_p50")
    if median is None:
        return DASH
    hit = row.get("max_steps_hit") or 0
    return f"{median:g}" + (f" ({hit} at --max-steps {max_steps})" if hit else "")


def pass_k(row: Row) -> str:
    """A summary row's pass^k, with how many tasks it is over when some had too few samples."""
    value = percent(row.get("pass_k"))
    over = row.get("pass_k_tasks") or 0
    if row.get("pass_k") is not None and over < row["tasks"]:
        value += f" (over {over} of {counted(row['tasks'], 'task')})"
    return value


def pass_rate(row: Row) -> str:
    """A pass rate with its counts: `67% (2/3)`, `67% (2/3, 1 error)`."""
    errors = f", {counted(row['errors'], 'error')}" if row["errors"] else ""
    return f"{percent(row.get('rate'))} ({row['passes']}/{row['samples']}{errors})"


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
    if _stepped(report):
        facts.append(f"up to {run['max_steps']} steps per sample")
    evaluated = _when(run.get("evaluated_at"))
    if run.get("evaluation"):  # the run's own judging is evaluation 0: nothing to say
        facts.append(
            f"judged again by `redline recheck` (evaluation {run['evaluation']})"
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
        "Pass rates are means over tasks; their 95% intervals are over tasks (they speak for "
        "tasks like these), except for a side with one task, whose interval is over that "
        "task's samples and speaks for it alone. A sample passes when a check judged code it "
        "wrote and found nothing; one that wrote no code the checks could judge (no attempt) "
        "counts as not passed. A sample that errored was not judged and counts neither as a "
        "pass nor as a failure."
    ]
    if header := pass_k_header(report):
        lines.append(
            f"{header} is the chance that {report['run']['samples']} samples of a task all "
            "pass (estimated without bias per task, then averaged over tasks)."
        )
    if any(row.get("tokens_estimated") for row in report["summary"]):
        lines.append("~ marks token counts estimated with tiktoken: the upstream reported none.")
    if any(row.get("cost") is None for row in report["summary"]):
        lines.append(f"{DASH} for cost: the model has no prices configured.")
    return lines


def no_attempt_line(report: Report) -> str | None:
    """How many samples never wrote code the checks could judge, when any did not."""
    none = sum(row.get("no_attempts") or 0 for row in report["summary"])
    if not none:
        return None
    counted_ = sum(row["samples"] for row in report["summary"])
    verb = "was" if none == 1 else "were"
    return (
        f"{none} of {counted(counted_, 'sample')} never wrote code the checks could judge: "
        f"{'it' if none == 1 else 'they'} {verb} counted as no attempt, not passed."
    )


def summary_rows(report: Report) -> list[tuple[str, ...]]:
    """One row per model and variant, in summary_header's order."""
    every = pass_k_header(report) is not None
    stepped = _stepped(report)
    return [
        (
            row["model"],
            row["variant"],
            pass_rate(row),
            str(row.get("no_attempts") or 0),
            interval(row.get("interval")),
            *((pass_k(row),) if every else ()),
            str(row["tasks"]),
            *((steps(row, report["run"].get("max_steps")),) if stepped else ()),
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
            *(DASH if c is None else cell_text(c) for c in cells),
        )
        for task, model, first, cells in task_grid(report)
    ]


def cell_text(cell: Row) -> str:
    """A task grid cell: its passes of counted samples, no attempts and errors named."""
    return k_of_n(cell["passes"], cell["samples"], cell["errors"], cell.get("no_attempts") or 0)


def sample_head(sample: Row) -> str:
    """`task · model · variant · sample 2: no attempt`, with its findings and steps counted."""
    outcome = sample.get("outcome") or (
        "error" if sample.get("error") is not None else "pass" if sample.get("passed") else "fail"
    )
    found = sample.get("findings") or []
    taken = len(sample.get("steps") or ())
    return (
        f"{sample['task']} · {sample['model']} · {sample['variant']} · sample {sample['sample']}: "
        f"{OUTCOME_WORDS.get(outcome, outcome)}"
        + (f", {counted(len(found), 'finding')}" if found else "")
        + (f", {counted(taken, 'step')}" if taken > 1 else "")
    )


_SOURCES = {
    "transcript": "from the transcript",
    "workspace": "from the workspace",
    "unavailable": "not available",
    "invalid": "arguments not JSON",
}


def step_lines(sample: Row) -> list[str]:
    """Each step of a sample: its calls, what they asked and where their answers came from
    (`2. Read /repo/config.py: answered from the transcript (the same call, 312 bytes)`); then
    why it stopped and where it parted from the original."""
    lines = []
    for step in sample.get("steps") or ():
        calls = step.get("calls")
        if calls is None:
            continue  # stored before redline listed a step's calls
        said = "; ".join(_call_line(c) for c in calls) or "answered without a tool call"
        lines.append(f"{step['step']}. {said}")
    if sample.get("reason"):
        lines.append(f"No attempt: {sample['reason']}.")
    diverged = sample.get("diverged")
    if diverged:
        lines.append(f"Went its own way at step {diverged['step']}: {diverged['why']}.")
    elif sample.get("stop") not in (None, "error"):
        lines.append(
            "Its first step did what the original did; the original's later steps are not "
            "known to the task."
        )
    return lines


def _call_line(call: Row) -> str:
    asked = f"{call['tool']} {call.get('arguments') or ''}".strip()
    source = call.get("source")
    if source is None:
        return f"{asked} (not answered: the replay stops here)"
    how = [n for n in (call.get("note"), f"{call.get('size') or 0:,} bytes") if n]
    return f"{asked}: {_SOURCES.get(source, source)} ({', '.join(how)})"


def sample_lines(report: Report, limit: int = FIRST_SAMPLES) -> list[str]:
    """One line per sample, for Markdown: its head, why it made no attempt, and the calls of
    its steps with where their answers came from."""
    out = []
    for sample in report["samples"][:limit]:
        line = sample_head(sample)
        if sample.get("reason"):
            line += f" ({sample['reason']})"
        if len(sample.get("steps") or ()) > 1:
            calls = [t for t in step_lines(sample) if t[:1].isdigit()]
            line += ": " + " → ".join(calls)
        out.append(line)
    return out


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


def detectable_line(report: Report) -> str | None:
    """How large a difference a run of this size can show (None in a report saved before
    redline said so)."""
    detectable = report.get("detectable")
    return None if detectable is None else str(detectable["line"])


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
