"""What a check may import: the built-ins use the same public surface a plugin does
(`redline.analyzers`, `redline.analyzers.python`, `redline.analyzers.sandbox` for a check that
runs code, `redline.transcripts`), and every name of `redline.analyzers.python` says what it
is."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import redline.analyzers
import redline.analyzers.python
from redline.analyzers import default_registry
from redline.analyzers.rules import BUILTINS
from redline.analyzers.testing import check_examples

PUBLIC = {
    "redline.analyzers",
    "redline.analyzers.python",
    "redline.analyzers.sandbox",
    "redline.transcripts",
}
WRITING_CHECKS = (Path(__file__).parent.parent / "docs" / "writing-checks.md").read_text()


def redline_imports(path: str) -> list[tuple[str, list[str]]]:
    tree = ast.parse(Path(path).read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("redline"):
            out.append((node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("redline")]
    return out


@pytest.mark.parametrize("module", BUILTINS, ids=[m.__name__.rsplit(".", 1)[1] for m in BUILTINS])
def test_a_builtin_rule_imports_only_the_public_surface(module: object) -> None:
    path = getattr(module, "__file__", "")
    for name, names in redline_imports(path):
        assert name in PUBLIC, f"{path} imports {name}"
        if name == "redline.analyzers":
            assert set(names) <= {*redline.analyzers.__all__, "sandbox"}, names


def test_every_name_of_the_python_module_is_documented() -> None:
    for name in redline.analyzers.python.__all__:
        assert getattr(redline.analyzers.python, name).__doc__, name


def test_the_python_module_names_are_all_exported() -> None:
    public = [n for n in vars(redline.analyzers.python) if not n.startswith("_")]
    assert sorted(set(public) - {"annotations"}) == sorted(redline.analyzers.python.__all__)


def test_the_documented_python_plugin_runs(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n# my_python_checks.py\n(.*?)```", WRITING_CHECKS, re.S)
    plugin = tmp_path / "my_python_checks.py"
    plugin.write_text(code)
    analyzer = default_registry([plugin], entry_points=False).get("no-eval")
    check_examples(analyzer)
