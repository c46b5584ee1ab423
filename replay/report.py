"""A run's report: what `redline report` prints in every format, built from the store.

The report is plain JSON-compatible data (documented in docs/json.md): per task ×
model × variant the passes out of the judged samples with a Wilson interval; per model × variant
the pass rate over tasks with its interval, tokens, cost and median latency; paired comparisons
of each pair of variants within each model and each pair of models within each variant; the
errors apart (they are never counted as failures); every sample, for the HTML page and the web
view. Judged by the run's latest evaluation (`redline recheck` adds one).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations
from typing import Any

from redline.analyzers import extract
from redline.replay.stats import Cell, Interval, compare, summarize
from redline.transcripts import Store, message_from_dict


def _interval(i: Interval | None) -> list[float] | None:
    return None if i is None else [round(i.lo, 4), round(i.hi, 4)]


def _sum(values: Iterable[int | float | None]) -> int | float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _p50(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def _code(output: str | None) -> list[dict[str, Any]]:
    """The code a sample's answer wrote, for the report page."""
    if output is None:
        return []
    found = extract(message_from_dict(json.loads(output)))
    code = [
        {"path": e.path, "language": e.language, "code": e.after, "first_line": e.start_line or 1}
        for e in found.edits
    ]
    code += [
        {"path": b.path, "language": b.language, "code": b.code, "first_line": 1}
        for b in found.blocks
    ]
    return code


def _text(output: str | None) -> str:
    if output is None:
        return ""
    return message_from_dict(json.loads(output)).text


def build_report(store: Store, run_id: str) -> dict[str, Any]:
    runs = store.runs
    run = runs.run(run_id)
    evaluation = runs.evaluation(run_id)
    samples = runs.samples(run_id)
    verdicts = runs.verdicts(run_id, evaluation["evaluation"])
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    listed: list[dict[str, Any]] = []
    for s in samples:
        key = (s["task"], s["model"], s["variant"])
        verdict = verdicts.get((*key, s["sample"]))
        s["passed"] = None if verdict is None else verdict["passed"]
        groups[key].append(s)
        findings = []
        for v in json.loads(verdict["verdicts"]) if verdict else []:
            findings += [{"check": v["check"], **f} for f in v["findings"]]
        listed.append(
            {
                "task": s["task"],
                "model": s["model"],
                "variant": s["variant"],
                "sample": s["sample"],
                "passed": s["passed"],
                "error": s["error"],
                "from_cache": s["from_cache"],
                "text": _text(s["output"]),
                "code": _code(s["output"]),
                "findings": findings,
            }
        )
    cells, by_side = _cells(groups)
    summary = _summary(groups, by_side, run)
    return {
        "run": {
            "id": run["id"],
            "started_at": run["started_at"].isoformat(),
            "finished_at": None if run["finished_at"] is None else run["finished_at"].isoformat(),
            "status": run["status"],
            "samples": run["samples"],
            "temperature": run["temperature"],
            "evaluation": evaluation["evaluation"],
            "evaluated_at": evaluation["created_at"].isoformat(),
        },
        "models": run["models"],
        "variants": [
            {k: v[k] for k in ("name", "mode", "path", "sha256")} for v in run["variants"]
        ],
        "tasks": [
            {**t, "checks": evaluation["checks"].get(t["name"], t["checks"])} for t in run["tasks"]
        ],
        "cells": cells,
        "summary": summary,
        "comparisons": _comparisons(run, by_side),
        "errors": [
            {k: s[k] for k in ("task", "model", "variant", "sample", "error")}
            for s in samples
            if s["status"] == "error"
        ],
        "samples": listed,
    }


def _cells(
    groups: dict[tuple[str, str, str], list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, Cell]]]:
    """One cell per task × model × variant; and per (model, variant) the judged cells by task,
    for the statistics."""
    cells = []
    by_side: dict[tuple[str, str], dict[str, Cell]] = defaultdict(dict)
    for (task, model, variant), rows in sorted(groups.items()):
        judged = [r for r in rows if r["passed"] is not None]
        passes = sum(r["passed"] is True for r in judged)
        cell = Cell(passes, len(judged)) if judged else None
        if cell is not None:
            by_side[(model, variant)][task] = cell
        cells.append(
            {
                "task": task,
                "model": model,
                "variant": variant,
                "passes": passes,
                "samples": len(judged),
                "errors": len(rows) - len(judged),
                "rate": None if cell is None else round(cell.rate, 4),
                "interval": None if cell is None else _interval(cell.interval),
                "from_cache": sum(bool(r["from_cache"]) for r in rows),
                **_costs(rows),
            }
        )
    return cells, by_side


def _costs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "input_tokens": _sum(r["input_tokens"] for r in rows),
        "output_tokens": _sum(r["output_tokens"] for r in rows),
        "tokens_estimated": any(bool(r["tokens_estimated"]) for r in rows),
        "cost": None if (c := _sum(r["cost"] for r in rows)) is None else round(c, 6),
        "latency_p50_ms": _p50(r["latency_ms"] for r in rows if not r["from_cache"]),
    }


def _summary(
    groups: dict[tuple[str, str, str], list[dict[str, Any]]],
    by_side: dict[tuple[str, str], dict[str, Cell]],
    run: dict[str, Any],
) -> list[dict[str, Any]]:
    out = []
    for model in (m["name"] for m in run["models"]):
        for variant in (v["name"] for v in run["variants"]):
            rows = [r for (_, m, v), rs in groups.items() if (m, v) == (model, variant) for r in rs]
            cells = by_side.get((model, variant), {})
            judged = summarize(cells.values()) if cells else None
            out.append(
                {
                    "model": model,
                    "variant": variant,
                    "tasks": len({t for (t, m, v) in groups if (m, v) == (model, variant)}),
                    "passes": 0 if judged is None else judged.passes,
                    "samples": 0 if judged is None else judged.samples,
                    "errors": sum(r["status"] == "error" for r in rows),
                    "rate": None if judged is None else round(judged.rate, 4),
                    "interval": None if judged is None else _interval(judged.interval),
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
    c = compare(cells_a, cells_b, label_a=a, label_b=b)
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
        "p_value": None if c.p_value is None else round(c.p_value, 6),
        "method": c.method,
        "verdict": c.verdict,
    }


__all__ = ["build_report"]
