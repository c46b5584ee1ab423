"""A team's store on DuckLake: a catalog in PostgreSQL, the data as Parquet files in a shared
folder, and DuckDB's SQL and tables as in a file.

The extensions come from their PyPI wheels (`duckdb-extension-*`, pinned with DuckDB) and are
loaded from the files inside them: nothing is downloaded, default security settings (the files
are signed). They are loaded only when a lake is opened, never for a file (0.5 s).

What a lake lacks, and what stands in for it:

* **No keys, no indexes, no ON CONFLICT.** The schema is created without them (migrations.py,
  `table` and `index`); rows stay unique because every write checks what is stored before it
  inserts, inside a transaction that no other write can commit beside.
* **No file lock: many writers.** DuckLake's transactions are optimistic: a commit fails when
  another writer committed a change it conflicts with, and inserts into one table do not
  conflict. So every write transaction on a lake also updates the one row of `lake_writes`
  (the *fence*): any two write transactions conflict, the second one's commit fails, and it is
  run again (db.write) on what the first one committed. Writes to a lake are serialized as
  writes to a file are. So that writers wait their turn rather than race and redo their work,
  a write on a PostgreSQL catalog also holds an advisory lock (`exclusive`); the fence is what
  makes a race safe, the lock what makes it rare.

Credentials: the PostgreSQL password comes from `PGPASSWORD` or `~/.pgpass` (libpq reads them)
or from `password_file` (given to DuckDB as a temporary secret, in memory only). A URL with a
password in it is refused: it would sit in the process list and in shell histories.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import duckdb

from redline.config import Lake, refuse_password
from redline.errors import StoreUnavailable, StoreWriteFailed

CATALOG = "lake"
FENCE = "lake_writes"
# (extension, the PyPI package whose wheel holds its file)
EXTENSIONS = (
    ("postgres_scanner", "duckdb_extension_postgres_scanner"),
    ("ducklake", "duckdb_extension_ducklake"),
)

_POOL: dict[Lake, list[duckdb.DuckDBPyConnection]] = {}
_POOL_LOCK = threading.Lock()
_POOL_SIZE = 4
_INIT_TRIES = 5
# The advisory lock writers take (exclusive): a key of redline's own among the catalog's locks.
_POSTGRES = "ducklake:postgres:"
_LOCK_DB = "redline_lock"
_LOCK_KEY = 0x7265646C696E65  # "redline"
_LOCKS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection] = (
    weakref.WeakKeyDictionary()
)
_LAKES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Lake] = weakref.WeakKeyDictionary()


def extension_file(name: str, package: str) -> Path:
    """The extension's file inside its wheel (for the DuckDB this process runs)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package} is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    path = folder / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing ({package} is not for DuckDB {duckdb.__version__})"
        )
    return path


def load_extension(con: duckdb.DuckDBPyConnection, name: str, package: str) -> None:
    con.execute(f"LOAD '{_quoted(str(extension_file(name, package)))}'")


def lake_of(con: duckdb.DuckDBPyConnection) -> Lake | None:
    """The lake `con` was opened on by `connect` (None: a file)."""
    return _LAKES.get(con)


def conflicted(exc: BaseException) -> bool:
    """Whether a failed commit lost to another writer's (and may simply be run again)."""
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def fence(con: duckdb.DuckDBPyConnection) -> None:
    """Make the current transaction conflict with every other write transaction on the lake."""
    con.execute(f"UPDATE {FENCE} SET writes = writes + 1")


