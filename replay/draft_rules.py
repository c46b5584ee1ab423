"""What a drafted check may be, read from its source before anything of it runs.

    gate(source) -> [str]      the problems, each one line; [] for a module that may be loaded
    ALLOWED_IMPORTS            what a drafted check may import (of redline's, only the names listed)

A drafted check is a module that only defines things: imports, functions, classes, assignments,
a docstring (and `if TYPE_CHECKING:` imports). Nothing else runs when it is imported, and it
imports only what reading code needs: the check API, `re`, `ast`, libcst and a few pure parts of
the standard library. It names no builtin that reaches outside (`open`, `exec`, `eval`,
`__import__`, `input`, `globals`...) and no dunder attribute beyond a short list, so the plain
ways out of a module are refused by name.

This gate is the first of three layers (then the audit hook of `draft_judge`, then the sandbox
itself). It catches what a model writes by mistake or plainly; it is no proof against code
written to hide what it does (docs/writing-checks.md says so).
"""

from __future__ import annotations

import ast

# Module -> the names that may be imported from it (None: any). `import X` needs None.
ALLOWED_IMPORTS: dict[str, frozenset[str] | None] = {
    "__future__": None,
    "ast": None,
    "collections": None,
    "collections.abc": None,
    "dataclasses": None,
    "difflib": None,
    "enum": None,
    "fnmatch": None,
    "functools": None,
    "itertools": None,
    "keyword": None,
    "libcst": None,
    "libcst.matchers": None,
    "math": None,
    "operator": None,
    "re": None,
    "string": None,
    "textwrap": None,
    "typing": None,
    "pathlib": frozenset({"PurePath", "PurePosixPath"}),
    "redline.analyzers": frozenset(
        {
            "Analyzer",
            "Change",
            "CodeBlock",
            "Context",
            "Edit",
            "Example",
            "Extraction",
            "Finding",
            "Option",
            "Unparsed",
            "Verdict",
            "decode_arguments",
            "extract",
        }
    ),
    "redline.analyzers.python": None,
    "redline.transcripts": frozenset(
        {"Message", "Request", "Text", "Thinking", "ToolCall", "ToolResult"}
    ),
}

# Names that reach outside a module, refused as a name, an attribute or an imported name.
REFUSED_NAMES = frozenset(
    {
        "__import__",
        "breakpoint",
        "builtins",
        "ctypes",
        "delattr",
        "eval",
        "exec",
        "gc",
        "get_type_hints",
        "globals",
        "importlib",
        "input",
        "inspect",
        "locals",
        "open",
        "os",
        "pickle",
        "setattr",
        "shutil",
        "socket",
        "subprocess",
        "sys",
        "vars",
    }
)
# The dunder names a check has a use for (`type(x).__name__`, `super().__init__()`).
ALLOWED_DUNDERS = frozenset(
    {"__all__", "__doc__", "__init__", "__name__", "__post_init__", "__qualname__", "__slots__"}
)
# The most source a drafted check may have: a check is tens of lines, not thousands.
MAX_SOURCE = 64 * 1024
_MAX_PROBLEMS = 5


def gate(source: str) -> list[str]:
    """The problems that keep `source` from being loaded, each one line naming its line."""
    if len(source.encode("utf-8", "surrogatepass")) > MAX_SOURCE:
        return [f"it is longer than {MAX_SOURCE // 1024} KB; a check is much shorter"]
    try:
        tree = ast.parse(source, "draft.py")
    except SyntaxError as error:
        return [f"it does not parse: line {error.lineno}: {error.msg}"]
    except (ValueError, MemoryError, RecursionError) as error:
        return [f"it does not parse: {type(error).__name__}: {error}"]
    problems: list[str] = []
    _statements(tree.body, "module", problems)
    for node in ast.walk(tree):
        problems += _node_problems(node)
        if len(problems) >= _MAX_PROBLEMS:
            break
    return list(dict.fromkeys(problems))[:_MAX_PROBLEMS]


def _statements(body: list[ast.stmt], where: str, problems: list[str]) -> None:
    """What runs on import: the module's statements and those of its class bodies."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.Pass):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if isinstance(node, ast.ClassDef):
            _statements(node.body, f"class {node.name}", problems)
            continue
        if _type_checking(node):
            continue
        kind = type(node).__name__.lower()
        problems.append(
            f"line {node.lineno}: it runs code when imported (a top-level {kind} in its "
            f"{where}); a drafted check only defines things"
        )


def _type_checking(node: ast.stmt) -> bool:
    """`if TYPE_CHECKING:` with only imports in it."""
    if not isinstance(node, ast.If) or node.orelse:
        return False
    test = node.test
    named = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
    return named and all(isinstance(n, ast.Import | ast.ImportFrom) for n in node.body)


def _node_problems(node: ast.AST) -> list[str]:
    line = getattr(node, "lineno", "?")
    if isinstance(node, ast.Import):
        return [
            _import(alias.name, None, line)
            for alias in node.names
            if _import_refused(alias.name, None)
        ]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return [f"line {line}: a relative import; a drafted check is one module"]
        module = node.module or ""
        return [
            _import(module, alias.name, line)
            for alias in node.names
            if _import_refused(module, alias.name)
        ]
    if isinstance(node, ast.Name):
        return _name(node.id, line, "uses")
    if isinstance(node, ast.Attribute):
        return _name(node.attr, line, "reaches the attribute")
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
        and len(node.args) >= 2
    ):
        name = node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            return [f"line {line}: {node.func.id}() with a name that is not written out"]
        return _name(name.value, line, "reaches the attribute")
    return []


def _name(name: str, line: object, verb: str) -> list[str]:
    if name in REFUSED_NAMES:
        return [f"line {line}: it {verb} {name!r}, which a check has no use for"]
    if name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
        return [
            f"line {line}: it {verb} {name!r}; a check needs no dunder but __init__ and __name__"
        ]
    return []


def _import_refused(module: str, name: str | None) -> bool:
    if module not in ALLOWED_IMPORTS:
        return True
    names = ALLOWED_IMPORTS[module]
    if name is None:
        return names is not None
    return name == "*" or name in REFUSED_NAMES or (names is not None and name not in names)


def _import(module: str, name: str | None, line: object) -> str:
    if module not in ALLOWED_IMPORTS:
        return (
            f"line {line}: it imports {module}; a drafted check may import only "
            f"{', '.join(ALLOWED_IMPORTS)}"
        )
    if name is None:
        return f"line {line}: `import {module}`; write `from {module} import NAME` instead"
    if name == "*":
        return f"line {line}: `from {module} import *`; name what it uses"
    if name in REFUSED_NAMES:
        return f"line {line}: it imports {name!r}, which a check has no use for"
    listed = ", ".join(sorted(ALLOWED_IMPORTS[module] or ()))
    return f"line {line}: it imports {name} from {module}, which offers a check only {listed}"
