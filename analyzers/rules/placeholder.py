"""placeholder: code the output elided instead of writing.

A line the output introduced is a placeholder when

* it is a comment and nothing else (brackets aside: `{/* ... */}`), and the comment as a whole
  says code was left out: nothing but `...` or `…`; `existing code`, `rest of the file`,
  `remaining methods unchanged`, `previous implementation remains`, `same as before`, `code
  omitted for brevity`, `your code here`, `implementation goes here`, `TODO: implement`... with
  only dots, brackets and words such as `keep`, `the`, `here`, `unchanged` around it;
* or its code is a stub (`pass`, `...`) and its comment starts with `TODO`, `FIXME`, `XXX` or
  `implement` (`pass  # TODO: implement`, `...  # implement me`);
* or it has code and then such a comment spelled with an ellipsis (`foo();  // ... rest of the
  code ...`), other than a `TODO`.

A comment that only mentions such words (`# the existing code path is slow`, `return x  # TODO:
implement validation`) is not one. Comments are found by the language's own markers (`#` in
Python and shell, `//` and `/* */` in C-like languages, `--` in SQL and Lua, `<!--` in HTML and
Markdown; all of them when the language is unknown), outside string literals. Lines carried
over from the code the edit replaced do not count, nor do sketches meant to hold such markers
(Continue's `edit_existing_file`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from redline.analyzers import Change, Context, Example, Finding, Option, Verdict
from redline.transcripts import Message, Text

_HASH = ("#",)
_C = ("//", "/*")
_MARKERS: dict[str | None, tuple[str, ...]] = {
    "python": _HASH,
    "shell": _HASH,
    "ruby": _HASH,
    "yaml": _HASH,
    "toml": _HASH,
    "javascript": _C,
    "typescript": _C,
    "java": _C,
    "kotlin": _C,
    "c": _C,
    "cpp": _C,
    "csharp": _C,
    "go": _C,
    "rust": _C,
    "swift": _C,
    "php": (*_C, "#"),
    "css": ("/*",),
    "sql": ("--", "/*"),
    "lua": ("--",),
    "haskell": ("--",),
    "html": ("<!--",),
    "markdown": ("<!--",),
    "xml": ("<!--",),
}
_ALL = ("#", "//", "/*", "--", "<!--")
_QUOTES: dict[str | None, str] = {"javascript": "'\"`", "typescript": "'\"`", "go": '"`'}
_CLOSERS = ("*/", "-->")

_NOUN = (
    r"(?:code|implementation|impl|methods?|functions?|logic|content|contents|imports?"
    r"|lines|tests?|body|fields|handlers|file|class|classes|module|query|queries|config"
    r"|configuration|styles?|rules|cases|properties|props|components?|markup|html|setup|stuff"
    r"|definitions?|routes|endpoints|helpers|exports|keys|values|entries|items|steps|statements"
    r"|details|parts?|sections?|things)"
)
_STILL = (
    r"(?:(?:remains?|remain|stays?|stay|is|are|goes|go|kept|keeps?|left|as\s+is|as\s+before"
    r"|the\s+same|unchanged|unmodified|untouched|intact|omitted|elided|here|below|above|before"
    r"|same\s+as\s+(?:before|above|original)|not\s+shown|as\s+(?:it\s+)?was|\.{3}|…)\s*)*"
)
# The whole comment, once dots, brackets and the like are trimmed, must be one of these.
_ELISION = re.compile(
    rf"""(?ix)
    (?:keep\s+|keeping\s+|with\s+|plus\s+|and\s+)?(?:(?:all|the)\s+)*
    (?:
        (?:existing|remaining|previous|original|other|old|unchanged|current|same|more)
            (?:\s+\w+)?\s+{_NOUN}
      | rest(?:\s+of\s+(?:the\s+)?(?:\w+\s+)?{_NOUN})?
      | (?:everything|all)\s+else
      | same\s+as\s+(?:before|above|original|the\s+original)
      | (?:{_NOUN}\s+)?(?:omitted|elided)
      | (?:{_NOUN}\s+)?(?:omitted|elided|truncated|shortened|abbreviated|skipped)
            \s+(?:for|to\s+save)\s+(?:brevity|space)
      | (?:your|the|add|put|insert|write)\s+(?:\w+\s+)?(?:{_NOUN})\s+(?:goes\s+)?here
      | implement(?:\s+(?:me|this|it))?
      | implement(?:ation)?\s+(?:goes\s+)?here
      | (?:todo|fixme)\s*:?\s*(?:implement\w*|add\s+(?:the\s+)?implementation|fill\s+in)\b.*
      | (?:code|implementation|{_NOUN})\s+(?:remains?|stays?|is|are|unchanged)\b.*
    )
    \s*{_STILL}
    """
)
_STUB_CODE = re.compile(r"^(?:pass|\.\.\.|…)\s*;?$")
_STUB_NOTE = re.compile(r"(?i)^(?:todo|fixme|xxx|implement)\b")
_TRIM = " \t.…·*-=_~:;,!?/<>()[]{}\"'`|"


def comments(lines: list[str], language: str | None) -> Iterator[tuple[str, str | None]]:
    """(code, comment) of each line: the text before its comment and the comment's text (None
    when it has none). A comment marker inside a string literal is not one; block comments
    (`/* */`, `<!-- -->`) and Python's triple-quoted strings may span lines."""
    markers = _MARKERS.get(language, _ALL) if language else _ALL
    quotes = _QUOTES.get(language or "", "'\"")
    open_block: str | None = None  # the closer of a block comment spanning lines
    open_string: str | None = None  # a triple quote spanning lines
    for line in lines:
        if open_block is not None:
            end = line.find(open_block)
            yield "", line[: end if end >= 0 else len(line)].strip().lstrip("*").strip()
            open_block = None if end >= 0 else open_block
            continue
        stripped = line.lstrip()
        if open_string is None and "/*" in markers and stripped[:1] == "*" and stripped[:2] != "*/":
            yield "", stripped[1:].strip()  # a block comment's line whose opening is above
            continue
        code, comment, open_block, open_string = _scan(line, markers, quotes, open_string)
        yield code, comment


