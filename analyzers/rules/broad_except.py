"""broad-except: an exception handler that catches everything and swallows it.

A handler is *broad* when it is bare (`except:`) or names `Exception` or `BaseException`
(also as `builtins.Exception`, and as one element of a tuple), in `except` or `except*`.
`contextlib.suppress(...)` with one of those among its arguments is broad too.

A broad handler *swallows* unless its body, outside functions, classes and lambdas defined in
it, has a `raise` statement (bare, `raise X`, `raise X from e`) or calls one of `sys.exit`,
`exit`, `quit`, `os._exit`, `os.abort`, `pytest.fail`, `pytest.exit`, `pytest.skip`,
`pytest.xfail`, `self.fail`, `self.skipTest`. A handler that only logs swallows; with
`allow-logging` a handler whose body makes a logging call is accepted: a `.debug/.info/
.warning/.warn/.error/.exception/.critical/.fatal/.log` call on a name or attribute containing
`log` (`logging`, `logger`, `self.log`, `LOG`), `traceback.print_exc`/`print_exception`,
`warnings.warn`, or `print(..., file=...)`. `suppress` always swallows.

Only what the output introduced counts: a broad swallowing handler with the same header
(`except` or `except*`, and the caught types, spacing aside) in the code the edit replaced is
not the output's. Names bound to `Exception` by assignment or import aliases are not followed.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import libcst as cst
import libcst.matchers as m

from redline.analyzers._context import Context
from redline.analyzers._model import Example, Finding, Option, Unparsed, Verdict
from redline.analyzers._python import Chunk, PythonUnit, Source, chunks, python_code
from redline.transcripts.model import Message


def dotted(name: str) -> Any:
    """A matcher for a dotted name: `sys.exit` -> Attribute(Name("sys"), Name("exit"))."""
    *head, last = name.split(".")
    if not head:
        return m.Name(last)
    return m.Attribute(value=dotted(".".join(head)), attr=m.Name(last))


def one_of(*names: str) -> Any:
    return m.OneOf(*(dotted(n) for n in names)) if len(names) > 1 else dotted(names[0])


BROAD_NAME = one_of("Exception", "BaseException", "builtins.Exception", "builtins.BaseException")
BROAD_TYPE = BROAD_NAME | m.Tuple(
    elements=[m.ZeroOrMore(), m.Element(value=BROAD_NAME), m.ZeroOrMore()]
)
EXIT_FUNCS = one_of(
    "sys.exit",
    "exit",
    "quit",
    "os._exit",
    "os.abort",
    "pytest.fail",
    "pytest.exit",
    "pytest.skip",
    "pytest.xfail",
    "self.fail",
    "self.skipTest",
)
SUPPRESS = m.Call(
    func=one_of("suppress", "contextlib.suppress"),
    args=[m.ZeroOrMore(), m.Arg(value=BROAD_NAME), m.ZeroOrMore()],
)
_LOG_METHOD = m.Name(m.MatchRegex(r"debug|info|warning|warn|error|exception|critical|fatal|log"))
_LOGGER = m.Name(m.MatchRegex(r"(?i).*log.*")) | m.Attribute(
    attr=m.Name(m.MatchRegex(r"(?i).*log.*"))
)
LOGGING_CALL = (
    m.Call(func=m.Attribute(value=_LOGGER, attr=_LOG_METHOD))
    | m.Call(func=one_of("traceback.print_exc", "traceback.print_exception", "warnings.warn"))
    | m.Call(
        func=m.Name("print"), args=[m.ZeroOrMore(), m.Arg(keyword=m.Name("file")), m.ZeroOrMore()]
    )
)

# A cheap filter before any libcst parse: every broad handler or suppress call matches this.
CANDIDATE = re.compile(r"\bexcept\b\s*\*?\s*(?::|[^:]*?\b(?:Base)?Exception\b)|\bsuppress\b")


class _Body(cst.CSTVisitor):
    """Whether a handler body exits (raises or calls an exit function) or logs, not looking
    inside functions, classes or lambdas it defines (they do not run when the handler does)."""

    def __init__(self) -> None:
        self.exits = False
        self.logs = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.exits = True
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        if m.matches(node.func, EXIT_FUNCS):
            self.exits = True
        elif m.matches(node, LOGGING_CALL):
            self.logs = True
        return True


@dataclass(frozen=True, slots=True)
class Hit:
    key: str  # the header, spacing removed: what "the same handler" means
    span: tuple[int, int]  # source lines
    message: str


class _Finder(cst.CSTVisitor):
    """Collects every handler (broad or not, in visiting order, which is source order) and the
    broad `suppress` calls. Simple statements hold no handler, so they are entered only when
    the chunk mentions `suppress`: this visitor is where the time goes."""

    def __init__(self, chunk: Chunk, want_calls: bool) -> None:
        self.chunk = chunk
        self.want_calls = want_calls
        self.handlers: list[tuple[cst.ExceptHandler | cst.ExceptStarHandler, str]] = []
        self.suppress: list[cst.Call] = []

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return self.want_calls

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> bool:
        return self.want_calls

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.handlers.append((node, "except"))

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self.handlers.append((node, "except*"))

    def visit_Call(self, node: cst.Call) -> None:
        if self.want_calls and m.matches(node, SUPPRESS):
            self.suppress.append(node)


def _handler_hit(
    chunk: Chunk,
    node: cst.ExceptHandler | cst.ExceptStarHandler,
    keyword: str,
    span: tuple[int, int],
    allow_logging: bool,
) -> Hit | None:
    if node.type is not None and not m.matches(node.type, BROAD_TYPE):
        return None
    body = _Body()
    node.body.visit(body)
    if body.exits or (allow_logging and body.logs):
        return None
    caught = "" if node.type is None else chunk.module.code_for_node(node.type)
    header = f"{keyword} {caught}".strip() + ":"
    what = "bare " if node.type is None else ""
    how = "only logs it" if body.logs else "neither re-raises nor exits"
    message = f"{what}`{_short(header)}` catches every error and swallows it: the handler {how}"
    return Hit(_key(header), span, message)


def chunk_hits(chunk: Chunk, allow_logging: bool) -> list[Hit]:
    """Broad swallowing handlers and broad `suppress` calls of one chunk. Handler lines come
    from the `ast` handlers of the same statements, matched by order (both parsers read the
    same text); if the counts ever differed, libcst's own positions are used."""
    finder = _Finder(chunk, "suppress" in chunk.text)
    chunk.module.visit(finder)
    lines = [(n.lineno, n.end_lineno or n.lineno) for n in chunk.in_order(ast.ExceptHandler)]
    if len(lines) != len(finder.handlers):
        lines = [chunk.span(node) for node, _ in finder.handlers]
    out = []
    for (node, keyword), span in zip(finder.handlers, lines, strict=True):
        hit = _handler_hit(chunk, node, keyword, span, allow_logging)
        if hit is not None:
            out.append(hit)
    for call in finder.suppress:
        code = chunk.module.code_for_node(call)
        out.append(Hit(_key(code), chunk.span(call), f"`{_short(code)}` swallows every error"))
    return out


