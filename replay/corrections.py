"""The user's own corrections: answers the next turn of the conversation pushed back on.

No model is asked. An answer's *turn* is what its conversation's next call sent after it: the
tool results and the user's messages up to the next answer (`ScanStore.followups` finds that
call). Each signal below is looked for in the turn, or between the answer and the next one, and
counted once; an answer's score is the sum of its signals' weights, and the answers are ranked
by score, then newest first.

Markers the agents write themselves (exact texts, in a tool result or a user message; each
agent's `markers` in `redline.transcripts.agents` hold them):

    rejected       3  the user refused a tool use (Claude Code's permission prompt, Codex's
                      approval prompt)
    declined       2  Claude Code: the user does not want to take this action right now
    plan-rejected  2  Claude Code: the user rejected the agent's plan
    interrupted    2  the user interrupted the turn or a tool use (Esc)

The user's words: the text of the turn's user messages (without what agents inject there:
reminders, environment context, rules files, command echoes) and the reason a user gives when
rejecting a tool use. Phrases are looked for in the first PHRASE_WINDOW characters of each:

    ignored        3  you ignored / forgot / skipped / didn't follow..., ignoring the rules
                      file (CLAUDE.md, AGENTS.md...) / the instructions / the rules
    no             2  the message starts with no, nope, nah, stop, wait
    wrong          2  wrong, incorrect, not what I asked, doesn't work, you broke
    why            2  why did you, why would you, why do you, why are you, why have you
    told-you       2  I told you, I asked you, I said, as I said, I already said
    revert         2  revert, undo, roll back, put it back
    dont           1  don't, do not, never, stop, shouldn't, must not
    instead        1  instead

And one from the code itself:

    undone         2  the next answer reverses an edit of this one (replaces what it wrote with
                      what was there before, deletes a file it created, or runs `git checkout` /
                      `git restore` on a file it edited)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redline.analyzers import Edit, extract
from redline.replay.scanning import Selection
from redline.transcripts import Message, ScanCall, Store, Text, ToolResult, agents

PHRASE_WINDOW = 400
MIN_SCORE = 2

WEIGHTS = {
    "rejected": 3,
    "declined": 2,
    "plan-rejected": 2,
    "interrupted": 2,
    "ignored": 3,
    "no": 2,
    "wrong": 2,
    "why": 2,
    "told-you": 2,
    "revert": 2,
    "dont": 1,
    "instead": 1,
    "undone": 2,
}

_RULES_FILES = "|".join(re.escape(name.lower()) for name in agents.rules_file_names())
_DOCS = rf"(?:{_RULES_FILES}|(?:the |my |our )?(?:instructions|rules|guidelines|conventions))"
PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "ignored",
            r"\byou(?:'ve| have)? (?:ignored|forgot|missed|skipped|didn'?t (?:follow|read|run|"
            r"use)|did not (?:follow|read|run|use))\b|\b(?:ignor(?:ed|ing)|violat(?:ed|ing)|"
            rf"against) {_DOCS}",
        ),
        ("no", r"^\W*(?:no|nope|nah|stop|wait)\b"),
        (
            "wrong",
            r"\b(?:wrong|incorrect|not what i (?:asked|wanted|meant)|(?:doesn'?t|didn'?t|does "
            r"not|did not) work|you broke)\b",
        ),
        ("why", r"\bwhy (?:did|would|do|are|have)(?: you|n'?t you)\b"),
        ("told-you", r"\b(?:i (?:told|asked) you|i (?:already )?said|as i said)\b"),
        ("revert", r"\b(?:revert|undo|roll ?back|put (?:it|that|them) back)\b"),
        ("dont", r"\b(?:don'?t|do not|never|stop|shouldn'?t|should not|must not)\b"),
        ("instead", r"\binstead\b"),
    )
)

_GIT_UNDO = re.compile(r"\bgit\s+(?:checkout|restore)\b([^|;&\n]*)")


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason to think the user corrected an answer: its name, weight and what matched."""

    name: str
    weight: int
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {"signal": self.name, "weight": self.weight, "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class Correction:
    """An answer the next turn pushed back on: the call, the call that carried the turn,
    the signals and their score, the user's words (`said`) and a summary of the answer."""

    call: ScanCall
    next_call: str
    score: int
    signals: tuple[Signal, ...]
    said: str
    output: str
    flagged: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.call.to_json(),
            "flagged": list(self.flagged),
            "score": self.score,
            "signals": [s.to_json() for s in self.signals],
            "output": self.output,
            "said": self.said,
            "next_call": self.next_call,
        }


# -- the turn --------------------------------------------------------------------------------------


def turn(messages: Sequence[Message], after_answer: bool = True) -> list[Message]:
    """The messages of the turn after an answer: up to the next assistant message (when the
    messages start before the answer, at the agent's own copy of it, that copy is skipped)."""
    out: list[Message] = []
    rest = list(messages)
    if not after_answer:
        while rest and rest[0].role == "assistant":
            rest.pop(0)
    for m in rest:
        if m.role == "assistant":
            break
        out.append(m)
    return out


def _result_text(result: ToolResult) -> str:
    if isinstance(result.content, str):
        return result.content
    return "\n".join(p.text for p in result.content if isinstance(p, Text))


