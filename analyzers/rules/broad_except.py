"""broad-except: an exception handler that catches everything and swallows it.

A handler is *broad* when it is bare (`except:`) or names `Exception` or `BaseException`
(also as `builtins.Exception`, and inside a tuple, however nested or starred), in `except` or
`except*`. `suppress(...)` / `contextlib.suppress(...)` with one of those among its arguments
(`*[Exception]` too) is broad as well.

A broad handler *swallows* unless its body has a `raise` statement or calls one of `sys.exit`,
`exit`, `quit`, `os._exit`, `os.abort`, `pytest.fail`, `pytest.exit`, `pytest.skip`,
`pytest.xfail`, `self.fail`, `self.skipTest`, in code that can run when the handler does: not
inside functions, classes or lambdas it defines, not after a `return`/`continue`/`break`/
`raise` of the same block, not in the dead branch of an `if`/`while` on a constant (`if
False:`). A handler that only logs swallows; with `allow-logging` a handler whose body makes a
logging call is accepted: `.debug/.info/.warning/.warn/.error/.exception/.critical/.fatal/.log`
on `logging`, on a logger name (`log`, `logger`, `LOG`, `_logger`, `audit_log`, also as an
attribute: `self.log`), on `logging.getLogger(...)`, or on a name or attribute the module binds
only to a logger (`loggers_in`: `audit = logging.getLogger("audit")`, `self.events =
getLogger()`); `traceback.print_exc`/`print_exception`, `warnings.warn`, or `print(...,
file=X)` with X not None. `suppress` always swallows.

A name the module binds only to a broad type is followed (`aliases_in`): `E = Exception`,
`AnyError = BaseException`, `BROAD = (OSError, Exception)`, `from builtins import Exception as
E`, an alias of an alias; `except E:`, `except (KeyError, E):` and `suppress(E)` are then broad.
So is a name bound only to `contextlib.suppress` (`suppressors_in`: `from contextlib import
suppress as quiet`, `cl.suppress` after `import contextlib as cl`). "The module" is the code read
with the handler: the file the transcript showed, else the fragment the output wrote. A name
bound in any other way too (a parameter, a class, another assignment, an import from elsewhere)
is not followed: which binding a handler sees then depends on scopes and on the order the code
runs in, or on another module.

Only what the output introduced counts (`judge`): handlers are matched between the code the
edit replaced and its new code by their header lines.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import libcst as cst
import libcst.matchers as m

from redline.analyzers import Context, Example, Finding, Option, Unparsed, Verdict
from redline.analyzers.python import (
    Chunk,
    PythonUnit,
    Source,
    chunks,
    fragment,
    one_of,
    python_code,
)
from redline.transcripts import Message

BROAD_NAME = one_of("Exception", "BaseException", "builtins.Exception", "builtins.BaseException")
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
SUPPRESS_FUNC = one_of("suppress", "contextlib.suppress")
_LOG_METHOD = m.Name(m.MatchRegex(r"debug|info|warning|warn|error|exception|critical|fatal|log"))
# A logger: `logging` itself, a name or attribute such as log, logger, LOG, _logger, self.log,
# audit_log (`log`/`logger` alone or after `_`), or a call to logging.getLogger(...).
_LOGGER_NAME = m.MatchRegex(r"(?i)logging|_*(?:[a-z0-9]+_+)*log(?:ger)?_*")
_LOGGER = (
    m.Name(_LOGGER_NAME)
    | m.Attribute(attr=m.Name(_LOGGER_NAME))
    | m.Call(func=one_of("logging.getLogger", "getLogger", "structlog.get_logger", "get_logger"))
)
LOGGING_CALL = (
    m.Call(func=m.Attribute(value=_LOGGER, attr=_LOG_METHOD))
    | m.Call(func=one_of("traceback.print_exc", "traceback.print_exception", "warnings.warn"))
    | m.Call(
        func=m.Name("print"),
        args=[
            m.ZeroOrMore(),
            m.Arg(keyword=m.Name("file"), value=~m.Name("None")),
            m.ZeroOrMore(),
        ],
    )
)

# A cheap filter before any libcst parse: every broad handler or suppress call matches this
# (a bare `except:`, or `except` followed anywhere later by a broad name: a tuple may span
# lines and hold comments, colons and slices).
CANDIDATE = re.compile(r"\bexcept\b(?:\s*:|(?=.*?\b(?:Base)?Exception\b))|\bsuppress\b", re.S)
# Every handler, broad or not: the old side of an edit is matched handler by handler.
ANY_HANDLER = re.compile(r"\bexcept\b|\bsuppress\b")

Aliases = Mapping[str, str]  # a name bound to a broad type in the module -> what it is bound to
NO_ALIASES: Aliases = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Bound:
    """What a module binds under names of its own: broad types (`aliases_in`), loggers
    (`loggers_in`, looked for only with `allow-logging`) and `contextlib.suppress`
    (`suppressors_in`: dotted names, `quiet` or `cl.suppress`)."""

    aliases: Aliases = NO_ALIASES
    loggers: frozenset[str] = frozenset()
    suppress: frozenset[str] = frozenset()

    @classmethod
    def of(cls, source: Source, allow_logging: bool) -> Bound:
        return cls(
            aliases_in(source),
            loggers_in(source) if allow_logging else frozenset(),
            suppressors_in(source),
        )

    def suppress_func(self, func: cst.BaseExpression) -> bool:
        return m.matches(func, SUPPRESS_FUNC) or (
            bool(self.suppress) and m.matches(func, _any_of(self.suppress))
        )


@functools.lru_cache(maxsize=64)
def _any_of(names: frozenset[str]) -> Any:
    return one_of(*sorted(names))


NOTHING_BOUND = Bound()


def broad(node: cst.BaseExpression, aliases: Aliases = NO_ALIASES) -> bool:
    """`Exception`, `BaseException` (also via `builtins.`), a name in `aliases`, or a tuple
    holding one, however deeply nested or starred (`(OSError, (Exception,))`, `(*[E],)`)."""
    if m.matches(node, BROAD_NAME):
        return True
    if isinstance(node, cst.Name):
        return node.value in aliases
    if isinstance(node, cst.Tuple | cst.List | cst.Set):
        return any(broad(e.value, aliases) for e in node.elements)
    return False


def broad_suppress(node: cst.Call, bound: Bound = NOTHING_BOUND) -> bool:
    """`suppress(...)` / `contextlib.suppress(...)` (or a name the module binds to it) with a
    broad argument (`*[Exception]` too)."""
    if not bound.suppress_func(node.func):
        return False
    return any(
        broad(a.value, bound.aliases)
        if a.star == "" and a.keyword is None
        else a.star == "*" and broad(a.value, bound.aliases)
        for a in node.args
    )


# --- names a module binds to a broad type, a logger or `suppress` --------------------------------

_BROAD_TYPES = ("Exception", "BaseException")
# Cheap filters before looking for aliases (each starts with a literal, which `re` finds fast): a
# value mentioning a broad type after an `=` on its line, or in brackets opened after an `=`.
_ASSIGNED = re.compile(r"=[^=\n]*Exception")
_ASSIGNED_BRACKETS = re.compile(r"=[ \t]*[(\[{][^)\]}]*Exception")
_BUILTINS = re.compile(r"builtins\b")


def _may_alias(source: Source) -> bool:
    """Whether `source` binds a name directly to a broad type: the statements on the lines the
    cheap filters point at are looked at, not the whole tree."""
    text = source.text
    if "Exception" not in text:
        return False
    hints = (_ASSIGNED, _ASSIGNED_BRACKETS, _BUILTINS)
    lines = {text.count("\n", 0, hit.start()) + 1 for p in hints for hit in p.finditer(text)}
    return any(
        _broad(node.value, NO_ALIASES)
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
        else isinstance(node, ast.ImportFrom)
        and node.module == "builtins"
        and any(a.name in _BROAD_TYPES for a in node.names)
        for node in _statements_on(source.tree.body, lines)
    )


def _statements_on(body: list[ast.stmt], lines: set[int]) -> Iterator[ast.stmt]:
    """The statements of `body`, at any depth, whose lines include one of `lines`."""
    for node in body:
        end = node.end_lineno or node.lineno
        if not any(node.lineno <= line <= end for line in lines):
            continue
        yield node
        blocks = [getattr(node, f, []) for f in ("body", "orelse", "finalbody")]
        blocks += [h.body for h in getattr(node, "handlers", [])]
        blocks += [c.body for c in getattr(node, "cases", [])]
        for block in blocks:
            yield from _statements_on(block, lines)


def aliases_in(source: Source) -> dict[str, str]:
    """The names `source` binds to a broad type, each with the code it is bound to: names whose
    every binding in the module is `NAME = value` (or `NAME: T = value`) with a broad value,
    that is `Exception`, `BaseException`, `builtins.` either, another such name or a tuple, list
    or set holding one; and names imported as `from builtins import Exception as E`. A name the
    module binds in any other way too (a class, a function, a parameter, another import, an
    unpacking, `except ... as`, a `for` target...) is not followed: which binding a handler sees
    is then a question of scopes and order."""
    if not _may_alias(source):
        return {}
    values, other = _bindings(source.tree)
    found: dict[str, str] = {}
    grew = True
    while grew:  # an alias of an alias: `E = Exception`, `F = (OSError, E)`
        grew = False
        for name, exprs in values.items():
            if (
                not name.startswith(".")
                and name not in found
                and name not in other
                and all(_broad(v, found) for v in exprs)
            ):
                found[name] = ast.unparse(exprs[0])
                grew = True
    return found


# What an import binds that is followed: (module, name) of `from module import name [as x]`,
# ("", module) of `import module [as x]`.
_FOLLOWED = {
    ("builtins", "Exception"),
    ("builtins", "BaseException"),
    ("contextlib", "suppress"),
    ("", "contextlib"),
}


def _bindings(tree: ast.Module) -> tuple[dict[str, list[ast.expr]], set[str]]:
    """(what each name is bound to by `NAME = value` or `NAME: T = value`, the names also bound
    in any other way). An attribute assigned as `X.attr = value` is keyed `.attr`; the imports
    in `_FOLLOWED` count as such assignments."""
    values: dict[str, list[ast.expr]] = {}
    other: set[str] = set()
    simple: set[int] = set()  # the targets of `NAME = value`, which bind as aliases may
    for node in ast.walk(tree):  # breadth first: an assignment before its targets
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                key = _key_of(target)
                if key is not None:
                    values.setdefault(key, []).append(node.value)
                    simple.add(id(target))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for a in node.names:
                bound = (a.asname or a.name).split(".")[0]
                if (node.module if isinstance(node, ast.ImportFrom) else "", a.name) in _FOLLOWED:
                    values.setdefault(bound, []).append(ast.Name(a.name))  # as if `E = Exception`
                else:
                    other.add(bound)
        elif isinstance(node, ast.Name | ast.Attribute) and not isinstance(node.ctx, ast.Load):
            key = _key_of(node)
            if key is not None and id(node) not in simple:
                other.add(key)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            other.add(node.name)
        elif isinstance(node, ast.arg):
            other.add(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            other.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            other.add(node.rest)
    return values, other


def _key_of(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    return "." + target.attr if isinstance(target, ast.Attribute) else None


def _broad(node: ast.expr, aliases: Aliases) -> bool:
    """`broad()` on an `ast` value."""
    if isinstance(node, ast.Name):
        return node.id in _BROAD_TYPES or node.id in aliases
    if isinstance(node, ast.Attribute):
        builtins = isinstance(node.value, ast.Name) and node.value.id == "builtins"
        return builtins and node.attr in _BROAD_TYPES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_broad(e, aliases) for e in node.elts)
    if isinstance(node, ast.Starred):
        return _broad(node.value, aliases)
    return False


_LOGGER_FACTORIES = ("logging.getLogger", "getLogger", "structlog.get_logger", "get_logger")


def loggers_in(source: Source) -> frozenset[str]:
    """Names (and attributes, as `.attr`) bound to a logger under any name, by the rule
    `aliases_in` follows: every binding is `NAME = logging.getLogger(...)` (or
    `getLogger(...)`, `structlog.get_logger(...)`, `get_logger(...)`, another such name), or
    for an attribute every `X.attr = ...` is."""
    if "getLogger" not in source.text and "get_logger" not in source.text:
        return frozenset()
    values, other = _bindings(source.tree)
    found: set[str] = set()
    grew = True
    while grew:  # a logger stored under a second name: `audit = log`
        grew = False
        for key, exprs in values.items():
            if key not in found and key not in other and all(_logger(v, found) for v in exprs):
                found.add(key)
                grew = True
    return frozenset(found)


def _logger(node: ast.expr, loggers: set[str]) -> bool:
    if isinstance(node, ast.Call):
        return ast.unparse(node.func) in _LOGGER_FACTORIES
    key = _key_of(node)
    return key is not None and key in loggers


# Cheap filters (each starts with a literal): `suppress as`, `contextlib as`, `= suppress`.
_SUPPRESS_ALIAS = (
    re.compile(r"suppress\s+as\b"),
    re.compile(r"contextlib\s+as\b"),
    re.compile(r"=[ \t]*(?:contextlib\.)?suppress\b"),
)


def suppressors_in(source: Source) -> frozenset[str]:
    """The dotted names, besides `suppress` and `contextlib.suppress`, that the module binds only
    to `contextlib.suppress`, by the rule `aliases_in` follows: `from contextlib import suppress
    as quiet`, `quiet = contextlib.suppress`; and `cl.suppress` after `import contextlib as
    cl`."""
    text = source.text
    if "suppress" not in text or not any(p.search(text) for p in _SUPPRESS_ALIAS):
        return frozenset()
    values, other = _bindings(source.tree)
    modules = {
        k for k, vs in values.items() if k not in other and all(_named(v, "contextlib") for v in vs)
    }
    found: set[str] = set()
    grew = True
    while grew:
        grew = False
        for key, exprs in values.items():
            if key in found or key in other or key.startswith(".") or key == "suppress":
                continue
            if all(_is_suppress(v, found, modules) for v in exprs):
                found.add(key)
                grew = True
    return frozenset(found | {f"{module}.suppress" for module in modules - {"contextlib"}})


def _named(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_suppress(node: ast.expr, names: set[str], modules: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "suppress" or node.id in names
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "suppress"
        and isinstance(node.value, ast.Name)
        and node.value.id in modules | {"contextlib"}
    )


@functools.lru_cache(maxsize=64)
def _pattern(every: bool, names: frozenset[str], calls: frozenset[str]) -> re.Pattern[str]:
    """What a chunk's text must match to be read: `ANY_HANDLER` (`every`) or `CANDIDATE`, the
    latter also matching an `except` followed by one of `names` (aliases of broad types); both
    also matching one of `calls` (names bound to `suppress`)."""
    if not calls and (every or not names):
        return ANY_HANDLER if every else CANDIDATE
    pattern = ANY_HANDLER.pattern if every else CANDIDATE.pattern
    if names and not every:
        pattern += rf"|\bexcept\b(?=.*?\b(?:{'|'.join(sorted(map(re.escape, names)))})\b)"
    if calls:
        pattern += rf"|\b(?:{'|'.join(sorted(re.escape(c.split('.')[-1]) for c in calls))})\b"
    return re.compile(pattern, re.S)


def _truth(node: cst.BaseExpression) -> bool | None:
    """The truth of a constant test (`False`, `0`, `None`, `""`), None when not a constant."""
    if m.matches(node, m.Name("False") | m.Name("None")):
        return False
    if m.matches(node, m.Name("True")):
        return True
    if isinstance(node, cst.Integer | cst.Float):
        return node.evaluated_value != 0
    if isinstance(node, cst.SimpleString):
        return bool(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        inner = _truth(node.expression)
        return None if inner is None else not inner
    return None


_ENDS_BLOCK = (cst.Return, cst.Continue, cst.Break, cst.Raise)


class _Body(cst.CSTVisitor):
    """Whether a handler body exits (raises or calls an exit function) or logs, counting only
    code that can run when the handler does: not functions, classes or lambdas it defines, not
    statements after a `return`, `continue`, `break` or `raise` in the same block, not the
    branch of an `if`/`while` whose test is a constant (`if False:`) that never runs it."""

    def __init__(self, loggers: frozenset[str] = frozenset()) -> None:
        self.exits = False
        self.logs = False
        self.loggers = loggers  # names (`.attr` for attributes) bound to a logger elsewhere

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def _block(self, statements: Sequence[cst.CSTNode]) -> bool:
        for statement in statements:
            statement.visit(self)
            small = statement.body if isinstance(statement, cst.SimpleStatementLine) else ()
            if isinstance(statement, _ENDS_BLOCK) or any(isinstance(s, _ENDS_BLOCK) for s in small):
                break
        return False

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        return self._block(node.body)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> bool:
        return self._block(node.body)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return self._block(node.body)

    def visit_If(self, node: cst.If) -> bool:
        truth = _truth(node.test)
        if truth is None:
            return True
        node.test.visit(self)
        if truth:
            node.body.visit(self)
        elif node.orelse is not None:
            node.orelse.visit(self)
        return False

    def visit_While(self, node: cst.While) -> bool:
        if _truth(node.test) is False:
            node.test.visit(self)
            if node.orelse is not None:
                node.orelse.visit(self)
            return False
        return True

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.exits = True
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        if m.matches(node.func, EXIT_FUNCS):
            self.exits = True
        elif m.matches(node, LOGGING_CALL) or self._stored_logger(node.func):
            self.logs = True
        return True

    def _stored_logger(self, func: cst.BaseExpression) -> bool:
        """`audit.warning(...)` where `audit` (or `self.audit`) was bound to a logger."""
        if not self.loggers or not m.matches(func, m.Attribute(attr=_LOG_METHOD)):
            return False
        assert isinstance(func, cst.Attribute)
        receiver = func.value
        if isinstance(receiver, cst.Name):
            return receiver.value in self.loggers
        return isinstance(receiver, cst.Attribute) and "." + receiver.attr.value in self.loggers


@dataclass(frozen=True, slots=True)
class Hit:
    """A handler (or a `suppress` call). `key` is its header without spacing and comments: what
    "the same header" means; `span` its source lines (the header is on the first)."""

    key: str
    span: tuple[int, int]
    message: str
    swallows: bool = True  # broad and swallowing: a finding, unless already there


class _Finder(cst.CSTVisitor):
    """Collects every handler (broad or not, in visiting order, which is source order) and the
    broad `suppress` calls. Simple statements hold no handler, so they are entered only when
    the chunk mentions `suppress`: this visitor is where the time goes."""

    def __init__(self, chunk: Chunk, want_calls: bool, bound: Bound) -> None:
        self.chunk = chunk
        self.want_calls = want_calls
        self.bound = bound
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
        if self.want_calls and broad_suppress(node, self.bound):
            self.suppress.append(node)


def _handler_hit(
    chunk: Chunk,
    node: cst.ExceptHandler | cst.ExceptStarHandler,
    keyword: str,
    span: tuple[int, int],
    allow_logging: bool,
    every: bool,
    bound: Bound,
) -> Hit | None:
    aliases = bound.aliases
    is_broad = node.type is None or broad(node.type, aliases)
    if not is_broad and not every:
        return None
    caught = "" if node.type is None else chunk.module.code_for_node(node.type)
    header = f"{keyword} {caught}".strip() + ":"
    if not is_broad:
        return Hit(_key(header), span, "", False)
    body = _Body(bound.loggers)
    node.body.visit(body)
    if body.exits or (allow_logging and body.logs):
        return Hit(_key(header), span, "", False) if every else None
    what = "bare " if node.type is None else ""
    how = "only logs it" if body.logs else "neither re-raises nor exits"
    named = _alias_note(caught, aliases)
    message = (
        f"{what}`{_short(header)}`{named} catches every error and swallows it: the handler {how}"
    )
    return Hit(_key(header), span, message)


def _alias_note(code: str, aliases: Aliases) -> str:
    """` (E = Exception)`: what the aliases named in `code` stand for."""
    names = [n for n in dict.fromkeys(re.findall(r"\w+", code)) if n in aliases]
    return f" ({', '.join(f'{n} = {aliases[n]}' for n in names)})" if names else ""


def chunk_hits(
    chunk: Chunk,
    allow_logging: bool,
    every: bool = False,
    bound: Bound = NOTHING_BOUND,
) -> list[Hit]:
    """Broad swallowing handlers and broad `suppress` calls of one chunk (with `every`, the
    other handlers too, `swallows` False). Handler lines come from the `ast` handlers of the
    same statements, matched by order (both parsers read the same text); if the counts ever
    differed, libcst's own positions are used."""
    calls = "suppress" in chunk.text or any(
        re.search(rf"\b{re.escape(c.split('.')[-1])}\b", chunk.text) for c in bound.suppress
    )
    finder = _Finder(chunk, calls, bound)
    chunk.module.visit(finder)
    lines = [(n.lineno, n.end_lineno or n.lineno) for n in chunk.in_order(ast.ExceptHandler)]
    if len(lines) != len(finder.handlers):
        lines = [chunk.span(node) for node, _ in finder.handlers]
    out = []
    for (node, keyword), span in zip(finder.handlers, lines, strict=True):
        hit = _handler_hit(chunk, node, keyword, span, allow_logging, every, bound)
        if hit is not None:
            out.append(hit)
    for call in finder.suppress:
        code = chunk.module.code_for_node(call)
        message = f"`{_short(code)}`{_alias_note(code, bound.aliases)} swallows every error"
        out.append(Hit(_key(code), chunk.span(call), message))
    return out


