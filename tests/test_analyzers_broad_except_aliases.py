"""broad-except follows names the module binds only to a broad type (issue 15 item 2): what
`aliases_in` finds, and what it leaves alone."""

from __future__ import annotations

import pytest

from redline.analyzers.python import fragment
from redline.analyzers.rules.broad_except import aliases_in


def aliases(code: str) -> dict[str, str]:
    source = fragment(code)
    assert source is not None
    return aliases_in(source)


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("E = Exception\n", {"E": "Exception"}),
        ("E: type = BaseException\n", {"E": "BaseException"}),
        ("E = builtins.Exception\n", {"E": "builtins.Exception"}),
        ("from builtins import Exception as E\n", {"E": "Exception"}),
        ("BROAD = (\n    OSError,\n    Exception,\n)\n", {"BROAD": "(OSError, Exception)"}),
        ("E = F = Exception\n", {"E": "Exception", "F": "Exception"}),
        ("E = Exception\nANY = [KeyError, E]\n", {"E": "Exception", "ANY": "[KeyError, E]"}),
        ("def f():\n    E = Exception\n    return E\n", {"E": "Exception"}),
    ],
    ids=[
        "assignment",
        "annotated",
        "builtins-attribute",
        "import-from-builtins",
        "tuple-over-lines",
        "chained-assignment",
        "alias-of-alias",
        "inside-a-function",
    ],
)
def test_an_alias(code: str, found: dict[str, str]) -> None:
    assert aliases(code) == found


@pytest.mark.parametrize(
    "code",
    [
        "E = ValueError\n",
        "RETRY = (ConnectionError, TimeoutError)\n",
        "class E(Exception):\n    pass\n",
        "from errors import Exception as E\n",
        "E = Exception\nE = ValueError\n",
        "E = Exception\nfor E in kinds:\n    pass\n",
        "E = Exception\ndef f(E):\n    return E\n",
        "E = Exception\nimport E\n",
        "E, F = Exception, ValueError\n",
        "E = Exception\ntry:\n    f()\nexcept KeyError as E:\n    pass\n",
        "x = e == Exception\n",
    ],
    ids=[
        "narrow",
        "narrow-tuple",
        "subclass",
        "import-from-elsewhere",
        "rebound-narrow",
        "for-target",
        "parameter",
        "import",
        "unpacking",
        "except-as",
        "comparison",
    ],
)
def test_not_an_alias(code: str) -> None:
    assert aliases(code) == {}
