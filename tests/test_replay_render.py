"""Report renderers: Markdown for posting, rich tables for the terminal, one HTML page.

Reports are built here as the plain dicts `redline report --format json` prints, from a few
parameters, so each test states only what it is about.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from rich.console import Console

from redline.replay.intervals import wilson
from redline.replay.numbers import percent
from redline.replay.render import render_markdown, render_table
from redline.replay.render_html import render_html

Key = tuple[str, str, str]  # task, model, variant

ONE_TASK = {
    ("swallowed-keyerror", "gpt-x", "baseline"): (0, 3),
    ("swallowed-keyerror", "gpt-x", "strict"): (3, 3),
}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def make_report(
    outcomes: Mapping[Key, tuple[int, int]] = ONE_TASK,
    *,
    errors: Mapping[Key, int] | None = None,
    estimated: bool = False,
    prices: bool = True,
    cached: int = 0,
) -> dict[str, Any]:
    """A report with a cell per (task, model, variant) -> (passes, judged samples).

    `errors` adds errored samples to cells; summaries pool each model and variant's cells;
    comparisons pair the variants within each model.
    """
    errors = errors or {}
    tasks = list(dict.fromkeys(t for t, _, _ in outcomes))
    models = list(dict.fromkeys(m for _, m, _ in outcomes))
    variants = list(dict.fromkeys(v for _, _, v in outcomes))
    cost = 0.0087 if prices else None
    cells: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    error_rows: list[dict[str, Any]] = []
    for (task, model, variant), (passes, judged) in outcomes.items():
        failed = errors.get((task, model, variant), 0)
        cells.append(
            {
                "task": task,
                "model": model,
                "variant": variant,
                "passes": passes,
                "samples": judged,
                "errors": failed,
                "rate": passes / judged if judged else None,
                "interval": [wilson(passes, judged).lo, wilson(passes, judged).hi]
                if judged
                else None,
                "pass_k": (1.0 if passes == judged else 0.0) if judged >= 3 else None,
                "from_cache": cached,
                "input_tokens": 3600,
                "output_tokens": 420,
                "tokens_estimated": estimated,
                "cost": cost,
                "latency_p50_ms": 812.0,
            }
        )
        for n in range(judged + failed):
            error = f"upstream answered 500 after 4 attempts (sample {n})" if n >= judged else None
            samples.append(
                {
                    "task": task,
                    "model": model,
                    "variant": variant,
                    "sample": n,
                    "passed": None if error else n < passes,
                    "error": error,
                    "text": "Here is the fix.",
                    "code": [],
                    "findings": [],
                }
            )
            if error:
                error_rows.append(
                    {"task": task, "model": model, "variant": variant, "sample": n, "error": error}
                )
    summary: list[dict[str, Any]] = []
    for model, variant in itertools.product(models, variants):
        mine = [c for c in cells if (c["model"], c["variant"]) == (model, variant)]
        rates = [c["rate"] for c in mine if c["rate"] is not None]
        rate = sum(rates) / len(rates) if rates else None
        summary.append(
            {
                "model": model,
                "variant": variant,
                "tasks": len(mine),
                "passes": sum(c["passes"] for c in mine),
                "samples": sum(c["samples"] for c in mine),
                "errors": sum(c["errors"] for c in mine),
                "rate": rate,
                "interval": None if rate is None else [max(0.0, rate - 0.3), min(1.0, rate + 0.3)],
                "interval_over": None
                if rate is None
                else "one task"
                if len(mine) == 1
                else "tasks",
                "pass_k": None if rate is None else sum(c["pass_k"] or 0 for c in mine) / len(mine),
                "pass_k_tasks": len(mine),
                "input_tokens": 3600 * len(mine),
                "output_tokens": 420 * len(mine),
                "tokens_estimated": estimated,
                "cost": None if cost is None else cost * len(mine),
                "latency_p50_ms": 812.0,
            }
        )
    comparisons = [
        {
            "kind": "variant",
            "a": a,
            "b": b,
            "within": model,
            "tasks": len(tasks),
            "wins_a": 0,
            "wins_b": 0,
            "ties": len(tasks),
            "mean_difference": None,
            "interval": None,
            "these_tasks": {"method": "exact stratified", "p_value": 1.0, "verdict": "these"},
            "tasks_like_these": {"method": "paired permutation", "p_value": 1.0, "verdict": "like"},
            "tasks_needed": None,
            "verdict": f"verdict for {a} against {b} on {model}",
        }
        for model in models
        for b, a in itertools.combinations(variants, 2)
    ]
    return {
        "run": {
            "id": "01JQ4RUN",
            "started_at": "2026-12-01T10:00:00+00:00",
            "finished_at": "2026-12-01T10:01:30+00:00",
            "status": "finished",
            "samples": 3,
            "temperature": 1.0,
            "evaluation": 0,
            "evaluated_at": "2026-12-01T10:01:30+00:00",
        },
        "models": [
            {
                "name": m,
                "wire": "openai-chat",
                "model": "gpt-5",
                "base_url": "https://api.openai.com/v1",
                "price_in": 1.25 if prices else None,
                "price_out": 10.0 if prices else None,
            }
            for m in models
        ],
        "variants": [
            {"name": v, "mode": None, "path": None, "sha256": None}
            if i == 0
            else {"name": v, "mode": "append", "path": "RULES.md", "sha256": "9f2c" * 16}
            for i, v in enumerate(variants)
        ],
        "tasks": [{"name": t, "checks": ["broad-except"], "losses": {}} for t in tasks],
        "cells": cells,
        "summary": summary,
        "comparisons": comparisons,
        "detectable": {"line": "With 1 task × 3 samples, no comparison can show a difference."},
        "errors": error_rows,
        "samples": samples,
    }


def table_text(report: Mapping[str, Any]) -> str:
    console = Console(file=io.StringIO(), width=120)
    render_table(report, console)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


class Page(HTMLParser):
    """Every tag of a page with its attributes, checking that elements close in order."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(text: str) -> Page:
    page = Page(text)
    assert page.open == []
    return page


