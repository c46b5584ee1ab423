"""broad-except follows names a module binds only to a broad type (issue 15 item 2), only to
`contextlib.suppress`, and, with `allow-logging`, only to a logger: what `aliases_in`,
`suppressors_in` and `loggers_in` find, and what they leave alone."""

from __future__ import annotations

import pytest

from redline.analyzers.python import fragment
from redline.analyzers.rules.broad_except import aliases_in, loggers_in, suppressors_in


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


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("audit = logging.getLogger('audit')\n", {"audit"}),
        ("audit = structlog.get_logger()\nalso = audit\n", {"audit", "also"}),
        ("class A:\n    def __init__(self):\n        self.events = getLogger()\n", {".events"}),
    ],
    ids=["name", "second-name", "attribute"],
)
def test_a_stored_logger(code: str, found: set[str]) -> None:
    source = fragment(code)
    assert source is not None
    assert loggers_in(source) == found


@pytest.mark.parametrize(
    "code",
    [
        "audit = logging.getLogger('audit')\naudit = open_trail()\n",
        "def f(audit):\n    return audit\naudit = logging.getLogger()\n",
        "audit = make_logger()\n",
    ],
    ids=["rebound", "parameter", "other-factory"],
)
def test_not_a_stored_logger(code: str) -> None:
    source = fragment(code)
    assert source is not None
    assert loggers_in(source) == frozenset()


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("from contextlib import suppress as quiet\n", {"quiet"}),
        ("import contextlib as cl\nwith cl.suppress(OSError):\n    pass\n", {"cl.suppress"}),
        ("quiet = contextlib.suppress\n", {"quiet"}),
        ("from contextlib import suppress\n", set()),
        ("from contextlib import suppress as quiet\ndef quiet():\n    pass\n", set()),
    ],
    ids=["import-as", "module-as", "assignment", "plain-name", "rebound"],
)
def test_names_bound_to_suppress(code: str, found: set[str]) -> None:
    source = fragment(code)
    assert source is not None
    assert suppressors_in(source) == found
