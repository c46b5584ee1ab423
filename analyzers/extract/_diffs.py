"""The three textual edit notations models write: Codex's `*** Begin Patch` envelope (V4A),
unified diffs, and SEARCH/REPLACE blocks (aider, Cline `replace_in_file`, Roo `apply_diff`).

Each parser returns the edits it could read and an `Unparsed` for each section it could not;
a malformed section never yields a guessed edit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from redline.analyzers._model import Edit, EditKind, Unparsed
from redline.analyzers.extract._language import from_path

Parsed = tuple[list[Edit], list[Unparsed]]

_MAX_FRAGMENT = 400


def excerpt(text: str) -> str:
    return text if len(text) <= _MAX_FRAGMENT else text[:_MAX_FRAGMENT] + "…"


# --- V4A: *** Begin Patch ----------------------------------------------------------------------

_BEGIN = "*** Begin Patch"
_END = "*** End Patch"


def has_patch(text: str) -> bool:
    return _BEGIN in text


def patch_bodies(text: str) -> list[tuple[str, bool]]:
    """The text between each `*** Begin Patch` and its `*** End Patch` (or the end of the text,
    for an output cut short: then the flag is True), wherever the envelope sits: alone, in a
    heredoc, in a quoted argument."""
    bodies = []
    pos = text.find(_BEGIN)
    while pos >= 0:
        start = text.find("\n", pos)
        if start < 0:
            break
        end = text.find(_END, start)
        if end < 0:
            bodies.append((text[start + 1 :], True))
            break
        bodies.append((text[start + 1 : text.rfind("\n", 0, end) + 1], False))
        pos = text.find(_BEGIN, end)
    return bodies


def parse_patch(text: str, origin: str = "apply_patch") -> Parsed:
    """Edits of every patch envelope in `text`. In an envelope without its `*** End Patch`
    (cut short), the edits of the last file section are `truncated`."""
    edits: list[Edit] = []
    unparsed: list[Unparsed] = []
    for body, cut in patch_bodies(text):
        e, u = _parse_patch_body(body.split("\n"), origin, cut)
        edits += e
        unparsed += u
    return edits, unparsed


class _Section:
    __slots__ = ("action", "bad", "chunks", "lines", "path")

    def __init__(self, action: str, path: str) -> None:
        self.action = action
        self.path = path
        self.lines: list[str] = []
        self.chunks: list[list[str]] = [[]]
        self.bad: str | None = None


def _parse_patch_body(lines: list[str], origin: str, cut: bool = False) -> Parsed:
    sections: list[_Section] = []
    stray: list[str] = []
    current: _Section | None = None
    for line in lines:
        if line.startswith("*** "):
            header, _, arg = line[4:].partition(": ")
            arg = arg.strip()
            if header in ("Add File", "Update File", "Delete File") and arg:
                current = _Section(header.split()[0].lower(), arg)
                sections.append(current)
                continue
            if header == "Move to" and current is not None and current.action == "update":
                current.path = arg
                continue
            if header.startswith(("End of File", "Environment ID")):
                continue
        if current is None:
            if line.strip():
                stray.append(line)
            continue
        _patch_line(current, line)
    edits: list[Edit] = []
    unparsed = [Unparsed(None, "text outside a file section of a patch", excerpt("\n".join(stray)))]
    if not stray:
        unparsed = []
    for n, s in enumerate(sections, 1):
        if s.bad is not None:
            unparsed.append(Unparsed(s.path, s.bad, excerpt("\n".join(s.lines))))
            continue
        found = _section_edits(s, origin)
        if cut and n == len(sections):
            found = [dataclasses.replace(e, truncated=True) for e in found if e.kind != "delete"]
        edits += found
    return edits, unparsed


def _patch_line(s: _Section, line: str) -> None:
    s.lines.append(line)
    if s.bad is not None:
        return
    if s.action == "add":
        if line.startswith("+") or not line.strip():
            s.chunks[0].append(line)
        else:
            s.bad = f"a line of an added file does not start with '+': {line[:60]!r}"
    elif s.action == "update":
        if line.startswith("@@"):
            s.chunks.append([])
        elif line[:1] in (" ", "+", "-") or not line.strip():
            s.chunks[-1].append(line)
        else:
            s.bad = f"a patch line does not start with ' ', '+', '-' or '@@': {line[:60]!r}"
    elif line.strip():
        s.bad = "a deleted file's section holds lines"


def _section_edits(s: _Section, origin: str) -> list[Edit]:
    language = from_path(s.path)
    if s.action == "delete":
        return [Edit(s.path, "", "", language, "delete", origin=origin)]
    if s.action == "add":
        lines = s.chunks[0]
        while lines and not lines[-1].startswith("+"):
            lines.pop()  # blank lines between sections are not the file's
        content = "\n".join(line[1:] for line in lines)
        return [Edit(s.path, "", _with_newline(content, lines), language, "write", origin=origin)]
    edits = []
    for chunk in s.chunks:
        while chunk and chunk[-1] == "":
            chunk.pop()  # a bare empty line ending a hunk separates; context has its space
        before, after, changed = _split_hunk(chunk)
        if changed:
            edits.append(Edit(s.path, before, after, language, origin=origin))
    return edits


def _with_newline(content: str, lines: list[str]) -> str:
    return content + "\n" if lines else content


def _split_hunk(lines: Iterable[str]) -> tuple[str, str, bool]:
    """(before, after, has-changes) of a hunk's ' ', '-' and '+' lines; a bare empty line is
    an empty context line, as models often drop the leading space."""
    before: list[str] = []
    after: list[str] = []
    changed = False
    for line in lines:
        tag, rest = line[:1], line[1:]
        if tag == "-":
            before.append(rest)
            changed = True
        elif tag == "+":
            after.append(rest)
            changed = True
        elif tag == "\\":  # "\ No newline at end of file"
            continue
        else:
            before.append(rest)
            after.append(rest)
    return "\n".join(before), "\n".join(after), changed


# --- unified diff ------------------------------------------------------------------------------

_HUNK = re.compile(r"^@@(?: -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@)?")
_SKIP = (
    "diff --git",
    "index ",
    "new file mode",
    "deleted file mode",
    "similarity index",
    "rename from",
    "rename to",
    "old mode",
    "new mode",
    "Binary files",
)


def looks_like_udiff(text: str) -> bool:
    return bool(re.search(r"^--- .*\n\+\+\+ ", text, re.M)) and "\n@@" in text


def _diff_path(raw: str) -> str | None:
    path = raw.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    if path[:2] in ("a/", "b/"):
        path = path[2:]
    return path


def parse_udiff(text: str, origin: str = "diff") -> Parsed:
    edits: list[Edit] = []
    unparsed: list[Unparsed] = []
    lines = text.split("\n")  # not splitlines(): callers index lines split on "\n" only
    i = 0
    while i < len(lines):
        if not (
            lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")
        ):
            i += 1
            continue
        old = _diff_path(lines[i][4:])
        new = _diff_path(lines[i + 1][4:])
        path = new or old or "<unknown file>"
        language = from_path(path)
        i += 2
        hunks: list[tuple[int | None, list[str]]] = []
        while i < len(lines) and not lines[i].startswith(("--- ", *_SKIP)):
            m = _HUNK.match(lines[i])
            if not m:
                break
            start = int(m.group(3)) if m.group(3) else None
            old_count = int(m.group(2) or 1) if m.group(1) else None
            new_count = int(m.group(4) or 1) if m.group(3) else None
            i += 1
            body: list[str] = []
            while i < len(lines):
                line = lines[i]
                if (
                    old_count is not None
                    and new_count is not None
                    and old_count <= 0
                    and new_count <= 0
                ):
                    break
                if line.startswith("@@") or (line.startswith("--- ") and old_count is None):
                    break
                if line[:1] not in (" ", "+", "-", "\\") and line.strip():
                    break
                body.append(line)
                if old_count is not None and new_count is not None:
                    if line[:1] in (" ", "") or not line:
                        old_count -= 1
                        new_count -= 1
                    elif line[:1] == "-":
                        old_count -= 1
                    elif line[:1] == "+":
                        new_count -= 1
                i += 1
            while old_count is None and body and not body[-1]:
                body.pop()  # without counts, a hunk's trailing empty lines are not context
            hunks.append((start, body))
        if not hunks:
            unparsed.append(Unparsed(path, "a diff header without hunks", ""))
            continue
        if new is None:
            edits.append(Edit(path, "", "", language, "delete", origin=origin))
            continue
        for start, body in hunks:
            before, after, changed = _split_hunk(body)
            if old is None:
                edits.append(Edit(path, "", after + "\n", language, "write", origin=origin))
            elif changed:
                edits.append(Edit(path, before, after, language, start_line=start, origin=origin))
    return edits, unparsed


# --- SEARCH/REPLACE blocks ---------------------------------------------------------------------

_HEAD = re.compile(r"^(?:<{5,9}|-{3,}) ?SEARCH>?\s*$")
_DIVIDER = re.compile(r"^={3,9}\s*$")
_TAIL = re.compile(r"^(?:>{5,9}|\+{3,}) ?REPLACE>?\s*$")
_ROO_LINE = re.compile(r"^:(?:start|end)_line:\s*\d*\s*$")
_ROO_SEPARATOR = re.compile(r"^-{3,}\s*$")
_FILENAME = re.compile(r"^[\w.~/\\][\w.~/\\@+\-]*$")


def has_search_replace(text: str) -> bool:
    return any(_HEAD.match(line) for line in text.split("\n"))


def filename(line: str) -> str | None:
    name = line.strip().strip("*`'\"").rstrip(":").strip()
    name = name.lstrip("#").strip().strip("*`")
    if (
        _FILENAME.match(name)
        and ("." in name or "/" in name)
        and name.strip(".")
        and not name.startswith("```")
    ):
        return name
    return None


def parse_search_replace(
    text: str, path: str | None = None, origin: str = "aider"
) -> tuple[list[Edit], list[Unparsed], list[tuple[int, int]]]:
    """Blocks in `text`; with `path` None the file name is looked for on the three lines before
    each block (aider), else the previous block's is reused. Also returns the (first, last) line
    index of each block, so callers can leave them out of further scanning."""
    lines = text.split("\n")  # not splitlines(): the spans index the caller's "\n" lines
    edits: list[Edit] = []
    unparsed: list[Unparsed] = []
    spans: list[tuple[int, int]] = []
    last_path = path
    i = 0
    while i < len(lines):
        if not _HEAD.match(lines[i]):
            i += 1
            continue
        head = i
        block_path = path
        if block_path is None:
            for back in range(head - 1, max(-1, head - 4), -1):
                candidate = lines[back].strip()
                if _TAIL.match(candidate):
                    break  # the previous block's end: its path is reused below
                if not candidate or candidate.startswith(("```", "~~~")):
                    continue
                block_path = filename(candidate)
                if block_path:
                    break
            block_path = block_path or last_path
        last_path = block_path
        i, start_line = _skip_roo_header(lines, head + 1)
        search, i = _until(lines, i, _DIVIDER)
        problem = None
        if i >= len(lines) or not _DIVIDER.match(lines[i]):
            problem, shown = "a SEARCH block without its ======= divider", search
        else:
            replace, i = _until(lines, i + 1, _TAIL)
            if i >= len(lines) or not _TAIL.match(lines[i]):
                problem, shown = "a SEARCH/REPLACE block without its REPLACE marker", replace
        cut = problem is not None and "REPLACE" in problem and i >= len(lines)
        if problem is not None and not cut:
            unparsed.append(Unparsed(block_path, problem, excerpt("\n".join(shown))))
            spans.append((head, i - 1))
            continue
        spans.append((head, min(i, len(lines) - 1)))
        i += 1
        target = block_path or "<unknown file>"
        if cut:  # the text ends inside the new code: an output cut short
            while replace and not replace[-1].strip().strip("`~"):
                replace.pop()  # a fence around the block, or the text's last newline
            replace.append("")
        before, after = "\n".join(search), "\n".join(replace)
        kind: EditKind = "insert" if not before.strip() else "replace"
        edits.append(
            Edit(
                target,
                before,
                after,
                from_path(target),
                kind,
                start_line=start_line,
                origin=origin,
                truncated=cut,
            )
        )
    return edits, unparsed, spans


def _until(lines: list[str], i: int, end: re.Pattern[str]) -> tuple[list[str], int]:
    """Lines from `i` up to one matching `end` (or a new SEARCH marker), and where it stopped."""
    out = []
    while i < len(lines) and not end.match(lines[i]) and not _HEAD.match(lines[i]):
        out.append(lines[i])
        i += 1
    return out, i


def _skip_roo_header(lines: list[str], i: int) -> tuple[int, int | None]:
    """Roo's `apply_diff` puts `:start_line:N` (and `:end_line:N`) and a `-------` line between
    the SEARCH marker and the searched text."""
    start_line = None
    j = i
    while j < len(lines) and _ROO_LINE.match(lines[j]):
        if lines[j].startswith(":start_line:") and lines[j][12:].strip().isdigit():
            start_line = int(lines[j][12:].strip())
        j += 1
    if j > i and j < len(lines) and _ROO_SEPARATOR.match(lines[j]):
        j += 1
    return j, start_line
