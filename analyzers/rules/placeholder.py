"""placeholder: code the output elided instead of writing.

A line the output introduced is a placeholder when

* it is a comment and nothing else (brackets aside: `{/* ... */}`), and the comment as a whole
  says code was left out: nothing but `...` or `…`; `existing code`, `rest of the file`,
  `remaining methods unchanged`, `previous implementation remains`, `same as before`, `code
  omitted for brevity`, `your code here`, `implementation goes here`, `TODO: implement`, `etc.`,
  `and so on`... with only dots, brackets and words such as `keep`, `the`, `here`, `unchanged`
  around it; between dots, `existing`, `other`, `remaining`... take any noun (`-- ... existing
  columns ...`);
* or its code is a stub (`pass`, `...`, `raise NotImplementedError`, with or without
  arguments) and its comment says code was left out: it starts with `TODO`, `FIXME`, `XXX` or
  `implement`, or is such an elision as a whole (`...  # remaining logic here`), or starts with
  a stub lead: `etc.`, `and so on`, `fill in`, `to be implemented`, `rest of the
  implementation`, `same as before` (`pass  # and so on for the other kinds`);
* or it is a comment and nothing else right after a stub line, as deep or deeper, saying so
  the same way (`pass` then `# rest of the implementation`): the finding is on the comment;
* or it has code and then such a comment spelled with an ellipsis (`foo();  // ... rest of the
  code ...`), other than a `TODO`.

A `TODO`-like note on a stub in an abstract method (decorated `@abstractmethod`) or a Protocol
class is not one: that body is meant to be empty. A comment that only mentions such words (`#
the existing code path is slow`, `return x  # TODO: implement validation`, `pass  # missing
keys, etc. are skipped`) is not one. Comments are found by the language's own markers (`#` in
Python and shell, `//` and `/* */` in C-like languages, `--` in SQL and Lua, `<!--` in HTML and
Markdown; all of them when the language is unknown), outside string literals. Lines carried
over from the code the edit replaced do not count, nor do sketches meant to hold such markers
(Continue's `edit_existing_file`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from redline.analyzers import Change, Context, Example, Finding, Option, Verdict
from redline.analyzers.python import PythonUnit, Source, python_code
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
_FAMILY = r"existing|remaining|previous|original|other|old|unchanged|current|same|more"
# The whole comment, once dots, brackets and the like are trimmed, must be one of these.
_ELISION = re.compile(
    rf"""(?ix)
    (?:keep\s+|keeping\s+|with\s+|plus\s+|and\s+)?(?:(?:all|the)\s+)*
    (?:
        (?:{_FAMILY})(?:\s+\w+)?\s+{_NOUN}
      | etc | (?:and\s+)?so\s+(?:on|forth)
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
      | (?:code|implementation|{_NOUN})\s+(?:(?:remains?|stays?|is|are)\s+)?
            (?:unchanged|unmodified|untouched|intact|the\s+same|as\s+(?:it\s+)?(?:is|was|before)
            |omitted|elided|not\s+shown)
            (?:\s+(?:from|as\s+in)\s+(?:the\s+)?(?:original|before|above|previous\s+version))?
    )
    \s*{_STILL}
    """
)
# Spelled with an ellipsis around it, the family takes any noun: `-- ... existing columns ...`.
_ELISION_DOTTED = re.compile(
    rf"(?i)(?:keep\s+)?(?:(?:all|the)\s+)*(?:{_FAMILY})(?:\s+\w+){{1,2}}\s*{_STILL}"
)
_STUB_CODE = re.compile(r"^(?:pass|\.\.\.|…|raise\s+NotImplementedError\b(?:\s*\(.*\))?)\s*;?$")
# A note on a stub that marks code still to write.
_STUB_NOTE = re.compile(r"(?i)^(?:todo|fixme|xxx|implement)\b")
# A note on a stub that starts by saying code was left out (the rest of it may say which code).
_STUB_LEAD = re.compile(
    r"(?i)^(?:etc\b|(?:and\s+)?so\s+(?:on|forth)\b|fill\s+(?:in|out)\b|filled\s+in\s+later\b"
    r"|to\s+be\s+(?:implemented|written|filled\s+in|added|done)\b"
    r"|(?:the\s+)?rest\s+of\s+(?:the\s+)?(?:implementation|code|logic|function|method|body)\b"
    r"|same\s+as\s+(?:before|above|the\s+original|original)\b)"
)
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
    dots = "..." in comment or "…" in comment
    if not text:  # nothing but dots: `# ...`, `/* … */` (an empty comment is no elision)
        return dots
    return bool(_ELISION.fullmatch(text) or (dots and _ELISION_DOTTED.fullmatch(text)))


def _note(comment: str) -> str:
    return " ".join(comment.strip(_TRIM).split())


def todo_note(comment: str) -> bool:
    """Whether a stub's comment marks code still to write: `TODO`, `FIXME`, `XXX`, `implement`."""
    return bool(_STUB_NOTE.match(_note(comment)))


