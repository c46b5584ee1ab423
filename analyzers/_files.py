"""What the transcript shows of each file before the output: read-file tool results, file
contents an agent pasted into its prompt (aider), and earlier edits that succeeded. Which call
reads which file, and how its result is wrapped, is the agents' knowledge
(`redline.transcripts.agents`: `tool_use`, `file_window`).

A `View` is a window of a file (`start_line` is the line number of its first line). Locating an
edit's `before` in a view gives the edit a file position, and the whole window around it, so a
fragment that does not parse on its own can be judged inside the file it changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from redline.analyzers._model import Edit
from redline.analyzers.extract._diffs import filename
from redline.analyzers.extract._text import fences
from redline.analyzers.extract._tools import from_call
from redline.transcripts import Message, Request, Text, ToolCall, ToolResult, agents


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
    if agents.failed(text, result.is_error):
        return
    use = agents.tool_use(call)
    if use.kind == "read":
        window = agents.file_window(use, text)
        if window is not None:
            files.put(View(window.path, window.text, window.first_line))
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
        lines = part.text.split("\n")
        for fence in fences(lines):
            k = fence.first - 1
            path = filename(lines[k]) if k >= 0 and fence.closed else None
            if path:
                files.put(View(path, fence.body, 1, True))
