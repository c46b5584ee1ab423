"""Flagging: making a task from a recorded call, and proving its checks both ways.

A task is only worth keeping if its checks catch the failure it was made from (some check fails
on the known-bad output) and, when a known-good output is given, let a good answer through
(every check passes on it, and some check judged code it wrote): a check that fails everything
would fail every model too, and an answer with no code proves nothing. `validate`
runs the checks on both, with the task's transcript as context, exactly as `redline check
--call` does. `flag` is the whole decision, for `redline flag`, the web view and the demo: it
judges a task made by `task_from_call`, refuses one that does not hold or that is a task kept
already (unless forced while a good output passes) and saves one that may be kept.

Two tasks are the same when they come from the same call, cut at the same place (`tool_call`,
`drop_last`) and are judged by the same checks, as a set (order aside; a check's options compared
as parsed, defaults filled in). Name, note and known-good output do not make another task: the
same transcript judged the same way would count twice in every comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from redline.analyzers import (
    Check,
    Judgement,
    Registry,
    Verdict,
    call_output,
    judgement,
    load_file,
    parse_check,
    run_checks,
)
from redline.errors import RedlineError
from redline.transcripts import (
    Call,
    Provenance,
    Request,
    Store,
    Task,
    TaskOutput,
    check_name,
    drop_last,
    only_tool_call,
    suggest_name,
    wire,
)


@dataclass(frozen=True, slots=True)
class Judged:
    """One check's verdict on one output."""

    check: Check
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Validation:
    """The checks' verdicts on a task's known-bad output, and on its known-good one with what
    they add up to (`good_judgement`: a pass only when a check judged code it wrote)."""

    bad: tuple[Judged, ...]
    good: tuple[Judged, ...] | None = None
    good_judgement: Judgement | None = None

    @property
    def catches(self) -> bool:
        """Some check fails on the known-bad output."""
        return any(not j.verdict.passed for j in self.bad)

    @property
    def good_passes(self) -> bool:
        """The known-good output passes (or there is none): every check passes on it and some
        check judged code it wrote. An answer with no code proves nothing about good code."""
        return self.good is None or self.good_judgement == "pass"

    @property
    def holds(self) -> bool:
        return self.catches and self.good_passes


class TaskRefused(RedlineError):
    """The task's checks do not prove what a task must (`validation` says how)."""

    def __init__(self, message: str, validation: Validation) -> None:
        super().__init__(message)
        self.validation = validation


class DuplicateTask(TaskRefused):
    """The task is one kept already (`existing`: their names)."""

    def __init__(self, existing: tuple[str, ...], validation: Validation) -> None:
        names = ", ".join(existing)
        super().__init__(
            f"this call is a task already, cut at the same place and with the same checks: "
            f"{names}; replay that one (`redline task show {existing[0]}`), or --force to make "
            "another",
            validation,
        )
        self.existing = existing


@dataclass(frozen=True, slots=True)
class Flagged:
    """What flagging decided: the task, its checks, their verdicts on its outputs, why it was
    refused (None when it may be kept as it is), whether it may be kept (or was forced while its
    known-good output passes), whether it was saved, and the stored tasks it is the same as."""

    task: Task
    checks: tuple[Check, ...]
    validation: Validation
    refused: TaskRefused | None
    kept: bool
    saved: bool
    duplicates: tuple[str, ...] = ()


def flag(
    store: Store, task: Task, registry: Registry, *, force: bool = False, save: bool = True
) -> Flagged:
    """Judge `task` with its checks and decide: kept when it is no task kept already and its
    checks catch its known-bad output and pass its known-good one; with `force`, kept while
    the known-good output passes. A kept task is saved unless `save` is False (checks tried
    without saving)."""
    checks = tuple(checks_of(task.checks, registry))
    validation = _validation(checks, task)
    duplicates = same_tasks(store, task, checks, registry)
    refused: TaskRefused | None = None
    try:
        if duplicates:
            raise DuplicateTask(duplicates, validation)
        refuse_unless_valid(validation, task.good.source if task.good else None)
    except TaskRefused as exc:
        refused = exc
    kept = refused is None or (force and validation.good_passes)
    if kept and save:
        store.save_task(task)
    return Flagged(task, checks, validation, refused, kept, kept and save, duplicates)


def same_tasks(
    store: Store, task: Task, checks: Sequence[Check], registry: Registry
) -> tuple[str, ...]:
    """The stored tasks that `task` would be again (see the module's docstring)."""
    call = task.provenance.call
    if call is None:
        return ()
    judged_by = _check_set(checks)
    found = []
    for stored in store.tasks():
        if stored.origin_call != call or _check_set(stored.checks, registry) != judged_by:
            continue
        other = store.task(stored.name)
        if (other.tool_call, other.drop_last) == (task.tool_call, task.drop_last):
            found.append(stored.name)
    return tuple(found)


def _check_set(
    checks: Sequence[Check] | Sequence[str], registry: Registry | None = None
) -> frozenset[tuple[str, str]]:
    """Checks as a set of (name, options as canonical JSON); a spec this registry cannot read
    (a plugin not loaded) stands for itself."""
    from redline.replay.scanning import options_json

    out: set[tuple[str, str]] = set()
    for given in checks:
        try:
            check = parse_check(given, registry) if isinstance(given, str) else given
        except RedlineError:
            out.add(("", str(given)))
            continue
        out.add((check.name, options_json(check.options)))
    return frozenset(out)


