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


# `#!/usr/bin/python3`, `#!/usr/bin/env python3`, `#!/usr/bin/env -S python3 -u`, `#! pypy3`
_PYTHON_SHEBANG = re.compile(
    r"#![ \t]*(?:\S*/)?(?:env[ \t]+(?:-\S*[ \t]+)*)?(?:python|pypy)[0-9.]*(?:[ \t]|$)"
)


def extension(language: str | None) -> str:
    """The usual file extension of `language`, without its dot (`py`); `txt` when unknown."""
    for suffix, known in _BY_EXTENSION.items():
        if known == language:
            return suffix[1:]
    return "txt"


def from_shebang(text: str | None) -> str | None:
    """ "python" when the first line of `text` is a Python shebang line (a script without a
    `.py` name), else None."""
    if not text or not text.startswith("#!"):
        return None
    return "python" if _PYTHON_SHEBANG.match(text.split("\n", 1)[0].rstrip()) else None


def from_tag(tag: str) -> str | None:
    tag = tag.strip().lower()
    return _BY_TAG.get(tag, tag) if tag else None


_PY_SIGNAL = re.compile(
    r"^\s*(?:(?:async\s+)?def\s+\w+\s*\(|class\s+\w+.*:\s*$|import\s+\w|from\s+[\w.]+\s+import\s"
    r"|try:\s*$|except\b.*:\s*$|with\s+.*:\s*$|if\s+__name__\s*==|@\w[\w.]*|elif\s.*:\s*$"
    r"|(?:for|while)\s.*:\s*$|print\()",
    re.M,
)


def python_error(code: str) -> SyntaxError | None:
    """Why `code` does not parse as Python, or None when it does."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            ast.parse(code)
    except SyntaxError as error:
        return error
    except (ValueError, MemoryError, RecursionError) as error:  # NUL bytes, absurd nesting
        return SyntaxError(str(error))
    return None


def cut_back(code: str, error: SyntaxError | None) -> str | None:
    """Code cut short, shortened once more: to the lines before the one `error` points at, or
    by its last line; None when nothing would be left. Whatever the output wrote before the
    cut is kept whole; a tail that cannot parse is what goes."""
    lines = code.rstrip("\n").split("\n")
    keep = len(lines) - 1
    if error is not None and error.lineno is not None and 1 < error.lineno <= len(lines):
        keep = error.lineno - 1
    while keep > 0 and not lines[keep - 1].strip():
        keep -= 1
    return "\n".join(lines[:keep]) + "\n" if keep > 0 else None


def guess(code: str, cut: bool = False) -> str | None:
    """ "python" when untagged code both looks like Python and parses (after dedenting), else
    None: a guess is only ever made when it is safe, and a failed guess is not reported. Code
    `cut` short needs only a part of it, from its start, to parse."""
    if not _PY_SIGNAL.search(code):
        return None
    text: str | None = textwrap.dedent(code)
    for _ in range(6 if cut else 1):
        if text is None:
            return None
        error = python_error(text)
        if error is None:
            return "python"
        text = cut_back(text, error)
    return None
