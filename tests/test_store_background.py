"""A proxy keeps the store current in the background, and gives way to commands."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from redline import config
from redline.errors import StoreLocked
from redline.transcripts import SpoolWriter, open_store
from redline.transcripts.store.background import BackgroundIngest
from tests.test_store_ingest_reuse import anthropic_session


def pending_bytes(db: Path) -> int:
    with open_store(db, ingest=False) as store:
        done = dict(store.con.execute("SELECT segment, byte_offset FROM spool_progress").fetchall())
    return sum(p.stat().st_size - done.get(p.name, 0) for p in config.spool_dir(db).glob("*.jsonl"))


def test_a_round_ingests_what_a_live_proxy_wrote(db_path: Path) -> None:
    writer = SpoolWriter(config.spool_dir(db_path))
    try:
        writer.append(anthropic_session(5, "live"))
        background = BackgroundIngest(db_path)
        assert background.round() == 5
        assert pending_bytes(db_path) == 0  # a command finds nothing left to read
        writer.append(anthropic_session(3, "more"))
        assert background.round() == 3
    finally:
        writer.close()


def test_the_thread_ingests_when_poked(db_path: Path) -> None:
    writer = SpoolWriter(config.spool_dir(db_path))
    background = BackgroundIngest(db_path, interval=60).start()
    try:
        writer.append(anthropic_session(4, "poked"))
        background.poke()
        deadline = time.monotonic() + 20
        while background.ingested < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert background.ingested == 4
    finally:
        background.stop()
        writer.close()


def test_later_rounds_reuse_the_histories_of_earlier_ones(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redline.transcripts.store import prefixes

    session = anthropic_session(6, "r")
    writer = SpoolWriter(config.spool_dir(db_path))
    hits: list[int] = []
    original = prefixes.PrefixCache.reuse

    def counting(self: prefixes.PrefixCache, fmt: object, items: list[object]) -> object:
        found = original(self, fmt, items)  # type: ignore[arg-type]
        hits.append(0 if found is None else found.items)
        return found

    monkeypatch.setattr(prefixes.PrefixCache, "reuse", counting)
    background = BackgroundIngest(db_path)
    try:
        for x in session:  # one call per round, as a proxy would see them
            writer.append([x])
            background.round()
    finally:
        writer.close()
    # Call i re-sends 2i + 1 items; all but the two the call before added and the one that lost
    # its cache breakpoint are reused.
    assert hits[2:] == [2, 4, 6, 8]


def test_a_command_holding_the_database_makes_it_wait_not_fail(db_path: Path) -> None:
    with open_store(db_path):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db_path)!r}); print('held', flush=True); time.sleep(3)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    background = BackgroundIngest(db_path)
    started = time.monotonic()
    with pytest.raises(StoreLocked):
        background.round()
    assert time.monotonic() - started < 2.5  # it gave way at once instead of waiting
    holder.communicate(timeout=10)
    assert background.round() == 0
