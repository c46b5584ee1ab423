"""Checks over the recorded history: every answer in a range judged, each with its own request
as context (as `redline check --call` judges one), and the calls with findings listed.

A verdict depends on the answer, its request and the check, so it is cached by the call and
the check's *key*: a hash of the check's name, its options (as parsed, defaults filled in) and
its version. The version is the analyzer's own `version` attribute when it declares one, else a
hash of the source file of the module that defines its `check`; either way together with a hash
of `redline.analyzers`' own source (extraction, the files a request shows, the Python tools and
the built-in rules), which every check reads answers through. So a changed check, option or
reader judges again, and nothing else does. A check whose source cannot be read (defined in
`__main__` or an interactive session) and declares no version is never cached. A check that
runs the answer's code (`run`) is keyed by its environment too: the workspace, the files, the
sandbox; so its verdicts are cached by the answer, the command and the workspace.

Answers not in the cache are judged in batches of one conversation's calls (sharing its
history), in worker processes when there are many (`jobs`), and stored as they arrive: an
interrupted scan keeps what it judged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import redline.analyzers
from redline.analyzers import (
    Check,
    Environment,
    default_registry,
    parse_check,
    run_checks,
    runs_code,
    verdict_to_dict,
)
from redline.errors import RedlineError
from redline.transcripts import OutputRows, ScanCall, Store, rebuild_outputs, wire

# Calls judged per batch (a batch carries its calls' history once); calls read from the store
# per statement (a statement costs about the same whatever it reads); the fewest answers to
# judge for which worker processes are worth starting.
BATCH = 100
READ = 2000
PARALLEL_FROM = 200
CODE_BATCH = 4  # answers to a batch when a check runs code

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which recorded calls a scan reads: started at or after `since`, in one conversation (an
    id or prefix), with a model matching `model` (a glob with * and ?, else a substring)."""

    since: datetime | None = None
    conversation: str | None = None
    model: str | None = None

    def calls(self, store: Store) -> list[ScanCall]:
        return store.scans.calls(since=self.since, conversation=self.conversation, model=self.model)


_SINCE = re.compile(r"(\d+)\s*([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`7d`, `12h`, `30m` before `now`, or an ISO date or time (UTC unless it says otherwise)."""
    value = text.strip()
    relative = _SINCE.fullmatch(value.lower())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise RedlineError(
                f"--since takes 7d, 12h, 30m or an ISO date such as 2025-06-01, not {text!r}"
            ) from None
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- check keys ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckKey:
    """A check as the verdict cache knows it. `version` is None for a check that cannot be
    versioned (never cached)."""

    check: Check
    key: str
    options: str
    version: str | None


def _plain(value: Any) -> Any:
    if isinstance(value, re.Pattern):
        return {"pattern": value.pattern, "flags": value.flags}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def options_json(options: Mapping[str, Any]) -> str:
    """A check's parsed options as canonical JSON (a regex as its pattern and flags)."""
    return json.dumps(_plain(options), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=10)
    for part in parts:
        h.update(hashlib.blake2b(part, digest_size=16).digest())
    return h.hexdigest()


@functools.cache
def readers_version() -> str:
    """A hash of `redline.analyzers`' own source: every check reads answers through it."""
    root = Path(redline.analyzers.__file__).parent
    files = sorted(root.rglob("*.py"))
    return _digest(
        *(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() for p in files)
    )


def analyzer_version(analyzer: Any) -> str | None:
    """The analyzer's declared `version`, else a hash of the file that defines its `check`."""
    declared = getattr(analyzer, "version", None)
    if isinstance(declared, str | int) and not isinstance(declared, bool) and str(declared):
        return f"version {declared}"
    check = getattr(analyzer, "check", None)
    module = sys.modules.get(getattr(check, "__module__", None) or type(analyzer).__module__)
    path = getattr(module, "__file__", None)
    if module is None or module.__name__ == "__main__" or not path:
        return None
    try:
        return f"source {_digest(Path(path).read_bytes())}"
    except OSError:
        return None


def check_key(check: Check, environment: Environment | None = None) -> CheckKey:
    """The check's key; for a check that runs code, its environment's too (the workspace, the
    files, the sandbox): its verdicts hold only there."""
    options = options_json(check.options)
    own = analyzer_version(check.analyzer)
    if own is None:
        return CheckKey(check, "", options, None)
    version = f"{own}; readers {readers_version()}"
    if environment is not None and runs_code(check):
        version += f"; environment {environment.key}"
    key = _digest(check.name.encode(), options.encode(), version.encode())
    return CheckKey(check, key, options, version)


# -- judging ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Judgement:
    """One check's verdict on one call's answer (JSON of `verdict_to_dict` without the check's
    name), or the error the check raised."""

    call_id: str
    check: int  # index into the scan's checks
    passed: bool
    verdict: str | None
    error: str | None = None


def judge(
    batch: OutputRows,
    todo: Mapping[str, Sequence[int]],
    checks: Sequence[Check],
    environment: Environment | None = None,
) -> list[Judgement]:
    """Judge each call of the batch with the checks `todo` names for it; checks that run code
    run in `environment`."""
    out: list[Judgement] = []
    for output in rebuild_outputs(batch):
        wanted = list(todo.get(output.id, ()))
        if not wanted:
            continue
        cut = wire.is_cut_off(output.response.finish_reason, output.wire) or output.incomplete
        message, request = output.response.message, output.request
        try:
            verdicts = run_checks(
                [checks[i] for i in wanted],
                message,
                request,
                cut_off=cut,
                environment=environment,
            )
            pairs = list(zip(wanted, verdicts, strict=True))
        except RedlineError:
            pairs = []
            for i in wanted:  # find which check failed, keep the others' verdicts
                try:
                    (verdict,) = run_checks(
                        [checks[i]], message, request, cut_off=cut, environment=environment
                    )
                except RedlineError as error:
                    out.append(Judgement(output.id, i, False, None, str(error)))
                    continue
                pairs.append((i, verdict))
        for i, verdict in pairs:
            d = verdict_to_dict(checks[i].spec, verdict)
            del d["check"]
            out.append(Judgement(output.id, i, verdict.passed, json.dumps(d, ensure_ascii=False)))
    return out


_WORKER_CHECKS: list[Check] = []
_WORKER_ENVIRONMENT: list[Environment | None] = [None]


def _start_worker(
    specs: list[str], plugins: list[str], environment: Environment | None = None
) -> None:
    registry = default_registry(plugins)
    _WORKER_CHECKS[:] = [parse_check(spec, registry) for spec in specs]
    _WORKER_ENVIRONMENT[0] = environment


def _judge_in_worker(batch: OutputRows, todo: dict[str, list[int]]) -> list[Judgement]:
    return judge(batch, todo, _WORKER_CHECKS, _WORKER_ENVIRONMENT[0])


# -- the scan --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """A call some check found something in: the failing checks' verdicts (as
    `verdict_to_dict` gives them) and the tasks already made from the call."""

    call: ScanCall
    verdicts: tuple[dict[str, Any], ...]
    flagged: tuple[str, ...]

    @property
    def flag_command(self) -> str:
        checks = " ".join(f"-c {shlex.quote(v['check'])}" for v in self.verdicts)
        return f"redline flag {self.call.id} {checks}"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.call.to_json(),
            "flagged": list(self.flagged),
            "verdicts": list(self.verdicts),
            "flag": self.flag_command,
        }


@dataclass(frozen=True, slots=True)
class ScanError:
    """A check that raised on a call's answer (not cached: judged again next time)."""

    call_id: str
    check: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.call_id, "check": self.check, "error": self.error}


