"""A tool call's identity in a transcript, and where a replay parted from the original.

Two calls are the same call when they name the same tool with the same arguments once every
path among them is made absolute against the recorded working directory (`src/a.py` and
`/repo/src/a.py` are one file when the session started in `/repo`). The transcript source of
tool answers finds a call answered before the cut by this identity; `parted` compares a
replay's first step with the original output by it. What each tool does (a read, a command,
an edit) is the agents module's knowledge.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from typing import Any

from redline.transcripts import Message, ToolCall, agents, canonical_json

__all__ = ["absolute", "call_key", "parted"]

# The arguments that name a file or a folder, beyond the agents' file path keys.
_PATH_ARGUMENTS = frozenset({*agents.PATH_KEYS, "workdir", "working_directory", "cwd", "dir_path"})


def absolute(path: str, cwd: str | None) -> str:
    """`path` made absolute against `cwd` (when known) and normalised."""
    path = path.strip()
    if cwd and not posixpath.isabs(path):
        path = posixpath.join(cwd, path)
    return posixpath.normpath(path) if path else path


def _normalised(value: Any, cwd: str | None) -> Any:
    if isinstance(value, dict):
        return {
            k: absolute(v, cwd)
            if k in _PATH_ARGUMENTS and isinstance(v, str)
            else _normalised(v, cwd)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalised(v, cwd) for v in value]
    return value


def call_key(call: ToolCall, cwd: str | None) -> str:
    """The call's identity: its tool, and its arguments with their paths normalised (the raw
    text when they are not JSON)."""
    try:
        arguments = json.loads(call.arguments)
    except (ValueError, RecursionError):
        return canonical_json({"tool": call.name, "raw": call.arguments})
    return canonical_json({"tool": call.name, "arguments": _normalised(arguments, cwd)})


_DID = {
    "read": "read",
    "list": "listed files",
    "search": "searched",
    "command": "ran a command",
    "edit": "edited",
    "other": "called",
}


def _did(call: ToolCall) -> str:
    use = agents.tool_use(call)
    target = f" {use.path}" if use.path and use.kind in ("read", "edit", "list") else ""
    return f"{_DID[use.kind]}{target} ({call.name})"


def parted(original: Message, replayed: Message, cwd: str | None) -> str | None:
    """How the replay's step differs from what the original agent did at that point (a
    different tool, different arguments, another kind of call: a read where the original
    edited), or None when it made the same calls. Edits to the same file are the same step:
    what they write is for the checks to judge."""
    before, after = original.tool_calls, replayed.tool_calls
    if not before and not after:
        return None
    if not after:
        return f"answered without a tool call where the original {_did(before[0])}"
    if not before:
        return f"{_did(after[0])} where the original answered without a tool call"
    for a, b in zip(before, after, strict=False):
        why = _differs(a, b, cwd)
        if why is not None:
            return why
    if len(after) != len(before):
        return f"made {_calls(after)} where the original made {_calls(before)}"
    return None


def _differs(original: ToolCall, replayed: ToolCall, cwd: str | None) -> str | None:
    was, now = agents.tool_use(original), agents.tool_use(replayed)
    if was.kind != now.kind or original.name != replayed.name:
        return f"{_did(replayed)} where the original {_did(original)}"
    if now.kind == "edit":
        if _path(was.path, cwd) == _path(now.path, cwd):
            return None
        return f"{_did(replayed)} where the original {_did(original)}"
    if call_key(original, cwd) != call_key(replayed, cwd):
        return f"called {replayed.name} with other arguments than the original"
    return None


def _path(path: str | None, cwd: str | None) -> str | None:
    return None if path is None else absolute(path, cwd)


def _calls(calls: Sequence[ToolCall]) -> str:
    return f"{len(calls)} tool call{'s' * (len(calls) != 1)}"
