"""Answering a replayed model's tool calls: a chain of sources, each answers a call or declines.

    ToolCall ─▶ arguments that are not JSON ─▶ a tool error saying so           (invalid)
             └▶ workspace: the task's files at the cut, when it has some         (not yet here)
             └▶ the transcript before the cut: the same call answered there;
                a read of a file it showed or wrote, as its edits left it        (transcript)
             └▶ a plain tool error: not available in this replay               (unavailable)

A task holds only the transcript up to the cut, so nothing recorded after it can be served:
the original bad answer and what followed it never reach the replay. Nothing is made up: a
call no source can answer is told so, in words the model can act on, and marked an error. A
result is shaped as the task's agent shows one (its read and error shapes), and capped at
256 KB with a note, as agents cap their tools' output.

A source is anything with a `name` and `answer(call, use) -> Served | None` (`Source`).
`answerer(task, first)` builds the chain; a workspace source, once tasks carry workspaces, is
given as `first` (its `answer` declines what it cannot run, and the chain goes on), and
`Stepper` is where a replay asks for the chain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from redline.analyzers import Context, extract
from redline.replay.tool_calls import absolute, call_key
from redline.transcripts import (
    Message,
    Part,
    Request,
    Task,
    Text,
    ToolCall,
    ToolResult,
    agents,
)

__all__ = ["MAX_RESULT", "Answerer", "Served", "Source", "Transcript", "Unavailable", "answerer"]

MAX_RESULT = 256 * 1024
"""The most bytes of text a served tool result carries."""


@dataclass(frozen=True, slots=True)
class Served:
    """A tool call's answer: the result the model gets, whether it is an error, which source
    gave it (`workspace`, `transcript`, `unavailable`, `invalid`) and a note on how."""

    content: str | tuple[Part, ...]
    is_error: bool
    source: str
    note: str = ""

    @property
    def size(self) -> int:
        """Bytes of text in the result."""
        if isinstance(self.content, str):
            return len(self.content.encode())
        return sum(len(p.text.encode()) for p in self.content if isinstance(p, Text))


class Source(Protocol):
    """Something that can answer some tool calls: `answer` gives the result, or None to let
    the next source try."""

    name: str

    def answer(self, call: ToolCall, use: agents.ToolUse) -> Served | None: ...


@dataclass(frozen=True, slots=True)
class _Answered:
    content: str | tuple[Part, ...]
    is_error: bool
    position: int  # the how-manieth result of the transcript it was


class Transcript:
    """Answers from the recorded transcript before the cut: a call made and answered there
    (the same tool and arguments, paths normalised to the recorded working directory) gets
    that answer, unless a file it read, or any file for another kind of call, was edited
    after it; a read of a file the transcript showed or wrote gets the file's text as its
    edits left it, when what it showed covers the lines asked for."""

    name = "transcript"

    def __init__(self, request: Request) -> None:
        start = agents.session_start(request)
        self.cwd = start.cwd if start is not None else None
        self.agent = agents.identify(request)
        self.answered: dict[str, _Answered] = {}
        self.edits: dict[str, int] = {}  # a file's last edit that succeeded, by position
        self.last_edit = 0
        self.whole: set[str] = set()  # files whose last read showed them whole
        self.files = Context(request).files()
        calls: dict[str, ToolCall] = {}
        position = 0
        for message in request.messages:
            for part in message.parts:
                if isinstance(part, ToolCall):
                    calls[part.id] = part
                elif isinstance(part, ToolResult) and part.call_id in calls:
                    position += 1
                    self._learn(calls[part.call_id], part, position)

    def _learn(self, call: ToolCall, result: ToolResult, position: int) -> None:
        self.answered[call_key(call, self.cwd)] = _Answered(
            result.content, result.is_error, position
        )
        text = result.content if isinstance(result.content, str) else _text(result.content)
        if agents.failed(text, result.is_error):
            return
        use = agents.tool_use(call)
        if use.kind == "read" and use.path is not None:
            path = absolute(use.path, self.cwd)
            if use.first_line in (None, 1) and use.limit is None:
                self.whole.add(path)
            else:
                self.whole.discard(path)
        for edit in extract(Message("assistant", (call,))).edits:
            self.edits[absolute(edit.path, self.cwd)] = position
            self.last_edit = position

    def answer(self, call: ToolCall, use: agents.ToolUse) -> Served | None:
        if use.kind == "edit":
            return None
        recorded = self.answered.get(call_key(call, self.cwd))
        if use.kind == "read" and use.path is not None:
            path = absolute(use.path, self.cwd)
            if recorded is not None and self.edits.get(path, 0) < recorded.position:
                return Served(recorded.content, recorded.is_error, self.name, "the same call")
            return self._read(use, path)
        if recorded is not None and self.last_edit < recorded.position:
            return Served(recorded.content, recorded.is_error, self.name, "the same call")
        return None

    def _read(self, use: agents.ToolUse, path: str) -> Served | None:
        """The lines `use` asks for, from the file as the transcript last showed it."""
        view = self.files.get(use.path or path)
        if view is None:
            return None
        lines = view.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        first = use.first_line or 1
        whole = view.complete or (path in self.whole and view.start_line == 1)
        if whole:
            shown = lines[first - 1 : None if use.limit is None else first - 1 + use.limit]
        elif use.limit is not None and view.start_line <= first:
            at = first - view.start_line
            if at + use.limit > len(lines):
                return None
            shown = lines[at : at + use.limit]
        else:
            return None
        text = "".join(line + "\n" for line in shown)
        shaped = self.agent.shape_read(replace(use, first_line=first), text)
        edited = path in self.edits
        return Served(
            shaped,
            False,
            self.name,
            "the file as the transcript's edits left it"
            if edited
            else "the file as the transcript showed it",
        )


def _text(parts: Sequence[Part]) -> str:
    return "".join(p.text for p in parts if isinstance(p, Text))


class Unavailable:
    """The last source: a call nothing before it could answer is told so, as a tool error."""

    name = "unavailable"

    def __init__(self, agent: agents.Agent) -> None:
        self.agent = agent

    def answer(self, call: ToolCall, use: agents.ToolUse) -> Served:
        if use.kind == "read" and use.path:
            what = f"{use.path} cannot be read in this replay"
        else:
            what = f"{call.name} is not available in this replay"
        message = (
            f"{what}: redline answers a tool call only with what the recorded session showed "
            "before this point, and it did not show this. Go on without it."
        )
        return Served(self.agent.shape_error(message), True, self.name)


class Answerer:
    """A task's chain of sources: the first that answers a call gives the result."""

    def __init__(self, sources: Sequence[Source], agent: agents.Agent) -> None:
        self.sources = tuple(sources)
        self.agent = agent

    def answer(self, call: ToolCall) -> Served:
        problem = _not_json(call)
        if problem is not None:
            message = (
                f"The arguments of this {call.name} call are not valid JSON ({problem}); "
                "nothing was run. Call it again with a JSON object."
            )
            return Served(self.agent.shape_error(message), True, "invalid")
        use = agents.tool_use(call)
        for source in self.sources:
            served = source.answer(call, use)
            if served is not None:
                return capped(served)
        return capped(Unavailable(self.agent).answer(call, use))


