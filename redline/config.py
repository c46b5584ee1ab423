"""Where redline keeps its data."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787

# Told (bytes done, bytes pending) while a command ingests a spool backlog; the CLI sets it to
# draw a progress bar on a terminal. None: silent.
ingest_progress: Callable[[int, int], None] | None = None


def db_path(explicit: str | Path | None = None) -> Path:
    """`--db`, else `$REDLINE_DB`, else the user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("REDLINE_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("redline")) / "redline.duckdb"


def checks_dir() -> Path:
    """The user's own checks: every command loads each `*.py` file here as a plugin, and
    `redline draft` saves the checks it proves here."""
    return Path(platformdirs.user_config_dir("redline")) / "checks"


def spool_dir(db: Path) -> Path:
    """The proxy's spool lives beside the database it feeds."""
    return db.with_name(db.name + ".spool")
