"""A replay: every task × model × variant × sample taken through its steps (sent, or found in
the cache), judged by the task's checks and stored as it finishes.

The plan is `redline.replay.jobs`'; one sample's steps are `redline.replay.trajectory`'s.
Samples are stored as they finish and steps as they are answered, so Ctrl-C keeps every one
that did, and the next run with the same arguments takes them from the cache and sends only
the rest.

Each sample gets an outcome: `error` (a request failed), else what its checks add up to on
everything the model wrote (`redline.analyzers.judgement`): `fail`, `pass` (a check judged code
it wrote and found nothing) or `no_attempt` (it wrote no code the checks could judge).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from redline.analyzers import (
    Check,
    Environment,
    Judgement,
    Registry,
    judgement,
    run_checks,
    verdict_to_dict,
)
from redline.config import Location
from redline.replay.cells import Outcome
from redline.replay.executions import StoredVerdicts
from redline.replay.executions import environments as prepare
from redline.replay.flagging import checks_of
from redline.replay.jobs import Job, losses, plan, with_baseline
from redline.replay.models import ModelSpec
from redline.replay.send import Policy, Sender
from redline.replay.trajectory import DEFAULT_MAX_STEPS, Stepper, Walked
from redline.replay.variants import Variant
from redline.replay.workspace_answers import TaskWorkspaces
from redline.replay.writer import Writer
from redline.transcripts import (
    Message,
    Request,
    Task,
    canonical_json,
    message_to_dict,
    new_id,
    open_store,
)

__all__ = ["Progress", "Settings", "judge", "replay"]


@dataclass
class Progress:
    """Counts as the run goes, for a progress display."""

    total: int
    done: int = 0
    cached: int = 0
    errors: int = 0
    passed: int = 0
    failed: int = 0
    no_attempts: int = 0
    on_change: Callable[[Progress], None] | None = field(default=None, repr=False)

    def count(self, *, cached: bool, outcome: Outcome) -> None:
        self.done += 1
        self.cached += cached
        self.errors += outcome == "error"
        self.passed += outcome == "pass"
        self.failed += outcome == "fail"
        self.no_attempts += outcome == "no_attempt"
        if self.on_change is not None:
            self.on_change(self)


def judge(
    checks: Sequence[Check],
    message: Message,
    request: Request,
    cut_off: bool,
    environment: Environment | None = None,
) -> tuple[Judgement, list[dict[str, Any]]]:
    """The outcome of an answer under these checks, and each check's verdict as JSON.
    `environment`: where checks that run code run it (see `redline.replay.executions`)."""
    verdicts = run_checks(checks, message, request, cut_off=cut_off, environment=environment)
    return judgement(verdicts, message, cut_off=cut_off), [
        verdict_to_dict(c.spec, v) for c, v in zip(checks, verdicts, strict=True)
    ]


def _sum(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _sample(job: Job, run_id: str, walked: Walked) -> dict[str, Any]:
    """The sample's row: its steps added up (tokens, cost, latency), the last one's finish."""
    steps = walked.steps
    last = steps[-1] if steps else {}
    costs = [s["cost"] for s in steps]
    return {
        "run_id": run_id,
        "task": job.task.name,
        "model": job.model.name,
        "variant": job.variant.name,
        "sample": job.sample,
        "request_key": job.key,
        "created_at": datetime.now(UTC),
        "status": "error" if walked.error is not None else "ok",
        "error": walked.error,
        "http_status": last.get("http_status"),
        "attempts": sum(s["attempts"] or 0 for s in steps),
        "output": None if walked.output is None else canonical_json(message_to_dict(walked.output)),
        "finish_reason": last.get("finish_reason"),
        "cut_off": walked.cut_off if walked.output is not None else None,
        "raw": None,  # each step keeps its own
        "input_tokens": _sum([s["input_tokens"] for s in steps]),
        "output_tokens": _sum([s["output_tokens"] for s in steps]),
        "tokens_estimated": any(bool(s["tokens_estimated"]) for s in steps),
        "latency_ms": _sum([s["latency_ms"] for s in steps]),
        "cost": None if any(c is None for c in costs) else _sum(costs),
        "from_cache": bool(steps) and all(s["from_cache"] for s in steps),
        "steps": len(steps),
        "stop": walked.stop,
        "diverged": walked.diverged,
    }


@dataclass(frozen=True, slots=True)
class _Judging:
    """How a run judges: each task's checks, and for a task whose checks run code its
    environment and the threads those runs go on (at most `--jobs` at once), so sending goes
    on meanwhile."""

    checks: dict[str, list[Check]]
    environments: dict[str, Environment]
    pool: ThreadPoolExecutor

    async def __call__(
        self, job: Job, message: Message, cut_off: bool
    ) -> tuple[Judgement, list[dict[str, Any]]]:
        checks = self.checks[job.task.name]
        environment = self.environments.get(job.task.name)
        if environment is None:
            return judge(checks, message, job.request, cut_off)
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, functools.partial(judge, checks, message, job.request, cut_off, environment)
        )


async def _obtain(
    job: Job,
    run_id: str,
    stepper: Stepper,
    judging: _Judging,
    writer: Writer,
    progress: Progress,
) -> None:
    if job.body is None:
        unrenderable = Walked((), (), None, False, "error", job.error, None)
        writer.add(_sample(job, run_id, unrenderable), None)
        progress.count(cached=False, outcome="error")
        return
    walked = await stepper.walk(job)
    sample = _sample(job, run_id, walked)
    if walked.output is None:
        writer.add(sample, None, walked.pending)
        progress.count(cached=False, outcome="error")
        return
    outcome, verdicts = await judging(job, walked.output, walked.cut_off)
    verdict = {
        "run_id": run_id,
        "evaluation": 0,
        "task": job.task.name,
        "model": job.model.name,
        "variant": job.variant.name,
        "sample": job.sample,
        "passed": outcome == "pass",
        "outcome": outcome,
        "verdicts": json.dumps(verdicts),
    }
    writer.add(sample, verdict, walked.pending)
    progress.count(cached=sample["from_cache"], outcome=outcome)


@dataclass(frozen=True, slots=True)
class Settings:
    """`sandboxed`: the commands a replayed model asks for, and the code of checks that run
    it, run in the sandbox (False only with --no-sandbox, which the run records for each task
    with a workspace, and each such check's verdict). `jobs`: checks that run code running
    at once (0: one per core)."""

    samples: int = 1
    temperature: float | None = None
    policy: Policy = field(default_factory=Policy)
    use_cache: bool = True
    max_steps: int = DEFAULT_MAX_STEPS
    jobs: int = 0
    sandboxed: bool = True


def replay(
    db: Location,
    tasks: Sequence[Task],
    models: Sequence[ModelSpec],
    variants: Sequence[Variant],
    registry: Registry,
    settings: Settings,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_start: Callable[[str, Progress], None] | None = None,
) -> str:
    """Run a replay into the database `db` and return its id. KeyboardInterrupt stops it:
    what finished is kept, the run is marked interrupted, and the interrupt goes on. The
    database is open only while the run is created, while finished samples are written, and
    when it ends."""
    if settings.max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {settings.max_steps}")
    all_variants = with_baseline(variants)
    checks = {t.name: checks_of(t.checks, registry) for t in tasks}
    jobs = plan(tasks, models, all_variants, settings.samples, settings.temperature)
    run_id = new_id()
    verdicts = StoredVerdicts()
    with contextlib.ExitStack() as stack:  # the workspaces' folders, until the run ends
        with open_store(db, ingest=False) as store:
            workspaces = stack.enter_context(
                TaskWorkspaces.load(store, tasks, sandboxed=settings.sandboxed)
            )
            recorded = workspaces.recorded()
            environments = prepare(
                store,
                tasks,
                checks,
                stack,
                sandbox=settings.sandboxed,
                cache=verdicts,
                read=settings.use_cache,
                written=workspaces.folders(),
            )
            store.runs.create(
                run_id,
                samples=settings.samples,
                temperature=settings.temperature,
                max_steps=settings.max_steps,
                tasks=[{**t, "workspace": recorded.get(t["name"])} for t in losses(tasks, models)],
                models=[m.to_json() for m in models],
                variants=[{**v.to_json(), "text": v.text or None} for v in all_variants],
                checks={t.name: list(t.checks) for t in tasks},
            )
            cache = store.runs.cached([j.key for j in jobs]) if settings.use_cache else {}
        progress = Progress(len(jobs), on_change=on_progress)
        if on_start is not None:
            on_start(run_id, progress)
        writer = Writer(db)
        pool = ThreadPoolExecutor(settings.jobs or cores(), thread_name_prefix="redline-run")
        judging = _Judging(checks, environments, pool)
        status = "interrupted"
        try:
            asyncio.run(
                _run_all(jobs, run_id, settings, cache, judging, writer, progress, workspaces)
            )
            status = "finished"
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            writer.close()
            with open_store(db, ingest=False) as store:
                store.runs.finish(run_id, status)
                verdicts.save(store)
    return run_id


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


async def _run_all(
    jobs: list[Job],
    run_id: str,
    settings: Settings,
    cache: dict[str, dict[str, Any]],
    judging: _Judging,
    writer: Writer,
    progress: Progress,
    workspaces: TaskWorkspaces,
) -> None:
    policy = settings.policy
    connector = aiohttp.TCPConnector(limit=policy.concurrency)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
    ) as session:
        stepper = Stepper(
            run_id,
            Sender(session, policy),
            cache,
            writer,
            max_steps=settings.max_steps,
            temperature=settings.temperature,
            workspaces=workspaces,
        )
        await asyncio.gather(
            *(_obtain(j, run_id, stepper, judging, writer, progress) for j in jobs)
        )
