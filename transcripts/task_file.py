"""The task file: a task's portable form, one JSON document (docs/tasks.md, "Task files"):

    {"format_version": 1, "name", "note", "created_at", "checks": [...],
     "request": <canonical request>, "output": <output>, "good_output": <output> | null,
     "transcript": {"drop_last", "tool_call"}, "provenance": {...}}

where an output is `{"message": <canonical message>, "finish_reason", "cut_off", "source"}`.
A file is validated against the JSON Schema in `task_schema` before it becomes a `Task`.

Task files come from other people: reading one is strict. The bytes are UTF-8 without a byte
order mark, the text is one JSON document without duplicate keys, `NaN` or `Infinity`, nested at
most `MAX_DEPTH` deep, its strings whole Unicode (no lone surrogate), the file at most
`MAX_FILE_BYTES`. `read_task_files` reads several and names every file that is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline.errors import RedlineError, TaskFileError, TaskFilesInvalid
from redline.transcripts.model import (
    JSON,
    content_hash,
    message_from_dict,
    message_to_dict,
    request_from_dict,
    request_to_dict,
)
from redline.transcripts.task import Provenance, Task, TaskOutput, check_name
from redline.transcripts.task_schema import TASK_FILE_VERSION, validate


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


# The most a task file may hold, and how deep its JSON may nest (a transcript's parts nest
# a few levels; tool parameter schemas a dozen or so).
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def task_from_file(document: Any, source: str) -> Task:
    """A task from its file's document, validated; a problem is a TaskFileError naming
    `source` and the field."""
    validate(document, source)
    d: Mapping[str, Any] = document
    p = d.get("provenance") or {}
    transcript = d.get("transcript") or {}
    try:
        name = check_name(d["name"])
    except RedlineError as exc:
        raise TaskFileError(source, "name", str(exc)) from None
    recorded_at = _parse_time(p.get("recorded_at"), source, "provenance.recorded_at")
    created_at = _parse_time(d["created_at"], source, "created_at")
    try:
        return Task(
            name=name,
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
                recorded_at,
            ),
            created_at=created_at or datetime.now(UTC),
        )
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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            shown = key if len(key) <= 40 else key[:37] + "..."
            raise ValueError(f"the key {shown!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _check_values(document: Any, source: str) -> None:
    """Nesting within MAX_DEPTH and strings of whole Unicode, looked at without recursion (a
    file 200,000 levels deep must not take the reader's stack)."""
    stack: list[tuple[Any, int, str]] = [(document, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise TaskFileError(
                source, _clip(where, 100), f"nested more than {MAX_DEPTH} levels deep"
            )
        if isinstance(value, str):
            if _SURROGATE.search(value):
                problem = "holds a lone surrogate: not valid Unicode"
                raise TaskFileError(source, _clip(where, 100), problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise TaskFileError(source, _clip(where, 100), "a key holds a lone surrogate")
                stack.append((item, depth + 1, f"{where}.{key}" if where else key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))


def _loads(data: bytes, source: str) -> Any:
    """A task file's bytes as a JSON document, read strictly (see the module's docstring)."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise TaskFileError(
            source, "", "starts with a byte order mark; save it as UTF-8 without one"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFileError(source, "", f"it is not UTF-8 text (byte {exc.start})") from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:
        raise TaskFileError(source, "", f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        why = str(exc)
        if "integer string conversion" in why:  # Python's bound on digits, not JSON's
            why = "a number of more than 4,300 digits"
        raise TaskFileError(source, "", f"not valid JSON ({_clip(why)})") from None
    _check_values(document, source)
    return document


def _clip(text: str, most: int = 160) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TaskFileError(
                str(path), "", f"holds {size:,} bytes; a task file holds {MAX_FILE_BYTES:,} at most"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise RedlineError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return task_from_file(_loads(data, str(path)), str(path))


def read_task_files(
    paths: Sequence[Path], vet: Callable[[Task, str], None] | None = None
) -> list[Task]:
    """Every file read and validated, or TaskFilesInvalid naming each one that is not (and
    two files that hold one task name): all of them or none. `vet(task, source)` may look
    further (the checks, which this package cannot read) and raise TaskFileError."""
    tasks: list[Task] = []
    problems: list[TaskFileError] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            task = read_task_file(path)
            if vet is not None:
                vet(task, str(path))
        except TaskFileError as exc:
            problems.append(exc)
            continue
        if task.name in seen:
            problems.append(
                TaskFileError(
                    str(path),
                    "",
                    f"it and {seen[task.name]} both hold a task named {task.name!r}; rename one",
                )
            )
            continue
        seen[task.name] = path
        tasks.append(task)
    if problems:
        raise TaskFilesInvalid(problems, len(paths))
    return tasks


def dumps_task_file(document: JSON) -> str:
    """A task file's text: indented, keys in a stable order, a newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "TASK_FILE_VERSION",
    "TaskFileError",
    "dumps_task_file",
    "example_files",
    "read_task_file",
    "read_task_files",
    "task_from_file",
    "task_hash",
    "task_to_file",
]
