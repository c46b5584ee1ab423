"""An answer as the report and the web view show it: the code it wrote, and what checks found.

One home for this rendering: `redline report` (every sample's `code` and `findings`), the
report page and the web view's task pages all take it from here, so they show the same fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redline.analyzers import Check, Context, Verdict, verdict_to_dict
from redline.transcripts import Message

__all__ = ["code_of", "findings", "ran", "verdicts"]


def code_of(message: Message, context: Context | None = None) -> list[dict[str, Any]]:
    """The code an output wrote, file by file: each edit's new text, then each fenced block.

    `first_line` is where the text starts in its file (1 for a whole file or a block), so a
    finding's line can be marked; `kind` is the edit's kind, or `block`. An edit is placed in
    its file as the checks place it: from the files the request showed (an `Edit`'s old text
    found in a file the agent read), so give the `Context` of the request the output answered
    (one per request: it reads the request's files once for all its outputs).
    """
    return [
        {
            "path": c.block.path if c.block is not None else c.path,
            "language": c.language,
            "code": c.after,
            "first_line": c.first_line,
            "kind": c.kind,
        }
        for c in (context or Context()).changes(message)
    ]


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