# Markdown


def test_markdown_title_names_the_run_and_its_day() -> None:
    assert render_markdown(make_report()).startswith("# redline run 01JQ4RUN — 2026-12-01\n")


def test_markdown_prints_each_cells_passes_of_samples() -> None:
    text = render_markdown(make_report())
    assert "| swallowed-keyerror | broad-except | gpt-x | 0/3 | 3/3 |" in text


def test_markdown_prints_every_cell_of_every_task_model_and_variant() -> None:
    outcomes = {
        (t, m, v): (i % 4, 3 + i)
        for i, (t, m, v) in enumerate(
            itertools.product(["t1", "t2"], ["gpt-x", "claude-y"], ["baseline", "strict", "terse"])
        )
    }
    text = render_markdown(make_report(outcomes))
    for task, model in itertools.product(["t1", "t2"], ["gpt-x", "claude-y"]):
        counts = [
            f"{outcomes[task, model, v][0]}/{outcomes[task, model, v][1]}"
            for v in ("baseline", "strict", "terse")
        ]
        first = model == "gpt-x"
        lead = f"| {task} | broad-except |" if first else "|  |  |"
        assert f"{lead} {model} | {' | '.join(counts)} |" in text


def test_markdown_summary_gives_the_rate_with_its_counts_interval_and_pass_k() -> None:
    text = render_markdown(make_report())
    assert (
        "| gpt-x | baseline | 0% (0/3) | 0 | 0–30% | 0% | 1 | 3,600 → 420 | $0.0087 | 812ms |"
        in text
    )
    assert "| gpt-x | strict | 100% (3/3) | 0 | 70–100% | 100% |" in text
    assert (
        "| model | variant | pass rate | no attempt | 95% interval | pass^3 (every time) | tasks |"
        in text
    )


def test_markdown_says_how_to_read_intervals_and_pass_k() -> None:
    text = render_markdown(make_report())
    assert "their 95% intervals are over tasks (they speak for tasks like these)" in text
    assert "pass^3 is the chance that 3 samples of a task all pass" in text


def test_a_run_of_one_sample_has_no_pass_k_column() -> None:
    report = make_report()
    report["run"]["samples"] = 1
    assert "pass^" not in render_markdown(report)


