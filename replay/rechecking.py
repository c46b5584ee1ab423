"""Re-judging a run: new or changed checks on the answers it stored; nothing is sent again.

Each recheck is a new evaluation of the run (the run's own is evaluation 0), so improving a
check never costs another bill and the earlier verdicts stay. The answer judged is everything
the sample's steps wrote, as the run judged it, and each sample's outcome (pass, fail,
no_attempt) is worked out again. The context of each answer is its task's transcript, as the
run's variant changed it, taken from the store now. Checks that run the answer's code run in
the task's workspace (`redline.replay.executions`), several at once (`jobs`), and an answer
they judged before in the same workspace is not run again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from redline.analyzers import Registry
from redline.errors import NotFound, RedlineError
from redline.replay.executions import StoredVerdicts, environments
from redline.replay.flagging import checks_of
from redline.replay.run import cores, judge
from redline.replay.variants import Variant, apply
from redline.transcripts import Store, message_from_dict


@dataclass(frozen=True, slots=True)
class Recheck:
    """The new evaluation's number, and the run's tasks that are no longer stored (their
    answers are not judged in it)."""

    evaluation: int
    missing: tuple[str, ...] = ()


def recheck(
    store: Store,
    run_id: str,
    registry: Registry,
    specs: Sequence[str] | None = None,
    *,
    jobs: int = 0,
    sandbox: bool = True,
    use_cache: bool = True,
) -> Recheck:
    """Judge the run's answers again, with `specs` for every task or else each task's own
    checks. A task removed since the run is left out and named; when none is left, nothing
    is judged and the error says how to bring them back. Checks that run code run `jobs` at
    once (0: one per core), sandboxed unless `sandbox` is False, their earlier verdicts kept
    unless `use_cache` is False."""
    run = store.runs.run(run_id)
    variants = {
        v["name"]: Variant(v["name"], v["mode"], v["path"], v.get("text") or "")
        for v in run["variants"]
    }
    requests = {}
    checks = {}
    tasks = []
    missing = []
    for entry in run["tasks"]:
        name = entry["name"]
        try:
            task = store.task(name)
        except NotFound:
            missing.append(name)
            continue
        tasks.append(task)
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
    samples = [s for s in store.runs.samples(run_id) if s["status"] == "ok" and s["task"] in checks]
    cache = StoredVerdicts()
    with contextlib.ExitStack() as stack:
        each = {name: found for name, (_, found) in checks.items()}
        places = environments(
            store, tasks, each, stack, sandbox=sandbox, cache=cache, read=use_cache
        )

        def judged(s: dict[str, Any]) -> dict[str, Any]:
            message = message_from_dict(json.loads(s["output"]))
            request = requests[(s["task"], s["variant"])]
            outcome, found = judge(
                each[s["task"]], message, request, bool(s["cut_off"]), places.get(s["task"])
            )
            return {
                "run_id": run_id,
                "task": s["task"],
                "model": s["model"],
                "variant": s["variant"],
                "sample": s["sample"],
                "passed": outcome == "pass",
                "outcome": outcome,
                "verdicts": json.dumps(found),
            }

        with ThreadPoolExecutor(jobs or cores(), thread_name_prefix="redline-recheck") as pool:
            verdicts = list(pool.map(judged, samples)) if places else list(map(judged, samples))
    cache.save(store)
    number = store.runs.add_evaluation(
        run_id, {name: specs_ for name, (specs_, _) in checks.items()}, verdicts
    )
    return Recheck(number, tuple(missing))
