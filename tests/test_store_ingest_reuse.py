"""Ingest reads only what each call added: a history it saw a moment ago is reused, not parsed
again. The store it builds is exactly the store a full reading builds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, new_id, open_store
from redline.transcripts.store import prefixes

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def exchange(
    path: str, body: dict[str, Any], answer: dict[str, Any], at: int, key: str
) -> RawExchange:
    when = START + timedelta(seconds=at)
    return RawExchange(
        id=new_id(when),
        started_at=when,
        method="POST",
        path=path,
        query="",
        upstream="http://127.0.0.1:1",
        request_headers=[("content-type", "application/json"), ("session_id", key)],
        request_body=json.dumps(body).encode(),
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=json.dumps(answer).encode(),
        ttfb_ms=1.0,
        duration_ms=2.0,
        outcome="complete",
    )


def anthropic_session(n: int, tag: str) -> list[RawExchange]:
    """Claude Code-like: a cache breakpoint that moves to the newest message on every call."""
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": f"task {tag}"}]}
    ]
    out = []
    for i in range(n):
        for m in messages:
            for b in m["content"]:
                b.pop("cache_control", None)
        messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
        body = {"model": "claude", "max_tokens": 100, "system": "be careful", "messages": messages}
        reply = {"type": "tool_use", "id": f"toolu_{tag}{i}", "name": "Read", "input": {"n": i}}
        answer = {
            "id": f"msg_{tag}{i}",
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "content": [reply],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
        out.append(
            exchange("/v1/messages", json.loads(json.dumps(body)), answer, i * 3, f"a-{tag}")
        )
        messages.append({"role": "assistant", "content": [reply]})
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": reply["id"], "content": f"result {i}"}
                ],
            }
        )
    return out


def responses_session(n: int, tag: str) -> list[RawExchange]:
    """Codex-like: reasoning, text and a call in one answer are three items of one message."""
    items: list[dict[str, Any]] = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": f"do {tag}"}],
        }
    ]
    out = []
    for i in range(n):
        body = {"model": "gpt", "instructions": "be careful", "input": items}
        output = [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": f"think {i}"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": f"step {i}"}],
            },
            {"type": "function_call", "call_id": f"c{tag}{i}", "name": "shell", "arguments": "{}"},
        ]
        answer = {
            "id": f"resp_{tag}{i}",
            "object": "response",
            "status": "completed",
            "model": "gpt",
            "output": output,
        }
        out.append(
            exchange("/v1/responses", json.loads(json.dumps(body)), answer, i * 3 + 1, f"r-{tag}")
        )
        items = [
            *items,
            *output,
            {"type": "function_call_output", "call_id": f"c{tag}{i}", "output": f"ok {i}"},
        ]
    return out


def ingest(tmp: Path, exchanges: list[RawExchange]) -> dict[str, list[Any]]:
    db = tmp / "s.duckdb"
    writer = SpoolWriter(config.spool_dir(db))
    writer.append(exchanges)
    writer.close()
    with open_store(db) as store:

        def rows(sql: str) -> list[Any]:
            return store.con.execute(sql).fetchall()

        return {
            "nodes": rows("SELECT * FROM nodes ORDER BY id"),
            "exchanges": rows(
                "SELECT id, conversation_id, seq, request_node, response_node, message_count, "
                "request_decorations, tools_hash, system_hash, request_meta FROM exchanges ORDER BY id"
            ),
            "conversations": rows("SELECT * FROM conversations ORDER BY id"),
            "shown": [
                store.load_call(r[0]).to_json()["request"]
                for r in rows("SELECT id FROM exchanges ORDER BY id")
            ],
        }


@pytest.fixture
def recorded() -> list[RawExchange]:
    sessions = [anthropic_session(12, "a"), responses_session(12, "b"), anthropic_session(9, "c")]
    interleaved = [x for row in zip(*[s[:9] for s in sessions], strict=True) for x in row]
    return interleaved + sessions[0][9:] + sessions[1][9:]


def test_reusing_known_histories_stores_exactly_what_a_full_reading_stores(
    tmp_path: Path, recorded: list[RawExchange], monkeypatch: pytest.MonkeyPatch
) -> None:
    reused = ingest(tmp_path / "reused", recorded)
    monkeypatch.setattr(prefixes.PrefixCache, "reuse", lambda self, fmt, items: None)
    full = ingest(tmp_path / "full", recorded)
    assert reused == full
    assert len({r[1] for r in full["exchanges"]}) == 3  # three conversations


def test_each_call_reuses_the_history_of_the_call_before(
    recorded: list[RawExchange], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hits: list[int] = []
    original = prefixes.PrefixCache.reuse

    def counting(self: prefixes.PrefixCache, fmt: Any, items: list[Any]) -> Any:
        found = original(self, fmt, items)
        hits.append(0 if found is None else found.items)
        return found

    monkeypatch.setattr(prefixes.PrefixCache, "reuse", counting)
    ingest(tmp_path, recorded)
    # The first call of each session has nothing to reuse, nor has a Claude Code session's
    # second (its first message lost the cache breakpoint the first call put on it); every
    # later call reuses all but what the call before added (its answer and the tool result).
    assert hits.count(0) == 5
    # (The message that carried the previous breakpoint is read again too.)
    assert sum(hits) > 0.75 * sum(
        len(json.loads(x.request_body).get("messages", json.loads(x.request_body).get("input", [])))
        for x in recorded
    )