def test_pass_k_over_fewer_tasks_than_the_row_says_so() -> None:
    report = make_report()
    report["summary"][0] |= {"tasks": 3, "pass_k_tasks": 2, "pass_k": 0.5}
    assert "| 50% (over 2 of 3 tasks) |" in render_markdown(report)


def test_every_format_prints_the_detectable_difference() -> None:
    line = "With 1 task × 3 samples, no comparison can show a difference."
    assert line in render_markdown(make_report())
    assert line in " ".join(table_text(make_report()).split())
    assert line in render_html(make_report())


def test_a_report_saved_before_the_detectable_line_still_renders() -> None:
    report = make_report()
    del report["detectable"]
    assert "With 1 task" not in render_markdown(report)


def test_markdown_lists_each_comparison_verdict_as_given() -> None:
    text = render_markdown(make_report())
    assert (
        "- **strict vs baseline (model gpt-x)**: verdict for strict against baseline on gpt-x"
        in text
    )


def test_markdown_names_errors_apart_from_failures() -> None:
    report = make_report(errors={("swallowed-keyerror", "gpt-x", "strict"): 1})
    text = render_markdown(report)
    assert "| gpt-x | 0/3 | 3/3 (1 error) |" in text
    assert "## Errors" in text
    assert "1 sample errored and was not judged." in text
    assert "swallowed-keyerror · gpt-x · strict · sample 3: upstream answered 500" in text


def test_markdown_quotes_only_the_first_few_errors() -> None:
    report = make_report(errors={("swallowed-keyerror", "gpt-x", "strict"): 8})
    text = render_markdown(report)
    errors = text[text.index("## Errors") : text.index("## Samples")]
    assert "8 samples errored and were not judged." in errors
    assert "sample 7:" in errors  # samples 3..7 are the first five errors
    assert "sample 8:" not in errors
    assert "- and 3 more" in errors


def test_markdown_has_no_errors_section_without_errors() -> None:
    assert "Errors" not in render_markdown(make_report())


def test_markdown_marks_estimated_token_counts_with_a_tilde() -> None:
    text = render_markdown(make_report(estimated=True))
    assert "~3,600 → ~420" in text
    assert "estimated with tiktoken" in text


def test_markdown_does_not_mark_counted_tokens() -> None:
    text = render_markdown(make_report(estimated=False))
    assert "~" not in text


def test_markdown_shows_a_dash_for_an_unknown_cost() -> None:
    text = render_markdown(make_report(prices=False))
    assert "| 3,600 → 420 | — | 812ms |" in text
    assert "no prices configured" in text


def test_markdown_shows_a_cell_whose_every_sample_errored() -> None:
    outcomes = {("t1", "gpt-x", "baseline"): (0, 0)}
    text = render_markdown(make_report(outcomes, errors={("t1", "gpt-x", "baseline"): 3}))
    assert "| gpt-x | baseline | — (0/0, 3 errors) | 0 | — |" in text
    assert "| t1 | broad-except | gpt-x | 0/0 (3 errors) |" in text


def test_markdown_lists_conversion_losses_per_task() -> None:
    report = make_report()
    report["tasks"][0]["losses"] = {"gpt-x": ["2 signed thinking blocks", "cache markers"]}
    text = render_markdown(report)
    assert "## Conversion losses" in text
    assert "- swallowed-keyerror → gpt-x: 2 signed thinking blocks, cache markers" in text


def test_markdown_has_no_losses_section_when_nothing_was_lost() -> None:
    report = make_report()
    report["tasks"][0]["losses"] = {"gpt-x": []}
    assert "Conversion losses" not in render_markdown(report)


def test_markdown_escapes_names_that_would_break_a_table() -> None:
    text = render_markdown(make_report({("t1", "a|b", "<b>x</b>"): (1, 2)}))
    assert r"| a\|b | \<b>x\</b> | 50% (1/2) |" in text
    assert not re.search(r"(?<!\\)<", text)  # no tag GitHub would render


