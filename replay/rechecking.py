"""Re-judging a run: new or changed checks on the answers it stored; nothing is sent again.

Each recheck is a new evaluation of the run (the run's own is evaluation 0), so improving a
check never costs another bill and the earlier verdicts stay. The context of each answer is its
task's transcript, as the run's variant changed it, taken from the store now.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from redline.analyzers import Registry
from redline.errors import NotFound, RedlineError
from redline.replay.flagging import checks_of
from redline.replay.run import judge
from redline.replay.variants import Variant, apply
from redline.transcripts import Store, message_from_dict


def recheck(
    store: Store, run_id: str, registry: Registry, specs: Sequence[str] | None = None
) -> int:
    """Judge the run's answers again, with `specs` for every task or else each task's own
    checks; returns the new evaluation's number."""
    run = store.runs.run(run_id)
    variants = {
        v["name"]: Variant(v["name"], v["mode"], v["path"], v.get("text") or "")
        for v in run["variants"]
    }
    requests = {}
    checks = {}
    for entry in run["tasks"]:
        name = entry["name"]
        try:
            task = store.task(name)
        except NotFound:
            raise RedlineError(
                f"task {name} of run {run_id} is no longer stored; `redline import` it to recheck"
            ) from None
        chosen = list(specs) if specs else list(task.checks)
        checks[name] = (chosen, checks_of(chosen, registry))
        requests.update(
            {(name, v): apply(variant, task.request, name) for v, variant in variants.items()}
        )
    verdicts: list[dict[str, Any]] = []
    for s in store.runs.samples(run_id):
        if s["status"] != "ok":
            continue
        message = message_from_dict(json.loads(s["output"]))
        request = requests[(s["task"], s["variant"])]
        passed, found = judge(checks[s["task"]][1], message, request, bool(s["cut_off"]))
        verdicts.append(
            {
                "run_id": run_id,
                "task": s["task"],
                "model": s["model"],
                "variant": s["variant"],
                "sample": s["sample"],
                "passed": passed,
                "verdicts": json.dumps(found),
            }
        )
    return store.runs.add_evaluation(
        run_id, {name: specs_ for name, (specs_, _) in checks.items()}, verdicts
    )
