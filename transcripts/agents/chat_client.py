"""A chat client with tools: any other agent, read from its tools' usual names and shapes.

The agent every request falls back to (registered last). Its tools are those coding clients
commonly offer: `read_file` / `view` / `open_file` (`path`, `offset` or `start_line`), the
editor tools `str_replace_editor` / `str_replace_based_edit_tool` / `file_editor` (`command`:
view, create, str_replace, insert; `path`, `view_range`, `file_text`, `old_str`, `new_str`,
`insert_line`), `write_file` / `create_file` / `edit_file` (a path and the whole content),
`list_files` / `list_dir`, `search` / `grep`, and shell tools (`run_command`, `execute_bash`,
...: any tool whose `command` or `cmd` is shell text or argv). An editor's view is answered as
`cat -n` with a header line ("Here's the result of running `cat -n` on PATH:"); Cline prefixes
a read's result with "[read_file for PATH] Result:".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from redline.transcripts.agents.agent import (
    PATH_KEYS,
    Agent,
    ToolUse,
    command_use,
    first_str,
    number_lines,
    positive,
    script,
    write_keys,
)
from redline.transcripts.model import JSON, Request, Tool, ToolCall

READ_TOOLS = frozenset({"read", "read_file", "readfile", "view", "view_file", "open_file", "cat"})
LIST_TOOLS = frozenset({"list_files", "list_dir", "list_directory", "ls", "glob", "find_files"})
SEARCH_TOOLS = frozenset({"search", "grep", "search_files", "grep_search", "search_codebase"})
EDITOR_TOOLS = frozenset({"str_replace_editor", "str_replace_based_edit_tool", "file_editor"})
EDITOR_COMMANDS = frozenset({"view", "create", "str_replace", "insert", "undo_edit", "delete"})
# File-writing tools by preference, each with the argument names it usually takes.
WRITE_TOOLS = (
    ("write_file", "path", "content"),
    ("create_file", "path", "content"),
    ("edit_file", "path", "content"),
)
_CONTENT_KEYS = ("content", "contents", "file_text", "new_content", "file_content", "code")
_PAIRS = (("old_str", "new_str"), ("old_string", "new_string"), ("old_text", "new_text"))
_PATTERN_KEYS = ("pattern", "query", "regex")
_HEADER = re.compile(
    r"^(?:Here's the result of running `cat -n` on .*:|\[read_file for .*\] Result:)\s*$"
)


class ChatClient(Agent):
    name = "chat"
    title = "a chat client with tools"

    def recognises(self, request: Request) -> bool:
        return True

    def tool_use(self, call: ToolCall, args: Any) -> ToolUse | None:
        if not isinstance(args, Mapping):
            return None
        name, lowered = call.name, call.name.lower()
        path = first_str(args, PATH_KEYS)
        command = args.get("command")
        if lowered in EDITOR_TOOLS or (command in EDITOR_COMMANDS and path is not None):
            return _editor(name, args, path)
        if lowered in READ_TOOLS and path is not None:
            first = positive(args.get("offset")) or positive(args.get("start_line"))
            return ToolUse("read", name, path, first, positive(args.get("limit")))
        if lowered in LIST_TOOLS:
            return ToolUse("list", name, path, pattern=first_str(args, _PATTERN_KEYS))
        if lowered in SEARCH_TOOLS:
            return ToolUse("search", name, path, pattern=first_str(args, _PATTERN_KEYS))
        shell = script(args.get("cmd", command))
        if shell is not None:
            return command_use(name, shell, first_str(args, ("workdir", "cwd", "dir_path")))
        if path is None:
            return None
        for old_key, new_key in _PAIRS:
            old, new = args.get(old_key), args.get(new_key)
            if isinstance(old, str) and isinstance(new, str):
                return ToolUse("edit", name, path, form="replace", old_text=old, new_text=new)
        content = first_str(args, _CONTENT_KEYS)
        if content is not None:
            return ToolUse("edit", name, path, form="write", new_text=content)
        return None

    def write_call(
        self, tools: Mapping[str, Tool], path: str, content: str, cwd: str | None
    ) -> tuple[str, JSON] | None:
        for name, path_key, content_key in WRITE_TOOLS:
            if name not in tools:
                continue
            keys = write_keys(tools[name], path_key, content_key)
            if keys is not None:
                return name, {keys[0]: path, keys[1]: content}
        return None

    def unwrap_result(self, text: str) -> str:
        first, newline, rest = text.partition("\n")
        return rest if newline and _HEADER.match(first) else text

    def shape_read(self, use: ToolUse, text: str) -> str:
        if use.tool.lower() not in EDITOR_TOOLS:
            return text
        numbered = number_lines(text, use.first_line or 1, "\t")
        return f"Here's the result of running `cat -n` on {use.path}:\n{numbered}"


def _editor(name: str, args: Mapping[str, Any], path: str | None) -> ToolUse | None:
    command = args.get("command")
    if command == "view":
        window = args.get("view_range")
        first = window[0] if isinstance(window, list) and window else None
        return ToolUse("read", name, path, positive(first))
    text = first_str(args, ("file_text",)) if command == "create" else None
    if command == "create":
        return ToolUse("edit", name, path, form="write", new_text=text)
    if command == "str_replace":
        old, new = first_str(args, ("old_str",)), first_str(args, ("new_str",))
        return ToolUse("edit", name, path, form="replace", old_text=old, new_text=new or "")
    if command == "insert":
        line = args.get("insert_line")
        first = line + 1 if isinstance(line, int) and line >= 0 else None
        new = first_str(args, ("new_str", "insert_text", "text"))
        return ToolUse("edit", name, path, first, form="insert", new_text=new)
    if command == "delete":
        return ToolUse("edit", name, path, form="delete")
    return ToolUse("other", name, path)


AGENT = ChatClient()