def test_markdown_leaves_text_that_renders_as_itself_unescaped() -> None:
    report = make_report(
        {("t1", "gpt_4_mini", "baseline"): (0, 1), ("t1", "gpt_4_mini", "v2"): (1, 1)}
    )
    verdict = "v2 passes more often than baseline (sign test p<0.001) & ~3 more; see a\\b"
    report["comparisons"][0]["verdict"] = verdict
    assert f"**v2 vs baseline (model gpt_4_mini)**: {verdict}" in render_markdown(report)


def test_markdown_escapes_what_would_format_the_text() -> None:
    report = make_report()
    report["comparisons"][0]["verdict"] = "*a* _b_ x~y~ `c` [d](e) &amp; \\*"
    expected = r"\*a\* \_b\_ x\~y\~ \`c\` \[d\](e) \&amp; \\\*"
    assert f": {expected}\n" in render_markdown(report)


def test_markdown_reports_cached_samples() -> None:
    assert "2 of 6 samples replayed from the cache" in render_markdown(make_report(cached=1))


# Terminal


def test_html_says_what_each_summary_interval_is_over() -> None:
    one = render_html(make_report())
    assert "95% interval 0–30% over this task&#x27;s samples" in one
    two = make_report({("t1", "m", "a"): (1, 3), ("t2", "m", "a"): (2, 3)})
    assert "95% interval" in (page := render_html(two)) and "over tasks</div>" in page


def test_table_shows_the_summary_numbers() -> None:
    text = table_text(make_report())
    for value in ("0% (0/3)", "100% (3/3)", "0–30%", "70–100%", "3,600 → 420", "$0.0087", "812ms"):
        assert value in text


def test_table_prints_each_cells_passes_of_samples_and_errors() -> None:
    text = table_text(make_report(errors={("swallowed-keyerror", "gpt-x", "strict"): 1}))
    assert re.search(r"swallowed-keyerror .*gpt-x .*0/3 .*3/3 \(1 error\)", text)
    assert "1 sample errored and was not judged" in text


def test_table_prints_each_verdict() -> None:
    assert "verdict for strict against baseline on gpt-x" in table_text(make_report())


def test_table_prints_names_literally_instead_of_as_markup() -> None:
    text = table_text(make_report({("t1", "[bold]m[/bold]", "baseline"): (1, 1)}))
    assert "[bold]m[/bold]" in text


# HTML


def test_html_is_one_page_that_fetches_nothing() -> None:
    report = make_report()
    fetching = '<link rel=stylesheet href="https://cdn.example/x.css"><img src="http://x/y.png">'
    report["samples"][0]["text"] = fetching
    text = render_html(report)
    page = parse(text)
    assert page.named("link") == [] and page.named("script") == [] and page.named("img") == []
    for _, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action"):
            assert attrs.get(name) is None, (name, attrs)
    assert "url(" not in text and "@import" not in text
    assert "<style>" in text  # the page's look is inline


def test_html_chart_has_one_bar_per_model_and_variant() -> None:
    outcomes = {
        ("t1", m, v): (1, 2)
        for m, v in itertools.product(["gpt-x", "claude-y"], ["baseline", "strict", "terse"])
    }
    page = parse(render_html(make_report(outcomes)))
    assert len(page.named("svg")) == 1
    assert len([a for a in page.named("rect") if a.get("class") == "bar"]) == 6


def test_html_chart_bars_are_as_long_as_the_pass_rates() -> None:
    page = parse(render_html(make_report({("t1", "m", "a"): (1, 4), ("t1", "m", "b"): (3, 4)})))
    widths = [float(a["width"] or "") for a in page.named("rect") if a.get("class") == "bar"]
    assert widths[1] == 3 * widths[0]


def test_html_chart_draws_each_interval_as_an_error_bar() -> None:
    page = parse(render_html(make_report()))
    # one horizontal span and two caps per bar
    assert len([a for a in page.named("line") if a.get("class") == "ci"]) == 2 * 3


def test_html_chart_shows_a_row_with_nothing_judged_without_a_bar() -> None:
    outcomes = {("t1", "gpt-x", "baseline"): (0, 0), ("t1", "gpt-x", "strict"): (1, 1)}
    text = render_html(make_report(outcomes, errors={("t1", "gpt-x", "baseline"): 2}))
    assert "no judged samples" in text
    assert len([a for a in parse(text).named("rect") if a.get("class") == "bar"]) == 1


