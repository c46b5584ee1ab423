"""Agents: how each coding tool uses the API, in one place.

Wire formats say how an API frames a call; an agent says what a coding tool puts in it. Every
question about an agent is answered here, by one class per agent, registered in order:

    claude_code   Claude Code        CLAUDE.md in a <system-reminder>; Read, Write, Edit, Bash...
    codex         Codex CLI          AGENTS.md block, <environment_context>; shell tools, apply_patch
    aider         aider              no tools: edits are text (SEARCH/REPLACE, whole, udiff, patch)
    chat_client   a chat client      any other: read_file, write_file, str_replace_editor, shells

The questions (module functions ask every agent, first answer wins; `identify` picks the agent
of a request): where the project rules file sits and how it is replaced (`rules_files`,
`replace_rules`), which text an agent wrote into the conversation itself (`is_boilerplate`,
`strip_injected`, `is_injected`, `marker`), what a tool call does (`tool_use`: read, list,
search, command, edit, with the path, lines, command text or edit it carries), how the session
started (`session_start`: working directory, branch, HEAD, status), and how a tool's result
is shaped (`file_window` reads a read's result; `Agent.shape_read` / `shape_command` /
`shape_edit` / `shape_error` answer as the agent would). Adding an agent is one module with one `Agent` subclass and one `register`.
Nothing else in redline holds CLAUDE.md / AGENTS.md patterns or agents' tool names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from redline.errors import RedlineError
from redline.transcripts.agents import aider, chat_client, claude_code, codex
from redline.transcripts.agents.agent import (
    PATH_KEYS,
    Agent,
    Change,
    EditForm,
    FileWindow,
    Marker,
    RulesFile,
    SessionStart,
    Signal,
    ToolKind,
    ToolUse,
    decode,
    numbered_window,
)
from redline.transcripts.model import Message, Request, Text, Tool, ToolCall

_REGISTRY: dict[str, Agent] = {}

# The roles of the messages an agent embeds its context in.
_CONTEXT_ROLES = ("user", "developer", "system")


def register(agent: Agent) -> Agent:
    _REGISTRY[agent.name] = agent
    return agent


def get(name: str) -> Agent:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise RedlineError(f"unknown agent {name!r}; known agents: {known}") from None


def names() -> list[str]:
    return list(_REGISTRY)


def identify(request: Request) -> Agent:
    """The agent that made `request`: the first that recognises it (the chat client, last,
    recognises any)."""
    for agent in _REGISTRY.values():
        if agent.recognises(request):
            return agent
    return chat_client.AGENT


def session_key(headers: Iterable[tuple[str, str]]) -> str | None:
    """`AGENT:ID` of the agent session a call belongs to, from the agent's session header."""
    headers = list(headers)
    for agent in _REGISTRY.values():
        key = agent.session_key(headers)
        if key is not None:
            return key
    return None


# -- the rules file ----------------------------------------------------------------------------


def rules_file_names() -> list[str]:
    """The names of the rules files the agents embed (CLAUDE.md, AGENTS.md...)."""
    return [a.rules_file for a in _REGISTRY.values() if a.rules_file]


def rules_files(request: Request) -> list[RulesFile]:
    """Every rules file the request's messages embed, in order."""
    found: list[RulesFile] = []
    for m in request.messages:
        if m.role in _CONTEXT_ROLES:
            for part in m.parts:
                if isinstance(part, Text):
                    found += rules_in(part.text)
    return found


def rules_in(text: str) -> list[RulesFile]:
    """The rules files embedded in one text, by any agent."""
    return [f for agent in _REGISTRY.values() for f in agent.rules_files(text)]


def without_rules(text: str) -> str:
    """`text` with every embedded rules file's text taken out (headers stay)."""
    for agent in _REGISTRY.values():
        text, _ = agent.replace_rules(text, "")
    return text


def replace_rules(request: Request, rules: str) -> tuple[Request, int]:
    """The request with the text of each project rules file it embeds replaced by `rules`,
    and how many were replaced."""
    found = 0

    def swap(part: Text) -> Text:
        nonlocal found
        text, count = part.text, 0
        for agent in _REGISTRY.values():
            text, n = agent.replace_rules(text, rules)
            count += n
        found += count
        return Text(text, part.extra) if count else part

    messages = tuple(
        Message(m.role, tuple(swap(p) if isinstance(p, Text) else p for p in m.parts), m.extra)
        if m.role in _CONTEXT_ROLES
        else m
        for m in request.messages
    )
    return (replace(request, messages=messages) if found else request), found


# -- what agents write into the conversation ---------------------------------------------------

_TAGGED_BLOCK = re.compile(r"<([A-Za-z][\w-]*)\b[^>]*>.*</\1>", re.S)


def is_boilerplate(text: str) -> bool:
    """True when a whole text part is context an agent added, not what the user asked: one
    tagged block (`<system-reminder>`, `<environment_context>`...) or an embedded rules file."""
    text = text.strip()
    return bool(_TAGGED_BLOCK.fullmatch(text)) or any(
        agent.is_boilerplate(text) for agent in _REGISTRY.values()
    )


