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

from redline.analyzers import Check, Registry
from redline.config import Location
from redline.errors import NotFound, RedlineError
from redline.replay.executions import StoredVerdicts, environments
from redline.replay.flagging import checks_of
from redline.replay.run import cores, judge
from redline.replay.variants import Variant, apply
from redline.transcripts import Request, Store, Task, message_from_dict, open_store


@dataclass(frozen=True, slots=True)
class Recheck:
    """The new evaluation's number, and the run's tasks that are no longer stored (their
    answers are not judged in it)."""

    evaluation: int
    missing: tuple[str, ...] = ()


def recheck(
    db: Location,
    run_id: str,
    registry: Registry,
    specs: Sequence[str] | None = None,
    *,
    jobs: int = 0,
    sandbox: bool = True,
    use_cache: bool = True,
) -> Recheck:
    """Judge the run's answers again (the run `run_id` of the database `db`), with `specs` for
    every task or else each task's own checks. A task removed since the run is left out and
    named; when none is left, nothing is judged and the error says how to bring them back.
    Checks that run code run `jobs` at once (0: one per core), sandboxed unless `sandbox` is
    False, their earlier verdicts kept unless `use_cache` is False. The database is open while
    the run is read and while the evaluation is written, not while checks run: another command
    (the proxy's ingest) need not wait for a recheck that runs the answers' code."""
    cache = StoredVerdicts()
    with contextlib.ExitStack() as stack:
        with open_store(db, ingest=False) as store:
            read = _read(store, run_id, registry, specs)
            places = environments(
                store, read.tasks, read.checks, stack, sandbox=sandbox, cache=cache, read=use_cache
            )

        def judged(s: dict[str, Any]) -> dict[str, Any]:
            message = message_from_dict(json.loads(s["output"]))
            request = read.requests[(s["task"], s["variant"])]
            outcome, found = judge(
                read.checks[s["task"]], message, request, bool(s["cut_off"]), places.get(s["task"])
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

        if places:
            with ThreadPoolExecutor(jobs or cores(), thread_name_prefix="redline-recheck") as pool:
                verdicts = list(pool.map(judged, read.samples))
        else:
            verdicts = [judged(s) for s in read.samples]
    with open_store(db, ingest=False) as store:
        cache.save(store)
        number = store.runs.add_evaluation(run_id, read.specs, verdicts)
    return Recheck(number, read.missing)


@dataclass(frozen=True, slots=True)
class _Read:
    """What a recheck reads of the store: the tasks still there, each one's checks (as given
    and parsed), the transcript each variant made of it, the answers to judge, and the
    tasks no longer stored."""

    tasks: list[Task]
    specs: dict[str, list[str]]
    checks: dict[str, list[Check]]
    requests: dict[tuple[str, str], Request]
    samples: list[dict[str, Any]]
    missing: tuple[str, ...]


def _read(store: Store, run_id: str, registry: Registry, specs: Sequence[str] | None) -> _Read:
    run = store.runs.run(run_id)
    variants = {
        v["name"]: Variant(v["name"], v["mode"], v["path"], v.get("text") or "")
        for v in run["variants"]
    }
    tasks, chosen, checks, requests, missing = [], {}, {}, {}, []
    for entry in run["tasks"]:
        name = entry["name"]
        try:
            task = store.task(name)
        except NotFound:
            missing.append(name)
            continue
        tasks.append(task)
        chosen[name] = list(specs) if specs else list(task.checks)
        checks[name] = checks_of(chosen[name], registry)
        requests.update(
            {(name, v): apply(variant, task.request, name) for v, variant in variants.items()}
        )
    if not checks:
        raise RedlineError(
            f"no task of run {run_id} is stored any more ({', '.join(missing)}); "
            "`redline import` them to recheck"
        )
    samples = [s for s in store.runs.samples(run_id) if s["status"] == "ok" and s["task"] in checks]
    return _Read(tasks, chosen, checks, requests, samples, tuple(missing))
