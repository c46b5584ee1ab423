"""Plugins arrive like the built-ins: a `register(add)` hook in a file or an entry point."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from redline.analyzers import ENTRY_POINT_GROUP, Registry, default_registry
from redline.errors import RedlineError

PLUGIN = """
from redline.analyzers import Verdict

class Always:
    name = "always-pass"
    description = "passes"
    options = ()

    def check(self, output, context):
        return Verdict(True)

def register(add):
    add(Always())
"""


def write(tmp_path: Path, text: str, name: str = "plugin.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_plugin_file_registers_its_analyzers(tmp_path: Path) -> None:
    registry = default_registry([write(tmp_path, PLUGIN)], entry_points=False)
    assert "always-pass" in registry.names()


def test_a_missing_plugin_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RedlineError, match="does not exist"):
        default_registry([tmp_path / "nope.py"], entry_points=False)


def test_a_plugin_that_raises_on_import_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RedlineError, match="failed to load: ZeroDivisionError"):
        default_registry([write(tmp_path, "1 / 0\n")], entry_points=False)


def test_a_plugin_without_register_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RedlineError, match="no register"):
        default_registry([write(tmp_path, "x = 1\n")], entry_points=False)


def test_an_analyzer_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    bad = "class A:\n    name = 'Bad Name'\n    description = 'x'\n    options = ()\n    def check(self, o, c): pass\ndef register(add):\n    add(A())\n"
    with pytest.raises(RedlineError, match="not lowercase"):
        default_registry([write(tmp_path, bad)], entry_points=False)
    with pytest.raises(RedlineError, match="lacks name"):
        default_registry(
            [write(tmp_path, "def register(add):\n    add(object())\n", "p2.py")],
            entry_points=False,
        )


def test_a_name_taken_by_a_builtin_is_refused(tmp_path: Path) -> None:
    clash = PLUGIN.replace('"always-pass"', '"broad-except"')
    with pytest.raises(RedlineError, match="already registered by built-in"):
        default_registry([write(tmp_path, clash)], entry_points=False)


def test_unknown_check_names_the_known_ones() -> None:
    with pytest.raises(RedlineError, match="known checks: broad-except, regex"):
        default_registry(entry_points=False).get("broad-exept")


class FakeEntryPoint:
    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = f"fake:{name}"
        self._value = value

    def load(self) -> object:
        if isinstance(self._value, Exception):
            raise self._value
        return self._value


def test_entry_points_load_modules_and_callables_and_skip_broken_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = ModuleType("fake_plugin")
    exec(PLUGIN, module.__dict__)
    other = ModuleType("fake_other")
    exec(PLUGIN.replace('"always-pass"', '"also-pass"'), other.__dict__)
    points = [
        FakeEntryPoint("mod", module),
        FakeEntryPoint("fn", other.register),
        FakeEntryPoint("broken", ImportError("no module named x")),
    ]

    def entry_points(group: str) -> list[Any]:
        assert group == ENTRY_POINT_GROUP
        return points

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    warnings: list[str] = []
    registry = default_registry(warn=warnings.append)
    assert {"always-pass", "also-pass"} <= set(registry.names())
    assert registry.origin("always-pass") == "entry point mod (fake:mod)"
    assert warnings == [
        "entry point broken (fake:broken) failed to load: ImportError: no module named x"
    ]


def test_builtins_register_through_the_plugin_hook() -> None:
    from redline.analyzers import rules

    registry = Registry()
    registry.load(rules, "built-in")
    assert registry.names() == default_registry(entry_points=False).names()


# -- the user's checks folder ----------------------------------------------------------------------


def test_each_file_of_the_checks_folder_is_a_plugin_and_a_broken_one_is_a_warning(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "checks"
    folder.mkdir()
    write(folder, PLUGIN, "a_pass.py")
    write(folder, "1 / 0\n", "b_broken.py")
    write(folder, PLUGIN.replace('"always-pass"', '"also-pass"'), "c_also.py")
    write(folder, "not python", "notes.txt")
    warnings: list[str] = []
    registry = default_registry(entry_points=False, folder=folder, warn=warnings.append)
    assert {"always-pass", "also-pass"} <= set(registry.names())
    assert registry.plugin_files == [folder / "a_pass.py", folder / "c_also.py"]
    (warning,) = warnings
    assert "b_broken.py' failed to load: ZeroDivisionError" in warning
    assert warning.endswith(f"(skipped; it is in {folder}, which every command loads)")


def test_a_plugin_file_named_again_is_loaded_once(tmp_path: Path) -> None:
    folder = tmp_path / "checks"
    folder.mkdir()
    path = write(folder, PLUGIN, "mine.py")
    registry = default_registry([path, folder / ".." / "checks" / "mine.py"], folder=folder)
    assert registry.origin("always-pass") == f"plugin file {path}"
    assert registry.plugin_files == [path.resolve()]


def test_every_command_loads_the_users_checks_folder(tmp_path: Path) -> None:
    from redline import config
    from tests.support import Cli

    config.checks_dir().mkdir(parents=True)
    path = write(config.checks_dir(), PLUGIN, "mine.py")
    code = write(tmp_path, "x = 1\n", "code.py")
    cli = Cli()
    assert "always-pass  pass" in cli("check", "-c", "always-pass", str(code)).stdout
    listed = cli("analyzers").stdout
    assert "always-pass" in listed and f"[plugin file {path}]" in listed
    assert f"Your checks folder: {config.checks_dir()}" in listed