@contextlib.contextmanager
def exclusive(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """While the block runs, no other writer on this lake runs a write block (the fence makes
    a write that raced run again; this makes it wait instead of doing its work twice).

    A PostgreSQL advisory lock, held by a transaction on a connection of its own (a second
    DuckDB with the PostgreSQL scanner), opened before the write's transaction and closed after
    its commit, so the next writer starts on a snapshot that holds this one's work. Catalogs
    other than PostgreSQL have no such lock: the fence alone serializes their writers."""
    lake = lake_of(con)
    if lake is None or not lake.url.startswith(_POSTGRES):
        yield
        return
    lock = _locked(con, lake)
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            lock.execute("COMMIT")  # ends the lock's transaction: the lock is released


def _locked(con: duckdb.DuckDBPyConnection, lake: Lake) -> duckdb.DuckDBPyConnection:
    """The lock's connection, in a transaction that holds the lock. A catalog that cannot be
    reached is a StoreWriteFailed naming the lake (the lock's connection is made again)."""
    try:
        lock = _LOCKS.get(con)
        if lock is None:
            lock = _LOCKS[con] = _lock_connection(lake)
        lock.execute("BEGIN TRANSACTION")
        try:
            lock.execute(
                f"SELECT * FROM postgres_query('{_LOCK_DB}', "
                f"'SELECT pg_advisory_xact_lock({_LOCK_KEY})')"
            ).fetchall()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                lock.execute("ROLLBACK")
            raise
    except duckdb.Error as exc:
        broken = _LOCKS.pop(con, None)
        if broken is not None:
            broken.close()
        raise StoreWriteFailed(_reason(exc, lake), lake.url) from None
    return lock


def _lock_connection(lake: Lake) -> duckdb.DuckDBPyConnection:
    lock = duckdb.connect()
    try:
        load_extension(lock, *EXTENSIONS[0])
        if lake.password_file is not None:
            _password_secret(lock, lake)
        catalog = lake.url.removeprefix(_POSTGRES)
        lock.execute(f"ATTACH '{_quoted(catalog)}' AS {_LOCK_DB} (TYPE postgres, READ_ONLY)")
    except BaseException:
        lock.close()
        raise
    return lock


def maintain(con: duckdb.DuckDBPyConnection) -> bool:
    """Fold small writes together: rows inlined in the catalog go to Parquet, and adjacent
    small files of a table are merged (a day of background ingest makes many). Files merged
    away stay until an administrator expires old snapshots (DuckLake's
    `ducklake_expire_snapshots`, `ducklake_cleanup_old_files`): readers of older snapshots keep
    working. Returns whether it ran; a conflict with another writer leaves it for next time."""
    try:
        for step in ("ducklake_flush_inlined_data", "ducklake_merge_adjacent_files"):
            con.execute(f"CALL {step}('{CATALOG}')").fetchall()
    except duckdb.TransactionException as exc:
        if conflicted(exc):
            return False
        raise
    return True


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A connection to the lake, its catalog attached as the default database."""
    refuse_password(lake.url)
    for attempt in range(_INIT_TRIES):
        try:
            return _connect(lake, last=attempt == _INIT_TRIES - 1)
        except _RaceLost:
            # Two first opens of a new lake both made DuckLake's own tables: one lost, and
            # finds them made when it tries again.
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable: the last attempt raises what it meets")


class _RaceLost(Exception):
    pass


def _connect(lake: Lake, *, last: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, package in EXTENSIONS:
            load_extension(con, name, package)
        if lake.password_file is not None:
            _password_secret(con, lake)
        con.execute(
            f"ATTACH '{_quoted(lake.url)}' AS {CATALOG} (DATA_PATH '{_quoted(lake.data_path)}')"
        )
        con.execute(f"USE {CATALOG}")
        _bootstrap(con)
    except FileNotFoundError as exc:
        con.close()
        raise StoreUnavailable(lake.url, f"{exc}; reinstall redline") from None
    except duckdb.Error as exc:
        con.close()
        if (
            not last
            and "Failed to initialize DuckLake" in str(exc)
            and "already exists" in str(exc)
        ):
            raise _RaceLost from None
        raise StoreUnavailable(lake.url, _reason(exc, lake)) from None
    _LAKES[con] = lake
    return con


def checkout(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A connection to `lake`: one this process used before and gave back, else a new one."""
    with _POOL_LOCK:
        idle = _POOL.get(lake)
        if idle:
            return idle.pop()
    return connect(lake)


def checkin(con: duckdb.DuckDBPyConnection, *, healthy: bool) -> None:
    """Give a connection back for the next `checkout`; closed when it may be broken (an error
    from DuckDB or the catalog) or enough are kept."""
    lake = lake_of(con)
    if healthy and lake is not None:
        with _POOL_LOCK:
            idle = _POOL.setdefault(lake, [])
            if len(idle) < _POOL_SIZE:
                idle.append(con)
                return
    close(con)


def close(con: duckdb.DuckDBPyConnection) -> None:
    """Close a lake's connection, and its lock's."""
    lock = _LOCKS.pop(con, None)
    if lock is not None:
        lock.close()
    con.close()


def close_all() -> None:
    """Close the connections the pool keeps (a test's lake is going away)."""
    with _POOL_LOCK:
        idle = [con for cons in _POOL.values() for con in cons]
        _POOL.clear()
    for con in idle:
        close(con)


def _password_secret(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """The password of `password_file` as DuckDB's default PostgreSQL secret: in this
    process's memory only, never in a URL, a log or the store."""
    assert lake.password_file is not None
    try:
        password = lake.password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StoreUnavailable(
            lake.url, f"cannot read the password_file {lake.password_file}: {exc.strerror}"
        ) from None
    con.execute(f"CREATE TEMPORARY SECRET (TYPE postgres, PASSWORD '{_quoted(password)}')")


def _bootstrap(con: duckdb.DuckDBPyConnection) -> None:
    """The fence's table and its one row, made once however many first opens race (two
    creates of one table conflict: the loser finds it made)."""
    try:
        if con.execute(f"SELECT count(*) FROM {FENCE}").fetchone() != (0,):
            return  # made already: the usual case, one read
    except duckdb.CatalogException:
        pass
    delay = 0.05
    for _ in range(50):
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE TABLE IF NOT EXISTS {FENCE} (writes BIGINT NOT NULL)")
            con.execute(f"INSERT INTO {FENCE} SELECT 0 WHERE NOT EXISTS (FROM {FENCE})")
            con.execute("COMMIT")
            return
        except duckdb.TransactionException as exc:
            if not conflicted(exc):
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    raise duckdb.TransactionException("the lake's first open kept conflicting")


def _reason(exc: duckdb.Error, lake: Lake) -> str:
    """DuckDB's words, shortened to what says what went wrong."""
    text = " ".join(str(exc).split())
    if "does not match existing data path" in text:
        found = re.search(r'existing data path in the catalog "([^"]*)"', text)
        where = found.group(1) if found else "another folder"
        return (
            f"its data path is {where}, not {lake.data_path}; set $REDLINE_LAKE_DATA (or "
            "data_path in redline.toml) to the lake's folder, as every machine must see it"
        )
    found = re.search(r"Unable to connect to Postgres at \"[^\"]*\": (.*?)(?: LINE \d+:|$)", text)
    if found:
        return f"cannot reach its PostgreSQL catalog: {found.group(1)}"
    return text


def _quoted(text: str) -> str:
    return text.replace("'", "''")
