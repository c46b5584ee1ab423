"""A replay: every task × model × variant × sample rendered, sent (or found in the cache),
judged by the task's checks and stored as it finishes.

The baseline (the task as recorded) always runs. A transcript captured from one API replays to
another through the canonical model; what that conversion leaves out is recorded per task and
model. Samples are stored as they finish, so Ctrl-C keeps every one that did, and the next run
with the same arguments takes them from the cache and sends only the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

from redline.analyzers import Check, Registry, run_checks, verdict_to_dict
from redline.config import Location
from redline.errors import RedlineError
from redline.replay.flagging import checks_of
from redline.replay.models import ModelSpec
from redline.replay.send import Policy, Sender, Sent
from redline.replay.tokens import count_body, count_text
from redline.replay.variants import BASELINE, Variant, apply
from redline.transcripts import (
    Message,
    Request,
    Response,
    Task,
    canonical_json,
    mask_text,
    message_from_dict,
    message_to_dict,
    new_id,
    open_store,
    wire,
)

# Samples are written in batches this big, or this often, whichever comes first.
_FLUSH_SAMPLES = 64
_FLUSH_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Job:
    """One sample to obtain. `body` is None when the task cannot be rendered for the model
    (`error` says why): that sample is recorded as an error and the rest runs."""

    task: Task
    model: ModelSpec
    variant: Variant
    sample: int
    request: Request  # the task's transcript as the variant changes it: the checks' context
    body: dict[str, Any] | None
    key: str
    error: str | None = None


@dataclass
class Progress:
    """Counts as the run goes, for a progress display."""

    total: int
    done: int = 0
    cached: int = 0
    errors: int = 0
    passed: int = 0
    failed: int = 0
    on_change: Callable[[Progress], None] | None = field(default=None, repr=False)

    def count(self, *, cached: bool, error: bool, passed: bool | None) -> None:
        self.done += 1
        self.cached += cached
        self.errors += error
        self.passed += passed is True
        self.failed += passed is False
        if self.on_change is not None:
            self.on_change(self)


def render(request: Request, model: ModelSpec, temperature: float | None) -> dict[str, Any]:
    """The request body for `model`: rendered in its wire format, its model id, streamed only
    when the model's config says so, the temperature and the model's own params on top."""
    fmt = wire.get(model.wire)
    body = fmt.streamed(fmt.render_request(replace(request, model=model.model)), model.stream)
    body["model"] = model.model
    if temperature is not None:
        body["temperature"] = temperature
    body.update(model.params)
    return body


def request_key(model: ModelSpec, body: dict[str, Any] | None, sample: int) -> str:
    """The cache key: where it goes, exactly what is sent, and which sample it is."""
    text = f"{model.endpoint}\n{canonical_json(body)}\n#{sample}"
    return hashlib.sha256(text.encode()).hexdigest()


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


class _Writer:
    """Buffers finished samples and writes them in batches (one transaction each), through a
    connection opened for that batch only: a replay waits on the network for minutes, and the
    proxy's ingest and every other command need the database meanwhile. A batch is written on
    a thread of its own, one at a time and in order, so sending and judging go on while the
    database is opened and written (DuckDB lets go of the interpreter while it works)."""

    def __init__(self, db: Location) -> None:
        self.db = db
        self.samples: list[dict[str, Any]] = []
        self.verdicts: list[dict[str, Any]] = []
        self.last = time.monotonic()
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redline-replay-writer")
        self.writing: Future[None] | None = None

    def add(self, sample: dict[str, Any], verdict: dict[str, Any] | None) -> None:
        self.samples.append(sample)
        if verdict is not None:
            self.verdicts.append(verdict)
        if len(self.samples) >= _FLUSH_SAMPLES or time.monotonic() - self.last > _FLUSH_SECONDS:
            self._hand_over()

    def _hand_over(self) -> None:
        if self.writing is not None:
            if not self.writing.done():
                return  # the batch grows until the thread is free
            self.writing.result()  # a failed write stops the replay, as it would in line
        if self.samples:
            self.writing = self.thread.submit(self._write, self.samples, self.verdicts)
            self.samples, self.verdicts = [], []
        self.last = time.monotonic()

    def _write(self, samples: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> None:
        with open_store(self.db, ingest=False) as store:
            store.runs.add_samples(samples, verdicts)

    def close(self) -> None:
        """Write everything added so far, wait until it is written, and end the thread."""
        try:
            if self.writing is not None:
                self.writing.result()
            if self.samples:
                self._write(self.samples, self.verdicts)
                self.samples, self.verdicts = [], []
        finally:
            self.thread.shutdown(wait=True)


def judge(
    checks: Sequence[Check], message: Message, request: Request, cut_off: bool
) -> tuple[bool, list[dict[str, Any]]]:
    verdicts = run_checks(checks, message, request, cut_off=cut_off)
    return all(v.passed for v in verdicts), [
        verdict_to_dict(c.spec, v) for c, v in zip(checks, verdicts, strict=True)
    ]


def _usage(job: Job, response: Response) -> tuple[int | None, int | None, bool]:
    """Tokens: the upstream's usage, else tiktoken's count (an estimate)."""
    usage = response.usage
    if usage is not None and usage.input_tokens is not None and usage.output_tokens is not None:
        return usage.input_tokens, usage.output_tokens, False
    assert job.body is not None
    written = json.dumps(message_to_dict(response.message)["parts"])
    return count_body(job.body, wire.get(job.model.wire)), count_text(written), True


def _row(job: Job, run_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "task": job.task.name,
        "model": job.model.name,
        "variant": job.variant.name,
        "sample": job.sample,
        "request_key": job.key,
        "created_at": datetime.now(UTC),
        "status": "ok",
        "error": None,
        "http_status": None,
        "attempts": 0,
        "output": None,
        "finish_reason": None,
        "cut_off": None,
        "raw": None,
        "input_tokens": None,
        "output_tokens": None,
        "tokens_estimated": None,
        "latency_ms": None,
        "cost": None,
        "from_cache": False,
        **fields,
    }


async def _obtain(
    job: Job,
    run_id: str,
    sender: Sender,
    cache: dict[str, dict[str, Any]],
    checks: dict[str, list[Check]],
    writer: _Writer,
    progress: Progress,
) -> None:
    hit = cache.get(job.key)
    if job.body is None:
        writer.add(_row(job, run_id, status="error", error=job.error), None)
        progress.count(cached=False, error=True, passed=None)
        return
    if hit is not None:
        message = message_from_dict(json.loads(hit["output"]))
        sample = _row(job, run_id, **hit, from_cache=True)
        cut_off = bool(hit["cut_off"])
    else:
        sent = await sender.send(job.model, job.body)
        if sent.response is None:
            error = mask_text(sent.error or "no answer").text
            raw = mask_text(sent.raw.decode("utf-8", "replace")).text.encode() if sent.raw else None
            writer.add(
                _row(
                    job,
                    run_id,
                    status="error",
                    error=error,
                    http_status=sent.http_status,
                    attempts=sent.attempts,
                    raw=raw,
                    latency_ms=sent.latency_ms,
                ),
                None,
            )
            progress.count(cached=False, error=True, passed=None)
            return
        sample, message, cut_off = _answered(job, run_id, sent)
    passed, verdicts = judge(checks[job.task.name], message, job.request, cut_off)
    writer.add(
        sample,
        {
            "run_id": run_id,
            "evaluation": 0,
            "task": job.task.name,
            "model": job.model.name,
            "variant": job.variant.name,
            "sample": job.sample,
            "passed": passed,
            "verdicts": json.dumps(verdicts),
        },
    )
    progress.count(cached=hit is not None, error=False, passed=passed)


def _answered(job: Job, run_id: str, sent: Sent) -> tuple[dict[str, Any], Message, bool]:
    response = sent.response
    assert response is not None
    input_tokens, output_tokens, estimated = _usage(job, response)
    cut_off = wire.is_cut_off(response.finish_reason, job.model.wire)
    sample = _row(
        job,
        run_id,
        http_status=sent.http_status,
        attempts=sent.attempts,
        output=canonical_json(message_to_dict(response.message)),
        finish_reason=response.finish_reason,
        cut_off=cut_off,
        raw=sent.raw,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tokens_estimated=estimated,
        latency_ms=sent.latency_ms,
        cost=job.model.cost(input_tokens, output_tokens),
    )
    return sample, response.message, cut_off


@dataclass(frozen=True, slots=True)
class Settings:
    samples: int = 1
    temperature: float | None = None
    policy: Policy = field(default_factory=Policy)
    use_cache: bool = True


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
    all_variants = with_baseline(variants)
    checks = {t.name: checks_of(t.checks, registry) for t in tasks}
    jobs = plan(tasks, models, all_variants, settings.samples, settings.temperature)
    run_id = new_id()
    with open_store(db, ingest=False) as store:
        store.runs.create(
            run_id,
            samples=settings.samples,
            temperature=settings.temperature,
            tasks=losses(tasks, models),
            models=[m.to_json() for m in models],
            variants=[{**v.to_json(), "text": v.text or None} for v in all_variants],
            checks={t.name: list(t.checks) for t in tasks},
        )
        cache = store.runs.cached([j.key for j in jobs]) if settings.use_cache else {}
    progress = Progress(len(jobs), on_change=on_progress)
    if on_start is not None:
        on_start(run_id, progress)
    writer = _Writer(db)
    status = "interrupted"
    try:
        asyncio.run(_run_all(jobs, run_id, settings.policy, cache, checks, writer, progress))
        status = "finished"
    finally:
        writer.close()
        with open_store(db, ingest=False) as store:
            store.runs.finish(run_id, status)
    return run_id


async def _run_all(
    jobs: list[Job],
    run_id: str,
    policy: Policy,
    cache: dict[str, dict[str, Any]],
    checks: dict[str, list[Check]],
    writer: _Writer,
    progress: Progress,
) -> None:
    connector = aiohttp.TCPConnector(limit=policy.concurrency)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
    ) as session:
        sender = Sender(session, policy)
        await asyncio.gather(
            *(_obtain(j, run_id, sender, cache, checks, writer, progress) for j in jobs)
        )
