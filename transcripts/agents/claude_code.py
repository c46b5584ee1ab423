"""Claude Code (Anthropic Messages).

* Rules: CLAUDE.md goes into a `<system-reminder>` text block of the first user message:
  `Contents of /ABS/PATH/CLAUDE.md (project instructions, checked into the codebase):\\n\\n` then
  the file's text, up to the next file's header or the reminder's end (a user's private
  CLAUDE.md files come the same way, with other words in the parentheses). Every later call
  re-sends that message.
* Tools: `Read {file_path, offset, limit}`, `Write {file_path, content}`, `Edit {file_path,
  old_string, new_string, replace_all}`, `Bash {command}`, `NotebookEdit`; older versions also
  `Glob`, `Grep`, `LS`, `MultiEdit`, `NotebookRead`. Paths are absolute.
* Session start: a system text "Primary working directory: /ABS/PATH" (older versions:
  "Working directory: /ABS/PATH"), and a "gitStatus" block ("Current branch:", "Status:",
  "Recent commits:", whose first short hash is HEAD at the start) in the system prompt or the
  first user message.
* Results: a read is shown `cat -n`-style with an arrow (`     1→line`) and may carry a
  `<system-reminder>`; a call that could not be carried out is answered
  `<tool_use_error>...</tool_use_error>`; a refused step with the texts in `markers`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from redline.transcripts.agents.agent import (
    PATH_KEYS,
    Agent,
    EditForm,
    Marker,
    RulesFile,
    SessionStart,
    ToolUse,
    command_use,
    first_str,
    number_lines,
    positive,
    system_texts,
    texts,
    write_keys,
)
from redline.transcripts.exchange import header
from redline.transcripts.model import JSON, Request, Tool, ToolCall

REJECTED = "The user doesn't want to proceed with this tool use."
REASON = "To tell you how to proceed, the user said:\n"
DECLINED = "The user doesn't want to take this action right now."
PLAN_REJECTED = "The agent proposed a plan that was rejected by the user."
INTERRUPTED = "[Request interrupted by user"

PROJECT_RULES = "project instructions, checked into the codebase"
_RULES = re.compile(
    r"(Contents of (?P<path>[^\n]*?\.md) \((?P<what>[^)\n]*instructions[^)\n]*)\):\n\n)"
    r"(?P<text>.*?)(?=\n\nContents of |\n</system-reminder>|\Z)",
    re.S,
)
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
_WORKDIR = re.compile(
    r"^[ \t]*(?:-[ \t]*)?(?:Primary working directory|Working directory):[ \t]*(/\S*)", re.M
)
_GIT_STATUS = "gitStatus"
_GIT_LINES = 200  # the most lines of a gitStatus block read

TOOLS = frozenset(
    {
        "Read",
        "Write",
        "Edit",
        "MultiEdit",
        "Bash",
        "Glob",
        "Grep",
        "LS",
        "NotebookEdit",
        "NotebookRead",
    }
)


class ClaudeCode(Agent):
    name = "claude-code"
    title = "Claude Code"
    rules_file = "CLAUDE.md"
    session_headers = ("x-claude-code-session-id",)
    injected = (
        "<system-reminder>",
        "<command-name>",
        "<command-message>",
        "<local-command-stdout>",
        "Caveat:",
    )
    error_prefixes = ("<tool_use_error>",)
    markers = (
        Marker("rejected", REJECTED),
        Marker("declined", DECLINED),
        Marker("plan-rejected", PLAN_REJECTED),
        Marker("interrupted", INTERRUPTED),
        Marker("interrupted", INTERRUPTED, in_result=False),
    )

    def recognises(self, request: Request) -> bool:
        offered = {t.name for t in request.tools or ()}
        return bool(offered & TOOLS) or any(
            _RULES.search(t) for t in texts(request.messages, ("user",))
        )

    def session_key(self, headers: Iterable[tuple[str, str]]) -> str | None:
        headers = list(headers)
        key = super().session_key(headers)
        sub = header(headers, "x-claude-code-agent-id")  # a subagent's own thread
        return f"{key}/{sub}" if key and sub else key

    def rules_files(self, text: str) -> Iterator[RulesFile]:
        for match in _RULES.finditer(text):
            project = match["what"] == PROJECT_RULES and match["path"].endswith("CLAUDE.md")
            yield RulesFile(self.name, match["path"], match["text"], project)

    def replace_rules(self, text: str, rules: str) -> tuple[str, int]:
        count = 0

        def swap(match: re.Match[str]) -> str:
            nonlocal count
            if match["what"] != PROJECT_RULES or not match["path"].endswith("CLAUDE.md"):
                return match.group(0)
            count += 1
            return match.group(1) + rules

        return _RULES.sub(swap, text), count

    def embed_rules(self, folder: str, rules: str) -> str:
        path = posixpath.join(folder, "CLAUDE.md")
        return (
            "<system-reminder>\nAs you answer the user's questions, you can use the following "
            f"context:\n# claudeMd\nContents of {path} ({PROJECT_RULES}):\n\n{rules}\n"
            "</system-reminder>"
        )

    def strip_injected(self, text: str) -> str:
        return _REMINDER.sub("", text)

    def rejection_reason(self, text: str) -> str | None:
        if text.startswith(REJECTED) and REASON in text:
            return text.split(REASON, 1)[1].strip() or None
        return None

    def tool_use(self, call: ToolCall, args: Any) -> ToolUse | None:
        name = call.name
        if name not in TOOLS or not isinstance(args, Mapping):
            return None
        path = first_str(args, PATH_KEYS)
        if name in ("Read", "NotebookRead"):
            return ToolUse(
                "read", name, path, positive(args.get("offset")), positive(args.get("limit"))
            )
        if name == "Write":
            return ToolUse("edit", name, path, form="write", new_text=_str(args, "content"))
        if name == "Edit":
            return ToolUse(
                "edit",
                name,
                path,
                form="replace",
                old_text=_str(args, "old_string"),
                new_text=_str(args, "new_string"),
                replace_all=args.get("replace_all") is True,
            )
        if name == "MultiEdit":
            edits = args.get("edits")
            pairs = tuple(
                (_str(e, "old_string"), _str(e, "new_string"))
                for e in (edits if isinstance(edits, list) else ())
                if isinstance(e, Mapping)
            )
            return ToolUse("edit", name, path, form="multi", replacements=pairs)
        if name == "NotebookEdit":
            form: EditForm = "delete" if args.get("edit_mode") == "delete" else "notebook"
            return ToolUse("edit", name, path, form=form, new_text=_str(args, "new_source"))
        if name == "Bash":
            command = args.get("command")
            return command_use(name, command) if isinstance(command, str) else None
        pattern = args.get("pattern") if isinstance(args.get("pattern"), str) else None
        if name in ("Glob", "LS"):
            return ToolUse("list", name, path, pattern=pattern)
        return ToolUse("search", name, path, pattern=pattern)  # Grep

    def write_call(
        self, tools: Mapping[str, Tool], path: str, content: str, cwd: str | None
    ) -> tuple[str, JSON] | None:
        if "Write" not in tools:
            return None
        keys = write_keys(tools["Write"], "file_path", "content")
        if keys is None:
            return None
        path_key, content_key = keys
        if path_key == "file_path" and cwd and not posixpath.isabs(path):
            path = posixpath.join(cwd, path)  # Write takes absolute paths
        return "Write", {path_key: path, content_key: content}

    def session_start(self, request: Request) -> SessionStart | None:
        system = list(system_texts(request))
        cwd = next((m.group(1) for t in system if (m := _WORKDIR.search(t))), None)
        first_user = next((m for m in request.messages if m.role == "user"), None)
        places = system + (list(texts([first_user], ("user",))) if first_user else [])
        git = next((t for t in places if _GIT_STATUS in t), None)
        if cwd is None and git is None:
            return None
        branch, status, commits = _git_status(git) if git else (None, (), ())
        head = commits[0].split()[0] if commits else None
        return SessionStart(self.name, cwd, branch, head, status, commits)

    def unwrap_result(self, text: str) -> str:
        return _REMINDER.sub("", text)

    def shape_read(self, use: ToolUse, text: str) -> str:
        return number_lines(text, use.first_line or 1, "→")

    def shape_error(self, message: str) -> str:
        return f"<tool_use_error>{message}</tool_use_error>"


def _str(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    return value if isinstance(value, str) else ""


def _git_status(text: str) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(branch, status lines, recent commits) of a gitStatus block: sections named by a line
    ending in a colon ("Status:", "Recent commits:") hold the lines up to the next blank one;
    "Current branch: NAME" is one line."""
    lines = text[text.index(_GIT_STATUS) :].split("\n")[:_GIT_LINES]
    branch: str | None = None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("Current branch:"):
            branch = stripped.removeprefix("Current branch:").strip() or None
            current = None
        elif stripped in ("Status:", "Recent commits:"):
            current = sections.setdefault(stripped, [])
        elif not stripped:
            current = None
        elif current is not None:
            current.append(stripped)
    status = tuple(s for s in sections.get("Status:", []) if s != "(clean)")
    return branch, status, tuple(sections.get("Recent commits:", []))


AGENT = ClaudeCode()