def test_html_prints_each_cells_passes_of_samples() -> None:
    text = render_html(make_report(errors={("swallowed-keyerror", "gpt-x", "strict"): 1}))
    assert '<span class="none">0/3</span>' in text
    assert '<span class="all">3/3 (1 error)</span>' in text


def test_html_lists_each_verdict() -> None:
    assert "verdict for strict against baseline on gpt-x" in render_html(make_report())


def test_html_escapes_hostile_model_output_and_findings() -> None:
    report = make_report()
    report["samples"][0] |= {
        "text": HOSTILE,
        "code": [{"path": "x.py", "language": "python", "code": HOSTILE, "first_line": 1}],
        "findings": [
            {
                "check": "broad-except",
                "path": "x.py",
                "line": 1,
                "message": HOSTILE,
                "snippet": HOSTILE,
            },
            {
                "check": "placeholder",
                "path": "y.py",
                "line": 9,
                "message": HOSTILE,
                "snippet": HOSTILE,
            },
        ],
    }
    text = render_html(report)
    page = parse(text)
    assert page.named("script") == [] and page.named("img") == []
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert text.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 5


def test_html_escapes_hostile_names_errors_and_verdicts() -> None:
    report = make_report(
        {(HOSTILE, HOSTILE, "baseline"): (0, 1)}, errors={(HOSTILE, HOSTILE, "baseline"): 1}
    )
    report["comparisons"] = [dict(make_report()["comparisons"][0], verdict=HOSTILE)]
    report["tasks"][0]["losses"] = {HOSTILE: [HOSTILE]}
    page = parse(render_html(report))
    assert page.named("script") == [] and page.named("img") == []


def test_html_marks_the_lines_that_findings_point_at() -> None:
    report = make_report()
    code = (
        "def load(p):\n    try:\n        return read(p)\n    except Exception:\n        return {}"
    )
    report["samples"][0] |= {
        "code": [{"path": "config.py", "language": "python", "code": code, "first_line": 10}],
        "findings": [
            {
                "check": "broad-except",
                "path": "config.py",
                "line": 13,
                "message": "m",
                "snippet": "s",
            }
        ],
    }
    hits = re.findall(
        r'<span class="line hit"[^>]*><span class="ln">(\d+)</span>([^<]*)', render_html(report)
    )
    assert hits == [("13", "    except Exception:")]


def test_html_shows_the_snippet_of_a_finding_outside_the_code_shown() -> None:
    report = make_report()
    report["samples"][0]["findings"] = [
        {
            "check": "broad-except",
            "path": "gone.py",
            "line": 4,
            "message": "m",
            "snippet": "except:  # here",
        }
    ]
    assert "<pre>except:  # here</pre>" in render_html(report)


def test_html_gives_each_sample_its_own_details_with_its_outcome() -> None:
    report = make_report(errors={("swallowed-keyerror", "gpt-x", "strict"): 1})
    page = parse(render_html(report))
    classes = [a.get("class") for a in page.named("details")]
    assert classes == ["failed"] * 3 + ["passed"] * 3 + ["error"]


# Outcomes and steps

READ = {
    "tool": "Read",
    "arguments": "/repo/config.py",
    "kind": "read",
    "source": "transcript",
    "size": 312,
    "error": False,
    "note": "the same call",
}
WRITE = {
    "tool": "Write",
    "arguments": "/repo/config.py",
    "kind": "edit",
    "source": None,
    "size": None,
    "error": None,
    "note": "",
}


