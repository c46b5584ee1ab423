"""Code extraction: everything a model output wrote, as `Edit`s, `CodeBlock`s and `Unparsed`.

`extract(message)` reads the output's text and tool calls (reasoning is not output and is
skipped). The forms it knows are listed in `_text` and `_tools`; wire_formats.md §2 and §4 hold
the facts about each agent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from redline.analyzers._model import CodeBlock, Edit, Extraction, Unparsed
from redline.analyzers.extract._text import from_text
from redline.analyzers.extract._tools import decode_arguments, from_arguments, from_call, from_shell
from redline.transcripts.model import Message, Opaque, Text, ToolCall


def extract(message: Message) -> Extraction:
    """Every edit and code block in `message`, in the order written; blocks are numbered from 1."""
    edits: list[Edit] = []
    blocks: list[CodeBlock] = []
    unparsed: list[Unparsed] = []
    for part in message.parts:
        if isinstance(part, Text):
            found = from_text(part.text)
        elif isinstance(part, ToolCall):
            found = from_call(part)
        elif isinstance(part, Opaque):
            found = _from_opaque(part.data)
        else:
            continue
        edits += found.edits
        blocks += found.blocks
        unparsed += found.unparsed
    numbered = tuple(dataclasses.replace(b, index=n) for n, b in enumerate(blocks, 1))
    return Extraction(tuple(edits), numbered, tuple(unparsed))


def _from_opaque(data: Mapping[str, object]) -> Extraction:
    """Responses API items a parser may keep verbatim: `apply_patch_call`, `custom_tool_call`,
    `function_call`, `shell_call`, `local_shell_call`."""
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
    return Extraction()


__all__ = ["decode_arguments", "extract", "from_shell"]
