"""Which language a piece of code is in: from a file's extension, a fence's tag, or a guess."""

from __future__ import annotations

import ast
import re
import textwrap
import warnings

_BY_EXTENSION = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".php": "php",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".swift": "swift",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".sql": "sql",
    ".html": "html",
    ".css": "css",
    ".md": "markdown",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
}

_BY_TAG = {
    "py": "python",
    "python": "python",
    "python3": "python",
    "py3": "python",
    "pyi": "python",
    "js": "javascript",
    "javascript": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "typescript": "typescript",
    "tsx": "typescript",
    "rs": "rust",
    "golang": "go",
    "sh": "shell",
    "bash": "shell",
    "zsh": "shell",
    "shell": "shell",
    "console": "shell",
    "yml": "yaml",
    "patch": "diff",
    "udiff": "diff",
    "c++": "cpp",
    "cs": "csharp",
}


def from_path(path: str | None) -> str | None:
    if not path:
        return None
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return _BY_EXTENSION.get(name[dot:]) if dot > 0 else None


def from_tag(tag: str) -> str | None:
    tag = tag.strip().lower()
    return _BY_TAG.get(tag, tag) if tag else None


_PY_SIGNAL = re.compile(
    r"^\s*(?:(?:async\s+)?def\s+\w+\s*\(|class\s+\w+.*:\s*$|import\s+\w|from\s+[\w.]+\s+import\s"
    r"|try:\s*$|except\b.*:\s*$|with\s+.*:\s*$|if\s+__name__\s*==|@\w[\w.]*|elif\s.*:\s*$"
    r"|(?:for|while)\s.*:\s*$|print\()",
    re.M,
)


def parses_as_python(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def guess(code: str) -> str | None:
    """ "python" when untagged code both looks like Python and parses (after dedenting), else
    None: a guess is only ever made when it is safe, and a failed guess is not reported."""
    if _PY_SIGNAL.search(code) and parses_as_python(textwrap.dedent(code)):
        return "python"
    return None
