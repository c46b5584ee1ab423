"""The shape every agent has: `Agent`, and the plain data its answers are made of.

An agent class answers what a coding tool does with an API (docs/architecture.md, "Agents"):
where it embeds the project's rules file, what text it writes into a conversation itself, what
each of its tools does (`ToolUse`), how it states the working directory and the git state at
the session's start (`SessionStart`), and how it shapes a tool's result. Each answer defaults
to "nothing of mine" here, so an agent states only what it does.

The facts are first-hand observations and the agents' sources (docs/wire-formats.md, §2 and the
"Observed first-hand" sections).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redline.transcripts.exchange import header
from redline.transcripts.model import JSON, Message, Request, Text, Tool, ToolCall

ToolKind = Literal["read", "list", "search", "command", "edit", "other"]
EditForm = Literal["write", "replace", "multi", "insert", "delete", "patch", "notebook"]

# Argument names under which the tools of the known agents take the file they act on.
PATH_KEYS = (
    "file_path",
    "path",
    "filePath",
    "filepath",
    "file",
    "filename",
    "target_file",
    "notebook_path",
    "absolute_path",
    "relative_path",
)


@dataclass(frozen=True, slots=True)
class ToolUse:
    """What one tool call does, as its agent defines the tool.

    `kind`: `read` a file (`path`, from `first_line` for `limit` lines, when asked), `list`
    files (`path`, a glob `pattern`), `search` them (a regex `pattern` under `path`), run a
    `command` (shell text, in `workdir`), `edit` a file, or `other`. A read, listing, search or
    edit done through a shell command keeps the command in `command` too.

    An edit's `form`: `write` (`new_text` is the whole file), `replace` (`old_text` becomes
    `new_text`; every occurrence with `replace_all`), `multi` (`replacements`, in order),
    `insert` (`new_text` after line `first_line - 1`), `delete`, `notebook` (`new_text` is a
    cell's source), or `patch` (`new_text` is an apply_patch envelope or a script holding one,
    which names its own files: analyzers/extract parses it).
    """

    kind: ToolKind
    tool: str
    path: str | None = None
    first_line: int | None = None
    limit: int | None = None
    pattern: str | None = None
    command: str | None = None
    workdir: str | None = None
    form: EditForm | None = None
    old_text: str | None = None
    new_text: str | None = None
    replace_all: bool = False
    replacements: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RulesFile:
    """A rules file an agent embedded in a message's text: its `path` (as the agent names it),
    its `text`, and whether it is the project's own, checked into the repository (`project`;
    Claude Code also embeds a user's private CLAUDE.md files)."""

    agent: str
    path: str
    text: str
    project: bool = True


@dataclass(frozen=True, slots=True)
class SessionStart:
    """What the agent said of the session's start: the working directory, and the git state
    (the branch, HEAD's short hash, the uncommitted paths as `git status --short` lists them,
    the recent commits as "HASH subject", newest first) when it told them."""

    agent: str
    cwd: str | None = None
    branch: str | None = None
    head: str | None = None
    status: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileWindow:
    """The text of a file as a read's result shows it: from line `first_line`, and
    `numbered` when the result gave each line's number (so the first line is sure)."""

    path: str
    text: str
    first_line: int = 1
    numbered: bool = False


Signal = Literal["rejected", "declined", "plan-rejected", "interrupted"]


@dataclass(frozen=True, slots=True)
class Marker:
    """A text an agent writes when its user stops a step: in a tool's result (`in_result`) or
    as a user message; matched at the start of the text, or as the whole text (`whole`)."""

    signal: Signal
    text: str
    in_result: bool = True
    whole: bool = False

    def matches(self, text: str) -> bool:
        return text == self.text if self.whole else text.startswith(self.text)


