"""Labelled cases for the analyzers, in a small text format (one case per `.case` file).

    # a note (comment lines anywhere before the first section)
    label: flag | pass           whether the check must find something
    lines: 4 9                   (optional) the lines the findings must be on
    options: allow-logging       (optional) the check's options, as after NAME: on the CLI
    path: /repo/a.py             (optional) the file `before`/`after` edit; default app.py
    === read PATH                the request read PATH and got this content (shown as `cat -n`)
    === before                   with `after`: a Claude Code Edit (old_string -> new_string)
    === after                    alone: a Claude Code Write of a new file
    === text                     an assistant text part
    === thinking                 a reasoning part
    === custom NAME              a free-form tool call whose raw input is the section
    === call NAME {JSON} KEY     a function tool call: the JSON arguments, plus KEY = the section
                                 (KEY+ appends the section, parsed as JSON, to the list KEY)

Sections end at the next `=== ` line. The output's parts come in section order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.transcripts.model import (
    Message,
    Part,
    Request,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)

CORPUS = Path(__file__).parent


@dataclass
class Case:
    name: str
    label: str
    lines: tuple[int, ...]
    options: str
    output: Message
    request: Request | None
    note: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def _numbered(text: str) -> str:
    """Content as Claude Code's Read shows it: `cat -n` with an arrow."""
    lines = text.rstrip("\n").split("\n")
    return "\n".join(f"{n:>6}→{line}" for n, line in enumerate(lines, 1))


def load_case(path: Path) -> Case:
    headers: dict[str, str] = {}
    notes: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in path.read_text().split("\n"):
        if line.startswith("=== "):
            sections.append((line[4:], []))
        elif sections:
            sections[-1][1].append(line)
        elif line.startswith("#"):
            notes.append(line.lstrip("# "))
        elif ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip()] = value.strip()
    edit_path = headers.get("path", "app.py")
    parts: list[Part] = []
    request_messages: list[Message] = []
    bodies = {name.split()[0]: "\n".join(body) for name, body in sections}
    for name, body_lines in sections:
        body = "\n".join(body_lines)
        kind, _, rest = name.partition(" ")
        if kind == "read":
            read = ToolCall("read1", "Read", json.dumps({"file_path": rest.strip()}))
            request_messages += [
                Message("user", (Text("please fix it"),)),
                Message("assistant", (read,)),
                Message("user", (ToolResult("read1", _numbered(body)),)),
            ]
        elif kind == "text":
            parts.append(Text(body))
        elif kind == "thinking":
            parts.append(Thinking(body))
        elif kind == "custom":
            parts.append(ToolCall(f"call{len(parts)}", rest.strip(), body, "custom"))
        elif kind == "call":
            parts.append(_call(rest, body, len(parts)))
        elif kind == "after":
            args: dict[str, Any]
            if "before" in bodies:
                args = {
                    "file_path": edit_path,
                    "old_string": bodies["before"].rstrip("\n"),
                    "new_string": body.rstrip("\n"),
                }
                parts.append(ToolCall(f"call{len(parts)}", "Edit", json.dumps(args)))
            else:
                args = {"file_path": edit_path, "content": body}
                parts.append(ToolCall(f"call{len(parts)}", "Write", json.dumps(args)))
        elif kind != "before":
            raise ValueError(f"{path.name}: unknown section {name!r}")
    request = Request("test-model", tuple(request_messages)) if request_messages else None
    lines = tuple(int(n) for n in headers.get("lines", "").split())
    return Case(
        path.stem,
        headers["label"],
        lines,
        headers.get("options", ""),
        Message("assistant", tuple(parts)),
        request,
        " ".join(notes),
        headers,
    )


def _call(header: str, body: str, n: int) -> ToolCall:
    name, _, rest = header.strip().partition(" ")
    decoder = json.JSONDecoder()
    args, end = decoder.raw_decode(rest.strip())
    key = rest.strip()[end:].strip()
    if key.endswith("+"):
        args.setdefault(key[:-1], []).append(json.loads(body))
    elif key:
        args[key] = body.rstrip("\n") if key in ("old_str", "new_str", "new_string") else body
    return ToolCall(f"call{n}", name, json.dumps(args))


def load_corpus(folder: str) -> list[Case]:
    return [load_case(p) for p in sorted((CORPUS / folder).glob("*.case"))]


# --- builders for tests that write outputs inline ------------------------------------------------


def call(
    name: str, arguments: dict[str, Any] | str, kind: str = "function", id_: str = "call_1"
) -> ToolCall:
    """A tool call; dict arguments are JSON-encoded as an API would send them."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(id_, name, raw, kind)


def assistant(*parts: Part | str) -> Message:
    """An assistant message; str parts are text."""
    return Message("assistant", tuple(Text(p) if isinstance(p, str) else p for p in parts))
