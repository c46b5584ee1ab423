"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from redline.cli import app


@functools.cache
def sandbox_unavailable() -> str | None:
    """Why bubblewrap cannot start here (None: it can)."""
    from redline.analyzers import sandbox

    try:
        sandbox.require()
    except sandbox.SandboxUnavailable as error:
        return str(error)
    return None


# A module of tests of code run in the sandbox: skipped, with the reason, only where it cannot start.
needs_sandbox = pytest.mark.skipif(
    sandbox_unavailable() is not None,
    reason=f"bubblewrap cannot start here: {sandbox_unavailable()}",
)


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
