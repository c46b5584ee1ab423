"""A replay's plan: every task × model × variant × sample, with its first request rendered.

The baseline (the task as recorded) always runs. A transcript captured from one API replays to
another through the canonical model; what that conversion leaves out is recorded per task and
model (`losses`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redline.errors import RedlineError
from redline.replay.models import ModelSpec
from redline.replay.rendering import render, request_key
from redline.replay.variants import BASELINE, Variant, apply
from redline.transcripts import Request, Task, wire

__all__ = ["Job", "losses", "plan", "with_baseline"]


@dataclass(frozen=True, slots=True)
class Job:
    """One sample to obtain. `body` is None when the task cannot be rendered for the model
    (`error` says why): that sample is recorded as an error and the rest runs. `body` and
    `key` are the sample's first step; later steps add to `request`."""

    task: Task
    model: ModelSpec
    variant: Variant
    sample: int
    request: Request  # the task's transcript as the variant changes it: the checks' context
    body: dict[str, Any] | None
    key: str
    error: str | None = None


def plan(
    tasks: Sequence[Task],
    models: Sequence[ModelSpec],
    variants: Sequence[Variant],
    samples: int,
    temperature: float | None,
) -> list[Job]:
    """Every job of a run, in a stable order. A `rules` variant on a task whose transcript
    embeds no rules file is an error here, before anything is sent."""
    jobs: list[Job] = []
    for task in tasks:
        for variant in variants:
            request = apply(variant, task.request, task.name)
            for model in models:
                body: dict[str, Any] | None
                error = None
                try:
                    body = render(request, model, temperature)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    body = None
                    error = f"the task cannot be rendered as {model.wire}: {exc}"
                for sample in range(1, samples + 1):
                    key = request_key(model, body, sample)
                    jobs.append(Job(task, model, variant, sample, request, body, key, error))
    return jobs


def with_baseline(variants: Sequence[Variant]) -> list[Variant]:
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise RedlineError("two --prompt-variant share a name; give each its own")
    return [Variant(BASELINE), *variants]


def losses(tasks: Sequence[Task], models: Sequence[ModelSpec]) -> list[dict[str, Any]]:
    """Each task's checks, and what converting it to each model's wire format leaves out."""
    return [
        {
            "name": t.name,
            "checks": list(t.checks),
            "losses": {
                m.name: lost for m in models if (lost := wire.conversion_losses(t.request, m.wire))
            },
        }
        for t in tasks
    ]