def _key(code: str) -> str:
    return re.sub(r"\s+|#[^\n]*", "", code)


def _short(code: str) -> str:
    code = " ".join(re.sub(r"#[^\n]*", "", code).split()).replace("( ", "(").replace(" )", ")")
    return code if len(code) <= 60 else code[:57] + "..."


def hits(
    source: Source,
    allow_logging: bool,
    unparsed: list[Unparsed],
    *,
    every: bool = False,
    aliases: Aliases = NO_ALIASES,
) -> list[Hit]:
    """Broad swallowing handlers of `source` that overlap its region; with `every`, all the
    handlers in the whole source, broad or not (`swallows` tells which). Names the source binds
    to a broad type, a logger or `suppress` are followed (`Bound`), and so are `aliases` (bound
    in code around the source)."""
    out: list[Hit] = []
    if "except" not in source.text and "suppress" not in source.text:
        return out  # no handler, and no `suppress` under any name (its import would say it)
    low, high = (1, len(source.text.split("\n"))) if every else source.region
    bound = Bound.of(source, allow_logging)
    if aliases:
        bound = dataclasses.replace(bound, aliases={**aliases, **bound.aliases})
    pattern = _pattern(every, frozenset(bound.aliases), bound.suppress)
    for chunk in chunks(source, pattern, whole=every):
        if isinstance(chunk, Unparsed):
            unparsed.append(chunk)
            continue
        out += [
            h
            for h in chunk_hits(chunk, allow_logging, every, bound)
            if h.span[1] >= low and h.span[0] <= high
        ]
    return out


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
                    out.append(Hit(_key(call.group(0)), (n + 1, n + 1), ""))
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
        key = _key(f"{keyword} {caught.strip().lstrip('*').strip()}:")
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
        snippet = "\n".join(x.strip() for x in lines[h.span[0] - 1 : min(h.span[1], h.span[0] + 1)])
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
        Example(
            "try:\n    run()\nexcept Exception:\n    logging.getLogger(__name__).error('x')\n",
            options="allow-logging",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    pass\n    cleanup()\n",
            before="try:\n    run()\nexcept Exception:\n    pass\n",
            note="a line added to a handler that already swallowed",
        ),
        Example("E = ValueError\ntry:\n    run()\nexcept E:\n    pass\n", note="narrow alias"),
        Example("class E(Exception):\n    pass\n\ntry:\n    run()\nexcept E:\n    pass\n"),
        Example(
            "E = Exception\nif strict:\n    E = ValueError\ntry:\n    run()\nexcept E:\n    pass\n",
            note="bound to a narrow type too: which one the handler sees is not followed",
        ),
        Example(
            "E = Exception\n\ndef f(E):\n    try:\n        run()\n    except E:\n        pass\n",
            note="also bound as a parameter: not followed",
        ),
        Example(
            "from errors import E\ntry:\n    run()\nexcept E:\n    pass\n",
            note="imported from another module",
        ),
        Example(
            "E = Exception\ntry:\n    run()\nexcept E:\n    pass\n",
            before="E = Exception\ntry:\n    run(\nexcept E:\n    pass\n",
            note="the old code does not parse: its handlers are read from the text, aliases too",
        ),
        Example(
            "audit = logging.getLogger('audit')\ntry:\n    run()\nexcept Exception:\n"
            "    audit.warning('x')\n",
            options="allow-logging",
            note="a logger stored under another name",
        ),
        Example(
            "class Job:\n    def __init__(self):\n        self.events = logging.getLogger('jobs')\n\n"
            "    def run(self):\n        try:\n            step()\n        except Exception:\n"
            "            self.events.error('failed')\n",
            options="allow-logging",
            note="a logger stored in an attribute",
        ),
    )
    INVALID = (
        Example("try:\n    run()\nexcept:\n    pass\n", lines=(3,)),
        Example(
            "try:\n    run()\nexcept Exception:\n    return None\n    raise\n",
            lines=(3,),
            note="a raise after return never runs",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    if False:\n        raise\n",
            lines=(3,),
            note="a raise under `if False:` never runs",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    catalog.error('x')\n",
            options="allow-logging",
            lines=(3,),
            note="`catalog` is no logger",
        ),
        Example("with suppress(*[Exception]):\n    run()\n", lines=(1,)),
        Example(
            "try:\n    run()\nexcept ((OSError, Exception), KeyError):\n    pass\n", lines=(3,)
        ),
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
        Example(
            "def a():\n    return x()\n\ndef b():\n    try:\n        y()\n    except Exception:\n"
            "        pass\n",
            before="def a():\n    try:\n        return x()\n    except Exception:\n        pass\n\n"
            "def b():\n    try:\n        y()\n    except Exception:\n        raise\n",
            lines=(7,),
            note="one swallowing handler deleted, another made to swallow: same count, a finding",
        ),
        Example("E = Exception\ntry:\n    run()\nexcept E:\n    pass\n", lines=(4,)),
        Example(
            "from builtins import BaseException as Any\ntry:\n    run()\nexcept Any:\n    pass\n",
            lines=(4,),
        ),
        Example(
            "BROAD = (OSError, Exception)\ntry:\n    run()\nexcept BROAD:\n    return None\n",
            lines=(4,),
            note="a tuple bound to a name",
        ),
        Example(
            "E = Exception\nANY = (KeyError, E)\ntry:\n    run()\nexcept (ValueError, ANY):\n"
            "    pass\n",
            lines=(5,),
            note="an alias of an alias, inside the handler's tuple",
        ),
        Example("E = Exception\nwith suppress(E):\n    run()\n", lines=(2,)),
        Example(
            "from contextlib import suppress as quiet\nwith quiet(Exception):\n    run()\n",
            lines=(2,),
            note="suppress imported under another name",
        ),
        Example(
            "audit = open_audit_trail()\ntry:\n    run()\nexcept Exception:\n"
            "    audit.warning('x')\n",
            options="allow-logging",
            lines=(4,),
            note="`audit` is bound to something other than a logger",
        ),
        Example(
            "#!/usr/bin/env python3\ntry:\n    run()\nexcept Exception:\n    pass\n",
            path="bin/tool",
            lines=(4,),
            note="no .py name, a Python shebang line",
        ),
    )


ANALYZER = BroadExcept()