def _key(code: str) -> str:
    return re.sub(r"\s+|#[^\n]*", "", code)


def _short(code: str) -> str:
    code = " ".join(code.split())
    return code if len(code) <= 60 else code[:57] + "..."


def hits(source: Source, allow_logging: bool, unparsed: list[Unparsed]) -> list[Hit]:
    """Broad swallowing handlers of `source` that overlap its region."""
    out: list[Hit] = []
    low, high = source.region
    for chunk in chunks(source, CANDIDATE):
        if isinstance(chunk, Unparsed):
            unparsed.append(chunk)
            continue
        out += [
            h for h in chunk_hits(chunk, allow_logging) if h.span[1] >= low and h.span[0] <= high
        ]
    return out


_TEXT_HEADER = re.compile(r"^\s*(except\s*\*?)\s*(.*?)\s*(?:\bas\s+\w+\s*)?:", re.M)


def _text_keys(code: str) -> Counter[str]:
    """Headers of broad handlers in code that did not parse: the fallback that keeps a handler
    already present in unparsable old code from being blamed on the output."""
    keys: Counter[str] = Counter()
    for match in _TEXT_HEADER.finditer(code):
        caught = match.group(2)
        if not caught or re.search(r"\b(?:Base)?Exception\b", caught):
            keys[_key(f"{match.group(1)} {caught}:")] += 1
    for match in re.finditer(r"\b(?:contextlib\.)?suppress\([^)]*\)", code):
        keys[_key(match.group(0))] += 1
    return keys


