"""A run's report: what `redline report` prints in every format, built from the store.

The report is plain JSON-compatible data (documented in docs/json.md): per task × model ×
variant the passes out of the counted samples with a Wilson interval and pass^k, the samples
that made no attempt, the median steps and how many reached the step limit; per model ×
variant the pass rate over tasks with its interval, pass^k, tokens, cost and median latency;
paired comparisons of each pair of variants within each model and each pair of models within
each variant, each answering "on these tasks" and "on tasks like these"; the smallest
difference a run of this size can detect; the errors apart (they are never counted as
failures); every sample with its outcome and its steps, for the HTML page and the web view.
Judged by the run's latest evaluation (`redline recheck` adds one). The statistics are
redline.replay.stats'.

A sample's outcome is stored with its verdicts; one judged before outcomes were is worked out
from its stored verdicts and answer (a verdict that does not say what it judged counts when the
answer wrote code), so old runs report as new ones do.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations
from typing import Any

from redline.analyzers import Context, judgement, verdict_from_dict
from redline.replay.intervals import Interval
from redline.replay.outputs import code_of, findings, ran
from redline.replay.power import Spread, detectable, spread_of
from redline.replay.stats import Cell, Comparison, Outcome, compare, pass_hat_k, summarize
from redline.transcripts import Message, Store, message_from_dict

Sides = dict[tuple[str, str], dict[str, Cell]]
"""Per (model, variant), its cells by task: what the statistics take."""


def _interval(i: Interval | None) -> list[float] | None:
    return None if i is None else [round(i.lo, 4), round(i.hi, 4)]


def _sum(values: Iterable[int | float | None]) -> int | float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _p50(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def _message(output: str | None) -> Message | None:
    return None if output is None else message_from_dict(json.loads(output))


Groups = dict[tuple[str, str, str], list[dict[str, Any]]]
"""A run's stored samples by (task, model, variant), each with its verdict and outcome."""


def _contexts(store: Store, tasks: Iterable[str]) -> dict[str, Context]:
    """Each task's request as the checks read it, as far as the store still has the task: where
    a sample's edits sit in their files (`code_of`). A removed task's samples show their code
    from line 1."""
    kept = store.task_names()
    return {
        name: Context(store.task(name).request if name in kept else None) for name in set(tasks)
    }


def _judged(store: Store, run_id: str, evaluation: int) -> Groups:
    """The run's samples judged by one of its evaluations, grouped by cell."""
    runs = store.runs
    verdicts = runs.verdicts(run_id, evaluation)
    groups: Groups = defaultdict(list)
    for s in runs.samples(run_id):
        key = (s["task"], s["model"], s["variant"])
        s["verdict"] = verdicts.get((*key, s["sample"]))
        s["outcome"] = _outcome(s)
        groups[key].append(s)
    return groups


def sides_of(store: Store, run_id: str, tasks: Iterable[str] | None = None) -> Sides:
    """A run's counted cells per side (model, variant), by task, judged by its latest
    evaluation; only `tasks` when given. What earlier runs say about these tasks' spread."""
    wanted = None if tasks is None else set(tasks)
    groups = _judged(store, run_id, store.runs.evaluation(run_id)["evaluation"])
    sides: Sides = defaultdict(dict)
    for (task, model, variant), rows in groups.items():
        if (wanted is None or task in wanted) and (cell := Cell.of(r["outcome"] for r in rows)):
            sides[(model, variant)][task] = cell
    return dict(sides)


