"""Judging a drafted check, inside the sandbox: `python -I -B -m redline.replay.draft_judge`.

`draft_proof` writes the drafted module (`draft.py`) and a job (`job.pickle`: what to prove it
on, or the recorded answers to scan) into a private folder and runs this module on it in the
sandbox. It reads the job, deletes it, and says what it found on stdout, each line marked with
the job's nonce (a line of the module's own cannot pass for one):

    NONCE {"phase": "gate" | "load" | "examples" | "bad" | "good" | "scan"}   as it goes
    NONCE {"scanned": N, "flagged": K, "errors": E, "examples": [...]}        during a scan
    NONCE {"result": {...}}                                                     at the end

The proof goes: the gate (`draft_rules`: what the source may be), loading (the module runs, its
`register(add)` must add exactly one well-formed check), its own VALID and INVALID examples
(at least one of each), the bad answer (it must fail) and each good answer (it must pass). The
first step that fails ends it with its reason: what a model needs to fix it (a traceback keeps
only the module's own lines).

While the module's code runs (its import, `register`, every `check`) the guard (`draft_guard`:
an audit hook) refuses and records what a check has no business doing, and what it prints is
caught. Any of it refuses the draft, even when the module caught the error the hook raised. The
sandbox holds whatever gets past.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import sys
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from redline.analyzers import (
    Analyzer,
    Check,
    Registry,
    Verdict,
    judgement,
    parse_check,
    run_checks,
)
from redline.analyzers.testing import example_output, examples, run_example
from redline.errors import RedlineError
from redline.replay.draft_guard import Guard
from redline.replay.draft_rules import gate
from redline.replay.scanning import judge
from redline.transcripts import Message, Request

MODULE = "draft.py"
_NAME = "redline_drafted_check"
JOB = "job.pickle"
# What a result says at most of a traceback, of what the module printed, of an answer's findings.
MAX_TRACEBACK = 3000
MAX_PRINTED = 400
MAX_FINDINGS = 5
SCAN_EXAMPLES = 3

Say = Callable[[dict[str, Any]], None]


class Refused(Exception):
    """A step of the proof failed; the message is the reason a model is told."""


# -- the proof -----------------------------------------------------------------------------------


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit // 2] + " [...] " + text[-limit // 2 :]


def _traceback(error: BaseException) -> str:
    """The exception with only the drafted module's frames: what its author can fix."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(MODULE)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(error)
    return _short("".join(lines).rstrip(), MAX_TRACEBACK)


def _guarded[T](guard: Guard, step: str, run: Callable[[], T]) -> T:
    """Run the module's code for `step`; what it tried, raised or printed refuses it."""
    error: BaseException | None = None
    with guard.watching() as printed:
        try:
            value = run()
        except Exception as caught:  # the module's own code: anything may come out of it
            error = caught
    if guard.refused:
        raise Refused(f"{step}, it tried to {guard.refused[0]}; a check is pure: no I/O at all")
    cause = error.__cause__ if isinstance(error, RedlineError) and error.__cause__ else error
    if cause is not None:
        raise Refused(f"{step}, it raised:\n{_traceback(cause)}")
    if printed.getvalue():
        shown = _short(printed.getvalue().strip(), MAX_PRINTED)
        raise Refused(f"{step}, it printed {shown!r}; a check prints nothing")
    return value


def load(guard: Guard, path: Path) -> Analyzer:
    """The module, run, and the one check its `register` adds."""
    source = path.read_text(encoding="utf-8", errors="replace")
    module = ModuleType(_NAME)
    module.__file__ = str(path)
    sys.modules[_NAME] = module  # where dataclasses and pickling look a class's module up
    code = compile(source, str(path), "exec", dont_inherit=True)
    _guarded(guard, "when imported", partial(exec, code, module.__dict__))
    if not callable(getattr(module, "register", None)):
        raise Refused("it defines no register(add) function; end it with one that adds the check")
    registry = Registry()
    shape: list[RedlineError] = []

    def register(module: ModuleType = module) -> None:
        try:
            registry.load(module, "the drafted module")
        except RedlineError as error:  # a check of the wrong shape: said as redline says it
            shape.append(error)

    _guarded(guard, "in register(add)", register)
    if shape:
        raise Refused(str(shape[0]))
    found = list(registry)
    if len(found) != 1:
        names = ", ".join(a.name for a in found) or "none"
        raise Refused(f"register(add) adds {len(found)} checks ({names}); it must add exactly one")
    return found[0]


def prove_examples(guard: Guard, analyzer: Analyzer) -> tuple[int, int]:
    """Its VALID and INVALID examples hold, and there is at least one of each."""
    counts = {True: 0, False: 0}
    for ident, example, valid in examples(analyzer):
        counts[valid] += 1
        verdict = _guarded(guard, f"on example {ident}", partial(run_example, analyzer, example))
        shown = _short(
            example.output if isinstance(example.output, str) else example.output.text, 300
        )
        if valid and verdict.passed and judgement([verdict], example_output(example)) != "pass":
            raise Refused(
                f"its VALID example {ident} passes only because the check judged none of its "
                "code; give VALID examples it reads"
            )
        if valid and not verdict.passed:
            raise Refused(
                f"its VALID example {ident} is flagged ({_findings(verdict)}): either the example "
                f"is not valid or the check is wrong. The example: {shown!r}"
            )
        if not valid and verdict.passed:
            raise Refused(f"its INVALID example {ident} passes; the example: {shown!r}")
        lines = tuple(f.line for f in verdict.findings)
        if not valid and example.lines and lines != example.lines:
            raise Refused(
                f"its INVALID example {ident} has findings on lines {lines}, and says "
                f"lines={example.lines}"
            )
    if not counts[True] or not counts[False]:
        raise Refused(
            f"it has {counts[True]} VALID and {counts[False]} INVALID examples; give at least one "
            "of each (the bad answer's code among the INVALID ones)"
        )
    return counts[True], counts[False]


