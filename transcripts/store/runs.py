"""Replay runs in the store: the run, its samples as they finish, verdicts per evaluation.

Samples are written as they finish, so an interrupted run keeps every one that did; the samples
table is also the replay cache: a request sent before (same endpoint, body and sample index)
has its answer there.
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

# What a sample says of its answer: a later run sending the same request copies these.
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
    "cost",
)
SAMPLE_COLUMNS = (
    "run_id",
    "task",
    "model",
    "variant",
    "sample",
    "request_key",
    "created_at",
    "status",
    "error",
    *ANSWER_COLUMNS,
    "from_cache",
)
VERDICT_COLUMNS = (
    "run_id",
    "evaluation",
    "task",
    "model",
    "variant",
    "sample",
    "passed",
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
    ) -> None:
        now = datetime.now(UTC)

        def create() -> None:
            self.con.execute(
                "INSERT INTO runs VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?)",
                [
                    run_id,
                    now,
                    samples,
                    temperature,
                    json.dumps(tasks),
                    json.dumps(models),
                    json.dumps(variants),
                ],
            )
            self.con.execute(
                "INSERT INTO evaluations VALUES (?, 0, ?, ?)", [run_id, now, json.dumps(checks)]
            )

        write(self.con, create)

    def add_samples(
        self,
        samples: Sequence[dict[str, Any]],
        verdicts: Sequence[dict[str, Any]],
    ) -> None:
        """Store finished samples and their verdicts, in one transaction."""

        def add() -> None:
            bulk.insert(self.con, "samples", {c: [s[c] for s in samples] for c in SAMPLE_COLUMNS})
            bulk.insert(
                self.con, "verdicts", {c: [v[c] for v in verdicts] for c in VERDICT_COLUMNS}
            )

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
        """The answer (ANSWER_COLUMNS) of the latest answered sample for each request key that
        has one."""
        if not keys:
            return {}
        rows = records(
            self.con.execute(
                f"""
                SELECT request_key, {", ".join(ANSWER_COLUMNS)}
                FROM samples WHERE status = 'ok'
                  AND request_key IN (SELECT unnest(?::JSON::VARCHAR[]))
                QUALIFY row_number() OVER (PARTITION BY request_key ORDER BY created_at DESC) = 1
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

    def last_results(self) -> dict[str, str]:
        """Each task's result in the latest run that replayed it, as passes/judged samples."""
        rows = self.con.execute(
            """
            WITH latest AS (
                SELECT s.task, s.run_id FROM samples s JOIN runs r ON r.id = s.run_id
                QUALIFY row_number() OVER (PARTITION BY s.task ORDER BY r.started_at DESC) = 1
            ), evaluation AS (
                SELECT run_id, max(evaluation) AS n FROM evaluations GROUP BY run_id
            )
            SELECT v.task, count(*) FILTER (WHERE v.passed), count(*)
            FROM verdicts v JOIN latest l ON l.task = v.task AND l.run_id = v.run_id
            JOIN evaluation e ON e.run_id = v.run_id AND e.n = v.evaluation
            GROUP BY v.task
            """
        ).fetchall()
        return {task: f"{passed}/{total}" for task, passed, total in rows}
