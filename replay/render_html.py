"""The report of a replay run as one self-contained HTML page.

The page fetches nothing: its CSS is inline, its chart is SVG drawn here, it has no script,
and a Content-Security-Policy says so to the browser, so it can be mailed, archived and
opened offline. Model outputs are untrusted text that may well hold `<script>`; every value
taken from the report goes through html.escape, names and numbers as much as outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from redline.replay.numbers import DASH, counted, interval, percent
from redline.replay.report_view import (
    OUTCOME_WORDS,
    Report,
    Row,
    cell_text,
    comparison_lines,
    detectable_line,
    error_line,
    errors_heading,
    latency,
    loss_rows,
    money,
    no_attempt_line,
    notes,
    pass_k,
    pass_k_header,
    pass_rate,
    run_facts,
    setup_lines,
    step_lines,
    steps,
    task_grid,
    task_header,
    title,
    tokens,
)

__all__ = ["render_html"]

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;
  color: #1d1d1f; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #d0d0d5; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f6; }
.muted, .notes { color: #666; font-size: .9em; }
.rate { font-size: 1.2em; font-weight: 600; }
.all { background: #e3f4e1; } .some { background: #fdf3d7; } .none { background: #fbe3e1; }
.chart .bar { fill: #4a7bd0; } .chart .ci { stroke: #1d1d1f; stroke-width: 1.5; }
.chart .grid { stroke: #ddd; } .chart text { font-size: 12px; fill: #1d1d1f; }
details { border: 1px solid #d0d0d5; border-radius: 4px; margin: .4em 0; padding: .3em .6em; }
summary { cursor: pointer; }
.passed summary b { color: #1f7a1f; } .failed summary b { color: #b3261e; }
.error summary b { color: #8a5a00; } .no-attempt summary b { color: #5a4a8a; }
ol.steps { margin: .3em 0; padding-left: 1.6em; }
pre { background: #f7f7f9; padding: .5em; overflow-x: auto; white-space: pre; margin: .3em 0; }
pre.text { white-space: pre-wrap; }
.line { display: block; } .line.hit { background: #ffd9d6; }
.ln { display: inline-block; width: 3.5em; color: #999; user-select: none; }
figure { margin: .5em 0; } figcaption { font-family: monospace; color: #444; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'"
"""Nothing but the inline style may load or run, should escaping ever miss something."""

LABEL_W, PLOT_W, VALUE_W = 240, 480, 56
ROW_H, BAR_H, TOP, AXIS_H = 26, 16, 8, 24
LABEL_CHARS = 36


def e(value: object) -> str:
    return escape(str(value))


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def _shade(row: Row | None) -> str:
    """A class for a cell's outcome: all passed, none, some, or nothing judged."""
    if row is None or not row["samples"]:
        return ""
    return "all" if row["passes"] == row["samples"] else "none" if not row["passes"] else "some"


def _summary_cell(s: Row, every: str | None, max_steps: int | None) -> str:
    """Rate, counts, interval and pass^k of one model and variant, then what it cost."""
    counts = f"{s['passes']}/{s['samples']} samples passed"
    if s.get("no_attempts"):
        counts += f", {s['no_attempts']} no attempt"
    if s["errors"]:
        counts += f", {counted(s['errors'], 'error')}"
    over = "this task's samples" if s.get("interval_over") == "one task" else "tasks"
    lines = [
        f'<div class="rate">{e(percent(s.get("rate")))}</div>',
        f"<div>{e(counts)} · {e(counted(s['tasks'], 'task'))}</div>",
        f'<div class="muted">95% interval {e(interval(s.get("interval")))} over {e(over)}</div>',
        *([f'<div class="muted">{e(every)} {e(pass_k(s))}</div>'] if every else []),
        *(
            [f'<div class="muted">steps: median {e(steps(s, max_steps))}</div>']
            if (max_steps or 1) > 1
            else []
        ),
        f'<div class="muted">tokens {e(tokens(s))} · {e(money(s.get("cost")))} · '
        f"p50 {e(latency(s.get('latency_p50_ms')))}</div>",
    ]
    return "".join(lines)