def _check(analyzer: Analyzer) -> Check:
    registry = Registry()
    registry.add(analyzer, "the drafted module")
    try:
        return parse_check(analyzer.name, registry)
    except RedlineError as error:
        raise Refused(
            f"it cannot run without options: {error}; give every option a default"
        ) from None


def _findings(verdict: Verdict) -> str:
    shown = [
        f"{f.path}:{f.line}: {f.message}" + (f" ({f.snippet})" if f.snippet else "")
        for f in verdict.findings[:MAX_FINDINGS]
    ]
    more = len(verdict.findings) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _finding_dicts(verdict: Verdict) -> list[dict[str, Any]]:
    return [
        {"path": f.path, "line": f.line, "message": f.message, "snippet": f.snippet}
        for f in verdict.findings[:MAX_FINDINGS]
    ]


def _verdict(check: Check, message: Message, request: Request | None, cut_off: bool) -> Verdict:
    return run_checks([check], message, request, cut_off=cut_off)[0]


def prove(guard: Guard, job: dict[str, Any], folder: Path, say: Say) -> dict[str, Any]:
    say({"phase": "gate"})
    source = (folder / MODULE).read_text(encoding="utf-8", errors="replace")
    problems = gate(source)
    if problems:
        raise Refused("it may not be loaded: " + "; ".join(problems))
    say({"phase": "load"})
    analyzer = load(guard, folder / MODULE)
    check = _check(analyzer)
    say({"phase": "examples"})
    valid, invalid = prove_examples(guard, analyzer)
    say({"phase": "bad"})
    message: Message
    request: Request | None
    message, request, cut_off, label = job["bad"]
    verdict = _guarded(
        guard,
        f"on the bad answer ({label})",
        partial(_verdict, check, message, request, cut_off),
    )
    if verdict.passed:
        raise Refused(
            f"it passes on the bad answer ({label}): it finds nothing there, so it does not catch "
            "the failure the note describes"
        )
    bad = _finding_dicts(verdict)
    say({"phase": "good"})
    for good, cut, source_label in job["good"]:
        verdict = _guarded(
            guard,
            f"on the good answer ({source_label})",
            partial(_verdict, check, good, request, cut),
        )
        if not verdict.passed:
            raise Refused(
                f"it fails on the good answer ({source_label}), so it would fail a model that "
                f"got it right: {_findings(verdict)}"
            )
        if judgement([verdict], good, cut_off=cut) != "pass":
            raise Refused(
                f"it passes on the good answer ({source_label}) only because it judged none of "
                "its code; a pass is a judged pass"
            )
    return {
        "name": analyzer.name,
        "description": analyzer.description,
        "valid": valid,
        "invalid": invalid,
        "bad_findings": bad,
    }


def scan(guard: Guard, job: dict[str, Any], folder: Path, say: Say) -> dict[str, Any]:
    """The check over recorded answers (`scanning.judge`, one batch at a time): how many it
    flags, a few of them, and how many it raised on."""
    say({"phase": "load"})
    analyzer = load(guard, folder / MODULE)
    check = _check(analyzer)
    say({"phase": "scan"})
    titles: dict[str, str | None] = job["titles"]
    scanned = flagged = errors = 0
    shown: list[dict[str, Any]] = []
    for batch in job["batches"]:
        todo = {row["id"]: [0] for row in batch.rows}
        guard.refused.clear()
        with guard.watching():
            judged = judge(batch, todo, [check])
        if guard.refused:
            raise Refused(f"on a recorded answer, it tried to {guard.refused[0]}")
        for j in judged:
            scanned += 1
            if j.error is not None:
                errors += 1
            elif not j.passed and j.verdict is not None:
                flagged += 1
                if len(shown) < SCAN_EXAMPLES:
                    found = json.loads(j.verdict).get("findings") or [{}]
                    shown.append(
                        {"id": j.call_id, "title": titles.get(j.call_id), "finding": found[0]}
                    )
        counts = {"scanned": scanned, "flagged": flagged, "errors": errors, "examples": shown}
        say(counts)
    return {"scanned": scanned, "flagged": flagged, "errors": errors, "examples": shown}


def _pythons_own() -> set[Path]:
    """Where Python and redline read their modules from: what imports a check makes (or a
    library makes for it, lazily) read."""
    found = {Path(p).resolve() for p in (*sys.path, sys.prefix, sys.base_prefix) if p}
    for name in ("redline", "redline.analyzers", "redline.transcripts", "redline.replay"):
        spec = importlib.util.find_spec(name)
        found.update(Path(p).resolve() for p in (spec and spec.submodule_search_locations) or ())
    return found


def main() -> int:
    folder = Path.cwd()
    job = pickle.loads((folder / JOB).read_bytes())
    (folder / JOB).unlink()
    nonce: str = job["nonce"]
    out = sys.stdout

    def say(event: dict[str, Any]) -> None:
        out.write(f"{nonce} {json.dumps(event, default=str)}\n")
        out.flush()

    guard = Guard([*_pythons_own(), (folder / MODULE).resolve()])
    steps = {"prove": prove, "scan": scan}
    try:
        result = steps[job["step"]](guard, job, folder, say)
    except Refused as refused:
        say({"result": {"refused": str(refused)}})
    else:
        say({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
