"""Labelled cases for the analyzers, in a small text format (one case per `.case` file).

    # a note (comment lines anywhere before the first section)
    label: flag | pass           whether the check must find something
    lines: 4 9                   (optional) the lines the findings must be on
    options: allow-logging       (optional) the check's options, as after NAME: on the CLI
    path: /repo/a.py             (optional) the file `before`/`after` edit; default app.py
    cut_off: true                (optional) the output stopped at a length limit (Context.cut_off)
    unparsed: allowed            (optional) the check may list code it did not judge (cut off...)
    === read PATH                the request read PATH and got this content (shown as `cat -n`);
                                 repeatable, one Read call and its result per section
    === before                   with `after`: a Claude Code Edit (old_string -> new_string)
    === after                    alone: a Claude Code Write of a new file
    === write PATH               a Claude Code Write of PATH with this content
    === edit PATH                a Claude Code Edit of PATH: one `old` and one `new` section follow
    === multiedit PATH           a Claude Code MultiEdit of PATH: `old`/`new` pairs follow, one
                                 pair per entry of its `edits` list, in order
    === old                      the old_string of the edit or MultiEdit entry above
    === new                      its new_string (empty: the edit deletes its old_string)
    === text                     an assistant text part
    === thinking                 a reasoning part
    === custom NAME              a free-form tool call whose raw input is the section
    === call NAME {JSON} KEY     a function tool call: the JSON arguments, plus KEY = the section
                                 (KEY+ appends the section, parsed as JSON, to the list KEY)
    === raw NAME                 a function tool call whose raw arguments string is the section
                                 as written, final newline aside (JSON cut mid-way, say)

Sections end at the next `=== ` line. The output's parts come in section order. The strings of
an Edit or MultiEdit (`before`/`after`, `old`/`new`) lose their final newlines, as an editor's
strings have none; a Write's content keeps them.
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
    # parts in order; an Edit or MultiEdit stays a (name, args) pair until its old/new arrive
    parts: list[Part | tuple[str, dict[str, Any]]] = []
    request_messages: list[Message] = []
    bodies = {name.split()[0]: "\n".join(body) for name, body in sections}
    reads = 0
    for name, body_lines in sections:
        body = "\n".join(body_lines)
        kind, _, rest = name.partition(" ")
        if kind == "read":
            reads += 1
            read_id = f"read{reads}"
            read = ToolCall(read_id, "Read", json.dumps({"file_path": rest.strip()}))
            request_messages += [
                Message("user", (Text("please fix it"),)),
                Message("assistant", (read,)),
                Message("user", (ToolResult(read_id, _numbered(body)),)),
            ]
        elif kind == "text":
            parts.append(Text(body))
        elif kind == "thinking":
            parts.append(Thinking(body))
        elif kind == "custom":
            parts.append(ToolCall(f"call{len(parts)}", rest.strip(), body, "custom"))
        elif kind == "call":
            parts.append(_call(rest, body, len(parts)))
        elif kind == "raw":
            parts.append(ToolCall(f"call{len(parts)}", rest.strip(), body.rstrip("\n")))
        elif kind == "write":
            args = {"file_path": rest.strip(), "content": body}
            parts.append(ToolCall(f"call{len(parts)}", "Write", json.dumps(args)))
        elif kind == "edit":
            parts.append(("Edit", {"file_path": rest.strip()}))
        elif kind == "multiedit":
            parts.append(("MultiEdit", {"file_path": rest.strip(), "edits": []}))
        elif kind in ("old", "new"):
            _add_string(path, parts, kind, body.rstrip("\n"))
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
        Message("assistant", tuple(_built(path, parts))),
        request,
        " ".join(notes),
        headers,
    )


def _add_string(
    path: Path, parts: list[Part | tuple[str, dict[str, Any]]], kind: str, text: str
) -> None:
    """An `old` or `new` section: a string of the Edit or MultiEdit section above it."""
    if not parts or not isinstance(parts[-1], tuple):
        raise ValueError(f"{path.name}: `{kind}` must follow an `edit` or `multiedit` section")
    tool, args = parts[-1]
    target = args["edits"][-1] if tool == "MultiEdit" and args["edits"] else args
    if kind == "old":
        if tool == "MultiEdit":
            args["edits"].append({"old_string": text})
        elif "old_string" in args:
            raise ValueError(f"{path.name}: an `edit` takes one `old` and one `new`")
        else:
            args["old_string"] = text
    elif "old_string" not in target or "new_string" in target:
        raise ValueError(f"{path.name}: each `new` needs an `old` before it")
    else:
        target["new_string"] = text


def _built(path: Path, parts: list[Part | tuple[str, dict[str, Any]]]) -> list[Part]:
    built: list[Part] = []
    for n, part in enumerate(parts):
        if isinstance(part, tuple):
            tool, args = part
            pairs = args["edits"] if tool == "MultiEdit" else [args]
            if not pairs or any("new_string" not in pair for pair in pairs):
                raise ValueError(f"{path.name}: a {tool} without its old/new strings")
            built.append(ToolCall(f"call{n}", tool, json.dumps(args)))
        else:
            built.append(part)
    return built


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
