"""Where redline keeps its data, and the settings file (`redline.toml`)."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from redline.errors import RedlineError, StoreUnavailable

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
CONFIG_NAME = "redline.toml"
LAKE_PREFIX = "ducklake:"
# In a lake's URL: a libpq keyword `password=` (in a connection string or a URI's query), or a
# URI's user:password@.
_PASSWORD = re.compile(r"(?:^|[\s:?&])password\s*=|://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)

# Told (bytes done, bytes pending) while a command ingests a spool backlog; the CLI sets it to
# draw a progress bar on a terminal. None: silent.
ingest_progress: Callable[[int, int], None] | None = None


@dataclass(frozen=True, slots=True)
class Lake:
    """A team's store: a DuckLake (`url`, `ducklake:postgres:...`) whose Parquet files live in
    `data_path`. The PostgreSQL password is never part of it (see `password_file`)."""

    url: str
    data_path: str
    password_file: Path | None = None

    def __str__(self) -> str:
        return self.url


# Where a store is: a DuckDB file, or a lake.
Location = Path | Lake


def config_dir() -> Path:
    """The user's config directory: redline.toml, the checks folder, the mitm CA."""
    return Path(platformdirs.user_config_dir("redline"))


def config_path(cwd: Path | None = None) -> Path | None:
    """`redline.toml` in the working directory, else in the user config directory."""
    here = (cwd or Path.cwd()) / CONFIG_NAME
    if here.is_file():
        return here
    user = config_dir() / CONFIG_NAME
    return user if user.is_file() else None


def read_config(path: Path) -> dict[str, Any]:
    """The settings file as a TOML document (a clear error when it is not one)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RedlineError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RedlineError(f"{path} is not valid TOML: {exc}") from None


def location(explicit: str | Path | None = None) -> Location:
    """`--db`, else `$REDLINE_DB`, else the user data directory's file. A value that starts
    with `ducklake:` names a lake; its data path comes from `$REDLINE_LAKE_DATA`, else from
    `data_path` in the `[lake]` table of redline.toml."""
    given = str(explicit) if explicit else os.environ.get("REDLINE_DB", "")
    if given.startswith(LAKE_PREFIX):
        return _lake(given)
    return db_path(explicit)


def db_path(explicit: str | Path | None = None) -> Path:
    """The database file: `--db`, else `$REDLINE_DB`, else the user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("REDLINE_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("redline")) / "redline.duckdb"


def refuse_password(url: str) -> None:
    """Refuse a lake URL that carries a password (and never repeat it): a command line shows
    in every process list and in shell histories."""
    if _PASSWORD.search(url):
        raise StoreUnavailable(
            "ducklake:... (the URL given)",
            "its URL holds a password, which would show in the process list; remove it and "
            "give the password in $PGPASSWORD, ~/.pgpass or password_file in the [lake] "
            "table of redline.toml",
        )


def _lake(url: str) -> Lake:
    refuse_password(url)  # first: no other message may repeat the URL
    settings = _lake_settings()
    data = os.environ.get("REDLINE_LAKE_DATA") or settings.get("data_path")
    where = "the [lake] table of redline.toml"
    if not data or not isinstance(data, str):
        raise RedlineError(
            f"{url} is a lake, and its data path is not set: set $REDLINE_LAKE_DATA, or "
            f'data_path = "/shared/folder" in {where}, to where its Parquet files go'
        )
    password_file = settings.get("password_file")
    if password_file is not None and not isinstance(password_file, str):
        raise RedlineError(f"password_file in {where} must be a path")
    if "://" in data:
        # DuckDB would fetch its httpfs extension from the network to reach it; redline never
        # downloads an extension, and object storage is not tested yet.
        raise RedlineError(
            f"the lake's data path {data} is object storage, which redline does not support "
            "yet: give a folder every machine can reach (a network share)"
        )
    return Lake(
        url,
        str(Path(data).expanduser()),
        Path(password_file).expanduser() if password_file else None,
    )


def _lake_settings() -> dict[str, Any]:
    path = config_path()
    if path is None:
        return {}
    table = read_config(path).get("lake", {})
    if not isinstance(table, dict):
        raise RedlineError(f"{path}: [lake] must be a table")
    unknown = sorted(set(table) - {"data_path", "password_file"})
    if unknown:
        raise RedlineError(f"{path}: [lake] has no setting {unknown[0]!r}")
    return table


def checks_dir() -> Path:
    """The user's own checks: every command loads each `*.py` file here as a plugin, and
    `redline draft` saves the checks it proves here."""
    return config_dir() / "checks"


def spool_dir(db: Location) -> Path:
    """The proxy's spool: beside a database file; for a lake, on this machine (each machine
    keeps its own), in the user data directory under a name made from the lake's."""
    if isinstance(db, Lake):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", db.url.removeprefix(LAKE_PREFIX)).strip("-")
        digest = hashlib.sha256(db.url.encode()).hexdigest()[:8]
        return Path(platformdirs.user_data_dir("redline")) / "lakes" / f"{slug[:60]}-{digest}.spool"
    return db.with_name(db.name + ".spool")