def strip_injected(text: str) -> str:
    """`text` without the blocks agents insert into a message (Claude Code's reminders)."""
    for agent in _REGISTRY.values():
        text = agent.strip_injected(text)
    return text


def is_injected(text: str) -> bool:
    """True when a user message's text was written by an agent (it starts as one of the
    agents' own blocks do), or is an agent's marker of a stopped step."""
    injected = tuple(prefix for agent in _REGISTRY.values() for prefix in agent.injected)
    return text.startswith(injected) or marker(text, in_result=False) is not None


def marker(text: str, *, in_result: bool) -> Signal | None:
    """The signal of an agent's marker of a stopped step (`rejected`, `declined`,
    `plan-rejected`, `interrupted`): in a tool's result, or else in a user message."""
    for agent in _REGISTRY.values():
        for m in agent.markers:
            if m.in_result == in_result and m.matches(text):
                return m.signal
    return None


def rejection_reason(text: str) -> str | None:
    """What the user typed when refusing a step, from the tool result the agent wrote."""
    for agent in _REGISTRY.values():
        reason = agent.rejection_reason(text)
        if reason is not None:
            return reason
    return None


# -- tools -------------------------------------------------------------------------------------


def tool_use(call: ToolCall) -> ToolUse:
    """What `call` does, as the agent whose tool it is defines it (`other` when no agent
    knows the tool)."""
    args = decode(call.arguments)
    for agent in _REGISTRY.values():
        use = agent.tool_use(call, args)
        if use is not None:
            return use
    return ToolUse("other", call.name)


def failed(result: str, is_error: bool = False) -> bool:
    """True when a tool's result says the call failed: marked so, or worded as an error."""
    prefixes = ("error", *(p for agent in _REGISTRY.values() for p in agent.error_prefixes))
    return is_error or result.lstrip().lower().startswith(prefixes)


def file_window(use: ToolUse, result: str) -> FileWindow | None:
    """The file window the result of the read `use` shows (None for an empty one): the
    agents' wrapping removed, line numbers read when the result gives them."""
    if use.kind != "read" or use.path is None:
        return None
    for agent in _REGISTRY.values():
        result = agent.unwrap_result(result)
    return numbered_window(use.path, result, use.first_line)


def write_call(request: Request, tools: Sequence[Tool], path: str, content: str) -> ToolCall | None:
    """A call writing `content` to `path` with one of the offered `tools`, as the agent of
    `request` would make it (its own tools first, then any agent's); None when no offered
    tool writes files. A relative path is made absolute for an agent that wants that."""
    offered: Mapping[str, Tool] = {t.name: t for t in tools}
    start = session_start(request)
    cwd = start.cwd if start is not None else None
    first = identify(request)
    for agent in (first, *(a for a in _REGISTRY.values() if a is not first)):
        made = agent.write_call(offered, path, content, cwd)
        if made is not None:
            name, arguments = made
            return ToolCall("", name, json.dumps(arguments))
    return None


def written(path: str, content: str, ident: str = "file") -> ToolCall:
    """The call that writes `content` as the whole file `path`: how redline shows code that
    came without a call (a file given to `redline check`, pasted code, a check's example)."""
    return ToolCall(ident, "Write", json.dumps({"file_path": path, "content": content}))


def edited(path: str, old: str, new: str, ident: str = "edit") -> ToolCall:
    """The call that replaces `old` by `new` in the file `path` (a check's example of an edit)."""
    arguments = {"file_path": path, "old_string": old, "new_string": new}
    return ToolCall(ident, "Edit", json.dumps(arguments))


# -- the session's start -----------------------------------------------------------------------


def session_start(request: Request) -> SessionStart | None:
    """The working directory and git state at the session's start, as the request's agent
    stated them (any agent's statement when its own states none)."""
    first = identify(request)
    for agent in (first, *(a for a in _REGISTRY.values() if a is not first)):
        start = agent.session_start(request)
        if start is not None:
            return start
    return None


for _agent in (claude_code.AGENT, codex.AGENT, aider.AGENT, chat_client.AGENT):
    register(_agent)

__all__ = [
    "PATH_KEYS",
    "Agent",
    "Change",
    "EditForm",
    "FileWindow",
    "Marker",
    "RulesFile",
    "SessionStart",
    "Signal",
    "ToolKind",
    "ToolUse",
    "edited",
    "failed",
    "file_window",
    "get",
    "identify",
    "is_boilerplate",
    "is_injected",
    "marker",
    "names",
    "register",
    "rejection_reason",
    "replace_rules",
    "rules_file_names",
    "rules_files",
    "rules_in",
    "session_key",
    "session_start",
    "strip_injected",
    "tool_use",
    "without_rules",
    "write_call",
    "written",
]
