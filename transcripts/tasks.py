"""Tasks: the moment a model went wrong, kept as a benchmark item.

A task is the transcript up to a call (its canonical request, possibly cut earlier), the output
the model gave there (the known-bad output), the checks that catch it, and optionally a
known-good output the checks must pass. This module is the plain data and its portable form, the
task file; the store keeps tasks (store/task_store.py) and replay validates and runs them.

A task file is one JSON document (see `TASK_FILE_VERSION` and README "Task files"):

    {"format_version": 1, "name", "note", "created_at", "checks": [...],
     "request": <canonical request>, "output": <output>, "good_output": <output> | null,
     "transcript": {"drop_last", "tool_call"}, "provenance": {...}}

where an output is `{"message": <canonical message>, "finish_reason", "cut_off", "source"}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline.errors import RedlineError
from redline.transcripts.model import (
    JSON,
    Message,
    Request,
    canonical_json,
    content_hash,
    message_from_dict,
    message_to_dict,
    request_from_dict,
    request_to_dict,
)

TASK_FILE_VERSION = 1
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
        raise RedlineError(
            f"task name {name!r} is not valid: use lowercase letters, digits, '.', '_' and '-' "
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


def suggest_name(checks: tuple[str, ...], title: str | None, taken: set[str]) -> str:
    """A short, readable, unique name from the first check and the conversation's title."""
    check = checks[0].split(":", 1)[0] if checks else "task"
    words = [w for w in re.findall(r"[a-z0-9]+", (title or "").lower()) if w not in _STOP_WORDS]
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


# --- the portable form -------------------------------------------------------------------------


def output_to_dict(o: TaskOutput) -> JSON:
    return {
        "message": message_to_dict(o.message),
        "finish_reason": o.finish_reason,
        "cut_off": o.cut_off,
        "source": o.source,
    }


def output_from_dict(d: Mapping[str, Any]) -> TaskOutput:
    return TaskOutput(
        message_from_dict(d["message"]),
        d.get("finish_reason"),
        bool(d.get("cut_off")),
        d.get("source"),
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def task_to_file(task: Task) -> JSON:
    """The task file document (before masking)."""
    p = task.provenance
    return {
        "format_version": TASK_FILE_VERSION,
        "name": task.name,
        "note": task.note,
        "created_at": task.created_at.isoformat(),
        "checks": list(task.checks),
        "request": request_to_dict(task.request),
        "output": output_to_dict(task.output),
        "good_output": None if task.good is None else output_to_dict(task.good),
        "transcript": {"drop_last": task.drop_last, "tool_call": task.tool_call},
        "provenance": {
            "call": p.call,
            "conversation": p.conversation,
            "model": p.model,
            "client": p.client,
            "recorded_at": _time(p.recorded_at),
        },
    }


def task_from_file(document: Any, source: str) -> Task:
    """A task from its file's document, validated; a problem is a TaskFileError naming
    `source` and the field."""
    from redline.transcripts.task_schema import validate

    validate(document, source)
    d: Mapping[str, Any] = document
    p = d.get("provenance") or {}
    transcript = d.get("transcript") or {}
    try:
        return Task(
            name=check_name(d["name"]),
            request=request_from_dict(d["request"]),
            output=output_from_dict(d["output"]),
            checks=tuple(d["checks"]),
            good=None if d.get("good_output") is None else output_from_dict(d["good_output"]),
            note=d.get("note") or "",
            tool_call=transcript.get("tool_call"),
            drop_last=transcript.get("drop_last") or 0,
            provenance=Provenance(
                p.get("call"),
                p.get("conversation"),
                p.get("model"),
                p.get("client"),
                _parse_time(p.get("recorded_at"), source, "provenance.recorded_at"),
            ),
            created_at=_parse_time(d["created_at"], source, "created_at") or datetime.now(UTC),
        )
    except RedlineError as exc:
        raise TaskFileError(source, "name", str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:  # the schema should have caught these
        raise TaskFileError(source, "", f"{type(exc).__name__}: {exc}") from None


def _parse_time(value: str | None, source: str, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TaskFileError(source, where, f"{value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def task_hash(task: Task) -> str:
    """The identity of a task's content: the same file imported twice has the same hash."""
    return content_hash(task_to_file(task))


def example_files() -> list[Path]:
    """The example task files redline ships (made from sessions with fake models)."""
    from importlib import resources

    folder = resources.files("redline.transcripts") / "examples"
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".json"))


def read_task_file(path: Path) -> Task:
    """One task file, validated."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RedlineError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TaskFileError(str(path), "", "it is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise TaskFileError(str(path), "", f"not valid JSON ({exc})") from None
    except RecursionError:
        raise TaskFileError(str(path), "", "its JSON is nested too deeply") from None
    return task_from_file(document, str(path))


def dumps_task_file(document: JSON) -> str:
    """A task file's text: indented, keys in a stable order, a newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def same_content(a: Task, b: Task) -> bool:
    return canonical_json(task_to_file(a)) == canonical_json(task_to_file(b))


class TaskFileError(RedlineError):
    """A task file that cannot be imported: `source` (its path) and the `field` at fault."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source, self.field, self.problem = source, field, problem
        where = f"field `{field}`: " if field else ""
        super().__init__(f"{source}: {where}{problem}")


__all__ = [
    "TASK_FILE_VERSION",
    "Provenance",
    "Task",
    "TaskFileError",
    "TaskOutput",
    "check_name",
    "drop_last",
    "example_files",
    "only_tool_call",
    "read_task_file",
    "suggest_name",
    "task_from_file",
    "task_hash",
    "task_to_file",
]
