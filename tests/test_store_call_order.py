"""Calls are threaded in the order they happened: across both segments a proxy writes in turn,
across the spools of several proxies, across ingest batches and across ingests, and a store
threaded before this held is threaded again when it opens."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import openai
import pytest
import zstandard

from redline import config
from redline.proxy import ThreadedProxy
from redline.transcripts import RawExchange, SpoolWriter, new_id, open_store
from redline.transcripts.store import ingest as ingest_module
from tests.fakes.openai_chat import FakeOpenAI
from tests.support import Cli

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SPLIT_STORE = Path(__file__).parent / "fixtures" / "stores" / "split" / "recorded-0.1.0.duckdb.zst"


def chat_call(messages: list[dict[str, Any]], at: timedelta, answer: str) -> RawExchange:
    """A chat call made at START + `at` that sent `messages` and got `answer`."""
    when = START + at
    body = {"model": "gpt-x", "messages": messages}
    reply = {
        "id": f"chatcmpl-{answer}",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    return RawExchange(
        id=new_id(when),
        started_at=when,
        method="POST",
        path="/v1/chat/completions",
        query="",
        upstream="http://127.0.0.1:1",
        request_headers=[("content-type", "application/json")],
        request_body=json.dumps(body).encode(),
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=json.dumps(reply).encode(),
        ttfb_ms=1.0,
        duration_ms=2.0,
        outcome="complete",
    )


def conversation(tag: str, calls: int, first: timedelta, gap: timedelta) -> list[RawExchange]:
    """One conversation whose every call re-sends its history plus the next question."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"{tag}: question 0"}]
    out = []
    for i in range(calls):
        answer = f"{tag}-answer-{i}"
        out.append(chat_call(list(messages), first + gap * i, answer))
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": f"{tag}: question {i + 1}"},
        ]
    return out


def spool(db: Path, exchanges: list[RawExchange]) -> None:
    """The exchanges in a segment of their own, in the order given (one proxy's writes)."""
    writer = SpoolWriter(config.spool_dir(db))
    writer.append(exchanges)
    writer.close()


