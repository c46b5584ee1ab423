"""What the transcript shows of each file before the output: read-file tool results, file
contents an agent pasted into its prompt (aider), and earlier edits that succeeded.

A `View` is a window of a file (`start_line` is the line number of its first line). Locating an
edit's `before` in a view gives the edit a file position, and the whole window around it, so a
fragment that does not parse on its own can be judged inside the file it changes.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace

from redline.analyzers._model import Edit
from redline.analyzers.extract import decode_arguments
from redline.analyzers.extract._text import fences
from redline.analyzers.extract._tools import PATH_KEYS, from_call
from redline.transcripts import Message, Request, Text, ToolCall, ToolResult


@dataclass(frozen=True, slots=True)
class View:
    path: str
    text: str
    start_line: int = 1
    complete: bool = False  # the text is the whole file, not a window


@dataclass(frozen=True, slots=True)
class Placed:
    """Where an edit landed in a view: the view before and after it, and the line (in file
    numbering) where its `before` started and its `after` now starts."""

    old: View
    new: View
    line: int
    old_lines: int  # how many lines of the old view it replaced


_READ_TOOLS = {"read", "read_file", "readfile", "view", "view_file", "open_file", "cat"}
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
_NUMBERED = re.compile(r"^\s*(\d+)(?:\t|→|: | \| |\|)(.*)$")
_HEADER = re.compile(
    r"^(?:Here's the result of running `cat -n` on .*:|\[read_file for .*\] Result:)\s*$"
)


def normalize_path(path: str) -> str:
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return re.sub(r"/+", "/", path)


class Files:
    """Views by path. Lookup is by exact path, else by a unique path that ends with the other
    (an agent may read `/repo/src/a.py` and patch `src/a.py`)."""

    def __init__(self) -> None:
        self._views: dict[str, View] = {}

    def get(self, path: str) -> View | None:
        key = normalize_path(path)
        if key in self._views:
            return self._views[key]
        matches = [
            v for k, v in self._views.items() if k.endswith("/" + key) or key.endswith("/" + k)
        ]
        return matches[0] if len(matches) == 1 else None

    def put(self, view: View) -> None:
        existing = self.get(view.path)
        key = normalize_path(existing.path if existing else view.path)
        self._views[key] = replace(view, path=key)

    def drop(self, path: str) -> None:
        existing = self.get(path)
        if existing is not None:
            self._views.pop(normalize_path(existing.path), None)

    def copy(self) -> Files:
        other = Files()
        other._views = dict(self._views)
        return other

    def apply(self, edit: Edit) -> Placed | None:
        """Apply `edit` to its file's view, if the view shows where; None when it cannot be
        placed exactly (text not found, or found more than once for a single replacement)."""
        if edit.kind == "delete":
            self.drop(edit.path)
            return None
        old = self.get(edit.path)
        if edit.kind == "write":
            new = View(edit.path, edit.after, 1, True)
            self.put(new)
            return Placed(old or View(edit.path, "", 1, False), new, 1, 0)
        if old is None:
            return None
        placed = place(old, edit)
        if placed is not None:
            self.put(placed.new)
        return placed


def place(view: View, edit: Edit) -> Placed | None:
    text = view.text
    if edit.kind == "insert" and not edit.before:
        if edit.start_line is None:
            return None
        at = edit.start_line - view.start_line
        lines = text.split("\n")
        if not 0 <= at <= len(lines):
            return None
        new_lines = [*lines[:at], *edit.after.rstrip("\n").split("\n"), *lines[at:]]
        new = replace(view, text="\n".join(new_lines))
        return Placed(view, new, edit.start_line, 0)
    if not edit.before or edit.kind == "lazy":
        return None
    index = text.find(edit.before)
    if index < 0:
        return None
    if not edit.replace_all and text.find(edit.before, index + 1) >= 0:
        return None
    if edit.replace_all:
        new_text = text.replace(edit.before, edit.after)
    else:
        new_text = text[:index] + edit.after + text[index + len(edit.before) :]
    line = view.start_line + text.count("\n", 0, index)
    return Placed(view, replace(view, text=new_text), line, edit.before.count("\n") + 1)


# --- reading the transcript --------------------------------------------------------------------


def files_from_request(request: Request | None) -> Files:
    files = Files()
    if request is None:
        return files
    calls: dict[str, ToolCall] = {}
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, ToolCall):
                calls[part.id] = part
            elif isinstance(part, ToolResult) and part.call_id in calls:
                _result(files, calls[part.call_id], part)
        if message.role in ("user", "system", "developer"):
            _pasted(files, message)
    return files


def _result_text(result: ToolResult) -> str:
    if isinstance(result.content, str):
        return result.content
    return "".join(p.text for p in result.content if isinstance(p, Text))


def _result(files: Files, call: ToolCall, result: ToolResult) -> None:
    text = _result_text(result)
    if result.is_error or text.lstrip().lower().startswith(("error", "<tool_use_error>")):
        return
    target = read_target(call)
    if target is not None:
        path, start = target
        view = read_view(path, text, start)
        if view is not None:
            files.put(view)
        return
    for edit in from_call(call).edits:  # an earlier edit that succeeded changed the file
        if edit.truncated:  # what it wrote past the cut is unknown
            files.drop(edit.path)
        elif files.apply(edit) is None and edit.kind not in ("write", "delete"):
            files.drop(edit.path)  # the view no longer shows the file as it is


def _pasted(files: Files, message: Message) -> None:
    """aider sends the files in the chat as `path` alone on a line, then a fenced block."""
    for part in message.parts:
        if not isinstance(part, Text) or "```" not in part.text:
            continue
        from redline.analyzers.extract._diffs import filename

        lines = part.text.split("\n")
        for fence in fences(lines):
            k = fence.first - 1
            path = filename(lines[k]) if k >= 0 and fence.closed else None
            if path:
                files.put(View(path, fence.body, 1, True))


def read_target(call: ToolCall) -> tuple[str, int | None] | None:
    """The path a read-like call reads, and the first line it asked for, if any."""
    args = decode_arguments(call.arguments)
    if not isinstance(args, Mapping):
        return None
    path = next((args[k] for k in PATH_KEYS if isinstance(args.get(k), str)), None)
    name = call.name.lower()
    if path and (name in _READ_TOOLS or args.get("command") == "view"):
        start = args.get("offset", args.get("start_line"))
        view_range = args.get("view_range")
        if isinstance(view_range, list) and view_range and isinstance(view_range[0], int):
            start = view_range[0]
        return path, start if isinstance(start, int) and start > 0 else None
    command = args.get("cmd", args.get("command"))
    if isinstance(command, list) and all(isinstance(c, str) for c in command):
        command = (
            command[2] if len(command) == 3 and command[1] in ("-lc", "-c") else shlex.join(command)
        )
    return _shell_read(command) if isinstance(command, str) else None


def _shell_read(command: str) -> tuple[str, int | None] | None:
    """`cat FILE`, `nl -ba FILE`, `sed -n 'A,Bp' FILE`, `head -n N FILE`: one command only."""
    if any(c in command for c in "|;&><`$\n"):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 2:
        return None
    if words[0] == "cat" and len(words) == 2:
        return words[1], 1
    if words[0] == "nl" and words[-1][:1] != "-":
        return words[-1], 1
    if words[0] == "head" and words[-1][:1] != "-":
        return words[-1], 1
    if words[0] == "sed" and len(words) == 4 and words[1] == "-n":
        match = re.fullmatch(r"(\d+),(\d+)p", words[2])
        if match:
            return words[3], int(match.group(1))
    return None


def read_view(path: str, text: str, start: int | None) -> View | None:
    text = _REMINDER.sub("", text)
    text = _unwrap_exec_output(text)
    lines = text.split("\n")
    if lines and _HEADER.match(lines[0]):
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return None
    numbered = [_NUMBERED.match(line) for line in lines]
    if all(numbered):
        numbers = [int(m.group(1)) for m in numbered if m]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            body = "\n".join(m.group(2) for m in numbered if m) + "\n"
            return View(path, body, numbers[0], False)
    return View(path, "\n".join(lines) + "\n", start or 1, False)


def _unwrap_exec_output(text: str) -> str:
    """Codex wraps shell output: a JSON `{"output": ...}` object, or a preamble (`Chunk ID`,
    `Wall time`, `Process exited with code 0`, ...) ending in an `Output:` line."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            decoded = json.loads(stripped)
        except ValueError:
            decoded = None
        output = decoded.get("output") if isinstance(decoded, Mapping) else None
        if isinstance(output, str):
            return output
    head = text[:600]
    marker = head.find("\nOutput:\n")
    if marker >= 0 and re.match(r"(?:Chunk ID|Wall time|Exit code|Process exited|Command)", text):
        return text[marker + len("\nOutput:\n") :]
    return text
