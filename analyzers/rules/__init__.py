"""The built-in checks, one rule per module, registered through the same hook as any plugin.

Each rule's module defines its analyzer class (with VALID and INVALID examples) and `ANALYZER`.
A rule too large for one module keeps its parts beside it, named `_RULE_PART.py`.
"""

from __future__ import annotations

from collections.abc import Callable

from redline.analyzers import Analyzer
from redline.analyzers.rules import (
    broad_except,
    placeholder,
    python_syntax,
    regex,
    run,
    test_tampering,
    tool,
)

BUILTINS = (broad_except, regex, python_syntax, placeholder, test_tampering, tool, run)


def register(add: Callable[[Analyzer], None]) -> None:
    for module in BUILTINS:
        add(module.ANALYZER)
