"""Python code of an output, made parseable as honestly as possible, and handed to libcst in
pieces small enough to be fast.

For each Python `Change` the new code is read, in this order:

1. inside its file, when the transcript showed the file (`Change.file_after`) and the result
   parses: findings get file line numbers, and only the changed lines count as introduced;
2. as a whole file, for a write: it must parse, or the change is `Broken`;
3. as a fragment: as is, dedented, then with synthetic block openers (`if True:`, `try:`) above
   a fragment that starts inside a block, `pass` under a dangling `...:` and `finally: pass`
   after a dangling `try:`. Synthetic lines never carry a finding; line numbers are mapped back.

A fragment that still does not parse is `Unparsed`, never guessed at. The old side (what the
change replaced) is read the same way, so a rule can tell what was already there.

Code the output was cut off in (`Change.truncated`) is read as a fragment, shortened from its
end (never its start) until it parses: `Source.cut` is then its last line, and whatever ends
there may have continued past the cut, so rules leave it alone. Code whose new side is empty
(a deletion by an edit) is read too: its old side is what the rules compare against.

`ast` (C speed) checks parseability and finds statement boundaries; the rules themselves match
on libcst trees of only the top-level statements (or class members) that can hold a finding:
`chunks()` parses those, so a 5 KB file with one relevant function costs one function's parse.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import textwrap
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from redline.analyzers._context import Change, Context
from redline.analyzers._model import Unparsed
from redline.analyzers.extract._diffs import excerpt
from redline.analyzers.extract._language import cut_back, from_path
from redline.transcripts import Message


@dataclass(frozen=True, slots=True)
class Source:
    """Code that parses. Line `m` of `text` is line `m + offset` of what is reported; lines
    `region[0]..region[1]` (1-based, inclusive, of `text`) are the change's own."""

    text: str
    tree: ast.Module = field(compare=False, repr=False)
    offset: int
    region: tuple[int, int]
    # Truncated code: the last line of `text` read (what ends there may go on past the cut),
    # and the indentation the code the output wrote after it (dropped, as it did not parse)
    # starts at, when there is some.
    cut: int | None = None
    resumes_at: int | None = None

    def line(self, module_line: int) -> int:
        return module_line + self.offset

    def closed(self, start: int, end: int) -> bool:
        """Whether a block from line `start` to `end` (of `text`) is complete: always, except in
        truncated code, where the last statement at every level may go on past the cut unless
        the code that was dropped after it starts no deeper than its first line."""
        if self.cut is None or end < self.cut:
            return True
        line = self.text.split("\n")[start - 1]
        return self.resumes_at is not None and self.resumes_at <= _indent(line)


@dataclass(frozen=True, slots=True)
class PythonUnit:
    """One Python change, read: `new` is the code after it (inside its file when the transcript
    showed the file), `old` the code it replaced, read the same way. Report a finding on line
    `m` of `new.text` as `new.line(m)`; only lines `new.region` are the change's own."""

    change: Change
    new: Source
    old: Source | None  # None when there was no old code, or it did not parse
    whole_file: bool  # `new` is a complete file (a write, or a file the transcript showed whole)

    def cut_note(self) -> Unparsed | None:
        """For truncated code, what the rules could not see: listed as not judged."""
        if self.new.cut is None:
            return None
        shown = self.change.after.rstrip("\n").split("\n")[-3:]
        last = self.new.line(min(self.new.cut, self.new.region[1]))
        reason = (
            "the output was cut off inside this code: what it would have written next, and the "
            f"code still open where it stopped, are not judged (read up to line {last})"
        )
        return Unparsed(self.change.path, reason, excerpt("\n".join(shown)))


@dataclass(frozen=True, slots=True)
class Broken:
    """New code that must parse and does not: a whole file written, or a file the transcript
    showed that parsed before the change."""

    change: Change
    line: int | None
    message: str
    snippet: str


@dataclass(frozen=True, slots=True)
class PythonCode:
    """How each Python change of an output was read."""

    results: tuple[tuple[Change, PythonUnit | Broken | Unparsed], ...]
    skipped: tuple[Unparsed, ...] = ()  # what extraction could not read, in Python or anything

    @property
    def units(self) -> list[PythonUnit]:
        return [r for _, r in self.results if isinstance(r, PythonUnit)]

    @property
    def broken(self) -> list[Broken]:
        return [r for _, r in self.results if isinstance(r, Broken)]

    @property
    def unparsed(self) -> list[Unparsed]:
        return [r for _, r in self.results if isinstance(r, Unparsed)]

    def not_judged(self) -> list[Unparsed]:
        """What a rule other than python-syntax cannot read: what extraction could not read,
        unparsed and broken code, and the unfinished end of truncated code."""
        broken = [
            Unparsed(b.change.path, f"does not parse: {b.message}", b.snippet) for b in self.broken
        ]
        cut = [n for n in (u.cut_note() for u in self.units) if n is not None]
        return [*self.skipped, *self.unparsed, *broken, *cut]