class Agent:
    """One coding agent. Subclasses set the class attributes and override what they do."""

    name: str = ""
    title: str = ""
    # The name of the project rules file the agent embeds (None: it embeds none).
    rules_file: str | None = None
    # Request headers that carry the agent's session id.
    session_headers: tuple[str, ...] = ()
    # How a user message the agent wrote itself starts (not the user's words).
    injected: tuple[str, ...] = ()
    markers: tuple[Marker, ...] = ()
    # How a tool result the agent wrote for a failed call starts (beyond the word "error").
    error_prefixes: tuple[str, ...] = ()

    def recognises(self, request: Request) -> bool:
        """True when `request` was made by this agent."""
        return False

    def session_key(self, headers: Iterable[tuple[str, str]]) -> str | None:
        """`NAME:ID` of the session a call belongs to, from the agent's session header."""
        headers = list(headers)
        for name in self.session_headers:
            value = header(headers, name)
            if value:
                return f"{self.name}:{value}"
        return None

    # -- text the agent writes into the conversation ---------------------------------------

    def rules_files(self, text: str) -> Iterator[RulesFile]:
        """The rules files embedded in `text`, in order."""
        return iter(())

    def replace_rules(self, text: str, rules: str) -> tuple[str, int]:
        """`text` with each embedded project rules file's text replaced by `rules`, and how
        many were replaced."""
        return text, 0

    def embed_rules(self, folder: str, rules: str) -> str:
        """A message text embedding `rules` as the project's rules file of `folder`, as the
        agent writes it."""
        raise NotImplementedError(f"{self.title or self.name} embeds no rules file")

    def is_boilerplate(self, text: str) -> bool:
        """True when the whole text part is context the agent added, not the user's words."""
        return False

    def strip_injected(self, text: str) -> str:
        """`text` without the blocks the agent inserts into a message (reminders)."""
        return text

    def rejection_reason(self, text: str) -> str | None:
        """What the user typed when refusing a step, from the tool result the agent wrote."""
        return None

    # -- tools -------------------------------------------------------------------------------

    def tool_use(self, call: ToolCall, args: Any) -> ToolUse | None:
        """What `call` does, when it is one of this agent's tools (`args`: its arguments,
        decoded from JSON when they are JSON); None otherwise."""
        return None

    def write_call(
        self, tools: Mapping[str, Tool], path: str, content: str, cwd: str | None
    ) -> tuple[str, JSON] | None:
        """(tool name, arguments) of a call writing `content` to `path` with one of the
        offered `tools` (by name), as this agent's model would make it; None when none of
        them writes files."""
        return None

    # -- the session's start -------------------------------------------------------------------

    def session_start(self, request: Request) -> SessionStart | None:
        """The working directory and git state the agent stated, if it stated any."""
        return None

    # -- tool results ----------------------------------------------------------------------------

    def unwrap_result(self, text: str) -> str:
        """A tool result's text without what the agent wraps around the output."""
        return text

    def shape_read(self, use: ToolUse, text: str) -> str:
        """The result of the read `use` as the agent shows it to its model: `text` is the
        file from line `use.first_line`."""
        return text

    def shape_command(self, output: str, exit_code: int) -> str:
        """A command's result as the agent shows it to its model."""
        return output if not exit_code else f"{output}\nExit code {exit_code}"

    def shape_error(self, message: str) -> str:
        """A tool call that could not be carried out, as the agent tells its model (the tool
        result is also marked an error where the API has a place for that)."""
        return message


# -- helpers the agents share --------------------------------------------------------------------


def decode(arguments: str) -> Any:
    """A call's arguments decoded from JSON, or None when they are not JSON."""
    try:
        return json.loads(arguments)
    except (ValueError, RecursionError):
        return None


def first_str(args: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str):
            return value
    return None


def positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def texts(messages: Iterable[Message], roles: Iterable[str]) -> Iterator[str]:
    """The text parts of the messages of `roles`, in order."""
    wanted = set(roles)
    for m in messages:
        if m.role in wanted:
            for part in m.parts:
                if isinstance(part, Text):
                    yield part.text


def system_texts(request: Request) -> Iterator[str]:
    """The system prompt's text: the top-level system parts, then system and developer
    messages."""
    for part in request.system or ():
        if isinstance(part, Text):
            yield part.text
    yield from texts(request.messages, ("system", "developer"))


def script(command: Any) -> str | None:
    """The shell text of a command given as text or as argv (`["bash", "-lc", TEXT]` is TEXT)."""
    if isinstance(command, str):
        return command
    if isinstance(command, list) and command and all(isinstance(c, str) for c in command):
        if len(command) == 3 and command[1] in ("-lc", "-c"):
            return str(command[2])
        return shlex.join(command)
    return None


_PATCH = re.compile(r"^\s*(?:apply_patch|applypatch)\b", re.M)
_READS = ("cat", "nl", "head", "sed")
_LISTS = ("ls", "find", "tree")
_SEARCHES = ("rg", "grep", "ag")


