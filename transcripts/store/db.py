"""Short-lived DuckDB connections that wait politely for a lock held by another process."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from redline.errors import RedlineError, StoreLocked

LOCK_WAIT_SECONDS = 15.0


def connect(path: Path, *, wait: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the database for writing, retrying with backoff while another process holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RedlineError(
            f"cannot create the folder for the database {path}: {exc.strerror}; check --db / REDLINE_DB"
        ) from None
    deadline = time.monotonic() + wait
    delay = 0.02
    while True:
        try:
            con = duckdb.connect(str(path))
            con.execute("SET TimeZone = 'UTC'")
            return con
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise RedlineError(f"cannot open the database {path}: {message}") from None
            if time.monotonic() >= deadline:
                holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
                who = f"{holder.group(1)} (PID {holder.group(2)})" if holder else "another process"
                raise StoreLocked(
                    f"the database {path} is locked by {who}; wait for it to finish or stop it"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise RedlineError(
                f"cannot open {path} as a redline database ({exc}); check --db / REDLINE_DB"
            ) from None
