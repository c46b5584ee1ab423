"""Every registered analyzer's VALID and INVALID examples run as tests (Fixit style): the
built-ins and a plugin loaded from a file, through the same registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.analyzers import Analyzer, Example, default_registry
from redline.analyzers.testing import check_example, examples

PLUGIN = Path(__file__).parent / "corpus" / "plugins" / "no_print.py"
REGISTRY = default_registry([PLUGIN], entry_points=False)
EXAMPLES = [(analyzer, *rest) for analyzer in REGISTRY for rest in examples(analyzer)]


@pytest.mark.parametrize(
    ("analyzer", "name", "example", "valid"), EXAMPLES, ids=[e[1] for e in EXAMPLES]
)
def test_example(analyzer: Analyzer, name: str, example: Example, valid: bool) -> None:
    check_example(analyzer, example, valid)


@pytest.mark.parametrize("analyzer", list(REGISTRY), ids=REGISTRY.names())
def test_every_rule_has_valid_and_invalid_examples(analyzer: Analyzer) -> None:
    assert getattr(analyzer, "VALID", ()), f"{analyzer.name} has no VALID examples"
    assert getattr(analyzer, "INVALID", ()), f"{analyzer.name} has no INVALID examples"


def test_the_builtins_are_the_documented_seven_and_the_plugin_runs_beside_them() -> None:
    assert REGISTRY.names() == [
        "broad-except",
        "regex",
        "python-syntax",
        "placeholder",
        "test-tampering",
        "tool",
        "run",
        "no-print",
    ]
    assert REGISTRY.origin("broad-except") == "built-in"
    assert REGISTRY.origin("no-print") == f"plugin file {PLUGIN}"