def build_report(store: Store, run_id: str) -> dict[str, Any]:
    """The report of a run, judged by its latest evaluation."""
    runs = store.runs
    run = runs.run(run_id)
    evaluation = runs.evaluation(run_id)
    groups = _judged(store, run_id, evaluation["evaluation"])
    samples = [s for rows in groups.values() for s in rows]
    steps = runs.steps(run_id)
    contexts = _contexts(store, (s["task"] for s in samples))
    listed: list[dict[str, Any]] = []
    for s in samples:
        verdict, message = s["verdict"], _message(s["output"])
        taken = steps.get((s["task"], s["model"], s["variant"], s["sample"]), [])
        listed.append(
            {
                "task": s["task"],
                "model": s["model"],
                "variant": s["variant"],
                "sample": s["sample"],
                "outcome": s["outcome"],
                "passed": None if s["outcome"] == "error" else s["outcome"] == "pass",
                "error": s["error"],
                "from_cache": s["from_cache"],
                "stop": s["stop"],
                "reason": no_attempt_reason(s, taken, run["max_steps"])
                if s["outcome"] == "no_attempt"
                else None,
                "diverged": None if s["diverged"] is None else {"step": 1, "why": s["diverged"]},
                "steps": [_step(step) for step in taken],
                "text": "" if message is None else message.text,
                "code": [] if message is None else code_of(message, contexts[s["task"]]),
                "findings": findings(json.loads(verdict["verdicts"])) if verdict else [],
                "ran": ran(json.loads(verdict["verdicts"])) if verdict else [],
            }
        )
    k = run["samples"]
    cells, by_side = _cells(groups, k)
    summary = _summary(groups, by_side, run, k)
    return {
        "run": {
            "id": run["id"],
            "started_at": run["started_at"].isoformat(),
            "finished_at": None if run["finished_at"] is None else run["finished_at"].isoformat(),
            "status": run["status"],
            "samples": run["samples"],
            "temperature": run["temperature"],
            "max_steps": run["max_steps"],
            "evaluation": evaluation["evaluation"],
            "evaluated_at": evaluation["created_at"].isoformat(),
        },
        "models": run["models"],
        "variants": [
            {k: v[k] for k in ("name", "mode", "path", "sha256")} for v in run["variants"]
        ],
        "tasks": [
            {
                **t,
                "checks": evaluation["checks"].get(t["name"], t["checks"]),
                "workspace": t.get("workspace"),  # runs before workspaces have none
            }
            for t in run["tasks"]
        ],
        "cells": cells,
        "summary": summary,
        "comparisons": _comparisons(run, by_side),
        "detectable": _detectable(len(run["tasks"]), k, spread_of([by_side], "this run")),
        "errors": [
            {k: s[k] for k in ("task", "model", "variant", "sample", "error")}
            for s in samples
            if s["status"] == "error"
        ],
        "samples": listed,
    }


def _outcome(sample: dict[str, Any]) -> Outcome:
    """A stored sample's outcome: an error (a sample without a verdict was not judged and
    counts nowhere, as an error), else its verdicts' outcome, stored or worked out."""
    verdict = sample["verdict"]
    if sample["status"] == "error" or verdict is None or sample["output"] is None:
        return "error"
    stored: Outcome | None = verdict.get("outcome")
    if stored is not None:
        return stored
    if not verdict["passed"]:
        return "fail"
    judged = [verdict_from_dict(v) for v in json.loads(verdict["verdicts"])]
    message = message_from_dict(json.loads(sample["output"]))
    return judgement(judged, message, cut_off=bool(sample["cut_off"]))