def user_words(messages: Iterable[Message]) -> list[str]:
    """What the user wrote in these messages: their text without what agents inject, and the
    reason given when rejecting a tool use."""
    words: list[str] = []
    for m in messages:
        for part in m.parts:
            if isinstance(part, Text) and m.role == "user":
                text = agents.strip_injected(part.text).strip()
                if text and not agents.is_injected(text):
                    words.append(text)
            elif isinstance(part, ToolResult):
                reason = agents.rejection_reason(_result_text(part))
                if reason:
                    words.append(reason)
    return words


def markers(messages: Iterable[Message]) -> list[Signal]:
    """The agents' own markers of a rejected, declined or interrupted step."""
    found: list[Signal] = []
    for m in messages:
        for part in m.parts:
            if isinstance(part, ToolResult):
                text = _result_text(part).strip()
                signal = agents.marker(text, in_result=True)
            elif isinstance(part, Text) and m.role == "user":
                text = part.text.strip()
                signal = agents.marker(text, in_result=False)
            else:
                continue
            if signal is not None:
                found.append(_signal(signal, text))
    return found


def phrases(words: Iterable[str]) -> list[Signal]:
    """The correcting phrases (PHRASES) in the user's words."""
    found: list[Signal] = []
    for text in words:
        window = text[:PHRASE_WINDOW]
        for name, pattern in PHRASES:
            match = pattern.search(window)
            if match:
                found.append(_signal(name, match.group(0).strip()))
    return found


def _signal(name: str, evidence: str) -> Signal:
    return Signal(name, WEIGHTS[name], _short(evidence, 120))


def _short(text: str, room: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= room else flat[: room - 1] + "…"


# -- an edit the next answer undoes ------------------------------------------------------------------


def _same_file(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if not a or not b:
        return False
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _undoes(first: Edit, then: Edit) -> bool:
    if not _same_file(first.path, then.path):
        return False
    if first.kind == "write" and then.kind == "delete":
        return True
    return (
        first.kind == "replace"
        and bool(first.before.strip())
        and first.before.strip() != first.after.strip()
        and then.before.strip() == first.after.strip()
        and then.after.strip() == first.before.strip()
    )


def undone(output: Message, following: Message | None) -> Signal | None:
    """`undone` when `following` (the next answer) reverses an edit `output` made."""
    if following is None:
        return None
    edits = extract(output).edits
    if not edits:
        return None
    for then in extract(following).edits:
        for first in edits:
            if _undoes(first, then):
                return _signal("undone", f"{then.origin or 'an edit'} reverts {then.path}")
    for call in following.tool_calls:
        command = agents.tool_use(call).command
        if command is None:
            continue
        for match in _GIT_UNDO.finditer(command):
            targets = match.group(1).split()
            if any(t == "." or _same_file(e.path, t) for e in edits for t in targets):
                return _signal("undone", match.group(0))
    return None


# -- finding them ------------------------------------------------------------------------------------


def summary(message: Message, room: int = 300) -> str:
    """A one-line summary of an answer: its text, then its tool calls by name (and path)."""
    pieces = [" ".join(message.text.split())] if message.text.strip() else []
    for call in message.tool_calls:
        path = agents.tool_use(call).path
        pieces.append(f"[{call.name} {path}]" if path else f"[{call.name}]")
    return _short(" ".join(pieces), room)


def signals_of(
    output: Message, following: Sequence[Message], after_answer: bool, next_answer: Message | None
) -> list[Signal]:
    """Every signal, once each (the first match of a name), strongest first."""
    messages = turn(following, after_answer)
    found = markers(messages) + phrases(user_words(messages))
    undo = undone(output, next_answer)
    if undo is not None:
        found.append(undo)
    seen: dict[str, Signal] = {}
    for s in found:
        seen.setdefault(s.name, s)
    return sorted(seen.values(), key=lambda s: (-s.weight, list(WEIGHTS).index(s.name)))


def find_corrections(
    store: Store, selection: Selection = Selection(), *, min_score: int = MIN_SCORE
) -> list[Correction]:
    """The answers in `selection` whose next turn scores at least `min_score`, ranked."""
    calls = selection.calls(store)
    scans = store.scans
    follow = scans.followups(calls)
    answers = scans.answers(
        sorted({c.id for c in calls if c.id in follow} | {f.call_id for f in follow.values()})
    )
    flagged = scans.flagged()
    out: list[Correction] = []
    for call in calls:
        f = follow.get(call.id)
        answer = answers.get(call.id)
        if f is None or answer is None:
            continue
        next_answer = answers.get(f.call_id)
        found = signals_of(
            answer.message,
            f.messages,
            f.after_answer,
            None if next_answer is None else next_answer.message,
        )
        score = sum(s.weight for s in found)
        if not found or score < min_score:
            continue
        said = " / ".join(user_words(turn(f.messages, f.after_answer)))
        out.append(
            Correction(
                call,
                f.call_id,
                score,
                tuple(found),
                _short(said, 500),
                summary(answer.message),
                tuple(flagged.get(call.id, ())),
            )
        )
    out.sort(key=lambda c: (-c.score, -c.call.started_at.timestamp(), c.call.id))
    return out


__all__ = [
    "MIN_SCORE",
    "PHRASES",
    "WEIGHTS",
    "Correction",
    "Signal",
    "find_corrections",
    "markers",
    "phrases",
    "signals_of",
    "summary",
    "turn",
    "undone",
    "user_words",
]
