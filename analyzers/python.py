"""Reading the Python an output wrote: the tools the built-in checks use, for plugins too.

    python_code(output, context) -> PythonCode      each Python change of the output, read once
     ├── .units: [PythonUnit]                         code that parses
     │     ├── .change: Change                        what the output wrote
     │     ├── .new: Source                           the code after it (in its file, if shown)
     │     └── .old: Source | None                    the code it replaced, read the same way
     ├── .broken: [Broken]                            a file it left unparseable
     └── .not_judged() -> [Unparsed]                  what a rule cannot read: `Verdict.unparsed`
    chunks(source, pattern) -> Chunk | Unparsed       libcst trees of the statements that matter
    fragment(code) -> Source | None                   a snippet read as Python, repaired
    dotted("sys.exit"), one_of("exit", "sys.exit")    libcst matchers for dotted names

A `Source` holds the text that parsed (`text`, its `ast` tree `tree`), which of its lines are the
change's own (`region`) and how to report a line (`line(m)`). A rule usually goes: for each unit,
`chunks(unit.new, CHEAP_REGEX)` gives libcst modules of only the statements whose text matches,
a `libcst.CSTVisitor` finds what it looks for, `chunk.span(node)` gives its lines, and findings
inside `unit.new.region` are reported at `unit.new.line(...)`. Comparing with `unit.old` (or
with nothing, when it is None) tells what the output introduced. See
`redline.analyzers.rules.broad_except` for a complete rule.
"""

from __future__ import annotations

from redline.analyzers._python import (
    Broken,
    Chunk,
    PythonCode,
    PythonUnit,
    Source,
    chunks,
    dotted,
    fragment,
    one_of,
    python_code,
)

__all__ = [
    "Broken",
    "Chunk",
    "PythonCode",
    "PythonUnit",
    "Source",
    "chunks",
    "dotted",
    "fragment",
    "one_of",
    "python_code",
]