def _summary_grid(report: Report) -> str:
    """Models down, variants across."""
    summary = {(s["model"], s["variant"]): s for s in report["summary"]}
    variants = [v["name"] for v in report["variants"]]
    every = pass_k_header(report)
    rows = [
        [
            f"<b>{e(m['name'])}</b>",
            *(
                DASH
                if (s := summary.get((m["name"], v))) is None
                else _summary_cell(s, every, report["run"].get("max_steps"))
                for v in variants
            ),
        ]
        for m in report["models"]
    ]
    return _table(["model", *(e(v) for v in variants)], rows)


def _chart(report: Report) -> str:
    """A horizontal bar per model × variant, its 95% interval as an error bar, axis 0–100%."""
    rows = report["summary"]
    height = TOP + ROW_H * len(rows) + AXIS_H
    width = LABEL_W + PLOT_W + VALUE_W
    bottom = TOP + ROW_H * len(rows)

    def x(rate: float) -> str:
        return f"{LABEL_W + PLOT_W * rate:.1f}"

    out = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="Pass rate per model and variant with 95% intervals">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        out.append(f'<line class="grid" x1="{x(tick)}" y1="{TOP}" x2="{x(tick)}" y2="{bottom}"/>')
        out.append(
            f'<text x="{x(tick)}" y="{bottom + 16}" text-anchor="middle">{tick * 100:.0f}%</text>'
        )
    for i, row in enumerate(rows):
        top = TOP + ROW_H * i
        mid = top + ROW_H / 2
        label = f"{row['model']} · {row['variant']}"
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        out.append(
            f'<text x="{LABEL_W - 8}" y="{mid}" text-anchor="end" dominant-baseline="middle">'
            f"<title>{e(label)}</title>{e(short)}</text>"
        )
        rate = row.get("rate")
        if rate is None:
            out.append(
                f'<text x="{LABEL_W + 4}" y="{mid}" dominant-baseline="middle">'
                "no judged samples</text>"
            )
            continue
        out.append(
            f'<rect class="bar" x="{LABEL_W}" y="{top + (ROW_H - BAR_H) / 2}" '
            f'width="{PLOT_W * rate:.1f}" height="{BAR_H}"><title>{e(label)}: '
            f"{e(pass_rate(row))}, 95% interval {e(interval(row.get('interval')))}</title></rect>"
        )
        if row.get("interval") is not None:
            lo, hi = row["interval"]
            out.append(f'<line class="ci" x1="{x(lo)}" y1="{mid}" x2="{x(hi)}" y2="{mid}"/>')
            for end in (lo, hi):
                out.append(
                    f'<line class="ci" x1="{x(end)}" y1="{mid - 5}" x2="{x(end)}" y2="{mid + 5}"/>'
                )
        out.append(
            f'<text x="{LABEL_W + PLOT_W + 8}" y="{mid}" dominant-baseline="middle">'
            f"{e(percent(rate))}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _task_table(report: Report) -> str:
    """The task grid, each cell shaded by whether all, some or none of its samples passed."""
    rows = []
    for task, model, first, cells in task_grid(report):
        row = [
            f"<b>{e(task['name'])}</b>" if first else "",
            e(", ".join(task["checks"])) if first else "",
            e(model),
        ]
        for c in cells:
            text = DASH if c is None else e(cell_text(c))
            row.append(f'<span class="{shade}">{text}</span>' if (shade := _shade(c)) else text)
        rows.append(row)
    return _table((e(h) for h in task_header(report)), rows)


def _hits(block: Row, findings: list[Row]) -> dict[int, list[str]]:
    """The lines of one file of code that findings point at, with what each finding says."""
    first = block.get("first_line") or 1
    last = first + str(block["code"]).count("\n")
    hits: dict[int, list[str]] = {}
    for f in findings:
        line = f.get("line")
        if f.get("path") == block.get("path") and line is not None and first <= line <= last:
            hits.setdefault(line, []).append(f"{f['check']}: {f['message']}")
    return hits


def _code(block: Row, findings: list[Row]) -> str:
    """One file of a sample's output, numbered, the lines a finding points at marked."""
    hits = _hits(block, findings)
    lines = []
    numbered = enumerate(str(block["code"]).split("\n"), start=block.get("first_line") or 1)
    for number, text in numbered:
        if number in hits:
            opening = f'<span class="line hit" title="{e(" / ".join(hits[number]))}">'
        else:
            opening = '<span class="line">'
        lines.append(f'{opening}<span class="ln">{number}</span>{e(text)}</span>')
    caption = f"{block.get('path') or '(no path)'} ({block.get('language') or 'text'})"
    return f"<figure><figcaption>{e(caption)}</figcaption><pre>{''.join(lines)}</pre></figure>"


_CLASSES = {"pass": "passed", "fail": "failed", "no_attempt": "no-attempt", "error": "error"}


def _sample(sample: Row) -> str:
    """One sample, folded: its outcome in the summary line; its steps with where their answers
    came from, findings, code and text inside."""
    outcome = sample.get("outcome") or (
        "error" if sample.get("error") is not None else "pass" if sample.get("passed") else "fail"
    )
    findings, code = sample.get("findings") or [], sample.get("code") or []
    taken = len(sample.get("steps") or ())
    head = (
        f"{e(sample['model'])} · {e(sample['variant'])} · sample {e(sample['sample'])}: "
        f"<b>{e(OUTCOME_WORDS.get(outcome, outcome))}</b>"
        + (f", {counted(len(findings), 'finding')}" if findings else "")
        + (f", {counted(taken, 'step')}" if taken > 1 else "")
    )
    out = [f'<details class="{_CLASSES.get(outcome, "")}"><summary>{head}</summary>']
    if sample.get("error") is not None:
        out.append(f'<pre class="text">{e(sample["error"])}</pre>')
    lines = step_lines(sample)
    listed = [line.split(". ", 1)[1] for line in lines if line[:1].isdigit()]
    if listed:
        out.append('<ol class="steps">' + "".join(f"<li>{e(x)}</li>" for x in listed) + "</ol>")
    out += [f'<p class="muted">{e(line)}</p>' for line in lines if not line[:1].isdigit()]
    for f in findings:
        where = f"{f.get('path') or ''}:{f['line']}" if f.get("line") is not None else ""
        out.append(f"<p><b>{e(f['check'])}</b> {e(where)} {e(f['message'])}</p>")
        # Its snippet stands in for code the page does not show (a deleted file, say).
        if f.get("snippet") and not any(_hits(block, [f]) for block in code):
            out.append(f"<pre>{e(f['snippet'])}</pre>")
    out += [_code(block, findings) for block in code]
    if sample.get("text"):
        out.append(
            f'<p class="muted">The answer\'s text:</p><pre class="text">{e(sample["text"])}</pre>'
        )
    out.append("</details>")
    return "\n".join(out)


def _samples(report: Report) -> str:
    """Every sample under its task's heading, in the report's order."""
    by_task: dict[str, list[Row]] = {}
    for sample in report["samples"]:
        by_task.setdefault(sample["task"], []).append(sample)
    out = []
    for task, samples in by_task.items():
        out.append(f"<h3>{e(task)}</h3>")
        out += [_sample(sample) for sample in samples]
    return "\n".join(out)


def render_html(report: Report) -> str:
    """The whole report as one page, down to every sample's output and findings."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title(report))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title(report))}</h1>",
        f"<p>{e('; '.join(run_facts(report)))}.</p>",
        "<ul>" + "".join(f"<li>{e(line)}</li>" for line in setup_lines(report)) + "</ul>",
        "<h2>Summary</h2>",
        _summary_grid(report),
        *([f"<p><b>{e(none)}</b></p>"] if (none := no_attempt_line(report)) else []),
        _chart(report),
        *(f'<p class="notes">{e(note)}</p>' for note in notes(report)),
        "<h2>Per task</h2>",
        _task_table(report),
    ]
    if report["comparisons"]:
        out.append("<h2>Comparisons</h2><ul>")
        out += [f"<li><b>{e(p)}</b>: {e(v)}</li>" for p, v in comparison_lines(report)]
        out.append("</ul>")
    if line := detectable_line(report):
        out.append(f'<p class="notes">{e(line)}</p>')
    if losses := loss_rows(report):
        out += [
            "<h2>Conversion losses</h2>",
            _table(
                ["task", "model", "not carried over"], ([e(cell) for cell in row] for row in losses)
            ),
        ]
    if report["errors"]:
        out.append(f"<h2>Errors</h2><p>{e(errors_heading(report))}.</p><ul>")
        out += [f"<li>{e(error_line(error, limit=2000))}</li>" for error in report["errors"]]
        out.append("</ul>")
    if report["samples"]:
        out += ["<h2>Samples</h2>", _samples(report)]
    out.append("</body></html>")
    return "\n".join(out) + "\n"
