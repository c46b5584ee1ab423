"""An answer as the report and the web view show it: the code it wrote, and what checks found.

One home for this rendering: `redline report` (every sample's `code` and `findings`), the
report page and the web view's task pages all take it from here, so they show the same fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redline.analyzers import Check, Verdict, extract, verdict_to_dict
from redline.transcripts import Message

__all__ = ["code_of", "findings", "ran", "verdicts"]


def code_of(message: Message) -> list[dict[str, Any]]:
    """The code an output wrote, file by file: each edit's new text, then each fenced block.

    `first_line` is where the text starts in its file (1 for a whole file or a block), so a
    finding's line can be marked; `kind` is the edit's kind, or `block`.
    """
    found = extract(message)
    code = [
        {
            "path": e.path,
            "language": e.language,
            "code": e.after,
            "first_line": e.start_line or 1,
            "kind": e.kind,
        }
        for e in found.edits
    ]
    code += [
        {"path": b.path, "language": b.language, "code": b.code, "first_line": 1, "kind": "block"}
        for b in found.blocks
    ]
    return code


def verdicts(checks: Sequence[Check], found: Sequence[Verdict]) -> list[dict[str, Any]]:
    """Each check's verdict as JSON, in the order of the checks."""
    return [verdict_to_dict(c.spec, v) for c, v in zip(checks, found, strict=True)]


def findings(judged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every finding of these verdicts (as `verdicts` gives them), each with the check that
    made it."""
    return [{"check": v["check"], **f} for v in judged for f in v["findings"]]


def ran(judged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The commands these verdicts ran on the answer (checks that run code), each with its
    check, how it ended and the seconds it took."""
    return [{"check": v["check"], **{k: v["ran"][k] for k in _RAN}} for v in judged if v.get("ran")]


_RAN = ("command", "status", "exit_status", "seconds", "sandboxed")
