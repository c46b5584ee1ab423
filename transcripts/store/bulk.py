"""Bulk statements: DuckDB is columnar, so one statement costs about a millisecond whatever
its size. Ingest writes each table with one statement per batch, never one per row."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import duckdb


def existing(
    con: duckdb.DuckDBPyConnection, table: str, key: str, ids: Collection[str]
) -> set[str]:
    """Which of `ids` are already in `table`."""
    if not ids:
        return set()
    rows = con.execute(
        f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]
    ).fetchall()
    return {r[0] for r in rows}


def insert(
    con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, Sequence[Any]]
) -> None:
    """Insert rows given column by column (equal-length lists), in one statement."""
    lengths = {len(values) for values in columns.values()}
    assert len(lengths) == 1, f"columns of unequal length for {table}: {lengths}"
    if not lengths.pop():
        return
    names = ", ".join(columns)
    # unnest of several lists in one SELECT zips them into rows.
    unnests = ", ".join(f"unnest(?) AS c{i}" for i in range(len(columns)))
    con.execute(
        f"INSERT INTO {table} ({names}) SELECT * FROM (SELECT {unnests})",
        [list(v) for v in columns.values()],
    )
