"""Bulk statements: DuckDB is columnar, so one statement costs about a millisecond whatever
its size. Ingest writes each table with one statement per batch, never one per row.

Values reach DuckDB in bulk, never as Python lists bound to a parameter: DuckDB 1.5 converts
such a list value by value, trying to import pandas twice for each one (some 50 µs a value
where pandas is not installed: seconds per batch). Rows go over as Arrow columns (nanoarrow
builds them in C); a list of keys goes over as one JSON text that DuckDB unpacks itself:
`WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))` with `listed(ids)` as the parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson


class Unstorable(ValueError):
    """A value that cannot go into the database (a lone surrogate in a string, an integer past
    64 bits): a problem of the row it belongs to."""


def listed(values: Iterable[str | int]) -> str:
    """A list as one query parameter, read as `?::JSON::VARCHAR[]` (or `BIGINT[]`...)."""
    try:
        return orjson.dumps(list(values)).decode()
    except TypeError as exc:  # a lone surrogate: DuckDB would refuse it too
        raise Unstorable(str(exc)) from None


def existing(
    con: duckdb.DuckDBPyConnection, table: str, key: str, ids: Collection[str]
) -> set[str]:
    """Which of `ids` are already in `table`."""
    if not ids:
        return set()
    rows = con.execute(
        f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest(?::JSON::VARCHAR[]))",
        [listed(ids)],
    )
    return {r[0] for r in rows.fetchall()}


def insert(
    con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, Sequence[Any]]
) -> None:
    """Insert rows given column by column (equal-length lists), in one statement."""
    with view(con, columns) as rows:
        if rows is not None:
            names = ", ".join(columns)
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {rows}")


@contextlib.contextmanager
def view(
    con: duckdb.DuckDBPyConnection, columns: Mapping[str, Sequence[Any]]
) -> Iterator[str | None]:
    """The rows given column by column as a view for the statements of the block (its name;
    None when there are no rows)."""
    lengths = {len(values) for values in columns.values()}
    assert len(lengths) == 1, f"columns of unequal length: {lengths}"
    count = lengths.pop()
    if not count:
        yield None
        return
    import nanoarrow as na  # type: ignore[import-untyped]  # ingest needs it; `redline ls` not

    arrays = {name: _array(na, values) for name, values in columns.items()}
    schema = na.struct({name: a.schema for name, a in arrays.items()})
    rows = na.Array(na.c_array_from_buffers(schema, count, [None], children=arrays.values()))
    name = f"_rows_{id(rows):x}"
    con.register(name, rows)
    try:
        yield name
    finally:
        con.unregister(name)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _array(na: Any, values: Sequence[Any]) -> Any:
    """One column as an Arrow array, typed after its values (DuckDB casts on insert)."""
    kinds = {type(v) for v in values if v is not None}
    try:
        if kinds <= {str}:  # all None too: DuckDB casts a NULL of any type
            return na.c_array(values, na.large_string())
        if kinds <= {bytes, bytearray, memoryview}:
            blobs = [v if v is None or isinstance(v, bytes) else bytes(v) for v in values]
            return na.c_array(blobs, na.large_binary())
        if kinds <= {bool}:
            return na.c_array(values, na.bool_())
        if kinds <= {int}:
            return na.c_array(values, na.int64())
        if kinds <= {int, float}:
            return na.c_array(values, na.float64())
        if all(issubclass(k, datetime) for k in kinds):
            micros = [None if v is None else _micros(v) for v in values]
            return na.c_array(micros, na.timestamp("us", timezone="UTC"))
    except ValueError as exc:  # nanoarrow's wrapping of what the value could not be
        raise Unstorable(str(exc.__cause__ or exc)) from None
    raise TypeError(f"no Arrow type for a column of {sorted(k.__name__ for k in kinds)}")


def _micros(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _EPOCH) // _MICROSECOND


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH
