"""The analyzer registry. Built-ins, installed plugins and plugin files all arrive the same way:
a module (or a callable) whose `register(add)` hook calls `add(analyzer)` for each analyzer.

* built-in: `redline.analyzers.rules` (`BUILTINS`), loaded first, by name;
* installed: entry points in group `redline.analyzers` naming a module or a `register` callable;
* a file: `--plugin path/to/checks.py`, a module with a `register(add)` function;
* a folder of such files (the user's checks folder, where `redline draft` saves): each `*.py`
  file in it, in name order; one that fails to load is reported through `warn` and skipped.

A file is loaded once however it is named (a `--plugin` that names a file of the folder again
adds nothing).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from redline.analyzers._analyzer import Analyzer
from redline.analyzers._model import Option
from redline.errors import RedlineError

ENTRY_POINT_GROUP = "redline.analyzers"
# The built-in checks: a module loaded by name, as an entry point names one, so the built-ins
# use exactly the seam a plugin does (and the registry does not depend on them).
BUILTINS = "redline.analyzers.rules"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


class Registry:
    def __init__(self) -> None:
        self._analyzers: dict[str, Analyzer] = {}
        self._origins: dict[str, str] = {}
        self._files: dict[Path, None] = {}  # plugin files loaded, resolved, in order

    def __iter__(self) -> Iterator[Analyzer]:
        return iter(self._analyzers.values())

    def __len__(self) -> int:
        return len(self._analyzers)

    def names(self) -> list[str]:
        return list(self._analyzers)

    def origin(self, name: str) -> str:
        return self._origins[name]

    @property
    def plugin_files(self) -> list[Path]:
        """The plugin files loaded, in order: what another process loads to hold the same
        checks (a scan's workers)."""
        return list(self._files)

    def get(self, name: str) -> Analyzer:
        try:
            return self._analyzers[name]
        except KeyError:
            known = ", ".join(self._analyzers)
            raise RedlineError(
                f"unknown check {name!r}; known checks: {known} (see `redline analyzers`)"
            ) from None

    def add(self, analyzer: Any, origin: str = "") -> None:
        problem = _shape_problem(analyzer)
        if problem:
            raise RedlineError(f"{origin or 'a plugin'} registered an invalid analyzer: {problem}")
        existing = self._analyzers.get(analyzer.name)
        if existing is not None and existing is not analyzer:
            raise RedlineError(
                f"{origin or 'a plugin'} registers check {analyzer.name!r}, "
                f"already registered by {self._origins[analyzer.name]}; rename one of them"
            )
        self._analyzers[analyzer.name] = analyzer
        self._origins[analyzer.name] = origin

    def load(self, plugin: Any, origin: str) -> None:
        """Call a plugin's hook: `plugin.register(add)` for a module, `plugin(add)` for a
        callable."""
        hook = plugin.register if isinstance(plugin, ModuleType) else plugin
        if not callable(hook):
            raise RedlineError(f"{origin} has no register(add) function")
        hook(lambda analyzer: self.add(analyzer, origin))

    def load_file(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise RedlineError(f"plugin file {str(path)!r} does not exist")
        if path.resolve() in self._files:
            return
        digest = hashlib.blake2b(str(path.resolve()).encode(), digest_size=6).hexdigest()
        name = f"redline_plugin_{re.sub(r'\W', '_', path.stem)}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RedlineError(f"plugin file {str(path)!r} is not a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except Exception as error:  # a plugin's own code may raise anything; say so and stop
            sys.modules.pop(name, None)
            raise RedlineError(
                f"plugin file {str(path)!r} failed to load: {type(error).__name__}: {error}"
            ) from error
        if not callable(getattr(module, "register", None)):
            raise RedlineError(f"plugin file {str(path)!r} defines no register(add) function")
        self.load(module, f"plugin file {path}")
        self._files[path.resolve()] = None

    def load_folder(self, folder: Path, warn: Callable[[str], None]) -> None:
        """Each `*.py` file of `folder` (none when it does not exist), in name order. One that
        fails to load is reported through `warn` and skipped, as an installed plugin is."""
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.py")):
            try:
                self.load_file(path)
            except RedlineError as error:
                warn(f"{error} (skipped; it is in {folder}, which every command loads)")

    def load_entry_points(self, warn: Callable[[str], None]) -> None:
        """Installed plugins. One that fails to load is reported through `warn` and skipped, so
        a broken package cannot take every check down with it."""
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            origin = f"entry point {entry.name} ({entry.value})"
            try:
                self.load(entry.load(), origin)
            except RedlineError as error:
                warn(str(error))
            except Exception as error:  # third-party import-time failures of any kind
                warn(f"{origin} failed to load: {type(error).__name__}: {error}")


def _shape_problem(analyzer: Any) -> str | None:
    if not isinstance(analyzer, Analyzer):
        return f"{analyzer!r} lacks name, description, options or check()"
    if not isinstance(analyzer.name, str) or not _NAME.fullmatch(analyzer.name):
        return f"name {analyzer.name!r} is not lowercase letters, digits, '-', '_' or '.'"
    if not isinstance(analyzer.description, str) or "\n" in analyzer.description:
        return f"{analyzer.name}: description must be one line of text"
    if not all(isinstance(o, Option) for o in analyzer.options):
        return f"{analyzer.name}: options must be Option objects"
    return None


def default_registry(
    plugin_files: Iterable[str | Path] = (),
    *,
    entry_points: bool = True,
    folder: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Registry:
    """Built-ins, then installed plugins, then the files of `folder`, then plugin files."""
    registry = Registry()
    registry.load(importlib.import_module(BUILTINS), "built-in")
    if entry_points:
        registry.load_entry_points(warn or (lambda message: None))
    if folder is not None:
        registry.load_folder(folder, warn or (lambda message: None))
    for path in plugin_files:
        registry.load_file(path)
    return registry
