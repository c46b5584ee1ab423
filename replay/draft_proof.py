"""Proving a drafted check in the sandbox, and running it over recorded answers there.

    prove(module, case, limits) -> Proof              it loads, registers one check, its
                                                      examples hold, it fails on the bad answer
                                                      and passes on every good one
    scan_history(module, history, limits) -> Scanned  how many recorded answers it flags

The drafted module is model-written code: it never runs in this process. Each step writes it
and a job into a fresh private folder and runs `draft_judge` on them in the sandbox
(`redline.analyzers.sandbox`: no network, nothing of the host writable, time and memory
limits), with this Python and redline's code mounted read-only. What comes back is read as
untrusted: only lines marked with the job's nonce, each checked for shape and cut to size.
"""

from __future__ import annotations

import json
import pickle
import secrets
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.analyzers import sandbox
from redline.replay.draft_judge import JOB, MODULE, SCAN_EXAMPLES
from redline.replay.draft_prompt import Case
from redline.transcripts import OutputRows

MiB = 1 << 20
# A proof loads a module and runs a check on a few answers: seconds. A scan reads many.
PROVE_LIMITS = sandbox.Limits(seconds=30, memory=1024 * MiB, output_kept=256 * 1024)
SCAN_LIMITS = sandbox.Limits(seconds=300, memory=2048 * MiB, output_kept=256 * 1024)
_PACKAGES = ("redline", "redline.analyzers", "redline.transcripts", "redline.replay")
_TEXT = 2000  # the most of any text a result may carry

# Where the judge was when the sandbox stopped it, as a reason reads.
_PHASES = {
    "gate": "while its source was read",
    "load": "when imported",
    "examples": "on its own examples",
    "bad": "on the bad answer",
    "good": "on a good answer",
    "scan": "on the recorded answers",
}


@dataclass(frozen=True, slots=True)
class Proof:
    """What the sandbox found: `reason` is why the draft is refused (None: it holds); then
    the check's `name` and `description`, its examples counted, and its findings on the bad
    answer."""

    reason: str | None
    name: str | None = None
    description: str | None = None
    valid: int = 0
    invalid: int = 0
    bad_findings: tuple[Mapping[str, Any], ...] = ()

    @property
    def holds(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class History:
    """Recorded answers to scan, as `scanning.judge` reads them, a conversation's together;
    `titles` names their conversations, `total` counts every recorded answer there was."""

    batches: tuple[OutputRows, ...]
    titles: Mapping[str, str | None]
    total: int

    @property
    def calls(self) -> int:
        return sum(len(b.rows) for b in self.batches)


@dataclass(frozen=True, slots=True)
class Scanned:
    """The check over recorded answers: `scanned` judged, `flagged` with findings, `errors`
    where it raised; a few of the flagged (`examples`: id, title, finding); `stopped` says why
    it ended early, when it did (the counts are then of what it judged until then)."""

    scanned: int
    flagged: int
    errors: int
    examples: tuple[Mapping[str, Any], ...]
    stopped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "flagged": self.flagged,
            "errors": self.errors,
            "examples": [dict(e) for e in self.examples],
            "stopped": self.stopped,
        }


def prove(module: str, case: Case, limits: sandbox.Limits = PROVE_LIMITS) -> Proof:
    bad = case.bad
    job = {
        "bad": (bad.message, case.request, bad.cut_off, bad.label),
        "good": [(g.message, g.cut_off, g.label) for g in case.good],
    }
    events, others, ran = _run("prove", module, job, limits)
    result = _result(events)
    if result is None:
        return Proof(_stopped(events, others, ran, "it"))
    if "refused" in result:
        return Proof(_text(result["refused"]) or "it was refused")
    name, description = result.get("name"), result.get("description")
    if not isinstance(name, str) or not isinstance(description, str):
        return Proof("the sandbox said nothing of its check's name")
    return Proof(
        None,
        name[:200],
        description[:_TEXT],
        _count(result.get("valid")),
        _count(result.get("invalid")),
        _findings(result.get("bad_findings")),
    )


def scan_history(module: str, history: History, limits: sandbox.Limits = SCAN_LIMITS) -> Scanned:
    job = {"batches": list(history.batches), "titles": dict(history.titles)}
    events, others, ran = _run("scan", module, job, limits)
    result = _result(events)
    progress = [e for e in events if "scanned" in e]
    counts: Mapping[str, Any] = result if result is not None and "refused" not in result else {}
    stopped = None
    if result is None:
        stopped = _stopped(events, others, ran, "the scan")
        counts = progress[-1] if progress else {}
    elif "refused" in result:
        stopped = _text(result["refused"])
        counts = progress[-1] if progress else {}
    examples = counts.get("examples")
    return Scanned(
        _count(counts.get("scanned")),
        _count(counts.get("flagged")),
        _count(counts.get("errors")),
        tuple(
            {
                "id": _text(e.get("id")),
                "title": _text(e.get("title")) or None,
                "finding": _findings([e.get("finding")])[0] if e.get("finding") else {},
            }
            for e in (examples if isinstance(examples, list) else [])[:SCAN_EXAMPLES]
            if isinstance(e, dict)
        ),
        stopped,
    )


def _run(
    step: str, module: str, job: dict[str, Any], limits: sandbox.Limits
) -> tuple[list[dict[str, Any]], list[str], sandbox.Result]:
    """The judge's events (its marked lines) and the other lines of output, nonblank."""
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="redline-draft-") as tmp:
        folder = Path(tmp)
        (folder / MODULE).write_text(module, encoding="utf-8", errors="surrogatepass")
        (folder / JOB).write_bytes(pickle.dumps({**job, "step": step, "nonce": nonce}))
        command = shlex.join(sandbox.python_argv("-B", "-m", "redline.replay.draft_judge"))
        ran = sandbox.run(command, folder, limits, read_only=sandbox.python_mounts(*_PACKAGES))
    marker = nonce + " "
    events, others = [], []
    for line in ran.output.splitlines():
        if not line.startswith(marker):
            if line.strip():
                others.append(line.strip()[:_TEXT])
            continue
        try:
            event = json.loads(line[len(marker) :])
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events, others, ran


def _result(events: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    for event in events:
        if isinstance(event.get("result"), dict):
            return dict(event["result"])
    return None


def _stopped(
    events: Sequence[dict[str, Any]], others: Sequence[str], ran: sandbox.Result, what: str
) -> str:
    """Why the judge said nothing in the end: the sandbox stopped it, or it died."""
    phases = [e["phase"] for e in events if e.get("phase") in _PHASES]
    where = _PHASES[phases[-1]] if phases else "as it started"
    if ran.killed == "time":
        return f"{where}, {what} did not finish within {ran.limits.seconds:g} s (a loop?)"
    if ran.killed is not None:
        return f"{where}, {what} was stopped: {ran.summary}"
    said = " | ".join(others[-3:])
    return f"{where}, the process ended ({ran.summary})" + (f": {said[:_TEXT]}" if said else "")


def _text(value: Any) -> str:
    return value[:_TEXT] if isinstance(value, str) else ""


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _findings(value: Any) -> tuple[Mapping[str, Any], ...]:
    found = []
    for f in value if isinstance(value, list) else []:
        if not isinstance(f, dict):
            continue
        line = f.get("line")
        found.append(
            {
                "path": _text(f.get("path")) or None,
                "line": line if isinstance(line, int) and not isinstance(line, bool) else None,
                "message": _text(f.get("message")),
                "snippet": _text(f.get("snippet"))[:300],
            }
        )
    return tuple(found[:5])