def python_code(output: Message, context: Context) -> PythonCode:
    """The Python of `output`, read once per context."""

    def read() -> PythonCode:
        skipped = tuple(
            u for u in context.extraction(output).unparsed if from_path(u.path) in (None, "python")
        )
        return dataclasses.replace(read_changes(context.changes(output)), skipped=skipped)

    code: PythonCode = context.remember("python", output, read)
    return code


def read_changes(changes: tuple[Change, ...]) -> PythonCode:
    return PythonCode(
        tuple(
            (change, read_change(change))
            for change in changes
            if change.language == "python"
            and change.kind != "delete"
            and (change.after.strip() or change.before.strip())
        )
    )


def parse(text: str) -> ast.Module | SyntaxError:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences warn; that is not ours
            return ast.parse(text)
    except SyntaxError as error:
        return error
    except (ValueError, MemoryError, RecursionError) as error:  # NUL bytes, absurd nesting
        return SyntaxError(str(error))


def _no_bom(text: str | None) -> str | None:
    """A file may start with a UTF-8 byte order mark; Python reads past it, and so do we."""
    return text[1:] if text is not None and text.startswith("\ufeff") else text


def _lines(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def read_change(change: Change) -> PythonUnit | Broken | Unparsed:
    if any(t is not None and t.startswith("\ufeff") for t in (change.after, change.file_after)):
        change = dataclasses.replace(
            change,
            after=_no_bom(change.after) or "",
            before=_no_bom(change.before) or "",
            file_after=_no_bom(change.file_after),
            file_before=_no_bom(change.file_before),
        )
    if change.truncated:
        return _read_truncated(change)
    n_after = _lines(change.after) if change.after.strip() else 0  # 0: a deletion
    if change.file_after is not None:
        tree = parse(change.file_after)
        start = change.first_line - change.file_start + 1
        if isinstance(tree, ast.Module):
            new = Source(
                change.file_after, tree, change.file_start - 1, (start, start + n_after - 1)
            )
            old = None
            if change.kind == "write":
                old = _fragment(change.before, 1)
            elif change.file_before is not None:
                old_tree = parse(change.file_before)
                if isinstance(old_tree, ast.Module):
                    replaced = _lines(change.before) if change.before else 0  # 0: an insert
                    region = (start, start + replaced - 1)
                    old = Source(change.file_before, old_tree, change.file_start - 1, region)
            complete = change.kind == "write" or (
                change.file_start == 1 and change.file_before is not None
            )
            return PythonUnit(change, new, old, complete)
        old_parsed = change.file_before is not None and isinstance(
            parse(change.file_before), ast.Module
        )
        if change.kind == "write" or old_parsed:
            lines = change.file_after.split("\n")
            known = tree.lineno is not None and 0 < tree.lineno <= len(lines)
            line = tree.lineno + change.file_start - 1 if tree.lineno else None
            bad = lines[tree.lineno - 1].strip() if known and tree.lineno else ""
            return Broken(change, line, tree.msg or str(tree), bad)
    if not n_after:
        return _read_deletion(change)
    new_source = _fragment(change.after, change.first_line)
    if new_source is None:
        where = "the transcript does not show its file"
        if change.file_after is not None:
            where = "its file as the transcript shows it does not parse either"
        reason = f"the new code does not parse on its own and {where}"
        return Unparsed(change.path, reason, excerpt(change.after))
    return PythonUnit(change, new_source, _fragment(change.before, change.first_line), False)


def _read_deletion(change: Change) -> PythonUnit | Unparsed:
    """An edit whose new code is empty, where the transcript does not show the file: the new
    side is empty, the old side is what the rules compare against (a deleted test, removed
    assertions)."""
    old = _fragment(change.before, change.first_line)
    if old is None:
        reason = "the code this edit deletes does not parse on its own"
        return Unparsed(change.path, reason, excerpt(change.before))
    empty = Source("", ast.Module(body=[], type_ignores=[]), change.first_line - 1, (1, 0))
    return PythonUnit(change, empty, old, False)


def _read_truncated(change: Change) -> PythonUnit | Unparsed:
    """Code the output was cut off in: the longest start of it that parses (repaired as a
    fragment), with `cut` set to its last line and `resumes_at` to the indentation of the
    first statement of what was dropped."""
    whole = change.after.split("\n")
    if whole and whole[-1] == "":
        whole.pop()
    text: str | None = change.after
    if text and not text.endswith("\n"):
        text = cut_back(text, None)  # the last line stopped mid-way (its indentation did not)
    old = _fragment(change.before, change.first_line) if change.before.strip() else None
    for _ in range(8):
        if text is None or not text.strip():
            break
        source = _fragment(text, change.first_line)
        if source is not None:
            kept = _lines(text)
            starts = _statement_starts(whole[kept:])
            resumes = None
            if starts:
                first = next(k for k, line in enumerate(whole) if line.strip())
                read = source.text.split("\n")[source.region[0] + first - 1]
                shift = _indent(whole[first]) - _indent(read)  # what dedenting took off
                resumes = _indent(whole[kept + starts[0]]) - shift
            last = source.tree.body[-1].end_lineno if source.tree.body else 0
            return PythonUnit(
                change, dataclasses.replace(source, cut=last or 0, resumes_at=resumes), old, False
            )
        error = parse(textwrap.dedent(text))
        text = cut_back(text, error if isinstance(error, SyntaxError) else None)
    reason = "the output was cut off inside this code and no start of it parses"
    return Unparsed(change.path, reason, excerpt(change.after))


def fragment(code: str, first_line: int = 1) -> Source | None:
    """`code` read as a fragment (repaired as above), or None when it does not parse."""
    return _fragment(code, first_line)


def _fragment(code: str, first_line: int) -> Source | None:
    if not code.strip():
        return None
    repaired = repair(code)
    if repaired is None:
        return None
    text, tree, prefix = repaired
    return Source(text, tree, first_line - 1 - prefix, (prefix + 1, prefix + _lines(code)))


# --- fragment repair ---------------------------------------------------------------------------

_CONTINUES_TRY = ("except", "finally")
_CONTINUES_IF = ("elif", "else")


def repair(code: str) -> tuple[str, ast.Module, int] | None:
    """(parseable text, its tree, the number of synthetic lines put before the code)."""
    tree = parse(code)
    if isinstance(tree, ast.Module):
        return code, tree, 0
    dedented = textwrap.dedent(code)
    tree = parse(dedented)
    if isinstance(tree, ast.Module):
        return dedented, tree, 0
    if "\t" in code:
        return None
    lines = dedented.split("\n")
    starts = _statement_starts(lines)
    if not starts:
        return None
    prefix = _openers(lines, starts)
    body = lines
    for _ in range(3):
        text = "\n".join(prefix + body)
        tree = parse(text)
        if isinstance(tree, ast.Module):
            return text, tree, len(prefix)
        tail = _closer(body, starts, tree)
        if tail is None:
            return None
        body = body + tail
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _keyword(line: str) -> str:
    match = re.match(r"\s*([a-z]+)\b", line)
    return match.group(1) if match else ""


def _openers(lines: list[str], starts: list[int]) -> list[str]:
    first = _indent(lines[starts[0]])
    levels = sorted({_indent(lines[i]) for i in starts if _indent(lines[i]) < first})
    prefix = []
    if (levels and levels[0] > 0) or (not levels and first > 0):
        prefix.append("if True:")  # the outermost level must be column 0
    for level in levels:
        follower = next(_keyword(lines[i]) for i in starts if _indent(lines[i]) == level)
        opener = "try:" if follower in _CONTINUES_TRY else "if True:"
        prefix.append(" " * level + opener)
    keyword = _keyword(lines[starts[0]])
    if keyword in _CONTINUES_TRY:
        prefix += [" " * first + "try:", " " * (first + 4) + "pass"]
    elif keyword in _CONTINUES_IF:
        prefix += [" " * first + "if True:", " " * (first + 4) + "pass"]
    return prefix


def _closer(body: list[str], starts: list[int], error: SyntaxError) -> list[str] | None:
    """Lines to put after a fragment that ends inside a block."""
    last = next((body[i] for i in reversed(starts) if body[i].strip()), "")
    code = last.split("#", 1)[0].rstrip()
    if code.endswith(":"):
        return [" " * (_indent(last) + 4) + "pass"]
    if "'except' or 'finally'" in (error.msg or ""):
        tries = [i for i in starts if body[i].strip() == "try:"]
        for i in reversed(tries):
            level = _indent(body[i])
            closed = any(
                _indent(body[j]) == level and _keyword(body[j]) in _CONTINUES_TRY
                for j in starts
                if j > i
            )
            if not closed:
                return [" " * level + "finally:", " " * (level + 4) + "pass"]
    return None


def _statement_starts(lines: list[str]) -> list[int]:
    """Indexes of lines that begin a statement: not blank, not a comment, not inside brackets
    or a triple-quoted string (a small scanner, since tokenize rejects a fragment's indents)."""
    starts = []
    depth = 0
    quote: str | None = None
    for i, line in enumerate(lines):
        if quote is None and depth == 0 and line.strip() and not line.lstrip().startswith("#"):
            starts.append(i)
        j = 0
        while j < len(line):
            ch = line[j]
            if quote is not None:
                if ch == "\\":
                    j += 2
                    continue
                if line.startswith(quote, j):
                    j += len(quote)
                    quote = None
                    continue
                j += 1
                continue
            if ch == "#":
                break
            if ch in "\"'":
                triple = line[j : j + 3]
                quote = triple if triple in ('"""', "'''") else ch
                j += len(quote)
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
            j += 1
        if quote is not None and len(quote) == 1:
            quote = None  # an unterminated one-line string: let the parser complain
    return [i for i in starts if not _continued(lines, i)]


def _continued(lines: list[str], i: int) -> bool:
    return i > 0 and lines[i - 1].rstrip().endswith("\\")


# ast nodes that have a position (statements, expressions, handlers...)
Located = TypeVar("Located", ast.stmt, ast.expr, ast.excepthandler)

# --- libcst on the pieces that matter ----------------------------------------------------------


@dataclass(eq=False)
class Chunk:
    """Statements of a `Source` (`text`) parsed by libcst: `nodes` are the same statements as
    `ast` nodes (their line numbers are the source's). Line `m` of `module` is line `m + offset` of
    the source; `span` gives a libcst node's lines (positions are resolved on first use)."""

    module: cst.Module
    offset: int
    nodes: list[ast.stmt]
    text: str
    _positions: Mapping[cst.CSTNode, CodeRange] | None = None

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        if self._positions is None:
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._positions = wrapper.resolve(PositionProvider)
        pos = self._positions[node]
        return pos.start.line + self.offset, pos.end.line + self.offset

    def in_order(self, kind: type[Located]) -> list[Located]:
        """The ast nodes of `kind` in these statements, in source order: the order in which a
        libcst visitor meets the same nodes."""
        found = [n for stmt in self.nodes for n in ast.walk(stmt) if isinstance(n, kind)]
        found.sort(key=lambda n: (n.lineno, n.col_offset))
        return found


def chunks(
    source: Source, pattern: re.Pattern[str], *, whole: bool = False
) -> Iterator[Chunk | Unparsed]:
    """libcst trees of the statements of `source` that overlap its region (every statement when
    `whole`) and whose text matches `pattern`; a class is entered to pick single members, unless
    its decorators overlap the region and match (then it is read whole: `@pytest.mark.skip` on
    a test class). Statements sharing a line (`a(); b()`) stay together."""
    lines = source.text.split("\n")
    low, high = (1, len(lines)) if whole else source.region
    yield from _chunks(source.tree.body, lines, low, high, pattern)


def _groups(body: list[ast.stmt]) -> Iterator[tuple[int, int, list[ast.stmt]]]:
    group: list[ast.stmt] = []
    first = last = 0
    for node in body:
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)])
        end = node.end_lineno or node.lineno
        if group and start <= last:
            group.append(node)
            last = max(last, end)
            continue
        if group:
            yield first, last, group
        group, first, last = [node], start, end
    if group:
        yield first, last, group


