"""Replay runs in the store: the run, its samples and their steps as they finish, verdicts per
evaluation.

Steps are written as they are answered and samples as they finish, so an interrupted run keeps
every one that did; the steps table is also the replay cache: a request sent before (same
endpoint, body and sample index) has its answer there, and so does every later step of a
sample that started with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from redline.errors import NotFound
from redline.transcripts.store import bulk
from redline.transcripts.store.db import write
from redline.transcripts.store.queries import records

# What a step says of its answer: a later run sending the same request copies these (its cost
# it takes from the model's prices then).
ANSWER_COLUMNS = (
    "http_status",
    "attempts",
    "output",
    "finish_reason",
    "cut_off",
    "raw",
    "input_tokens",
    "output_tokens",
    "tokens_estimated",
    "latency_ms",
)
_WHERE = ("run_id", "task", "model", "variant", "sample")
STEP_COLUMNS = (
    *_WHERE,
    "step",
    "request_key",
    "created_at",
    "status",
    "error",
    *ANSWER_COLUMNS,
    "cost",
    "from_cache",
    "calls",
)
SAMPLE_COLUMNS = (
    *_WHERE,
    "request_key",
    "created_at",
    "status",
    "error",
    *ANSWER_COLUMNS,
    "cost",
    "from_cache",
    "steps",
    "stop",
    "diverged",
)
VERDICT_COLUMNS = (
    "run_id",
    "evaluation",
    "task",
    "model",
    "variant",
    "sample",
    "passed",
    "outcome",
    "verdicts",
)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as `redline runs` lists it."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    samples: int
    tasks: list[str]
    models: list[str]
    variants: list[str]
    sent: int
    errors: int
    from_cache: int
    evaluations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "status": self.status,
            "samples": self.samples,
            "tasks": self.tasks,
            "models": self.models,
            "variants": self.variants,
            "results": self.sent,
            "errors": self.errors,
            "from_cache": self.from_cache,
            "evaluations": self.evaluations,
        }


@dataclass(frozen=True, slots=True)
class LastRunCell:
    """A task's result under one model and variant of a run."""

    model: str
    variant: str
    passes: int
    judged: int  # samples counted (an error is not): passes, failures and no attempts
    no_attempts: int  # of those, answers that wrote no code a check could judge

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "variant": self.variant,
            "passes": self.passes,
            "judged": self.judged,
            "no_attempts": self.no_attempts,
        }


@dataclass(frozen=True, slots=True)
class LastRun:
    """A task's result in the latest run that replayed it: one cell per model and variant, in
    the run's order."""

    run: str
    started_at: datetime
    cells: tuple[LastRunCell, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "started_at": self.started_at.isoformat(),
            "cells": [c.to_json() for c in self.cells],
        }


