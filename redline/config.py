"""Where redline keeps its data."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


def db_path(explicit: str | Path | None = None) -> Path:
    """`--db`, else `$REDLINE_DB`, else the user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("REDLINE_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("redline")) / "redline.duckdb"


def spool_dir(db: Path) -> Path:
    """The proxy's spool lives beside the database it feeds."""
    return db.with_name(db.name + ".spool")