@dataclass(frozen=True, slots=True)
class ScanResult:
    """`scanned`: answers in range; `judged`/`cached`: verdicts made now / read from the
    cache (one per answer and check)."""

    checks: tuple[CheckKey, ...]
    scanned: int
    judged: int
    cached: int
    hits: tuple[Hit, ...]
    errors: tuple[ScanError, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "checks": [
                {"check": k.check.spec, "key": k.key or None, "version": k.version}
                for k in self.checks
            ],
            "scanned": self.scanned,
            "judged": self.judged,
            "cached": self.cached,
            "calls": [h.to_json() for h in self.hits],
            "errors": [e.to_json() for e in self.errors],
        }


@dataclass(frozen=True, slots=True)
class HitGroup:
    """A conversation's hits, the worst (most findings) first."""

    conversation_id: str | None
    hits: tuple[Hit, ...]


def findings(hit: Hit) -> int:
    return sum(len(v.get("findings") or ()) for v in hit.verdicts)


def by_conversation(hits: Sequence[Hit]) -> list[HitGroup]:
    """Hits grouped by conversation, each group's worst answer (most findings; then the earliest)
    first, and the groups in the order of their worst answers (then the most answers, then the
    latest): a looping session that repeats one mistake 800 times is one group, not 800 screens,
    and does not bury a worse answer elsewhere."""
    groups: dict[str | None, list[Hit]] = {}
    for hit in hits:
        groups.setdefault(hit.call.conversation_id, []).append(hit)
    ordered = [
        HitGroup(key, tuple(sorted(found, key=lambda h: (-findings(h), h.call.started_at))))
        for key, found in groups.items()
    ]
    ordered.sort(key=lambda g: max(h.call.started_at for h in g.hits), reverse=True)
    ordered.sort(key=lambda g: (findings(g.hits[0]), len(g.hits)), reverse=True)  # stable
    return ordered


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def scan(
    store: Store,
    checks: Sequence[Check],
    selection: Selection = Selection(),
    *,
    plugins: Sequence[str | Path] = (),
    jobs: int = 0,
    progress: Progress | None = None,
    environment: Environment | None = None,
) -> ScanResult:
    """Run `checks` over every recorded answer `selection` picks; `plugins`: the plugin files
    the checks came from (worker processes load them too); `jobs`: worker processes (0: one
    per core, 1: judge in this process); `progress(done, total)` as answers are judged;
    `environment`: where checks that run code run it (a workspace folder, files, the sandbox).
    Workers are started with `spawn`, which imports the calling script again: a script that
    scans with workers needs the usual `if __name__ == "__main__":` guard."""
    if not checks:
        raise RedlineError("give at least one check to scan with")
    calls = selection.calls(store)
    keys = [check_key(c, environment) for c in checks]
    # A check that runs code takes seconds an answer: judged a few answers to a batch, in
    # workers from the second batch on.
    code = any(runs_code(c) for c in checks)
    size, parallel_from = (CODE_BATCH, 2) if code else (BATCH, PARALLEL_FROM)
    scans = store.scans
    for k in keys:
        if k.version is not None:
            scans.save_check(k.key, k.check.name, k.options, k.version)
    ids = [c.id for c in calls]
    cached = scans.cached(ids, sorted({k.key for k in keys if k.version is not None}))
    found: dict[tuple[str, int], tuple[bool, str | None]] = {}
    todo: dict[str, list[int]] = {}
    for call in calls:
        for i, k in enumerate(keys):
            hit = cached.get((call.id, k.key)) if k.version is not None else None
            if hit is None:
                todo.setdefault(call.id, []).append(i)
            else:
                found[(call.id, i)] = hit
    from_cache = len(found)
    errors: list[ScanError] = []
    judged = 0
    total = sum(len(v) for v in todo.values())
    if progress is not None:
        progress(0, total)

    def take(results: list[Judgement]) -> None:
        nonlocal judged
        keep = []
        for j in results:
            if j.error is not None:
                errors.append(ScanError(j.call_id, checks[j.check].spec, j.error))
                continue
            found[(j.call_id, j.check)] = (j.passed, j.verdict)
            judged += 1
            k = keys[j.check]
            if k.version is not None and j.verdict is not None:
                keep.append((j.call_id, k.key, j.passed, j.verdict))
        scans.save_verdicts(keep)
        if progress is not None:
            progress(judged + len(errors), total)

    groups = list(_batches(calls, todo, size))
    workers = min(jobs or default_jobs(), len(groups))
    batches = _read(store, groups)
    if workers <= 1 or total < parallel_from:
        for batch in batches:
            take(judge(batch, {r["id"]: todo[r["id"]] for r in batch.rows}, checks, environment))
    else:
        for results in _in_workers(batches, todo, checks, plugins, workers, environment):
            take(results)
    flagged = scans.flagged()
    hits = []
    for call in calls:
        failing = []
        for i, check in enumerate(checks):
            passed, verdict = found.get((call.id, i), (True, None))
            if not passed and verdict is not None:
                failing.append({"check": check.spec, **json.loads(verdict)})
        if failing:
            hits.append(Hit(call, tuple(failing), tuple(flagged.get(call.id, ()))))
    return ScanResult(tuple(keys), len(calls), judged, from_cache, tuple(hits), tuple(errors))