def threads(db: Path) -> list[list[tuple[int, int]]]:
    """Each conversation's calls as (seq, message count), in seq order; conversations by start."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            """
            SELECT c.id, e.seq, e.message_count FROM conversations c
            JOIN exchanges e ON e.conversation_id = c.id ORDER BY c.started_at, c.id, e.seq
            """
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[int, int]]] = {}
    for cid, seq, count in rows:
        out.setdefault(cid, []).append((seq, count))
    return list(out.values())


def ingest(db: Path) -> None:
    with open_store(db):
        pass


ONE_THREAD = [(1, 1), (2, 3), (3, 5)]


def test_two_conversations_recorded_through_the_proxy_30_ms_apart_are_two(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli, db_path: Path
) -> None:
    # The recorder writes its two segments in turn, switching at each fsync: with calls 30 ms
    # apart every other call lands in the other segment.
    with openai.OpenAI(
        base_url=proxy.url + "/v1", api_key=fake_openai.api_key, max_retries=0
    ) as client:
        for tag in ("first", "second"):
            messages: list[Any] = [{"role": "user", "content": f"{tag} task"}]
            for i in range(3):
                done = client.chat.completions.create(model="gpt-test", messages=messages)
                messages += [
                    {"role": "assistant", "content": done.choices[0].message.content},
                    {"role": "user", "content": f"{tag} step {i}"},
                ]
                time.sleep(0.03)
    proxy.flush()
    assert len(proxy.runner.recorder.segments) == 2  # type: ignore[union-attr]
    listed = cli.json("ls")["conversations"]
    assert [c["calls"] for c in listed] == [3, 3]
    for c in listed:
        calls = cli.json("ls", c["id"])["calls"]
        assert [call["messages"] for call in calls] == [1, 3, 5]


def test_calls_spread_over_two_proxies_spools_thread_in_start_order(db_path: Path) -> None:
    a = conversation("a", 4, timedelta(0), timedelta(seconds=2))
    b = conversation("b", 4, timedelta(seconds=1), timedelta(seconds=2))
    # Each proxy holds every other call of each conversation; the second one's segment is
    # named (and so read) first.
    spool(db_path, [b[1], a[1], b[3], a[3]])
    spool(db_path, [a[0], b[0], a[2], b[2]])
    ingest(db_path)
    assert threads(db_path) == [[(1, 1), (2, 3), (3, 5), (4, 7)]] * 2


def test_a_call_finishing_after_later_calls_is_still_threaded_by_its_start(db_path: Path) -> None:
    # Records are written as calls end: a long call that started first comes last.
    a = conversation("a", 3, timedelta(0), timedelta(seconds=5))
    spool(db_path, [a[1], a[2], a[0]])
    ingest(db_path)
    assert threads(db_path) == [ONE_THREAD]


def test_calls_are_threaded_in_start_order_across_ingest_batches(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "BATCH", 2)
    a = conversation("a", 3, timedelta(0), timedelta(seconds=5))
    b = conversation("b", 3, timedelta(seconds=1), timedelta(seconds=5))
    spool(db_path, [a[2], b[2], a[1], b[1], a[0], b[0]])
    ingest(db_path)
    assert threads(db_path) == [ONE_THREAD, ONE_THREAD]


def test_a_call_that_started_before_calls_already_stored_joins_their_conversation(
    db_path: Path, cli: Cli
) -> None:
    a = conversation("a", 3, timedelta(0), timedelta(seconds=5))
    spool(db_path, [a[1], a[2]])
    ingest(db_path)
    spool(db_path, [a[0]])  # a proxy restarted, or another proxy's spool arrived late
    ingest(db_path)
    assert threads(db_path) == [ONE_THREAD]
    (listed,) = cli.json("ls")["conversations"]
    assert listed["id"] == a[0].id  # named after its first call, as always
    assert listed["title"] == "a: question 0"


def test_a_late_call_leaves_other_conversations_and_their_sequence_alone(db_path: Path) -> None:
    early = conversation("early", 2, timedelta(0), timedelta(seconds=5))
    a = conversation("a", 3, timedelta(seconds=100), timedelta(seconds=5))
    spool(db_path, [*early, a[0], a[2]])
    ingest(db_path)
    spool(db_path, [a[1]])
    ingest(db_path)
    assert threads(db_path) == [[(1, 1), (2, 3)], ONE_THREAD]


def test_ingest_in_start_order_stays_idempotent(db_path: Path) -> None:
    a = conversation("a", 3, timedelta(0), timedelta(seconds=5))
    spool(db_path, [a[2], a[0]])
    spool(db_path, [a[1], a[0]])  # the same call in two spools is stored once
    ingest(db_path)
    ingest(db_path)
    assert threads(db_path) == [ONE_THREAD]


def test_opening_a_store_threaded_in_read_order_threads_it_again_in_call_order(
    tmp_path: Path, cli: Cli
) -> None:
    # Recorded before the fix: two conversations of three calls, 30 ms apart, through the
    # proxy; the store listed three conversations and one call out of order.
    db = tmp_path / "old.duckdb"
    db.write_bytes(zstandard.ZstdDecompressor().decompress(SPLIT_STORE.read_bytes()))
    assert len(threads(db)) == 3
    listed = cli.json("ls", "--db", str(db))["conversations"]
    assert [c["calls"] for c in listed] == [3, 3]
    assert threads(db) == [ONE_THREAD, ONE_THREAD]


def test_an_ingest_interrupted_between_batches_keeps_what_it_stored_and_the_next_finishes(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C (or a crash) after the first batch: its calls are stored with the offsets they
    # moved, and the segments' offsets never pass a record that is not stored.
    monkeypatch.setattr(ingest_module, "BATCH", 2)
    a = conversation("a", 3, timedelta(0), timedelta(seconds=5))
    b = conversation("b", 3, timedelta(seconds=1), timedelta(seconds=5))
    spool(db_path, [a[2], b[1], a[0]])
    spool(db_path, [b[2], a[1], b[0]])
    real_store = ingest_module._Batch.store
    batches = []

    def interrupted(self: object, calls: list[Any]) -> int:
        batches.append(len(calls))
        if len(batches) == 2:
            raise KeyboardInterrupt
        return real_store(self, calls)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(ingest_module._Batch, "store", interrupted)
        with pytest.raises(KeyboardInterrupt):
            ingest(db_path)
    assert [len(t) for t in threads(db_path)] == [1, 1]  # the first batch: a[0] and b[0]
    ingest(db_path)
    assert threads(db_path) == [ONE_THREAD, ONE_THREAD]
    assert list(config.spool_dir(db_path).glob("*.jsonl")) == []  # read to their ends: removed
