"""What the pages show of an output: the code it wrote (to mark findings' lines) and verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redline.analyzers import Check, Verdict, extract, verdict_to_dict
from redline.transcripts import Message


def code_of(message: Message) -> list[dict[str, Any]]:
    """The code an output wrote, file by file, as the report's `samples[].code` has it."""
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
        {
            "path": b.path,
            "language": b.language,
            "code": b.code,
            "first_line": 1,
            "kind": "block",
        }
        for b in found.blocks
    ]
    return code


def verdicts(checks: Sequence[Check], found: Sequence[Verdict]) -> list[dict[str, Any]]:
    return [verdict_to_dict(c.spec, v) for c, v in zip(checks, found, strict=True)]


def findings(judged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every finding of these verdicts, each with the check that made it (as the report's
    `samples[].findings`)."""
    return [{"check": v["check"], **f} for v in judged for f in v["findings"]]
