"""A real project for the `run` check's tests: a git repository with a config loader and a real
test of it, and the answers a model gives to "add error handling to the config loader": one
that swallows every error (the test that a missing file raises fails) and one that does not."""

from __future__ import annotations

import subprocess
from pathlib import Path

LOADER = """import json


def load(path):
    with open(path) as f:
        return json.load(f)
"""

# The bad answer: Claude Code's Edit of the loader that swallows every error.
SWALLOW_OLD = "    with open(path) as f:\n        return json.load(f)\n"
SWALLOW_NEW = (
    "    try:\n        with open(path) as f:\n            return json.load(f)\n"
    "    except Exception:\n        return {}\n"
)
# The good answer: JSON errors say which file, a missing file still raises.
CAREFUL_NEW = (
    "    with open(path) as f:\n        try:\n            return json.load(f)\n"
    "        except json.JSONDecodeError as error:\n"
    '            raise ValueError(f"{path} is not valid JSON: {error}") from error\n'
)

TEST = """import json
import os
import tempfile
import unittest

from config import load


class LoadTest(unittest.TestCase):
    def test_a_missing_file_raises(self):
        with self.assertRaises(FileNotFoundError):
            load("/nonexistent/config.json")

    def test_it_reads_json(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "config.json")
            with open(path, "w") as f:
                json.dump({"debug": True}, f)
            self.assertEqual(load(path), {"debug": True})
"""

COMMAND = "python3 -m unittest -q"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repo(repo: Path) -> str:
    """The project, committed; returns the commit's short hash."""
    repo.mkdir(parents=True)
    (repo / "config.py").write_text(LOADER)
    (repo / "tests").mkdir()
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_config.py").write_text(TEST)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "init")
    return git(repo, "rev-parse", "--short", "HEAD")