def _scan(
    line: str, markers: tuple[str, ...], quotes: str, string: str | None
) -> tuple[str, str | None, str | None, str | None]:
    i = 0
    while i < len(line):
        if string is not None:
            if line[i] == "\\":
                i += 2
                continue
            if line.startswith(string, i):
                i += len(string)
                string = None
                continue
            i += 1
            continue
        ch = line[i]
        if ch in quotes:
            triple = line[i : i + 3]
            string = triple if triple in ('"""', "'''") else ch
            i += len(string)
            continue
        for marker in markers:
            if line.startswith(marker, i) and (marker != "--" or _dash_comment(line, i)):
                rest = line[i + len(marker) :]
                closer = {"/*": "*/", "<!--": "-->"}.get(marker)
                if closer is not None and closer not in rest:
                    return line[:i], rest.strip(), closer, None
                if closer is not None:
                    rest = rest[: rest.index(closer)]
                return line[:i], rest.strip(), None, None
        i += 1
    if string is not None and len(string) == 1:
        string = None  # an unterminated one-line string ends with its line
    return line, None, None, string


def _dash_comment(line: str, i: int) -> bool:
    return i == 0 or line[i - 1] in " \t(;,"


def elided(comment: str) -> bool:
    """Whether a whole comment says code was left out."""
    text = " ".join(comment.strip(_TRIM).split())
    for closer in _CLOSERS:
        text = text.removesuffix(closer).strip(_TRIM)
    if not text:  # nothing but dots: `# ...`, `/* … */` (an empty comment is no elision)
        return "..." in comment or "…" in comment
    return bool(_ELISION.fullmatch(text))


def placeholder(code: str, comment: str | None, extra: re.Pattern[str] | None, line: str) -> bool:
    if extra is not None and extra.search(line):
        return True
    if comment is None:
        return False
    note = comment.strip(_TRIM)
    bare = code.strip().strip("{}()[],;").strip()
    if not bare:
        return elided(comment)
    if _STUB_CODE.match(bare):
        return bool(_STUB_NOTE.match(note))
    # after code, only an elision spelled with an ellipsis: `foo();  // ... rest of the code`
    return ("..." in comment or "…" in comment) and not _STUB_NOTE.match(note) and elided(comment)


def _added(change: Change) -> Iterator[tuple[int, str, str, str | None]]:
    """(line, text, code, comment) of each line the change introduced."""
    added = dict(change.added_lines())
    if not added:
        return
    lines = change.after.split("\n")
    for n, (code, comment) in enumerate(comments(lines, change.language)):
        line = change.first_line + n
        if line in added:
            yield line, lines[n], code, comment


class Placeholder:
    name = "placeholder"
    description = "elided code such as '# ... existing code ...' or 'pass  # TODO implement'"
    options = (
        Option("pattern", "regex", None, "one more regex that marks a placeholder line"),
        Option("blocks", "bool", True, "judge standalone code blocks too, not only file edits"),
    )

    def check(self, output: Message, context: Context) -> Verdict:
        extra = context.options.get("pattern")
        findings = []
        for change in context.changes(output):
            if change.kind == "lazy" or (
                change.kind == "block" and not context.options.get("blocks", True)
            ):
                continue
            for line, text, code, comment in _added(change):
                if placeholder(code, comment, extra, text):
                    findings.append(
                        Finding(
                            change.path,
                            line,
                            "elided code: a placeholder instead of the code",
                            text.strip(),
                        )
                    )
        return Verdict.of(findings, context.unjudged(output))

    VALID = (
        Example("def f():\n    # compute the total\n    return sum(xs)\n"),
        Example("x = compute()  # TODO: cache this\n"),
        Example(
            "def f():\n    # ... existing code ...\n    return 2\n",
            before="def f():\n    # ... existing code ...\n    return 1\n",
            note="the marker was already in the file",
        ),
        Example(
            "def f():\n    # the existing code path is slow; bypass it\n    return fast()\n",
            note="a comment that mentions existing code, not one standing for it",
        ),
        Example('url = "http://example.com/#... existing code ..."\n', note="# in a string"),
        Example("def f(x):\n    return x  # TODO: implement validation\n", note="code + note"),
        Example("def f():\n    pass  # nothing to implement: abstract\n"),
    )
    INVALID = (
        Example("def f():\n    # ... existing code ...\n    return 1\n", lines=(2,)),
        Example("class A:\n    # rest of the code remains unchanged\n    x = 1\n", lines=(2,)),
        Example("def g():\n    pass  # TODO implement\n", lines=(2,)),
        Example("function f() {\n  // ... rest of the code ...\n}\n", path="a.js", lines=(2,)),
        Example(Message("assistant", (Text("```python\ndef f():\n    ...  # TODO\n```\n"),))),
        Example("SELECT 1;\n-- rest of the query unchanged\n", path="q.sql", lines=(2,)),
    )


ANALYZER = Placeholder()
