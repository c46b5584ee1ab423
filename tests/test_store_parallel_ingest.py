"""A backlog is laid out in worker processes while this one threads and writes: the store it
makes is the store one process makes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, open_store
from redline.transcripts.store import ingest, workers
from tests.test_store_call_order import conversation
from tests.test_store_ingest_reuse import anthropic_session, exchange, responses_session

TABLES = {
    "exchanges": "id",
    "nodes": "id",
    "blobs": "hash",
    "conversations": "id",
    "spool_progress": "segment",
}


def dump(db: Path) -> dict[str, list[Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall() for t, k in TABLES.items()
        }
    finally:
        con.close()


def ingested(db: Path, *, in_workers: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as m:
        m.setattr(workers, "workers_for", lambda backlog: 2 if in_workers else 0)
        m.setattr(ingest, "BATCH", 7)  # several batches, laid out ahead of their writing
        with open_store(db):
            pass
    return dump(db)


def backlog(db: Path, exchanges: list[RawExchange]) -> Path:
    """The same spool for a second database."""
    writer = SpoolWriter(config.spool_dir(db))
    writer.append(exchanges)
    writer.close()
    twin = db.with_name("twin.duckdb")
    shutil.copytree(config.spool_dir(db), config.spool_dir(twin))
    return twin


def test_a_backlog_laid_out_in_workers_makes_the_store_one_process_makes(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    calls = [
        *anthropic_session(9, "a"),
        *anthropic_session(7, "b"),
        *responses_session(6, "r"),
        *conversation("chat", 5, timedelta(seconds=2), timedelta(seconds=3)),
    ]
    twin = backlog(db_path, calls)
    here = ingested(db_path, in_workers=False, monkeypatch=monkeypatch)
    there = ingested(twin, in_workers=True, monkeypatch=monkeypatch)
    assert len(here["exchanges"]) == len(calls)
    assert here == there


@pytest.mark.parametrize("in_workers", [True, False], ids=["workers", "this process"])
def test_a_value_the_database_cannot_hold_is_stored_raw_and_the_rest_parsed(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, in_workers: bool
) -> None:
    good = anthropic_session(6, "g")
    body = {"model": "claude", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}
    answer = {
        "id": "msg_huge",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 2**70, "output_tokens": 1},  # past BIGINT
    }
    huge = exchange("/v1/messages", body, answer, 7, "a-huge")
    twin = backlog(db_path, [*good, huge])
    stored = ingested(twin, in_workers=in_workers, monkeypatch=monkeypatch)
    assert len(stored["exchanges"]) == 7
    con = duckdb.connect(str(twin), read_only=True)
    try:
        problems = dict(con.execute("SELECT id, parse_error FROM exchanges").fetchall())
    finally:
        con.close()
    assert "stored raw: the parsed form could not be stored" in str(problems.pop(huge.id))
    assert set(problems.values()) == {None}
