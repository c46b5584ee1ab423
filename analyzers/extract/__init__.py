"""Code extraction: everything a model output wrote, as `Edit`s, `CodeBlock`s and `Unparsed`.

`extract(message)` reads the output's text and tool calls (reasoning is not output and is
skipped; the wire formats give a built-in tool's call, such as the Responses API's
`apply_patch_call` or Anthropic's `server_tool_use`, as a `ToolCall` like any other). The forms it knows are listed in `_text` and `_tools`; docs/wire-formats.md §2 and §4 hold
the facts about each agent.
"""

from __future__ import annotations

import dataclasses

from redline.analyzers._model import CodeBlock, Edit, Extraction, Unparsed
from redline.analyzers.extract._json import decode_arguments
from redline.analyzers.extract._language import extension
from redline.analyzers.extract._text import from_text
from redline.analyzers.extract._tools import from_call, from_shell
from redline.transcripts import Message, Text, ToolCall


def extract(message: Message, cut_off: bool = False) -> Extraction:
    """Every edit and code block in `message`, in the order written; blocks are numbered from 1.

    `cut_off`: the output stopped at a length limit (or its stream ended early), so the last
    thing it wrote may be incomplete: the edits and blocks of its last part are `truncated`.
    Parts cut short show it themselves too (arguments that stop mid-string, a fence never
    closed, a SEARCH/REPLACE block without its end) and are marked whatever `cut_off` says."""
    edits: list[Edit] = []
    blocks: list[CodeBlock] = []
    unparsed: list[Unparsed] = []
    written = [p for p in message.parts if isinstance(p, Text | ToolCall)]
    last = written[-1] if cut_off and written else None
    for part in written:
        if isinstance(part, Text):
            found = from_text(part.text, cut_off=part is last)
        else:
            found = from_call(part)
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


__all__ = ["decode_arguments", "extension", "extract", "from_shell"]
