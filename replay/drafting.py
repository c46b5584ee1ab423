"""Drafting a check from a failure: a model writes it, the sandbox proves it, or the model is
told why and asked again (`redline draft`, the web view's "Draft a check", the demo).

    case_from_call(store, call, note, good, registry) -> Case     what the check is drafted from
    history_of(store, case, limit) -> History                     recorded answers to scan after
    draft(case, model, attempts=3) -> Drafted                     ask, prove, feed back, repeat
    save_check(module, name, out=None, folder=...) -> Path        written, never over a file
    header(model, case, attempt) -> str                           the comment it is saved with
    keep_drafts(attempts, folder, call) -> [Path]                 refused drafts, for the user

A draft is kept only when the sandbox proves it (`draft_proof.prove`): it loads and registers
one check whose name is not taken, its own examples hold, it fails on the bad answer and passes
on every good one. Each refusal's reason goes back to the model as the next user message, up to
`attempts` answers. The model is asked through `send.Sender` (retries, timeouts); the caller
decides where the call is recorded (the command line sends it through a proxy of its own, so a
model that cannot write the check is a recorded call, a task in waiting, like any other).
Nothing here writes a file but `save_check` and `keep_drafts`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from redline.analyzers import Context, Registry, sandbox
from redline.errors import RedlineError, SandboxUnavailable
from redline.replay.corrections import user_words
from redline.replay.draft_prompt import (
    Answer,
    Case,
    Unreadable,
    feedback,
    first_message,
    module_in,
    system_prompt,
)
from redline.replay.draft_proof import (
    PROVE_LIMITS,
    SCAN_LIMITS,
    History,
    Proof,
    Scanned,
    prove,
    scan_history,
)
from redline.replay.flagging import bad_answer
from redline.replay.models import ModelSpec
from redline.replay.rendering import render
from redline.replay.send import Policy, Sender, Sent
from redline.transcripts import Message, Request, Store, TaskOutput, Text, wire

# How many recorded answers a drafted check is run over, the latest first, by default.
HISTORY = 500
# Drafting calls say who they are: a scan over recorded history leaves them out.
USER_AGENT = "redline-draft/1"
POLICY = Policy(concurrency=1, timeout=600.0, retries=2)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One answer of the drafting model: its text, the module it held (None: none could be
    read), the sandbox's proof of it (None when there was no module), and why it was refused
    (None: it holds)."""

    number: int
    answer: str
    module: str | None
    proof: Proof | None
    reason: str | None

    @property
    def holds(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class Drafted:
    """Every attempt, in order; `kept` is the last when it holds; `scanned`, the kept check
    over the recorded history (None when there was none to scan)."""

    attempts: tuple[Attempt, ...]
    scanned: Scanned | None = None

    @property
    def kept(self) -> Attempt | None:
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.holds else None

    def to_json(self, call: str, model: str, path: str | None, flag: str | None) -> dict[str, Any]:
        """What `redline draft --json` prints (docs/json.md) and the web view shows."""
        kept = self.kept
        proof = kept.proof if kept is not None else None
        return {
            "call": call,
            "model": model,
            "attempts": [
                {
                    "number": a.number,
                    "held": a.holds,
                    "check": a.proof.name if a.proof is not None else None,
                    "reason": a.reason,
                }
                for a in self.attempts
            ],
            "check": None
            if proof is None
            else {
                "name": proof.name,
                "description": proof.description,
                "path": path,
                "examples": {"valid": proof.valid, "invalid": proof.invalid},
                "bad_findings": [dict(f) for f in proof.bad_findings],
            },
            "history": self.scanned.to_json() if self.scanned is not None else None,
            "flag": flag,
        }


class DraftFailed(RedlineError):
    """The drafting model could not be asked (unreachable, an error answer): `attempts` holds
    what it answered before."""

    def __init__(self, message: str, attempts: Sequence[Attempt]) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)


# -- the case --------------------------------------------------------------------------------------


