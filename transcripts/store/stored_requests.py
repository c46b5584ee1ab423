"""A stored call's request without its messages (its shell), put back together.

Ingest stores a request body as the wire format split it: the history goes to the message tree,
the tool list and the system prompt to blobs by hash, the rest to `request_meta`. Every reader
that needs the request (`show`, `check --call`, scan, the web view's timeline) asks the format
to join those parts again here, so the way back stays the twin of `WireFormat.split_body`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from redline.transcripts import wire as wires
from redline.transcripts.model import Request
from redline.transcripts.store import bulk

# Which blob each kind of split-off value is stored under, by the exchanges column naming it.
_BLOB_COLUMNS: tuple[tuple[wires.BlobKind, str], ...] = (
    ("tools", "tools_hash"),
    ("system", "system_hash"),
)


def blob_digests(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The blobs these exchanges rows name."""
    return {r[column] for r in rows for _, column in _BLOB_COLUMNS if r[column]}


def blob_texts(con: duckdb.DuckDBPyConnection, digests: Iterable[str]) -> dict[str, str]:
    """The stored JSON text of these blobs, by hash (those that exist), in one query."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    rows = con.execute(
        "SELECT hash, content FROM blobs WHERE hash IN (SELECT unnest(?::JSON::VARCHAR[]))",
        [bulk.listed(wanted)],
    ).fetchall()
    return dict(rows)


def request_shell(row: Mapping[str, Any], blobs: Mapping[str, str]) -> Request:
    """The request of an exchanges row (`wire` and `request_meta` set) with no messages: its
    format joins the stored body and the blobs it names (`blobs`: hash -> JSON text)."""
    fmt = wires.get(row["wire"])
    parts: dict[wires.BlobKind, Any] = {}
    for kind, column in _BLOB_COLUMNS:
        digest = row[column]
        if digest is not None and digest in blobs:
            parts[kind] = json.loads(blobs[digest])
    return fmt.parse_request(fmt.join_body(wires.SplitBody(json.loads(row["request_meta"]), parts)))