def _batches(
    calls: Sequence[ScanCall], todo: Mapping[str, Sequence[int]], size: int = BATCH
) -> Iterator[list[str]]:
    """The calls to judge, a conversation's together, at most `size` to a batch."""
    by_conversation: dict[str | None, list[str]] = {}
    for call in calls:
        if call.id in todo:
            by_conversation.setdefault(call.conversation_id, []).append(call.id)
    for ids in by_conversation.values():
        for start in range(0, len(ids), size):
            yield ids[start : start + size]


def _read(store: Store, groups: Sequence[list[str]]) -> Iterator[OutputRows]:
    """The batches' rows, read READ calls at a time, as they are wanted."""
    start = 0
    while start < len(groups):
        end, size = start, 0
        while end < len(groups) and (end == start or size + len(groups[end]) <= READ):
            size += len(groups[end])
            end += 1
        chunk = groups[start:end]
        yield from store.scans.output_rows([i for g in chunk for i in g]).split(chunk)
        start = end


def _in_workers(
    batches: Iterator[OutputRows],
    todo: Mapping[str, list[int]],
    checks: Sequence[Check],
    plugins: Sequence[str | Path],
    workers: int,
    environment: Environment | None = None,
) -> Iterator[list[Judgement]]:
    """Judge the batches in `workers` processes, at most two per worker in flight; yields
    each batch's judgements as it finishes."""
    pending: set[Future[list[Judgement]]] = set()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=([c.spec for c in checks], [str(p) for p in plugins], environment),
    ) as pool:

        def send() -> None:
            batch = next(batches, None)
            if batch is not None:
                wanted = {r["id"]: todo[r["id"]] for r in batch.rows}
                pending.add(pool.submit(_judge_in_worker, batch, wanted))

        for _ in range(2 * workers):
            send()
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.discard(future)
                    yield future.result()
                    send()
        except BrokenProcessPool as error:
            raise RedlineError(f"a scan worker process died: {error}") from None
        finally:
            for future in pending:
                future.cancel()