def case_from_call(
    store: Store, call: str, note: str, good: Sequence[TaskOutput], registry: Registry
) -> Case:
    """The bad answer of `call` with its transcript, the user's last words before it, the note,
    the good answers (`flagging.good_output` reads a file or a call as `redline flag --good`
    does) and the names taken. The bad answer and each good one must have written code: a
    check judges code."""
    if not note.strip():
        raise RedlineError("give --note: what the model did wrong, in your words")
    found = store.load_call(call)
    request, output = bad_answer(store, found)
    context = Context(request)
    bad = _answer(output, context, "the bad answer")
    goods = tuple(_answer(g, context, "a good answer") for g in good)
    return Case(
        call=found.id,
        model=found.summary.model,
        asked=asked(request),
        note=note,
        request=request,
        bad=bad,
        good=goods,
        taken={name: registry.origin(name) for name in registry.names()},
    )


def _answer(output: TaskOutput, context: Context, what: str) -> Answer:
    code = Context(context.request, cut_off=output.cut_off).changes(output.message)
    label = (output.source or what).removeprefix("file ")
    if not code:
        fix = (
            "draft from the call that wrote it"
            if what == "the bad answer"
            else "give one that does"
        )
        raise RedlineError(f"{what} ({label}) wrote no code, and a check judges code; {fix}")
    return Answer(output.message, output.cut_off, label, code)


def asked(request: Request) -> str:
    """What the user last asked before the call: their words in the last user message that
    has any (not what agents inject, not tool results)."""
    for message in reversed(request.messages):
        if message.role == "user":
            words = user_words([message])
            if words:
                return "\n\n".join(words)
    return ""


def history_of(store: Store, case: Case, limit: int = HISTORY) -> History:
    """The last `limit` recorded answers but the case's own calls and redline's drafting
    calls, a conversation's together (batches of at most 100), to scan with a drafted check."""
    own = {case.call, *(g.label.removeprefix("call ") for g in case.good)}
    calls = [
        c
        for c in store.scans.calls()
        if c.id not in own and not (c.client or "").startswith("redline-draft/")
    ]
    chosen = calls[-limit:] if limit > 0 else []
    groups: dict[str | None, list[str]] = {}
    for c in chosen:
        groups.setdefault(c.conversation_id, []).append(c.id)
    batches = [ids[i : i + 100] for ids in groups.values() for i in range(0, len(ids), 100)]
    rows = store.scans.output_rows([c.id for c in chosen]).split(batches) if chosen else []
    return History(tuple(rows), {c.id: c.title for c in chosen}, len(calls))


# -- drafting --------------------------------------------------------------------------------------


def draft(
    case: Case,
    model: ModelSpec,
    *,
    attempts: int = 3,
    history: History | None = None,
    limits: sandbox.Limits = PROVE_LIMITS,
    scan_limits: sandbox.Limits = SCAN_LIMITS,
    policy: Policy = POLICY,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> Drafted:
    """Ask `model` for a check, prove each answer in the sandbox, and feed the reason back,
    until one holds or `attempts` answers were refused; a check that holds is then run over
    `history` (in the sandbox too), so a check that flags everything shows before it is used.
    Raises DraftFailed when the model cannot be asked, RedlineError when the sandbox cannot
    start (before anything is sent)."""
    if attempts < 1:
        raise RedlineError("--attempts must be 1 or more")
    try:
        sandbox.require()
    except SandboxUnavailable as error:
        raise RedlineError(
            f"drafted checks are judged only in the sandbox, and it cannot start here: "
            f"{error.reason}"
        ) from None
    request = Request(
        model=model.model,
        messages=(Message("user", (Text(first_message(case)),)),),
        system=(Text(system_prompt()),),
    )
    done: list[Attempt] = []
    for number in range(1, attempts + 1):
        sent = _ask(model, request, policy)
        if sent.response is None:
            raise DraftFailed(
                f"the drafting model {model.name} could not be asked: {sent.error}", done
            )
        text = sent.response.message.text
        attempt = _judge(
            number, text, wire.is_cut_off(sent.response.finish_reason, model.wire), case, limits
        )
        done.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt)
        if attempt.holds:
            break
        assert attempt.reason is not None
        request = Request(
            model=request.model,
            messages=(
                *request.messages,
                Message("assistant", (Text(text or "(no text)"),)),
                Message("user", (Text(feedback(attempt.reason)),)),
            ),
            system=request.system,
        )
    kept = done[-1] if done[-1].holds else None
    scanned = None
    if kept is not None and kept.module is not None and history is not None and history.calls:
        scanned = scan_history(kept.module, history, scan_limits)
    return Drafted(tuple(done), scanned)


