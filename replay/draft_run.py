"""Proving a drafted `run` check: the run check itself, in the case's workspace, in the sandbox.

    run_place(case) -> context manager of an Environment     the workspace written once, for
                                                             every run of a draft's attempts
    fits(case, environment)                                  the answers can be run there at
                                                             all (before a model is asked)
    prove_run(spec, case, environment) -> Proof              it parses, fails on the bad
                                                             answer, passes on every good one

A `run` check a model proposes is text, not code: redline's own parser reads it (`parse_check`,
as `redline flag -c` does), and the `run` check runs its command on the answer's code in the
sandbox (`analyzers/rules/run.py`: a fresh copy of the workspace per run, no network, nothing
outside the copy writable, time and memory limits). It is proven as `flag` would judge it: it
must fail on the bad answer and pass, judged, on every good answer. Its `timeout` is bounded
(`MAX_TIMEOUT`: it runs once per answer, each attempt) and `venv`, a folder of this machine
mounted into the sandbox, is the user's to add, never the model's.

Before any model is asked, `fits` runs `true` on each answer: an answer whose edits do not apply
in the workspace (a wrong `--rev`, a good answer written for another folder) would make every
command "fail" on it, and proves nothing about a command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from redline.analyzers import (
    Check,
    Environment,
    Finding,
    Registry,
    Verdict,
    default_registry,
    judgement,
    parse_check,
    prepared,
    run_checks,
)
from redline.errors import RedlineError
from redline.replay.draft_prompt import MAX_TIMEOUT, Answer, Case
from redline.replay.draft_proof import Proof

# The most a reason quotes of a command's output (its last lines, as the run check keeps them).
_OUTPUT = 1500


@contextlib.contextmanager
def run_place(case: Case) -> Iterator[Environment]:
    """The case's workspace (when it has one) written once into a temporary folder, with its
    own files, sandboxed: where each run of a drafted `run` check copies from."""
    taken = case.workspace
    with prepared(
        None if taken is None else taken.workspace,
        None if taken is None else taken.blobs.__getitem__,
        case.files,
    ) as environment:
        yield environment


def fits(case: Case, environment: Environment) -> None:
    """Raise RedlineError unless every answer of the case can be run in `environment` (its
    code placed, its edits applied): `run:cmd=true` passes, judged, on each."""
    check = parse_check("run:cmd=true", _built_ins())
    for answer, what in ((case.bad, "the bad answer"), *((g, "a good answer") for g in case.good)):
        verdict = _verdict(check, answer, case, environment)
        if judgement([verdict], answer.message, cut_off=answer.cut_off) == "pass":
            continue
        why = "; ".join(f.message for f in verdict.findings[:3]) or (
            "none of its code has a place there: a code block that names no file"
        )
        raise RedlineError(
            f"{what} ({answer.label}) cannot be run in the workspace, so no command run on it "
            f"proves anything: {why}; check --workspace and --rev (a good answer must edit the "
            "same project: a call, or a response body whose edits name its files)"
        )


def prove_run(spec: str, case: Case, environment: Environment) -> Proof:
    """Why the drafted `run` check `spec` is refused, or (reason None) its findings on the
    bad answer."""
    try:
        check = parse_check(spec, _built_ins())
    except RedlineError as error:
        return Proof(f"redline cannot read it: {error}")
    refused = _options_refused(check)
    if refused is not None:
        return Proof(refused)
    bad = case.bad
    try:
        verdict = _verdict(check, bad, case, environment)
    except RedlineError as error:
        return Proof(f"on the bad answer ({bad.label}): {error}")
    if verdict.passed:
        return Proof(
            f"it passes on the bad answer ({bad.label}), so it does not catch the failure the "
            f"note describes: {_ran(verdict)}"
        )
    for good in case.good:
        try:
            on_good = _verdict(check, good, case, environment)
        except RedlineError as error:
            return Proof(f"on the good answer ({good.label}): {error}")
        if not on_good.passed:
            return Proof(
                f"it fails on the good answer ({good.label}), so it would fail a model that got "
                f"it right: {_failed(on_good)}"
            )
        if judgement([on_good], good.message, cut_off=good.cut_off) != "pass":
            return Proof(
                f"it passes on the good answer ({good.label}) only because it ran none of its "
                "code; a pass is a judged pass"
            )
    return Proof(
        None,
        check.name,
        check.analyzer.description,
        bad_findings=tuple(_finding(f) for f in verdict.findings[:5]),
    )


def _built_ins() -> Registry:
    """The built-in checks: a drafted `run` check is the built-in `run`, read by its parser."""
    return default_registry(entry_points=False)


def _options_refused(check: Check) -> str | None:
    if check.name != "run":
        return f"it is a `{check.name}` check; a ```redline-run block holds a `run` check"
    if check.options.get("venv") is not None:
        return (
            "it gives `venv`, a folder of this machine: that is the user's to add; leave it out "
            "(the command has this machine's interpreters and tools)"
        )
    timeout = check.options.get("timeout")
    if isinstance(timeout, int) and timeout > MAX_TIMEOUT:
        return f"its timeout is {timeout} s; a drafted run check may take at most {MAX_TIMEOUT} s"
    return None


def _verdict(check: Check, answer: Answer, case: Case, environment: Environment) -> Verdict:
    return run_checks(
        [check], answer.message, case.request, cut_off=answer.cut_off, environment=environment
    )[0]


def _ran(verdict: Verdict) -> str:
    ran = verdict.ran
    if ran is None:
        return "the command did not run"
    said = _tail(ran.output)
    return f"`{ran.command}` ended with {ran.status}" + (
        f"; its output ends:\n{said}" if said else ""
    )


def _failed(verdict: Verdict) -> str:
    shown = [
        f.message + (f"; its output ends:\n{_tail(f.snippet)}" if f.snippet else "")
        for f in verdict.findings[:3]
    ]
    return "\n".join(shown)


def _tail(text: str) -> str:
    text = text.strip("\n")
    return text if len(text) <= _OUTPUT else "…" + text[-_OUTPUT + 1 :]


def _finding(f: Finding) -> dict[str, Any]:
    return {"path": f.path, "line": f.line, "message": f.message, "snippet": _tail(f.snippet)}
