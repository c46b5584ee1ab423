"""The commands a user types most start quickly: they import only what they use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("aiohttp", "libcst", "mitmproxy", "tiktoken", "jsonschema", "pydantic")

PROBE = """
import runpy, sys
sys.argv = ["redline", *sys.argv[1:]]
try:
    runpy.run_module("redline", run_name="__main__")
except SystemExit:
    pass
import json
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def imported(db: Path, *args: str) -> list[str]:
    env = {**os.environ, "REDLINE_DB": str(db)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return list(json.loads(result.stderr.strip().splitlines()[-1]))


def test_ls_imports_neither_aiohttp_nor_libcst(db_path: Path) -> None:
    assert imported(db_path, "ls") == []


def test_help_imports_nothing_heavy(db_path: Path) -> None:
    assert imported(db_path, "--help") == []
    assert not db_path.exists()  # nor opens the database


def test_show_imports_neither_aiohttp_nor_libcst(db_path: Path) -> None:
    assert imported(db_path, "show", "NOTHING") == []
