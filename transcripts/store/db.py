"""Short-lived DuckDB connections that wait politely for a lock held by another process."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from redline.errors import StoreLocked, StoreUnavailable

LOCK_WAIT_SECONDS = 15.0


def connect(path: Path, *, wait: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the database for writing, retrying with backoff while another process holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(path, f"cannot create its folder: {exc.strerror}") from None
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
                raise StoreUnavailable(path, message) from None
            if time.monotonic() >= deadline:
                holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
                if holder:
                    raise StoreLocked(path, holder.group(1), int(holder.group(2))) from None
                raise StoreLocked(path) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise StoreUnavailable(path, f"not a redline database ({exc})") from None