def stub_note(comment: str) -> bool:
    """Whether a stub's comment says code was left out: a `TODO`-like note, an elision as a
    whole, or a note that starts with one of the stub leads (`etc.`, `and so on for ...`, `fill
    in ...`, `rest of the implementation ...`, `same as before ...`)."""
    return todo_note(comment) or elided(comment) or bool(_STUB_LEAD.match(_note(comment)))


def is_stub(code: str) -> bool:
    """`pass`, `...` or `raise NotImplementedError` standing alone."""
    return bool(_STUB_CODE.match(code.strip()))


def placeholder(code: str, comment: str | None, after_stub: bool = False) -> bool:
    """Whether a line with this code and comment (None: no comment) is a placeholder.
    `after_stub`: the line right above is a stub, at this line's indentation or less."""
    if comment is None:
        return False
    if is_stub(code):
        return stub_note(comment)
    bare = code.strip().strip("{}()[],;").strip()
    if not bare:
        return elided(comment) or (after_stub and stub_note(comment))
    # after code, only an elision spelled with an ellipsis: `foo();  // ... rest of the code`
    return ("..." in comment or "…" in comment) and not todo_note(comment) and elided(comment)


@dataclass(frozen=True, slots=True)
class Line:
    """A line the change introduced, with its code and comment, and what `placeholder` needs."""

    number: int
    text: str
    code: str
    comment: str | None
    after_stub: bool
    stub: int | None  # the line of the stub, for a stub line or the comment line after one


def _added(change: Change) -> Iterator[Line]:
    """Each line the change introduced."""
    added = dict(change.added_lines())
    if not added:
        return
    lines = change.after.split("\n")
    stub_indent: int | None = None  # the indentation of the line above when it is a stub
    for n, (code, comment) in enumerate(comments(lines, change.language)):
        indent = len(lines[n]) - len(lines[n].lstrip())
        bare = not code.strip()
        after_stub = bare and stub_indent is not None and indent >= stub_indent
        line = change.first_line + n
        if line in added:
            stub = line if is_stub(code) else line - 1 if after_stub else None
            yield Line(line, lines[n], code, comment, after_stub, stub)
        stub_indent = indent if is_stub(code) else None


_ABSTRACT = {"abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod"}


def abstract_lines(change: Change, output: Message, context: Context) -> set[int]:
    """The lines (as reported) of abstract methods (decorated `@abstractmethod`, also as
    `abc.abstractmethod`) and of Protocol classes, in the Python the change leaves: a stub with a
    `TODO` there is the body such a method is meant to have. Empty when the code is not read."""
    if change.language != "python":
        return set()
    for read, result in python_code(output, context).results:
        if read is change and isinstance(result, PythonUnit):
            return _abstract(result.new)
    return set()


