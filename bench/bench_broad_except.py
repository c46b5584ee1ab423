"""broad-except throughput on real Python: the standard library's own sources.

Two runs, each timed end to end (an assistant message holding a Write tool call -> extraction
-> reading the Python -> the libcst rule -> a verdict), on one core:

1. whole stdlib modules, one output per module;
2. 1,000 "typical outputs" of about 5 KB: consecutive top-level statements of stdlib modules,
   cut where a statement ends, so every output is real code that parses. The goal is under 10 s.
   The rule skips libcst for code whose text cannot hold a broad handler; the subset that
   cannot be skipped is timed on its own too, and once more as Edits of a file the transcript
   showed (each handler of the old file matched with the new: the cost of judging an edit).

Prints outputs per second, KB per second and how many outputs the check flagged.
"""

from __future__ import annotations

import ast
import json
import sys
import sysconfig
import time
import warnings
from pathlib import Path

from redline.analyzers import Context, parse_check
from redline.analyzers.rules.broad_except import CANDIDATE
from redline.transcripts.model import Message, Request, ToolCall, ToolResult

TARGET_KB = 5


def stdlib_sources(limit_bytes: int) -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[tuple[str, str]] = []
    total = 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        out.append((str(path.relative_to(root)), text))
        total += len(text.encode())
        if total >= limit_bytes:
            break
    return out


def five_kb_outputs(sources: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """Consecutive top-level statements of each module, TARGET_KB to twice that each (a
    statement bigger than that, such as a large class, is skipped)."""
    out: list[tuple[str, str]] = []
    for name, text in sources:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text)
        except SyntaxError:
            continue
        lines = text.split("\n")
        start = 0
        for node in tree.body:
            end = node.end_lineno or node.lineno
            chunk = "\n".join(lines[start:end]) + "\n"
            if len(chunk) < TARGET_KB * 1024:
                continue
            if len(chunk) <= 2 * TARGET_KB * 1024:
                out.append((f"{name.removesuffix('.py')}_{start + 1}.py", chunk))
                if len(out) == count:
                    return out
            start = end
    return out


def as_output(path: str, code: str) -> Message:
    arguments = json.dumps({"file_path": f"/repo/{path}", "content": code})
    return Message("assistant", (ToolCall("call_1", "Write", arguments),))


def as_edit(path: str, code: str) -> tuple[Message, Request] | None:
    """An Edit of the file a Read showed: the first broad handler's header and the line after
    it gain a comment. Every handler of the old file is then matched with the new one."""
    match = CANDIDATE.search(code)
    if match is None:
        return None
    lines = code.split("\n")
    at = code.count("\n", 0, match.start())
    old = "\n".join(lines[at : at + 2])
    if code.count(old) != 1:
        return None
    new = "\n".join(line + "  # reviewed" for line in lines[at : at + 2])
    file_path = f"/repo/{path}"
    numbered = "\n".join(f"{n:>6}\u2192{line}" for n, line in enumerate(lines, 1))
    read = ToolCall("r1", "Read", json.dumps({"file_path": file_path}))
    request = Request(
        "bench",
        (Message("assistant", (read,)), Message("user", (ToolResult("r1", numbered),))),
    )
    edit = {"file_path": file_path, "old_string": old, "new_string": new}
    return Message("assistant", (ToolCall("e1", "Edit", json.dumps(edit)),)), request


def measure(label: str, items: list[tuple[str, str]], edits: bool = False) -> float:
    check = parse_check("broad-except")
    pairs: list[tuple[Message, Request | None]] = []
    for path, code in items:
        if not edits:
            pairs.append((as_output(path, code), None))
        elif (edit := as_edit(path, code)) is not None:
            pairs.append(edit)
    size = sum(len(code.encode()) for _, code in items)
    flagged = unjudged = 0
    started = time.perf_counter()
    for output, request in pairs:
        verdict = check.analyzer.check(output, Context(request, check.options))
        flagged += not verdict.passed
        unjudged += bool(verdict.unparsed)
    elapsed = time.perf_counter() - started
    print(
        f"{label}: {len(pairs)} outputs, {size / 1024:.0f} KB in {elapsed:.2f} s: "
        f"{len(pairs) / elapsed:.0f} files/s, {size / 1024 / elapsed:.0f} KB/s "
        f"({flagged} flagged, {unjudged} with unjudged parts)"
    )
    return elapsed


def main() -> None:
    sources = stdlib_sources(64 * 1024 * 1024)
    print(f"python {sys.version.split()[0]}, stdlib sources from {sysconfig.get_paths()['stdlib']}")
    measure("whole stdlib modules", sources[:400])
    outputs = five_kb_outputs(sources, 1000)
    elapsed = measure(f"{len(outputs)} outputs of ~{TARGET_KB} KB", outputs)
    hard = [(p, c) for p, c in outputs if CANDIDATE.search(c)]
    measure("  of which the ones libcst must read (a broad handler or suppress in the text)", hard)
    measure(
        "  the same as Edits of a handler in the file a Read showed (old and new matched)",
        hard,
        True,
    )
    goal = "met" if elapsed < 10 and len(outputs) == 1000 else "NOT met"
    print(f"goal (1,000 outputs of ~5 KB in under 10 s on one core): {goal}")


if __name__ == "__main__":
    main()
