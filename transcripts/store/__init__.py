"""The DuckDB store: short-lived connections, ingest from the spool, then read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from redline import config
from redline.transcripts.store import queries
from redline.transcripts.store.db import connect
from redline.transcripts.store.ingest import IngestReport, ingest_spool
from redline.transcripts.store.migrations import migrate
from redline.transcripts.store.queries import Call, CallSummary, ConversationSummary


class Store:
    """An open store. Use `open_store()`; the connection closes when the block ends."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path
        self.last_ingest = IngestReport()

    def ingest(self) -> IngestReport:
        self.last_ingest = ingest_spool(self.con, config.spool_dir(self.path))
        return self.last_ingest

    def conversations(self, limit: int | None = None) -> list[ConversationSummary]:
        return queries.conversations(self.con, limit)

    def conversation(self, prefix: str) -> ConversationSummary:
        return queries.conversation(self.con, prefix)

    def calls(self, conversation_id: str) -> list[CallSummary]:
        return queries.calls(self.con, conversation_id)

    def load_call(self, prefix: str) -> Call:
        return queries.load_call(self.con, prefix)


@contextmanager
def open_store(path: str | Path | None = None, *, ingest: bool = True) -> Iterator[Store]:
    """Open (creating and migrating as needed) and, by default, ingest what the proxy spooled."""
    db = config.db_path(path)
    con = connect(db)
    try:
        migrate(con)
        store = Store(con, db)
        if ingest:
            store.ingest()
        yield store
    finally:
        con.close()


__all__ = ["Call", "CallSummary", "ConversationSummary", "IngestReport", "Store", "open_store"]
