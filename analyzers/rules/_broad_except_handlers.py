"""broad-except: what a broad handler (or `suppress` call) is, whether it swallows (no raise,
no exit, with `allow-logging` no logging call), and the ones in code that parses (`hits`). Each
is judged on its own here: whether the edit introduced it is `_broad_except_edits`' question.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst
import libcst.matchers as m

from redline.analyzers import Unparsed
from redline.analyzers.python import Chunk, Source, chunks, one_of

from ._broad_except_bindings import NO_ALIASES, Aliases, aliases_in, loggers_in, suppressors_in

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
        return Hit(hit_key(header), span, "", False)
    body = _Body(bound.loggers)
    node.body.visit(body)
    if body.exits or (allow_logging and body.logs):
        return Hit(hit_key(header), span, "", False) if every else None
    what = "bare " if node.type is None else ""
    how = "only logs it" if body.logs else "neither re-raises nor exits"
    named = _alias_note(caught, aliases)
    message = (
        f"{what}`{_short(header)}`{named} catches every error and swallows it: the handler {how}"
    )
    return Hit(hit_key(header), span, message)


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
        out.append(Hit(hit_key(code), chunk.span(call), message))
    return out


def hit_key(code: str) -> str:
    """`Hit.key` of a header; the text-read old side keys its handlers the same way."""
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
