"""`--dry-run`: what a replay would send, what it would cost and how large a difference it could
show, with nothing sent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redline.replay.jobs import Job
from redline.replay.numbers import counted
from redline.replay.power import ASSUMED, Detectable, Spread, detectable, spread_of
from redline.replay.report import Sides, sides_of
from redline.replay.tokens import count_body, count_text, exact_for
from redline.transcripts import Store, message_to_dict

EARLIER_RUNS = 20
"""How many of the latest runs of these tasks measure their spread, at most."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """One task × model × variant: its request and its estimated cost over all samples."""

    task: str
    model: str
    variant: str
    endpoint: str
    messages: int
    prompt_tokens: int | None
    output_tokens: int
    estimated: bool  # cl100k_base is not the model's own tokenizer
    samples: int
    cost: float | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "variant": self.variant,
            "endpoint": self.endpoint,
            "messages": self.messages,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "tokens_estimated": self.estimated,
            "samples": self.samples,
            "cost": self.cost,
            "error": self.error,
        }


def estimate(jobs: Sequence[Job]) -> list[Estimate]:
    """Per task × model × variant. The answer's length is guessed from the task's known-bad
    output, the only answer to this request on record."""
    groups: dict[tuple[str, str, str], list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.task.name, job.model.name, job.variant.name), []).append(job)
    out = []
    for (task, model, variant), group in groups.items():
        job = group[0]
        prompt = None if job.body is None else count_body(job.body)
        answer = count_text(json.dumps(message_to_dict(job.task.output.message)["parts"]))
        cost = job.model.cost(prompt, answer)
        out.append(
            Estimate(
                task,
                model,
                variant,
                job.model.endpoint,
                len(job.request.messages),
                prompt,
                answer,
                not exact_for(job.model.model),
                len(group),
                None if cost is None else cost * len(group),
                job.error,
            )
        )
    return out


def reach(store: Store, tasks: Sequence[str], samples: int) -> Detectable:
    """The smallest difference in pass rate the planned run can detect (80% power, 0.05
    level), with the spread of these tasks measured on earlier runs of them when there are
    any."""
    return detectable(len(tasks), samples, earlier_spread(store, tasks))


def earlier_spread(store: Store, tasks: Sequence[str]) -> Spread:
    """The spread of these tasks on the latest runs that ran any of them (their latest
    evaluation), up to EARLIER_RUNS; assumed when there are none."""
    wanted = set(tasks)
    measured: list[Sides] = []
    for run in store.runs.list():
        if wanted & set(run.tasks) and run.evaluations:
            measured.append(sides_of(store, run.id, wanted))
            if len(measured) == EARLIER_RUNS:
                break
    if not measured:
        return Spread(
            ASSUMED.between, ASSUMED.within, "spread assumed: no earlier run of these tasks"
        )
    return spread_of(measured, f"{counted(len(measured), 'earlier run')} of these tasks")
