"""Code extraction: everything a model output wrote, as `Edit`s, `CodeBlock`s and `Unparsed`.

`extract(message)` reads the output's text and tool calls (reasoning is not output and is
skipped). The forms it knows are listed in `_text` and `_tools`; docs/wire-formats.md §2 and §4 hold
the facts about each agent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from redline.analyzers._model import CodeBlock, Edit, Extraction, Unparsed
from redline.analyzers.extract._json import decode_arguments
from redline.analyzers.extract._text import from_text
from redline.analyzers.extract._tools import from_arguments, from_call, from_shell
from redline.transcripts import Message, Opaque, Text, ToolCall


def extract(message: Message, cut_off: bool = False) -> Extraction:
    """Every edit and code block in `message`, in the order written; blocks are numbered from 1.

    `cut_off`: the output stopped at a length limit (or its stream ended early), so the last
    thing it wrote may be incomplete: the edits and blocks of its last part are `truncated`.
    Parts cut short show it themselves too (arguments that stop mid-string, a fence never
    closed, a SEARCH/REPLACE block without its end) and are marked whatever `cut_off` says."""
    edits: list[Edit] = []
    blocks: list[CodeBlock] = []
    unparsed: list[Unparsed] = []
    written = [p for p in message.parts if isinstance(p, Text | ToolCall | Opaque)]
    last = written[-1] if cut_off and written else None
    for part in written:
        if isinstance(part, Text):
            found = from_text(part.text, cut_off=part is last)
        elif isinstance(part, ToolCall):
            found = from_call(part)
        else:
            found = _from_opaque(part.data)
        if part is last and not isinstance(part, Text):
            found = _truncated(found)
        edits += found.edits
        blocks += found.blocks
        unparsed += found.unparsed
    numbered = tuple(dataclasses.replace(b, index=n) for n, b in enumerate(blocks, 1))
    return Extraction(tuple(edits), numbered, tuple(unparsed))


def _truncated(found: Extraction) -> Extraction:
    return Extraction(
        tuple(dataclasses.replace(e, truncated=True) for e in found.edits),
        tuple(dataclasses.replace(b, truncated=True) for b in found.blocks),
        found.unparsed,
    )


def tool_use(data: Mapping[str, object]) -> tuple[str, str] | None:
    """(name, JSON arguments) of a tool call a parser kept verbatim: Anthropic's
    `server_tool_use` and `mcp_tool_use` blocks, and the Responses API's `*_call` items."""
    kind = str(data.get("type", ""))
    if kind in ("server_tool_use", "mcp_tool_use") and isinstance(data.get("input"), Mapping):
        return str(data.get("name") or kind), json.dumps(data["input"])
    if kind.endswith("_call"):
        return str(data.get("name") or kind), json.dumps(data)
    return None


def _from_opaque(data: Mapping[str, object]) -> Extraction:
    """Responses API items a parser may keep verbatim: `apply_patch_call`, `custom_tool_call`,
    `function_call`, `shell_call`, `local_shell_call`; Anthropic `server_tool_use` and
    `mcp_tool_use` blocks."""
    kind = data.get("type")
    name = str(data.get("name") or kind or "")
    if kind == "apply_patch_call" and isinstance(data.get("operation"), Mapping):
        return from_arguments("apply_patch", data)
    if kind == "custom_tool_call" and isinstance(data.get("input"), str):
        return from_call(ToolCall(str(data.get("call_id", "")), name, str(data["input"]), "custom"))
    if kind == "function_call" and isinstance(data.get("arguments"), str):
        return from_call(ToolCall(str(data.get("call_id", "")), name, str(data["arguments"])))
    if kind in ("shell_call", "local_shell_call") and isinstance(data.get("action"), Mapping):
        return from_arguments(name, data)
    tool_input = data.get("input")
    if kind in ("server_tool_use", "mcp_tool_use") and isinstance(tool_input, Mapping):
        return from_arguments(name, tool_input)
    return Extraction()


__all__ = ["decode_arguments", "extract", "from_shell", "tool_use"]
