"""tool: forbid or require a tool call, or a pattern in a tool's arguments.

`name` is a regex that must match the whole tool name (any tool when absent); `pattern` is a
regex searched in the call's arguments: the raw argument text, and every string inside the
decoded JSON (so `\\n` and quotes are real characters there), with an argv list (`["bash",
"-lc", "..."]`) also joined by spaces. Arguments sent as a JSON object rather than a string, or
as a string holding the JSON, are decoded the same way. With `mode=forbid` (default) each
matching call is a finding; with `mode=require` the check fails when no call matches. Only calls
the API returned as tool calls count (not tool calls spelled out in text): function and custom
tool calls, legacy `function_call`, Anthropic server and MCP tool uses, and the Responses API's
built-in tool calls (`web_search_call`, `local_shell_call`...: name = the item's type).

What it judges are the calls that act: those that run a command or edit a file (as the agents
module reads each agent's tools; `<Bash call 1>`). Reads, listings, searches and tools no agent
defines are looked at, and a call among them that matches is a finding, but they are not an
attempt at the task: an output that made no acting call and wrote no code is asked nothing by
`mode=require`, and is no attempt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from redline.analyzers import (
    Context,
    Example,
    Finding,
    Option,
    Pattern,
    Verdict,
    decode_arguments,
)
from redline.transcripts import Message, ToolCall, agents


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            yield " ".join(value)
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def calls(output: Message) -> Iterator[tuple[str, str]]:
    """(name, raw arguments) of each tool call, built-in tools' calls included (the Responses
    API's `*_call` items, Anthropic's `server_tool_use` and `mcp_tool_use` blocks)."""
    for call in output.tool_calls:
        yield call.name, call.arguments


def _search(pattern: Pattern, raw: str) -> str | None:
    for text in (raw, *_strings(decode_arguments(raw))):
        match = pattern.search(text)
        if match:
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            return text[start : end if end >= 0 else len(text)].strip()[:200]
    return None


class Tool:
    name = "tool"
    description = "forbid or require a tool call, or a pattern in a tool's arguments"
    options = (
        Option("name", "regex", None, "regex for the whole tool name (default: any tool)"),
        Option("pattern", "regex", None, "regex searched in the call's arguments"),
        Option(
            "mode",
            "choice",
            "forbid",
            "forbid: each matching call is a finding; require: a finding when no call matches",
            ("forbid", "require"),
        ),
    )

    def check(self, output: Message, context: Context) -> Verdict:
        name: Pattern | None = context.options.get("name")
        pattern: Pattern | None = context.options.get("pattern")
        judged = [
            f"<{call.name} call {n}>"
            for n, call in enumerate(output.tool_calls, 1)
            if agents.tool_use(call).kind in ("command", "edit")
        ]
        findings = []
        for tool, raw in calls(output):
            if name is not None and not name.fullmatch(tool):
                continue
            snippet = raw[:200]
            if pattern is not None:
                found = _search(pattern, raw)
                if found is None:
                    continue
                snippet = found
            what = f"matching /{pattern.pattern}/" if pattern is not None else "forbidden"
            findings.append(Finding(None, None, f"call to {tool} {what}", snippet))
        if context.options.get("mode") == "require":
            if findings or not (judged or context.changes(output)):
                return Verdict.of([], (), judged)
            wanted = f"a call to a tool matching /{name.pattern}/" if name else "a tool call"
            extra = f" with arguments matching /{pattern.pattern}/" if pattern else ""
            return Verdict.of(
                [Finding(None, None, f"the output makes no {wanted.removeprefix('a ')}{extra}")],
                (),
                judged,
            )
        return Verdict.of(findings, (), judged)

    VALID = (
        Example(
            Message("assistant", (ToolCall("1", "Bash", json.dumps({"command": "ls -la"})),)),
            options="name=Bash;pattern=rm\\s+-rf",
        ),
        Example(
            Message("assistant", (ToolCall("1", "Read", "{}"),)), options="name=Read;mode=require"
        ),
        Example(
            Message("assistant", (ToolCall("1", "Read", json.dumps({"file_path": "a.py"})),)),
            options="name=Write;mode=require",
            note="only a read: no attempt, so nothing is required of it",
        ),
    )
    INVALID = (
        Example(
            Message(
                "assistant",
                (ToolCall("1", "Bash", json.dumps({"command": "cd /tmp && rm -rf build"})),),
            ),
            options="name=Bash|exec_command;pattern=rm\\s+-rf",
        ),
        Example(
            Message(
                "assistant",
                (
                    ToolCall(
                        "1",
                        "exec_command",
                        json.dumps({"cmd": ["bash", "-lc", "git push --force"]}),
                    ),
                ),
            ),
            options="pattern=git push --force",
        ),
        Example(
            Message(
                "assistant",
                (ToolCall("1", "Edit", json.dumps({"file_path": "a.py", "old_string": "x"})),),
            ),
            options="name=Write;mode=require",
        ),
    )


ANALYZER = Tool()