def _step(row: dict[str, Any]) -> dict[str, Any]:
    """One step of a sample as the report lists it: its calls and where their answers came
    from (None for a step stored before redline listed them), its finish and its tokens."""
    return {
        "step": row["step"],
        "calls": None if row["calls"] is None else json.loads(row["calls"]),
        "finish_reason": row["finish_reason"],
        "error": row["error"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "from_cache": row["from_cache"],
    }


def no_attempt_reason(
    sample: dict[str, Any], steps: list[dict[str, Any]], max_steps: int | None
) -> str:
    """Why a sample made no attempt, in a sentence: how its steps ended."""
    taken = len(steps)
    after = f" after {taken} steps" if taken > 1 else ""
    stop = sample["stop"]
    if stop == "max_steps":
        asked = [
            [(c["tool"], c["arguments"]) for c in json.loads(r["calls"] or "[]")] for r in steps
        ]
        again = ""
        if taken > 1 and asked[0] and all(a == asked[0] for a in asked):
            again = f", making the same {', '.join(t for t, _ in asked[0])} call at every step"
        return f"reached --max-steps {max_steps} without writing code the checks could judge{again}"
    if stop == "cut_off":
        return f"was cut off{after} before writing code the checks could judge"
    if stop == "edited":
        return f"its edits{after} hold no code the checks could judge"
    if stop == "ended":
        return f"ended its turn{after} without writing code the checks could judge"
    return "wrote no code the checks could judge"


def _cells(
    groups: dict[tuple[str, str, str], list[dict[str, Any]]], k: int
) -> tuple[list[dict[str, Any]], Sides]:
    """One cell per task × model × variant; and per (model, variant) the counted cells by
    task, for the statistics."""
    cells = []
    by_side: Sides = defaultdict(dict)
    for (task, model, variant), rows in sorted(groups.items()):
        cell = Cell.of(r["outcome"] for r in rows)
        if cell is not None:
            by_side[(model, variant)][task] = cell
        counted = 0 if cell is None else cell.samples
        cells.append(
            {
                "task": task,
                "model": model,
                "variant": variant,
                "passes": 0 if cell is None else cell.passes,
                "samples": counted,
                "no_attempts": _no_attempts(rows),
                "errors": len(rows) - counted,
                "rate": None if cell is None else round(cell.rate, 4),
                "interval": None if cell is None else _interval(cell.interval),
                "pass_k": None if cell is None or k < 2 else _round(cell.pass_hat(k)),
                "from_cache": sum(bool(r["from_cache"]) for r in rows),
                **_costs(rows),
            }
        )
    return cells, by_side


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _no_attempts(rows: list[dict[str, Any]]) -> int:
    return sum(r["outcome"] == "no_attempt" for r in rows)


def _costs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens, cost and latency of these samples, their steps', and the steps they took. A
    sample from the cache counts what its answers cost and how long they took when sent."""
    taken = [r["steps"] for r in rows if r["outcome"] != "error" and r["steps"]]
    return {
        "input_tokens": _sum(r["input_tokens"] for r in rows),
        "output_tokens": _sum(r["output_tokens"] for r in rows),
        "tokens_estimated": any(bool(r["tokens_estimated"]) for r in rows),
        "cost": None if (c := _sum(r["cost"] for r in rows)) is None else round(c, 6),
        "latency_p50_ms": _p50(r["latency_ms"] for r in rows),
        "steps_p50": _p50(taken),
        "max_steps_hit": sum(r["stop"] == "max_steps" for r in rows),
    }


def _summary(
    groups: dict[tuple[str, str, str], list[dict[str, Any]]],
    by_side: Sides,
    run: dict[str, Any],
    k: int,
) -> list[dict[str, Any]]:
    out = []
    for model in (m["name"] for m in run["models"]):
        for variant in (v["name"] for v in run["variants"]):
            rows = [r for (_, m, v), rs in groups.items() if (m, v) == (model, variant) for r in rs]
            cells = by_side.get((model, variant), {})
            judged = summarize(cells.values()) if cells else None
            hat, over = pass_hat_k(cells.values(), k) if k >= 2 else (None, 0)
            out.append(
                {
                    "model": model,
                    "variant": variant,
                    "tasks": len({t for (t, m, v) in groups if (m, v) == (model, variant)}),
                    "passes": 0 if judged is None else judged.passes,
                    "samples": 0 if judged is None else judged.samples,
                    "no_attempts": _no_attempts(rows),
                    "errors": sum(r["outcome"] == "error" for r in rows),
                    "rate": None if judged is None else round(judged.rate, 4),
                    "interval": None if judged is None else _interval(judged.interval),
                    "interval_over": None
                    if judged is None
                    else "one task"
                    if judged.one_task
                    else "tasks",
                    "pass_k": _round(hat),
                    "pass_k_tasks": over,
                    **_costs(rows),
                }
            )
    return out


def _comparisons(
    run: dict[str, Any], by_side: dict[tuple[str, str], dict[str, Cell]]
) -> list[dict[str, Any]]:
    models = [m["name"] for m in run["models"]]
    variants = [v["name"] for v in run["variants"]]
    out = []
    for model in models:
        # Each variant against the baseline first, then the variants against each other.
        for b, a in combinations(variants, 2):
            out.append(_compare("variant", a, b, model, by_side[(model, a)], by_side[(model, b)]))
    for variant in variants:
        for a, b in combinations(models, 2):
            out.append(
                _compare("model", a, b, variant, by_side[(a, variant)], by_side[(b, variant)])
            )
    return out


def _compare(
    kind: str, a: str, b: str, within: str, cells_a: dict[str, Cell], cells_b: dict[str, Cell]
) -> dict[str, Any]:
    c: Comparison = compare(cells_a, cells_b, label_a=a, label_b=b)
    return {
        "kind": kind,
        "a": a,
        "b": b,
        "within": within,
        "tasks": len(c.tasks),
        "wins_a": c.wins_a,
        "wins_b": c.wins_b,
        "ties": c.ties,
        "mean_difference": None if c.mean_difference is None else round(c.mean_difference, 4),
        "interval": _interval(c.interval),
        "these_tasks": _answer(c.these_tasks),
        "tasks_like_these": _answer(c.like_these),
        "tasks_needed": c.tasks_needed,
        "verdict": c.verdict,
    }


def _answer(answer: Any) -> dict[str, Any]:
    p = answer.p_value
    return {
        "method": answer.method,
        "p_value": None if p is None else round(p, 6),
        "verdict": answer.verdict,
    }


def _detectable(tasks: int, samples: int, spread: Spread) -> dict[str, Any]:
    """The smallest difference in pass rate a comparison of a run this size detects."""
    return detectable(max(tasks, 1), max(samples, 1), spread).to_json()


__all__ = ["Sides", "build_report", "sides_of"]