def _abstract(source: Source) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(source.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            abstract = any(_name(d) in _ABSTRACT for d in node.decorator_list)
        elif isinstance(node, ast.ClassDef):
            abstract = any(_name(b) == "Protocol" for b in node.bases)
        else:
            continue
        if abstract:
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return {source.line(n) for n in lines}


def _name(node: ast.expr) -> str:
    """The last name of a decorator or base: `abc.abstractmethod` and `Protocol[T]` too."""
    if isinstance(node, ast.Call | ast.Subscript):
        return _name(node.func if isinstance(node, ast.Call) else node.value)
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


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
        judged = []
        for change in context.changes(output):
            if change.kind == "lazy" or (
                change.kind == "block" and not context.options.get("blocks", True)
            ):
                continue
            judged.append(change.path)
            abstract: set[int] | None = None  # read on first need
            for line in _added(change):
                hit = placeholder(line.code, line.comment, line.after_stub)
                if hit and line.stub and line.comment is not None and todo_note(line.comment):
                    if abstract is None:
                        abstract = abstract_lines(change, output, context)
                    hit = line.stub not in abstract
                if hit or (extra is not None and extra.search(line.text)):
                    message = "elided code: a placeholder instead of the code"
                    findings.append(Finding(change.path, line.number, message, line.text.strip()))
        return Verdict.of(findings, context.unjudged(output), judged)

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
        Example(
            "for row in rows:\n    try:\n        add(row)\n    except KeyError:\n"
            "        pass  # missing keys, short rows, etc. are skipped\n",
            note="`etc.` inside a sentence about data",
        ),
        Example("class Empty(Model):\n    pass  # fields are filled in by __init_subclass__\n"),
        Example(
            "class Store(ABC):\n    @abstractmethod\n    def get(self, key):\n"
            "        raise NotImplementedError  # TODO\n",
            note="an abstract method's body",
        ),
        Example(
            "class Plugin(Protocol):\n    def setup(self, app):\n        ...  # TODO: implement\n",
            note="a Protocol member's body",
        ),
        Example(
            "def decompress(data, codec):\n"
            "    raise NotImplementedError(f'unsupported codec: {codec}')\n",
            note="no comment: real behaviour",
        ),
        Example(
            "def f(buf):\n    # The rest of the implementation follows RFC 6455.\n    return buf[1]\n",
            note="not after a stub, and more than an elision",
        ),
    )
    INVALID = (
        Example("def f():\n    # ... existing code ...\n    return 1\n", lines=(2,)),
        Example("class A:\n    # rest of the code remains unchanged\n    x = 1\n", lines=(2,)),
        Example("def g():\n    pass  # TODO implement\n", lines=(2,)),
        Example("function f() {\n  // ... rest of the code ...\n}\n", path="a.js", lines=(2,)),
        Example(Message("assistant", (Text("```python\ndef f():\n    ...  # TODO\n```\n"),))),
        Example("SELECT 1;\n-- rest of the query unchanged\n", path="q.sql", lines=(2,)),
        Example(
            "CREATE TABLE t (\n    id INT,\n    -- ... existing columns ...\n);\n",
            path="t.sql",
            lines=(3,),
        ),
        Example("def export(report):\n    raise NotImplementedError  # TODO\n", lines=(2,)),
        Example("def retry(self):\n    ...  # remaining logic here\n", lines=(2,)),
        Example(
            "def rotate(key):\n    raise NotImplementedError  # implementation omitted for brevity\n",
            lines=(2,),
        ),
        Example(
            "if kind == 'a':\n    on_a()\nelse:\n    pass  # and so on for the other kinds\n",
            lines=(4,),
        ),
        Example("def render(fmt):\n    pass  # etc.\n", lines=(2,)),
        Example("def to_dict(self):\n    ...  # same as before\n", lines=(2,)),
        Example(
            "def parse(row):\n    raise NotImplementedError  # fill in the mapping\n", lines=(2,)
        ),
        Example(
            "def compact(self):\n    raise NotImplementedError\n    # remaining logic here\n",
            lines=(3,),
            note="the comment line right after the stub",
        ),
        Example("def reconcile(self):\n    pass\n    # etc.\n", lines=(3,)),
        Example(
            "class Store(ABC):\n    def get(self, key):\n        raise NotImplementedError  # TODO\n",
            lines=(3,),
            note="not decorated @abstractmethod: a concrete method left unwritten",
        ),
    )


ANALYZER = Placeholder()
