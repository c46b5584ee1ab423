"""What a check sees besides the output: the request it answered, its own options, and the
output's code as `Change`s located in the files the transcript shows.

A `Context` memoizes extraction and parsing per output, so running several checks on one output
reads it once. It is immutable from the outside; `with_options` gives the per-check copy that
shares the memo.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from redline.analyzers._files import Files, View, files_from_request
from redline.analyzers._model import CodeBlock, Edit, Extraction, Unparsed
from redline.analyzers.extract import extract
from redline.analyzers.extract._diffs import excerpt
from redline.analyzers.extract._language import from_shebang
from redline.transcripts import Message, Request, Text, ToolCall

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Change:
    """One piece of code an output leaves behind.

    `after` is the code written, `before` what it replaces ("" for new code; for a whole-file
    write over a file the transcript showed, that file's earlier text). `first_line` is the line
    `after` starts on: in the file when the position is known, else 1. `file_before` and
    `file_after` hold the window of the file the transcript showed (from line `file_start`)
    before and after the change, when it did. `kind` is the edit's kind, or "block".
    `truncated`: the output was cut off inside this code (see `Edit.truncated`); it is then
    never placed in its file, and its end may continue past what `after` holds.
    """

    path: str
    language: str | None
    before: str
    after: str
    kind: str
    first_line: int = 1
    file_before: str | None = None
    file_after: str | None = None
    file_start: int = 1
    edit: Edit | None = None
    block: CodeBlock | None = None
    truncated: bool = False

    def added_lines(self) -> list[tuple[int, str]]:
        """(line, text) of each line of `after` that is not carried over from `before`."""
        after = self.after.split("\n")
        if after and after[-1] == "":
            after.pop()
        if not self.before:
            return [(self.first_line + i, line) for i, line in enumerate(after)]
        matcher = difflib.SequenceMatcher(None, self.before.split("\n"), after, autojunk=False)
        out = []
        for tag, _, _, j1, j2 in matcher.get_opcodes():
            if tag in ("replace", "insert"):
                out += [(self.first_line + j, after[j]) for j in range(j1, j2)]
        return out


@dataclass(frozen=True, slots=True)
class Context:
    """`request` is the request the output answered (None when checking a bare file).
    `cut_off`: the output stopped at a length limit, or its stream ended early, so the last
    thing it wrote may be unfinished (`extract(..., cut_off=True)`)."""

    request: Request | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    cut_off: bool = False

    def with_options(self, options: Mapping[str, Any]) -> Context:
        return replace(self, options=dict(options))

    def remember(self, key: str, output: Message, compute: Callable[[], T]) -> T:
        """`compute()` once per (key, output) for the life of this context and its copies."""
        slot = (key, id(output))
        if slot not in self.memo:
            self.memo[slot] = (output, compute())  # holding `output` keeps its id unique
        value: T = self.memo[slot][1]
        return value

    def extraction(self, output: Message) -> Extraction:
        return self.remember("extraction", output, lambda: extract(output, self.cut_off))

    def files(self) -> Files:
        """The files as the request shows them, before the output."""
        if "files" not in self.memo:
            self.memo["files"] = files_from_request(self.request)
        files: Files = self.memo["files"]
        return files

    def changes(self, output: Message) -> tuple[Change, ...]:
        return self.remember(
            "changes", output, lambda: changes(self.extraction(output), self.files())
        )

    def changes_in_text(self, output: Message) -> tuple[Change, ...]:
        """The code the output wrote in its text (fenced blocks, diffs, SEARCH/REPLACE), not
        through tool calls: what a check that reads only the text looks at."""

        def read() -> tuple[Change, ...]:
            text = Message(output.role, tuple(p for p in output.parts if isinstance(p, Text)))
            written = [p for p in output.parts if isinstance(p, Text | ToolCall)]
            cut = self.cut_off and bool(written) and isinstance(written[-1], Text)
            return changes(extract(text, cut), self.files())

        return self.remember("changes-in-text", output, read)

    def unjudged(self, output: Message) -> list[Unparsed]:
        """What a check of the output's code cannot see: what extraction could not read, and
        the rest of each piece of code the output was cut off in."""
        cut = [
            Unparsed(
                c.path,
                "the output was cut off inside this code: what it would have written next is "
                "not judged",
                excerpt("\n".join(c.after.rstrip("\n").split("\n")[-3:])),
            )
            for c in self.changes(output)
            if c.truncated
        ]
        return [*self.extraction(output).unparsed, *cut]


def _shebang_language(edit: Edit, old: View | None) -> str | None:
    """The language a file with no known extension declares on its first line (`#!/usr/bin/env
    python3`): the new file's when the edit writes it whole, else the file's as the transcript
    shows it, or the edit's own old code when it starts on line 1."""
    if edit.kind == "write":
        return from_shebang(edit.after)
    if old is not None and old.start_line == 1:
        return from_shebang(old.text)
    return from_shebang(edit.before) if edit.start_line == 1 else None


def changes(extraction: Extraction, known: Files) -> tuple[Change, ...]:
    files = known.copy()
    out = []
    for edit in extraction.edits:
        old = files.get(edit.path)
        placed = files.apply(edit)
        before = old.text if edit.kind in ("write", "delete") and old is not None else edit.before
        first = edit.start_line if edit.start_line and edit.start_line > 0 else 1
        window: tuple[str | None, str | None, int] = (None, None, 1)
        if edit.truncated:  # unfinished: not read inside its file, where it would not parse
            first = placed.line if placed is not None else first
        elif edit.kind in ("write", "delete"):
            first = 1
            whole = old.text if old is not None and old.start_line == 1 else None
            window = (whole, edit.after if edit.kind == "write" else None, 1)
        elif placed is not None:
            first = placed.line
            window = (placed.old.text, placed.new.text, placed.old.start_line)
        out.append(
            Change(
                edit.path,
                edit.language or _shebang_language(edit, old),
                before,
                edit.after,
                edit.kind,
                first,
                *window,
                edit=edit,
                truncated=edit.truncated,
            )
        )
    for block in extraction.blocks:
        path = block.path or f"<block {block.index}>"
        out.append(
            Change(
                path,
                block.language or from_shebang(block.code),
                "",
                block.code,
                "block",
                block=block,
                truncated=block.truncated,
            )
        )
    return tuple(out)