def checks_of(specs: Sequence[str], registry: Registry) -> list[Check]:
    if not specs:
        raise RedlineError(
            "give at least one --check NAME[:OPTIONS]; `redline analyzers` lists them"
        )
    return [parse_check(spec, registry) for spec in specs]


def _judge(checks: Sequence[Check], task: Task, output: TaskOutput) -> tuple[Judged, ...]:
    verdicts = run_checks(checks, output.message, task.request, cut_off=output.cut_off)
    return tuple(Judged(c, v) for c, v in zip(checks, verdicts, strict=True))


def _judgement(judged: tuple[Judged, ...], output: TaskOutput) -> Judgement:
    return judgement([j.verdict for j in judged], output.message, cut_off=output.cut_off)


def validate(task: Task, registry: Registry) -> Validation:
    """Run the task's checks on its known-bad and known-good outputs."""
    return _validation(checks_of(task.checks, registry), task)


def _validation(checks: Sequence[Check], task: Task) -> Validation:
    bad = _judge(checks, task, task.output)
    if task.good is None:
        return Validation(bad)
    good = _judge(checks, task, task.good)
    return Validation(bad, good, _judgement(good, task.good))


def refuse_unless_valid(validation: Validation, good_label: str | None) -> None:
    """Raise TaskRefused when the checks catch nothing, or fail the known-good output."""
    if not validation.catches:
        raise TaskRefused(
            "every check passes on the original output, so this task cannot catch its own "
            "failure; choose checks that fail on it (`redline check --call ID -c ...` tries "
            "them), or --force to keep it anyway",
            validation,
        )
    if validation.good is not None and not validation.good_passes:
        failing = ", ".join(j.check.spec for j in validation.good if not j.verdict.passed)
        if not failing:
            raise TaskRefused(
                f"the known-good output ({good_label}) wrote no code the checks could judge, so "
                "it proves nothing about good code; give an answer or a file that writes the "
                "code",
                validation,
            )
        raise TaskRefused(
            f"{failing} fails on the known-good output ({good_label}), so it would fail every "
            "model; change the check or the good output",
            validation,
        )


def good_output(store: Store, source: str) -> TaskOutput:
    """A known-good output from a file in any form `redline check` reads, or from a call."""
    path = Path(source)
    if path.exists():
        output = load_file(path)
        return TaskOutput(output.message, None, output.cut_off, f"file {source}")
    found = call_output(store.load_call(source))
    return TaskOutput(found.message, None, found.cut_off, f"call {found.label}")


def task_from_call(
    store: Store,
    call: Call,
    checks: Sequence[str],
    *,
    name: str | None = None,
    note: str = "",
    tool_call: int | None = None,
    drop: int = 0,
    good: TaskOutput | None = None,
) -> Task:
    """The task a recorded call makes: its transcript, its answer as the known-bad output.
    Refuses calls that are no model call, were not parsed, or did not finish."""
    request, output = bad_answer(store, call, tool_call)
    s = call.summary
    conversation = store.conversation(s.conversation_id) if s.conversation_id else None
    taken = store.task_names()
    if name is None:
        name = suggest_name(tuple(checks), conversation.title if conversation else None, taken)
    else:
        check_name(name)
        if name in taken:
            raise RedlineError(
                f"a task named {name!r} exists already; choose another --name, or "
                f"`redline task rm {name}` first"
            )
    return Task(
        name=name,
        request=drop_last(request, drop),
        output=output,
        checks=tuple(checks),
        good=good,
        note=note,
        tool_call=tool_call,
        drop_last=drop,
        provenance=Provenance(
            call=call.id,
            conversation=s.conversation_id,
            model=s.model,
            client=call.user_agent,
            recorded_at=s.started_at,
        ),
    )


def bad_answer(
    store: Store, call: Call, tool_call: int | None = None
) -> tuple[Request, TaskOutput]:
    """A recorded call's transcript and its answer (or only its `tool_call`th tool call), as
    a task's known-bad output. Refuses calls that are no model call, were not parsed, or did
    not finish."""
    s = call.summary
    if s.wire is None:
        raise RedlineError(
            f"call {call.id} is {s.method} {s.path}, not a call to a model; flag a model call "
            "(`redline ls CONVERSATION` lists them)"
        )
    request = store.transcript(call)
    if request is None:
        raise RedlineError(
            f"call {call.id}: its request could not be parsed ({call.parse_error or 'no body'}), "
            "and a task needs its transcript"
        )
    if s.status != "complete" or call.response is None:
        why = call.error or (f"HTTP {s.http_status}" if s.http_status else "no answer")
        raise RedlineError(
            f"call {call.id} did not finish ({s.status}: {why}); a task needs the model's "
            "whole answer"
        )
    response = call.response
    message = response.message if tool_call is None else only_tool_call(response.message, tool_call)
    output = TaskOutput(
        message,
        response.finish_reason,
        wire.is_cut_off(response.finish_reason, s.wire),
        f"call {call.id}",
    )
    return request, output
