"""Re-judging a run: new or changed checks on the answers it stored; nothing is sent again.

Each recheck is a new evaluation of the run (the run's own is evaluation 0), so improving a
check never costs another bill and the earlier verdicts stay. The answer judged is everything
the sample's steps wrote, as the run judged it, and each sample's outcome (pass, fail,
no_attempt) is worked out again. The context of each answer is its task's transcript, as the
run's variant changed it, taken from the store now.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redline.analyzers import Registry
from redline.errors import NotFound, RedlineError
from redline.replay.flagging import checks_of
from redline.replay.run import judge
from redline.replay.variants import Variant, apply
from redline.transcripts import Store, message_from_dict


@dataclass(frozen=True, slots=True)
class Recheck:
    """The new evaluation's number, and the run's tasks that are no longer stored (their
    answers are not judged in it)."""

    evaluation: int
    missing: tuple[str, ...] = ()


def recheck(
    store: Store, run_id: str, registry: Registry, specs: Sequence[str] | None = None
) -> Recheck:
    """Judge the run's answers again, with `specs` for every task or else each task's own
    checks. A task removed since the run is left out and named; when none is left, nothing
    is judged and the error says how to bring them back."""
    run = store.runs.run(run_id)
    variants = {
        v["name"]: Variant(v["name"], v["mode"], v["path"], v.get("text") or "")
        for v in run["variants"]
    }
    requests = {}
    checks = {}
    missing = []
    for entry in run["tasks"]:
        name = entry["name"]
        try:
            task = store.task(name)
        except NotFound:
            missing.append(name)
            continue
        chosen = list(specs) if specs else list(task.checks)
        checks[name] = (chosen, checks_of(chosen, registry))
        requests.update(
            {(name, v): apply(variant, task.request, name) for v, variant in variants.items()}
        )
    if not checks:
        raise RedlineError(
            f"no task of run {run_id} is stored any more ({', '.join(missing)}); "
            "`redline import` them to recheck"
        )
    verdicts: list[dict[str, Any]] = []
    for s in store.runs.samples(run_id):
        if s["status"] != "ok" or s["task"] not in checks:
            continue
        message = message_from_dict(json.loads(s["output"]))
        request = requests[(s["task"], s["variant"])]
        outcome, found = judge(checks[s["task"]][1], message, request, bool(s["cut_off"]))
        verdicts.append(
            {
                "run_id": run_id,
                "task": s["task"],
                "model": s["model"],
                "variant": s["variant"],
                "sample": s["sample"],
                "passed": outcome == "pass",
                "outcome": outcome,
                "verdicts": json.dumps(found),
            }
        )
    number = store.runs.add_evaluation(
        run_id, {name: specs_ for name, (specs_, _) in checks.items()}, verdicts
    )
    return Recheck(number, tuple(missing))
