"""Codex CLI (OpenAI Responses).

* Rules: AGENTS.md goes into a user `message` item whose first `input_text` is
  `# AGENTS.md instructions for /ABS/PATH\\n\\n<INSTRUCTIONS>\\n` + the file's text +
  `\\n</INSTRUCTIONS>`.
* Tools: shell tools, whose names and shapes changed across versions: `shell {command: argv,
  workdir}`, `shell_command {command, workdir}`, `exec_command {cmd, workdir}` (with
  `write_stdin`), and the Responses API's built-in `shell_call` / `local_shell_call` items
  (`{action: {commands | command}}`). Edits go through `apply_patch`: a custom tool whose input
  is the raw patch, a function tool `{input}`, the built-in `apply_patch_call` item
  (`{operation: {type, path, diff}}`), or, in recent versions (no apply_patch tool offered), a
  shell command `apply_patch <<'EOF' ... EOF`. Files are read, listed and searched through
  shell commands (`sed -n`, `nl -ba`, `rg`...).
* Session start: `<environment_context>` in a user message states `<cwd>`.
* Results: a command's output comes after a preamble (`Chunk ID`, `Wall time`, `Process
  exited with code N`, `Original token count`) and an `Output:` line; older versions answered
  a JSON object `{"output", "metadata"}`. A refused step is "exec command rejected by user" or
  "patch rejected by user", an interrupted one "aborted" and a `<turn_aborted>` message.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from redline.transcripts.agents.agent import (
    Agent,
    Change,
    EditForm,
    Marker,
    RulesFile,
    SessionStart,
    ToolUse,
    command_use,
    first_str,
    script,
    texts,
)
from redline.transcripts.model import JSON, Request, Tool, ToolCall

_RULES = re.compile(
    r"(# AGENTS\.md instructions for (?P<path>[^\n]*)\n\n<INSTRUCTIONS>\n?)(?P<text>.*?)"
    r"(\n?</INSTRUCTIONS>)",
    re.S,
)
_ENVIRONMENT = re.compile(r"<environment_context>(.*?)</environment_context>", re.S)
_CWD = re.compile(r"<cwd>([^<\n]*)</cwd>")
_PREAMBLE = re.compile(r"(?:Chunk ID|Wall time|Exit code|Process exited|Command)")
_OUTPUT = "\nOutput:\n"

SHELL_TOOLS = frozenset({"shell", "shell_command", "exec_command", "local_shell"})
BUILTIN_CALLS = frozenset({"shell_call", "local_shell_call", "apply_patch_call"})
PATCH_TOOLS = frozenset({"apply_patch", "applypatch"})
TOOLS = SHELL_TOOLS | BUILTIN_CALLS | PATCH_TOOLS | {"write_stdin"}


class Codex(Agent):
    name = "codex"
    title = "Codex CLI"
    rules_file = "AGENTS.md"
    session_headers = ("session_id", "session-id", "conversation_id")
    injected = (
        "<environment_context>",
        "# AGENTS.md instructions",
        "<user_instructions>",
        "<turn_aborted>",
        "<user_shell_command>",
    )
    markers = (
        Marker("rejected", "exec command rejected by user", whole=True),
        Marker("rejected", "patch rejected by user", whole=True),
        Marker("interrupted", "aborted", whole=True),
        Marker("interrupted", "<turn_aborted>", in_result=False),
    )

    def recognises(self, request: Request) -> bool:
        offered = {t.name for t in request.tools or ()}
        if offered & TOOLS:
            return True
        return any(
            _RULES.search(t) or "<environment_context>" in t
            for t in texts(request.messages, ("user", "developer"))
        )

    def rules_files(self, text: str) -> Iterator[RulesFile]:
        for match in _RULES.finditer(text):
            path = posixpath.join(match["path"].strip(), "AGENTS.md")
            yield RulesFile(self.name, path, match["text"])

    def replace_rules(self, text: str, rules: str) -> tuple[str, int]:
        return _RULES.subn(lambda m: m.group(1) + rules + m.group(4), text)

    def embed_rules(self, folder: str, rules: str) -> str:
        return f"# AGENTS.md instructions for {folder}\n\n<INSTRUCTIONS>\n{rules}\n</INSTRUCTIONS>"

    def is_boilerplate(self, text: str) -> bool:
        return _RULES.fullmatch(text) is not None

    def tool_use(self, call: ToolCall, args: Any) -> ToolUse | None:
        name = call.name
        if name in PATCH_TOOLS:
            if call.kind == "custom" or not isinstance(args, Mapping):
                return ToolUse("edit", name, form="patch", new_text=call.arguments)
            patch = first_str(args, ("input", "patch"))
            return ToolUse("edit", name, form="patch", new_text=patch)
        if name not in TOOLS or not isinstance(args, Mapping):
            return None
        if name == "apply_patch_call" or isinstance(args.get("operation"), Mapping):
            operation = args.get("operation")
            op: Mapping[str, Any] = operation if isinstance(operation, Mapping) else {}
            path = op.get("path") if isinstance(op.get("path"), str) else None
            diff = op.get("diff") if isinstance(op.get("diff"), str) else None
            form: EditForm = "delete" if op.get("type") == "delete_file" else "patch"
            return ToolUse("edit", name, path, form=form, new_text=diff)
        action = args.get("action")
        shell: Mapping[str, Any] = action if isinstance(action, Mapping) else args
        command = script(shell.get("cmd", shell.get("command")))
        if command is None and isinstance(shell.get("commands"), list):
            command = "\n".join(str(c) for c in shell["commands"])
        workdir = first_str(shell, ("workdir", "working_directory"))
        if command is None:
            return ToolUse("other", name)
        return command_use(name, command, workdir)

    def write_call(
        self, tools: Mapping[str, Tool], path: str, content: str, cwd: str | None
    ) -> tuple[str, JSON] | None:
        body = "".join(f"+{line}\n" for line in content.rstrip("\n").split("\n"))
        patch = f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch"
        for name, keys in (("apply_patch", ("input", "patch")), ("exec_command", ("cmd",))):
            if name not in tools:
                continue
            properties = (tools[name].parameters or {}).get("properties") or {}
            key = next((k for k in keys if k in properties), keys[0])
            if name == "exec_command":
                return name, {key: f"apply_patch <<'EOF'\n{patch}\nEOF\n"}
            return name, {key: patch}
        return None

    def session_start(self, request: Request) -> SessionStart | None:
        for text in texts(request.messages, ("user", "developer")):
            environment = _ENVIRONMENT.search(text)
            if environment is not None:
                cwd = _CWD.search(environment.group(1))
                return SessionStart(self.name, cwd.group(1).strip() if cwd else None)
        return None

    def unwrap_result(self, text: str) -> str:
        stripped = text.lstrip()
        if stripped.startswith("{"):
            try:
                decoded = json.loads(stripped)
            except (ValueError, RecursionError):
                decoded = None
            output = decoded.get("output") if isinstance(decoded, Mapping) else None
            if isinstance(output, str):
                return output
        marker = text[:600].find(_OUTPUT)
        if marker >= 0 and _PREAMBLE.match(text):
            return text[marker + len(_OUTPUT) :]
        return text

    def shape_read(self, use: ToolUse, text: str) -> str:
        return self.shape_command(text, 0)  # a read is a shell command's output

    def shape_command(self, output: str, exit_code: int) -> str:
        return f"Process exited with code {exit_code}{_OUTPUT}{output}"

    def shape_edit(self, use: ToolUse, changed: Sequence[tuple[str, Change]]) -> str:
        letters = {"added": "A", "updated": "M", "deleted": "D"}
        listed = "".join(f"{letters[how]} {path}\n" for path, how in changed)
        done = f"Success. Updated the following files:\n{listed}"
        return self.shape_command(done, 0) if use.command else done  # apply_patch in a shell


AGENT = Codex()
