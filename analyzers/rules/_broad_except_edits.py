"""broad-except: what an edit introduced. The handlers of the code it replaced (read from the
text when that does not parse) are matched with the new ones by their header lines.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import textwrap
from collections import Counter

from redline.analyzers import Finding, Unparsed
from redline.analyzers.python import PythonUnit, fragment

from ._broad_except_bindings import NO_ALIASES, Aliases, aliases_in
from ._broad_except_handlers import Hit, hit_key, hits

# --- the old side, when it does not parse: handler by handler, from the text ------------------

_TEXT_HANDLER = re.compile(r"^([ \t]*)(except\b\s*\*?)(.*)$")
_TEXT_SUPPRESS = re.compile(r"\b(?:contextlib\.)?suppress\([^()]*(?:\([^()]*\)[^()]*)*\)")
_TEXT_EXITS = re.compile(
    r"\braise\b|\b(?:sys\.exit|exit|quit|os\._exit|os\.abort|pytest\.(?:fail|exit|skip|xfail)"
    r"|self\.(?:fail|skipTest))\s*\("
)


def text_hits(code: str, allow_logging: bool, aliases: Aliases = NO_ALIASES) -> list[Hit]:
    """The handlers of code that does not parse, read from its text: each `except` header (up
    to its colon, across lines while brackets are open) with its body (the lines indented
    deeper). A body that parses on its own is judged as parsed code is; one that does not is
    taken to exit when it mentions `raise` or an exit function. A header naming one of
    `aliases` (those of the new code: the old one cannot be read) is broad."""
    named = "|".join(["(?:Base)?Exception", *map(re.escape, aliases)])
    lines = code.split("\n")
    out: list[Hit] = []
    for n, line in enumerate(lines):
        match = _TEXT_HANDLER.match(line)
        if match is None:
            for call in _TEXT_SUPPRESS.finditer(line.split("#", 1)[0]):
                if re.search(r"\b(?:Base)?Exception\b", call.group(0)):
                    out.append(Hit(hit_key(call.group(0)), (n + 1, n + 1), ""))
            continue
        indent = len(match.group(1).expandtabs())
        header, end = _text_header(lines, n)
        body_end = end
        while body_end + 1 < len(lines) and (
            not lines[body_end + 1].strip()
            or len(lines[body_end + 1]) - len(lines[body_end + 1].lstrip()) > indent
        ):
            body_end += 1
        caught = header.split(None, 1)[1] if " " in header.strip() else ""
        caught = re.sub(r"\bas\s+\w+\s*$", "", caught.split(":", 1)[0] if caught else "")
        keyword = "except*" if "*" in match.group(2) else "except"
        key = hit_key(f"{keyword} {caught.strip().lstrip('*').strip()}:")
        is_broad = not caught.strip().lstrip("*").strip() or bool(
            re.search(rf"\b(?:{named})\b", caught)
        )
        segment = "\n".join(lines[n : body_end + 1])
        swallows = is_broad and _segment_swallows(segment, allow_logging, aliases)
        out.append(Hit(key, (n + 1, body_end + 1), "", swallows))
    return out


def _text_header(lines: list[str], n: int) -> tuple[str, int]:
    """An `except` header from line `n` to its colon (brackets may carry it over lines)."""
    text = ""
    depth = 0
    for k in range(n, min(n + 20, len(lines))):
        code = lines[k].split("#", 1)[0]
        for ch in code:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == ":" and depth <= 0:
                text += code[: code.index(":")]
                return " ".join((text + ":").split()), k
        text += code + " "
    return " ".join(lines[n].split()), n


def _segment_swallows(segment: str, allow_logging: bool, aliases: Aliases) -> bool:
    source = fragment(segment)
    if source is not None:
        found = hits(source, allow_logging, [], every=True, aliases=aliases)
        handlers = [h for h in found if h.key.startswith("except")]
        if handlers:
            return handlers[0].swallows
    body = "\n".join(line.split("#", 1)[0] for line in segment.split("\n")[1:])
    if _TEXT_EXITS.search(body):
        return False
    return not (allow_logging and re.search(r"\blog(?:ger|ging)?\.\w+\(|print\(.*file=", body))


# --- matching the new handlers with the old ones -----------------------------------------------


def carried_lines(unit: PythonUnit, old_start: int) -> dict[int, int]:
    """New-source line -> old line, for each line the edit carried over unchanged: the lines
    of the change's new code that a line diff matches with its old code, and, in a file, the
    lines around the change. `old_start` is the old line the old code starts on."""
    new_start, new_end = unit.new.region
    before, after = _split(unit.change.before), _split(unit.change.after)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    out: dict[int, int] = {}
    for i, j, size in matcher.get_matching_blocks():
        for k in range(size):
            out[new_start + j + k] = old_start + i + k
    if unit.change.file_after is not None and unit.old is not None and unit.old.text:
        # the same file before and after: lines above the change are where they were, lines
        # below it moved by as many lines as the file grew or shrank
        new_total = unit.new.text.count("\n") + 1
        shift = unit.old.text.count("\n") + 1 - new_total
        for n in range(1, new_start):
            out[n] = n - new_start + old_start
        for n in range(max(new_end, new_start - 1) + 1, new_total + 1):
            out[n] = n + shift
    return out


def _split(code: str) -> list[str]:
    """The lines of `code`, as many as `_python` counts (a final newline ends the last)."""
    if not code:
        return []
    return (code[:-1] if code.endswith("\n") else code).split("\n")


def judge(unit: PythonUnit, allow_logging: bool, unparsed: list[Unparsed]) -> list[Finding]:
    """Broad swallowing handlers the change introduced. A new one is the same handler as an
    old one when its header line was carried over unchanged (a line diff of the old and new
    code, plus the file around them): then it is a finding only if the old handler did not
    already swallow (the edit made it broad, or made it swallow). A new one on a changed line
    is matched, header for header, with the old swallowing handlers on changed lines (moved or
    rewritten): one more of them than before is a finding."""
    source = unit.new
    low, high = source.region
    if high < low:  # the edit deleted lines: what surrounds the gap is what it changed
        source = dataclasses.replace(source, region=(high, low))
    new = []
    for h in hits(source, allow_logging, unparsed):
        if not unit.new.closed(*h.span):
            continue  # truncated code: the handler may go on past the cut
        if unit.change.file_after is None and h.span[1] > unit.new.region[1]:
            # a fragment ending in the header: its body is the `pass` the repair added
            reason = f"the body of `{h.message.split('`')[1]}` is not in the edit: not judged"
            unparsed.append(Unparsed(unit.change.path, reason, unit.change.after[-200:]))
            continue
        new.append(h)
    if not new:
        return []
    if unit.old is not None:
        old = hits(unit.old, allow_logging, [], every=True)
        old_start = unit.old.region[0]
    elif unit.change.before.strip():
        old = text_hits(unit.change.before, allow_logging, aliases_in(unit.new))
        old_start = 1
    else:
        old, old_start = [], 1
    carried = carried_lines(unit, old_start)
    by_line: dict[int, list[Hit]] = {}
    for h in old:
        by_line.setdefault(h.span[0], []).append(h)
    kept_old = set(carried.values())
    leftover = Counter(h.key for h in old if h.swallows and h.span[0] not in kept_old)
    lines = unit.new.text.split("\n")
    findings = []
    for h in sorted(new, key=lambda h: h.span):
        was = by_line.get(carried.get(h.span[0], -1), [])
        same = [o for o in was if o.key == h.key]
        if same:
            was.remove(same[0])
            if same[0].swallows:
                continue  # the same handler, already swallowing
        elif not was and leftover[h.key] > 0:
            leftover[h.key] -= 1  # moved or rewritten, not new
            continue
        # The handler's first two lines, dedented together so the body keeps its indentation.
        shown = lines[h.span[0] - 1 : min(h.span[1], h.span[0] + 1)]
        snippet = textwrap.dedent("\n".join(shown)).strip("\n")
        findings.append(Finding(unit.change.path, unit.new.line(h.span[0]), h.message, snippet))
    return findings
