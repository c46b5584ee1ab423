"""Tasks: the moment a model went wrong, kept as a benchmark item.

A task is the transcript up to a call (its canonical request, possibly cut earlier), the output
the model gave there (the known-bad output), the checks that catch it, and optionally a
known-good output the checks must pass. This module is the plain data and the few rules a task's
name and transcript follow; `task_file` is its portable form, the store keeps tasks
(store/task_store.py) and replay validates and runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from redline.errors import RedlineError
from redline.transcripts.model import Message, Request

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class TaskOutput:
    """An output a task keeps: the known-bad one, or a known-good one. `cut_off`: the model was
    stopped before it finished it. `source` says where a good output came from."""

    message: Message
    finish_reason: str | None = None
    cut_off: bool = False
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a task came from: the call, its conversation, model, client and time."""

    call: str | None = None
    conversation: str | None = None
    model: str | None = None
    client: str | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """`request` is the transcript (its `wire` names the format it was captured in). `checks`
    are check specs as `redline check` takes them (`NAME[:OPTIONS]`). `tool_call`: only that
    (1-based) tool call of the original output was kept as the known-bad output; `drop_last`:
    the transcript was cut that many messages before the call."""

    name: str
    request: Request
    output: TaskOutput
    checks: tuple[str, ...]
    good: TaskOutput | None = None
    note: str = ""
    tool_call: int | None = None
    drop_last: int = 0
    provenance: Provenance = field(default_factory=Provenance)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def wire(self) -> str | None:
        return self.request.wire

    @property
    def model(self) -> str | None:
        return self.request.model


def check_name(name: str) -> str:
    """A task name as given: lowercase letters, digits, '.', '_' and '-', at most 64."""
    if not NAME_PATTERN.fullmatch(name):
        shown = repr(name) if len(name) <= 70 else repr(name[:64])[:-1] + f"...' ({len(name):,})"
        raise RedlineError(
            f"task name {shown} is not valid: use lowercase letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "with",
    ]
)


def _plain_word(word: str) -> bool:
    """A word of a title that can go into a name: a word, a short number, a short mix (`v2`,
    `py3`). A long run of letters and digits may be a piece of a key that has no known shape
    (a name is also the export's file name, and is shared)."""
    if word in _STOP_WORDS or len(word) > 20:
        return False
    return word.isalpha() or len(word) <= (4 if word.isdigit() else 6)


def suggest_name(checks: tuple[str, ...], title: str | None, taken: set[str]) -> str:
    """A short, readable, unique name from the first check and the conversation's title, with
    anything shaped like a credential left out."""
    # Imported here: the masking rules cost some milliseconds to compile, and most commands
    # that read tasks never make a name.
    from redline.transcripts.secrets import MARKER, mask_text

    check = checks[0].split(":", 1)[0] if checks else "task"
    plain = MARKER.sub(" ", mask_text(title or "").text)
    words = [w for w in re.findall(r"[a-z0-9]+", plain.lower()) if _plain_word(w)]
    stem = "-".join([check, *words[:4]])[:48].rstrip("-.")
    stem = re.sub(r"[^a-z0-9._-]", "-", stem) or "task"
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    return name


def only_tool_call(message: Message, n: int) -> Message:
    """The message reduced to its `n`th tool call (1-based), for `--tool-call N`."""
    calls = message.tool_calls
    if not 1 <= n <= len(calls):
        have = f"{len(calls)} tool call{'s' * (len(calls) != 1)}" if calls else "no tool calls"
        raise RedlineError(f"--tool-call {n}: the output has {have}")
    return Message(message.role, (calls[n - 1],), message.extra)


def drop_last(request: Request, k: int) -> Request:
    """The transcript cut `k` messages earlier, for `--drop-last K`."""
    if k < 0:
        raise RedlineError("--drop-last takes a number of messages, 0 or more")
    if k >= len(request.messages):
        raise RedlineError(
            f"--drop-last {k}: the transcript has {len(request.messages)} messages; "
            "a task needs at least one left"
        )
    return (
        replace(request, messages=request.messages[: len(request.messages) - k]) if k else request
    )


__all__ = [
    "NAME_PATTERN",
    "Provenance",
    "Task",
    "TaskOutput",
    "check_name",
    "drop_last",
    "only_tool_call",
    "suggest_name",
]