def command_use(tool: str, command: str, workdir: str | None = None) -> ToolUse:
    """What a shell command does: it applies a patch (`apply_patch <<'EOF'`, or the patch as
    apply_patch's argument), reads one file
    (`cat F`, `nl -ba F`, `head -n N F`, `sed -n 'A,Bp' F`), lists or searches files (`ls`,
    `find`, `rg --files`; `rg`, `grep`), or else it is a command. Only a single command is
    read so; a pipeline or a list of commands is a command."""
    if "*** Begin Patch" in command and _PATCH.search(command):
        return ToolUse(
            "edit", tool, command=command, workdir=workdir, form="patch", new_text=command
        )
    plain = ToolUse("command", tool, command=command, workdir=workdir)
    if any(c in command for c in "|;&><`$\n"):
        return plain
    try:
        words = shlex.split(command)
    except ValueError:
        return plain
    if not words:
        return plain
    read = _read(words)
    if read is not None:
        path, first, limit = read
        return ToolUse("read", tool, path, first, limit, command=command, workdir=workdir)
    program, operands = words[0], [w for w in words[1:] if not w.startswith("-")]
    if program in _LISTS or (program == "rg" and "--files" in words):
        listed = operands[0] if operands and program != "rg" else None
        return ToolUse("list", tool, listed, command=command, workdir=workdir)
    if program in _SEARCHES and operands:
        under = operands[1] if len(operands) > 1 else None
        return ToolUse("search", tool, under, pattern=operands[0], command=command, workdir=workdir)
    return plain


def _read(words: list[str]) -> tuple[str, int, int | None] | None:
    """(path, first line, line count) of `cat FILE`, `nl -ba FILE`, `head -n N FILE`, `sed -n
    'A,Bp' FILE`."""
    if len(words) < 2:
        return None
    program, last = words[0], words[-1]
    if program == "cat" and len(words) == 2:
        return last, 1, None
    if program == "nl" and not last.startswith("-"):
        return last, 1, None
    if program == "head" and not last.startswith("-"):
        count = words[2] if len(words) == 4 and words[1] == "-n" else None
        return last, 1, int(count) if count and count.isdigit() else None
    if program == "sed" and len(words) == 4 and words[1] == "-n":
        match = re.fullmatch(r"(\d+),(\d+)p", words[2])
        if match:
            first, end = int(match.group(1)), int(match.group(2))
            return words[3], first, max(0, end - first + 1)
    return None


# Argument names a file-writing tool's schema may give the path and the content, by preference.
WRITE_PATH_KEYS = ("path", "file_path", "filePath", "filename", "target_file")
WRITE_CONTENT_KEYS = ("content", "contents", "file_text", "code", "text")


def write_keys(tool: Tool, path_key: str, content_key: str) -> tuple[str, str] | None:
    """The argument names a file-writing `tool` takes for the path and the whole content: its
    schema's, when it declares properties (None when it takes no whole content: an editor
    that replaces strings cannot create a file), else the agent's usual ones given."""
    properties = (tool.parameters or {}).get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return path_key, content_key
    path = next((k for k in WRITE_PATH_KEYS if k in properties), "")
    content = next((k for k in WRITE_CONTENT_KEYS if k in properties), "")
    return (path, content) if path and content else None


# -- line-numbered read results ------------------------------------------------------------------

_NUMBERED = re.compile(r"^\s*(\d+)(?:\t|→|: | \| |\|)(.*)$")


def numbered_window(path: str, text: str, first_line: int | None) -> FileWindow | None:
    """The file window a read's result text shows, once the agent's wrapping is gone: lines
    that each carry their number (`cat -n`, Claude Code's `     1→`) give their own first line;
    otherwise the text is the file from `first_line` (or 1)."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return None
    numbered = [_NUMBERED.match(line) for line in lines]
    if all(numbered):
        numbers = [int(m.group(1)) for m in numbered if m]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            body = "\n".join(m.group(2) for m in numbered if m) + "\n"
            return FileWindow(path, body, numbers[0], True)
    return FileWindow(path, "\n".join(lines) + "\n", first_line or 1)


def number_lines(text: str, first_line: int, separator: str) -> str:
    """`text` with each line's number before it, right-aligned in six columns (`cat -n`)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(f"{n:>6}{separator}{line}" for n, line in enumerate(lines, first_line))