def _judge(number: int, text: str, cut_off: bool, case: Case, limits: sandbox.Limits) -> Attempt:
    try:
        module = module_in(text, cut_off)
    except Unreadable as unreadable:
        return Attempt(number, text, None, None, str(unreadable))
    proof = prove(module, case, limits)
    reason = proof.reason
    if reason is None and proof.name is not None and proof.name in case.taken:
        reason = f"its name {proof.name!r} is taken ({case.taken[proof.name]}); choose another name"
    return Attempt(number, text, module, proof, reason)


def _ask(model: ModelSpec, request: Request, policy: Policy) -> Sent:
    async def send() -> Sent:
        async with aiohttp.ClientSession(
            headers={"User-Agent": USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        ) as session:
            return await Sender(session, policy).send(model, render(request, model, None))

    return asyncio.run(send())


# -- saving ----------------------------------------------------------------------------------------


def file_name(name: str) -> str:
    """A check's file name: its name as a module name (`no-silent-fallback` ->
    `no_silent_fallback.py`)."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower()) + ".py"


def save_check(module: str, name: str, *, out: Path | None, folder: Path, header: str = "") -> Path:
    """Write the module to `out` (which must not exist), else into `folder` under its name
    (with `_2`, `_3`... when the name's file exists). Never writes over a file."""
    text = (header + module) if header else module
    if out is not None:
        _write_new(out, text)
        return out
    folder.mkdir(parents=True, exist_ok=True)
    stem = file_name(name).removesuffix(".py")
    for n in range(1, 1000):
        path = folder / (f"{stem}.py" if n == 1 else f"{stem}_{n}.py")
        try:
            _write_new(path, text)
        except FileExistsError:
            continue
        return path
    raise RedlineError(f"{folder} holds {stem}.py and 998 more of that name; clear some")


def header(model: str, case: Case, attempt: Attempt) -> str:
    """The comment a saved check starts with: who drafted it from what, and what was proven."""
    proof = attempt.proof
    examples = proof.valid + proof.invalid if proof is not None else 0
    day = datetime.now(UTC).date().isoformat()
    goods = len(case.good)
    good = f"passes on {goods} good answer{'s' * (goods != 1)}" if goods else "no good answer given"
    return (
        f"# Drafted by `redline draft` with {model} from call {case.call}, {day}:\n"
        f"#   {' '.join(case.note.split())}\n"
        f"# Proven in the sandbox: it loads, its {examples} examples hold, it fails on the bad "
        f"answer; {good}.\n"
        "# Every redline command loads this file as a plugin: read it before you rely on it.\n\n"
    )


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as f:
        f.write(text)


def keep_drafts(attempts: Sequence[Attempt], folder: Path, call: str) -> list[Path]:
    """Each attempt's module (or, with none, its answer) in `folder`, with the reason it was
    refused on top, for the user to fix: `draft-CALL-1.py`... Never writes over a file."""
    written = []
    for attempt in attempts:
        reason = "\n".join(f"# {line}" for line in (attempt.reason or "it holds").splitlines())
        header = (
            f"# redline draft, attempt {attempt.number} for call {call}: refused:\n{reason}\n\n"
        )
        body = attempt.module if attempt.module is not None else _commented(attempt.answer)
        stem = f"draft-{call[:12]}-{attempt.number}"
        for n in range(1, 1000):
            path = folder / (f"{stem}.py" if n == 1 else f"{stem}_{n}.py")
            try:
                _write_new(path, header + body)
            except FileExistsError:
                continue
            written.append(path)
            break
    return written


def _commented(answer: str) -> str:
    return (
        "# The answer held no module; it said:\n"
        + "\n".join(f"# {line}" for line in answer.splitlines())
        + "\n"
    )
