"""broad-except: the names a module binds to a broad type, a logger or `contextlib.suppress`.

Read from the module's `ast` with cheap text filters first; a name is followed only when every
binding it has in the module is of that kind (see `aliases_in`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from redline.analyzers.python import Source

Aliases = Mapping[str, str]  # a name bound to a broad type in the module -> what it is bound to
NO_ALIASES: Aliases = MappingProxyType({})

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