def judge(unit: PythonUnit, allow_logging: bool, unparsed: list[Unparsed]) -> list[Finding]:
    new = [h for h in hits(unit.new, allow_logging, unparsed) if unit.new.closed(*h.span)]
    if not new:
        return []
    if unit.old is not None:
        old = Counter(h.key for h in hits(unit.old, allow_logging, []))
    else:
        old = _text_keys(unit.change.before)
    added = {line for line, _ in unit.change.added_lines()}
    lines = unit.new.text.split("\n")
    findings = []
    for key, count in Counter(h.key for h in new).items():
        introduced = count - old.get(key, 0)
        if introduced <= 0:
            continue
        same = [h for h in new if h.key == key]
        same.sort(key=lambda h: unit.new.line(h.span[0]) not in added)  # new lines first
        for h in same[:introduced]:
            snippet = "\n".join(
                x.strip() for x in lines[h.span[0] - 1 : min(h.span[1], h.span[0] + 1)]
            )
            findings.append(Finding(unit.change.path, unit.new.line(h.span[0]), h.message, snippet))
    return findings


class BroadExcept:
    name = "broad-except"
    description = (
        "an except clause (or contextlib.suppress) that catches everything and swallows it"
    )
    options = (
        Option("allow-logging", "bool", False, "accept a broad handler whose body logs the error"),
    )

    def check(self, output: Message, context: Context) -> Verdict:
        code = python_code(output, context)
        unparsed = code.not_judged()
        findings: list[Finding] = []
        for unit in code.units:
            findings += judge(unit, bool(context.options.get("allow-logging")), unparsed)
        findings.sort(key=lambda f: (f.path or "", f.line or 0))
        return Verdict.of(findings, unparsed)

    VALID = (
        Example("try:\n    run()\nexcept ValueError:\n    pass\n", note="a narrow handler"),
        Example("try:\n    run()\nexcept Exception:\n    log.exception('x')\n    raise\n"),
        Example("try:\n    run()\nexcept Exception as e:\n    raise RuntimeError('x') from e\n"),
        Example("try:\n    run()\nexcept BaseException:\n    sys.exit(1)\n"),
        Example(
            "try:\n    run()\nexcept Exception:\n    logger.exception('boom')\n",
            options="allow-logging",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    pass\nprint('x')\n",
            before="try:\n    run()\nexcept Exception:\n    pass\n",
            note="the handler was already there",
        ),
    )
    INVALID = (
        Example("try:\n    run()\nexcept:\n    pass\n", lines=(3,)),
        Example("try:\n    run()\nexcept Exception:\n    x = None\n", lines=(3,)),
        Example("try:\n    run()\nexcept (OSError, Exception) as e:\n    print(e)\n", lines=(3,)),
        Example("try:\n    run()\nexcept* BaseException:\n    pass\n", lines=(3,)),
        Example("with contextlib.suppress(Exception):\n    run()\n", lines=(1,)),
        Example("try:\n    run()\nexcept Exception:\n    logger.exception('boom')\n", lines=(3,)),
        Example(
            "try:\n    run()\nexcept Exception:\n    def later():\n        raise\n    defer(later)\n",
            lines=(3,),
            note="a raise inside a nested function does not run in the handler",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    pass\n",
            before="try:\n    run()\nexcept Exception:\n    raise\n",
            lines=(3,),
            note="the edit made an existing handler swallow",
        ),
    )


ANALYZER = BroadExcept()