def with_steps(report: dict[str, Any], no_attempts: int = 2) -> dict[str, Any]:
    """The strict variant's first samples made no attempt (a question); the baseline's first
    read the file, then wrote; the run allowed 8 steps."""
    report["run"]["max_steps"] = 8
    for row in (*report["cells"], *report["summary"]):
        strict = row["variant"] == "strict"
        row |= {
            "no_attempts": no_attempts if strict else 0,
            "steps_p50": 1.0 if strict else 2.0,
            "max_steps_hit": 0,
        }
        if strict:
            row["passes"] -= no_attempts
    for sample in report["samples"]:
        strict = sample["variant"] == "strict"
        made_no_attempt = strict and sample["sample"] < no_attempts
        sample |= {
            "outcome": "no_attempt" if made_no_attempt else "pass" if sample["passed"] else "fail",
            "stop": "ended" if strict else "edited",
            "reason": "ended its turn without writing code the checks could judge"
            if made_no_attempt
            else None,
            "diverged": None
            if strict
            else {"step": 1, "why": "read /repo/config.py (Read) where the original edited"},
            "steps": [{"step": 1, "calls": []}]
            if strict
            else [{"step": 1, "calls": [READ]}, {"step": 2, "calls": [WRITE]}],
        }
    return report


def test_a_cell_names_its_samples_that_made_no_attempt() -> None:
    text = render_markdown(with_steps(make_report()))
    assert "| gpt-x | 0/3 | 1/3 (2 no attempt) |" in text


def test_every_format_shows_the_no_attempts_in_a_column_and_a_line_under_it() -> None:
    report = with_steps(make_report())
    line = "2 of 6 samples never wrote code the checks could judge"
    md = render_markdown(report)
    assert "| gpt-x | strict | 100% (1/3) | 2 |" in md and line in md
    assert line in " ".join(table_text(report).split())
    html = render_html(report)
    assert line in html and "1/3 samples passed, 2 no attempt" in html


def test_the_summary_gives_median_steps_and_samples_at_the_limit() -> None:
    report = with_steps(make_report())
    report["summary"][0]["max_steps_hit"] = 1
    md = render_markdown(report)
    assert "steps (median)" in md and "| 2 (1 at --max-steps 8) |" in md
    assert "up to 8 steps per sample" in md
    plain = make_report()
    assert "steps (median)" not in render_markdown(plain)


def test_markdown_lists_each_samples_steps_with_where_their_answers_came_from() -> None:
    md = render_markdown(with_steps(make_report()))
    assert (
        "- swallowed-keyerror · gpt-x · baseline · sample 0: fail, 2 steps: 1. Read "
        "/repo/config.py: from the transcript (the same call, 312 bytes) → 2. Write "
        "/repo/config.py (not answered: the replay stops here)"
    ) in md
    assert (
        "- swallowed-keyerror · gpt-x · strict · sample 0: no attempt (ended its turn without "
        "writing code the checks could judge)"
    ) in md


def test_html_lists_a_samples_steps_why_it_made_no_attempt_and_where_it_parted() -> None:
    page = render_html(with_steps(make_report()))
    assert (
        '<ol class="steps"><li>Read /repo/config.py: from the transcript (the same call, 312 bytes)</li>'
        in page
    )
    assert "No attempt: ended its turn without writing code the checks could judge." in page
    assert (
        "Went its own way at step 1: read /repo/config.py (Read) where the original edited." in page
    )
    classes = [a.get("class") for a in parse(page).named("details")]
    assert classes == ["failed"] * 3 + ["no-attempt"] * 2 + ["passed"]


def test_the_runs_own_judging_is_not_called_an_evaluation() -> None:
    report = make_report()
    assert "evaluation" not in render_markdown(report)
    report["run"]["evaluation"] = 2
    assert "judged again by `redline recheck` (evaluation 2)" in render_markdown(report).replace(
        "\\", ""
    )


def test_a_report_saved_before_outcomes_and_steps_still_renders() -> None:
    report = make_report()
    for row in report["samples"]:
        assert "outcome" not in row and "steps" not in row
    md = render_markdown(report)
    assert "| gpt-x | 0/3 | 3/3 |" in md and "never wrote code" not in md


# Values


def test_percent_never_rounds_a_partial_rate_to_all_or_nothing() -> None:
    assert (percent(0.996), percent(0.004), percent(1.0), percent(0.0)) == (
        ">99%",
        "<1%",
        "100%",
        "0%",
    )


def test_percent_of_nothing_judged_is_a_dash() -> None:
    assert percent(None) == "—"
