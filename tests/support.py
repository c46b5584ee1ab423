"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from redline.cli import app


class Cli:
    """Runs `redline` in-process; `json()` adds --json and parses what it prints."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int = 0) -> Any:
        result = self.runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == expect, (result.exit_code, result.output)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)