class RunStore:
    """The runs of one open store (`Store.runs`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def create(
        self,
        run_id: str,
        *,
        samples: int,
        temperature: float | None,
        tasks: list[dict[str, Any]],
        models: list[dict[str, Any]],
        variants: list[dict[str, Any]],
        checks: dict[str, list[str]],
        max_steps: int = 1,
    ) -> None:
        now = datetime.now(UTC)

        def create() -> None:
            self.con.execute(
                """INSERT INTO runs (id, started_at, finished_at, status, samples, temperature,
                                     tasks, models, variants, max_steps)
                   VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?, ?)""",
                [
                    run_id,
                    now,
                    samples,
                    temperature,
                    json.dumps(tasks),
                    json.dumps(models),
                    json.dumps(variants),
                    max_steps,
                ],
            )
            self.con.execute(
                "INSERT INTO evaluations VALUES (?, 0, ?, ?)", [run_id, now, json.dumps(checks)]
            )

        write(self.con, create)

    def add_results(
        self,
        steps: Sequence[dict[str, Any]],
        samples: Sequence[dict[str, Any]],
        verdicts: Sequence[dict[str, Any]],
    ) -> None:
        """Store answered steps, finished samples and their verdicts, in one transaction."""

        def add() -> None:
            for table, rows, columns in (
                ("steps", steps, STEP_COLUMNS),
                ("samples", samples, SAMPLE_COLUMNS),
                ("verdicts", verdicts, VERDICT_COLUMNS),
            ):
                if rows:
                    bulk.insert(self.con, table, {c: [r[c] for r in rows] for c in columns})

        write(self.con, add)

    def finish(self, run_id: str, status: str) -> None:
        write(
            self.con,
            lambda: self.con.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?",
                [status, datetime.now(UTC), run_id],
            ),
        )

    def cached(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Answers (ANSWER_COLUMNS) by request key: for each sample an earlier run started with
        one of `keys` (its first step's), the latest answer to each of its steps' requests.
        A replay's later steps are known only once the earlier ones are answered; they are
        found here because they follow from the same first request."""
        if not keys:
            return {}
        rows = records(
            self.con.execute(
                f"""
                WITH started AS (
                    SELECT DISTINCT {", ".join(_WHERE)} FROM steps
                    WHERE step = 1 AND request_key IN (SELECT unnest(?::JSON::VARCHAR[]))
                )
                SELECT s.request_key, {", ".join("s." + c for c in ANSWER_COLUMNS)}
                FROM steps s JOIN started USING ({", ".join(_WHERE)})
                WHERE s.status = 'ok'
                QUALIFY row_number() OVER (
                    PARTITION BY s.request_key ORDER BY s.created_at DESC
                ) = 1
                """,
                [bulk.listed(keys)],
            )
        )
        return {r.pop("request_key"): r for r in rows}

    def resolve(self, prefix: str | None) -> str:
        """A run id from a prefix; None is the latest run."""
        if prefix is None:
            row = self.con.execute(
                "SELECT id FROM runs ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise NotFound("run", "")
            return str(row[0])
        rows = self.con.execute(
            "SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY id LIMIT 3",
            [prefix.strip().upper()],
        ).fetchall()
        if len(rows) != 1:
            raise NotFound("run", prefix, [r[0] for r in rows])
        return str(rows[0][0])

    def run(self, run_id: str) -> dict[str, Any]:
        (row,) = records(self.con.execute("SELECT * FROM runs WHERE id = ?", [run_id]))
        for key in ("tasks", "models", "variants"):
            row[key] = json.loads(row[key])
        return row

    def evaluation(self, run_id: str) -> dict[str, Any]:
        (row,) = records(
            self.con.execute(
                "SELECT * FROM evaluations WHERE run_id = ? ORDER BY evaluation DESC LIMIT 1",
                [run_id],
            )
        )
        row["checks"] = json.loads(row["checks"])
        return row

    def add_evaluation(
        self,
        run_id: str,
        checks: dict[str, list[str]],
        verdicts: Sequence[dict[str, Any]],
    ) -> int:
        """A new judging of a run's samples; returns its number."""

        def add() -> int:
            row = self.con.execute(
                "SELECT max(evaluation) + 1 FROM evaluations WHERE run_id = ?", [run_id]
            ).fetchone()
            number = int(row[0]) if row and row[0] is not None else 0
            self.con.execute(
                "INSERT INTO evaluations VALUES (?, ?, ?, ?)",
                [run_id, number, datetime.now(UTC), json.dumps(checks)],
            )
            rows = [{**v, "evaluation": number} for v in verdicts]
            bulk.insert(self.con, "verdicts", {c: [v[c] for v in rows] for c in VERDICT_COLUMNS})
            return number

        return write(self.con, add)

    def samples(self, run_id: str) -> list[dict[str, Any]]:
        return records(
            self.con.execute(
                "SELECT * FROM samples WHERE run_id = ? ORDER BY task, model, variant, sample",
                [run_id],
            )
        )

    def steps(self, run_id: str) -> dict[tuple[str, str, str, int], list[dict[str, Any]]]:
        """The run's steps (raw bodies left out) by sample, each sample's in order."""
        columns = ", ".join(c for c in STEP_COLUMNS if c != "raw")
        rows = records(
            self.con.execute(
                f"SELECT {columns} FROM steps WHERE run_id = ? ORDER BY task, model, variant, "
                "sample, step",
                [run_id],
            )
        )
        out: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault((r["task"], r["model"], r["variant"], r["sample"]), []).append(r)
        return out

    def verdicts(
        self, run_id: str, evaluation: int
    ) -> dict[tuple[str, str, str, int], dict[str, Any]]:
        rows = records(
            self.con.execute(
                "SELECT * FROM verdicts WHERE run_id = ? AND evaluation = ?", [run_id, evaluation]
            )
        )
        return {(r["task"], r["model"], r["variant"], r["sample"]): r for r in rows}

    def list(self) -> list[RunSummary]:
        rows = records(
            self.con.execute(
                """
                SELECT r.*, count(s.run_id) AS sent,
                       count(s.run_id) FILTER (WHERE s.status = 'error') AS errors,
                       count(s.run_id) FILTER (WHERE s.from_cache) AS from_cache,
                       (SELECT count(*) FROM evaluations e WHERE e.run_id = r.id) AS evaluations
                FROM runs r LEFT JOIN samples s ON s.run_id = r.id
                GROUP BY ALL ORDER BY r.started_at DESC
                """
            )
        )
        return [
            RunSummary(
                r["id"],
                r["started_at"],
                r["finished_at"],
                r["status"],
                r["samples"],
                [t["name"] for t in json.loads(r["tasks"])],
                [m["name"] for m in json.loads(r["models"])],
                [v["name"] for v in json.loads(r["variants"])],
                r["sent"],
                r["errors"],
                r["from_cache"],
                r["evaluations"],
            )
            for r in rows
        ]

    def last_runs(self) -> dict[str, LastRun]:
        """Each task's result in the latest run that replayed it, per model and variant: the
        passes out of the judged samples in the run's latest evaluation. Never pooled: 0/8 on
        the baseline and 8/8 with a stricter prompt are two cells, not 8/16."""
        rows = self.con.execute(
            """
            WITH latest AS (
                SELECT s.task, s.run_id, r.started_at FROM samples s JOIN runs r ON r.id = s.run_id
                QUALIFY row_number() OVER (PARTITION BY s.task ORDER BY r.started_at DESC) = 1
            ), evaluation AS (
                SELECT run_id, max(evaluation) AS n FROM evaluations GROUP BY run_id
            )
            SELECT v.task, v.run_id, l.started_at, v.model, v.variant,
                   count(*) FILTER (WHERE coalesce(v.outcome = 'pass', v.passed)), count(*),
                   count(*) FILTER (WHERE v.outcome = 'no_attempt')
            FROM verdicts v JOIN latest l ON l.task = v.task AND l.run_id = v.run_id
            JOIN evaluation e ON e.run_id = v.run_id AND e.n = v.evaluation
            GROUP BY ALL
            """
        ).fetchall()
        order = _orders(self.con, {r[1] for r in rows})
        cells: dict[str, list[LastRunCell]] = {}
        started: dict[str, tuple[str, datetime]] = {}
        for task, run_id, at, model, variant, passes, judged, no_attempts in rows:
            cells.setdefault(task, []).append(
                LastRunCell(model, variant, passes, judged, no_attempts)
            )
            started[task] = (run_id, at)
        out = {}
        for task, found in cells.items():
            run_id, at = started[task]
            models, variants = order[run_id]
            found.sort(key=lambda c: (_index(models, c.model), _index(variants, c.variant)))
            out[task] = LastRun(run_id, at, tuple(found))
        return out


def _orders(
    con: duckdb.DuckDBPyConnection, run_ids: set[str]
) -> dict[str, tuple[list[str], list[str]]]:
    """The models and the variants of these runs, in the order each run gave them."""
    if not run_ids:
        return {}
    rows = con.execute(
        "SELECT id, models, variants FROM runs WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))",
        [bulk.listed(sorted(run_ids))],
    ).fetchall()
    return {
        run_id: (
            [m["name"] for m in json.loads(models)],
            [v["name"] for v in json.loads(variants)],
        )
        for run_id, models, variants in rows
    }


def _index(names: list[str], name: str) -> int:
    return names.index(name) if name in names else len(names)