def _not_json(call: ToolCall) -> str | None:
    """Why the arguments of a call that takes JSON are not a JSON object, or None."""
    if call.kind != "function":
        return None  # a custom tool takes free text
    if call.parse_error:
        return call.parse_error
    try:
        value = json.loads(call.arguments)
    except ValueError as error:
        return str(error)
    except RecursionError:
        return "nested too deeply"
    return None if isinstance(value, dict) else f"a JSON {type(value).__name__}, not an object"


def capped(served: Served, limit: int = MAX_RESULT) -> Served:
    """`served` with at most `limit` bytes of text, and a note in the result when cut."""
    if served.size <= limit:
        return served
    note = (
        f"\n[redline: the rest of this result ({served.size - limit:,} more bytes) is cut; a "
        f"replayed tool result carries at most {limit // 1024} KB]"
    )
    if isinstance(served.content, str):
        kept = served.content.encode()[:limit].decode("utf-8", "ignore")
        content: str | tuple[Part, ...] = kept + note
    else:
        left = limit
        parts: list[Part] = []
        for part in served.content:
            if isinstance(part, Text):
                data = part.text.encode()
                parts.append(Text(data[:left].decode("utf-8", "ignore"), part.extra))
                left = max(0, left - len(data))
            else:
                parts.append(part)
        content = (*parts, Text(note))
    cut = f"cut to {limit // 1024} KB"
    return replace(served, content=content, note=f"{served.note}; {cut}" if served.note else cut)


def answerer(task: Task, first: Sequence[Source] = ()) -> Answerer:
    """The chain that answers a task's replayed calls: `first` (a task's workspace, once tasks
    carry one), then the transcript before the cut, then "not available"."""
    agent = agents.identify(task.request)
    return Answerer([*first, Transcript(task.request)], agent)