def _chunks(
    body: list[ast.stmt], lines: list[str], low: int, high: int, pattern: re.Pattern[str]
) -> Iterator[Chunk | Unparsed]:
    for start, end, nodes in _groups(body):
        if end < low or start > high:
            continue
        text = "\n".join(lines[start - 1 : end])
        if not pattern.search(text):
            continue
        if len(nodes) == 1 and isinstance(nodes[0], ast.ClassDef):
            cls = nodes[0]
            # a class is read member by member, unless its decorators (lines `start` to the
            # `class` line) are in the region and match: then it is read whole
            decorators = "\n".join(lines[start - 1 : cls.lineno - 1])
            if not (start <= high and cls.lineno - 1 >= low and pattern.search(decorators)):
                yield from _chunks(cls.body, lines, low, high, pattern)
                continue
        wrapped = lines[start - 1][:1] in (" ", "\t")
        code = ("if True:\n" + text if wrapped else text) + "\n"
        try:
            module = cst.parse_module(code)
        except (cst.ParserSyntaxError, RecursionError, ValueError) as error:
            reason = f"libcst could not parse lines {start}-{end}: {error}"
            yield Unparsed(None, reason, excerpt(text))
            continue
        yield Chunk(module, start - 1 - (1 if wrapped else 0), nodes, text)


# --- matchers ------------------------------------------------------------------------------------


def dotted(name: str) -> Any:
    """A libcst matcher for a dotted name: `sys.exit` -> Attribute(Name("sys"), Name("exit"))."""
    *head, last = name.split(".")
    if not head:
        return m.Name(last)
    return m.Attribute(value=dotted(".".join(head)), attr=m.Name(last))


def one_of(*names: str) -> Any:
    """A libcst matcher for any of the dotted `names`: `one_of("exit", "sys.exit")`."""
    return m.OneOf(*(dotted(n) for n in names)) if len(names) > 1 else dotted(names[0])
