"""The message tree: each distinct prefix stored once, calls threaded into conversations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts import wire
from redline.transcripts.store import open_store
from redline.transcripts.store.tree import chain
from tests.fakes import http
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.support import Cli

SYSTEM = "You are a coding agent working in /repo. " + "Follow the rules. " * 100


def two_kb(label: str, i: int) -> str:
    return f"{label} {i}: " + (f"line {i} of a long tool output or instruction\n" * 50)[:2000]


def test_a_40_call_agent_conversation_stores_each_message_once(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    history: list[Any] = [{"role": "system", "content": SYSTEM}]
    sent_bytes = 0
    for i in range(40):
        history.append({"role": "user", "content": two_kb("request", i)})
        fake_openai.script.append(Answer(text=two_kb("answer", i)))
        answer = c.chat.completions.create(model="gpt-test", messages=history)
        sent_bytes += len(fake_openai.received[-1].body)
        history.append({"role": "assistant", "content": answer.choices[0].message.content})
    proxy.flush()

    convs = cli.json("ls")["conversations"]
    assert len(convs) == 1 and convs[0]["calls"] == 40
    with open_store() as store:
        nodes, stored = store.con.execute(
            "SELECT count(*), sum(length(content)) FROM nodes"
        ).fetchone()  # type: ignore[misc]
        per_role = dict(
            store.con.execute("SELECT role, count(*) FROM nodes GROUP BY role").fetchall()
        )
    # 1 system prompt + 40 requests + 40 answers, each once: the re-sent history adds nothing.
    assert nodes == 81
    assert per_role == {"system": 1, "user": 40, "assistant": 40}
    with capsys.disabled():
        print(
            f"\n[dedup] 40 calls sent {sent_bytes / 1e6:.2f} MB of requests; the tree stores "
            f"{stored / 1e6:.3f} MB of messages: {sent_bytes / stored:.1f}x smaller"
        )
    assert sent_bytes / stored > 15


# A history with what serializers disagree on: text outside ASCII, control characters, U+2028,
# a float in exponent form, an integer past 64 bits, keys out of order, a cache breakpoint.
STABLE_HISTORY: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "messages": [
        {"role": "user", "content": "Réparez le chargeur: « ça plante » \u2028 ok\ttab \x01 😀"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll look."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "Edit",
                    "input": {"z": 1.5e-7, "a": [1, 2**70, None, True], "path": "/r/é.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "done",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ],
}


def test_node_ids_and_stored_messages_are_the_ones_existing_stores_hold() -> None:
    # A store written by an earlier version dedups against new calls only if the same message
    # still serializes to the same bytes and hashes to the same id: these are those bytes.
    request = wire.get("anthropic-messages").parse_request(STABLE_HISTORY)
    nodes, _ = chain(request.messages)
    assert [(n.id, n.content) for n in nodes] == [
        (
            "709a3af82df307ba5d18ec039195a522",
            '{"extra":{"content_form":"string"},"parts":[{"text":"Réparez le chargeur: '
            '« ça plante » \u2028 ok\\ttab \\u0001 😀","type":"text"}],"role":"user"}',
        ),
        (
            "e6a856423b67468e609b2151d4877762",
            '{"parts":[{"text":"I\'ll look.","type":"text"},{"arguments":"{\\"z\\":1.5e-07,'
            '\\"a\\":[1,1180591620717411303424,null,true],\\"path\\":\\"/r/é.py\\"}",'
            '"id":"toolu_1","name":"Edit","type":"tool_call"}],"role":"assistant"}',
        ),
        (
            "801759aa2a3ee00c823185f7a68b79f0",
            '{"parts":[{"call_id":"toolu_1","content":"done","type":"tool_result"}],"role":"user"}',
        ),
    ]


def test_the_same_message_at_two_places_is_two_nodes(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    messages: list[Any] = [
        {"role": "user", "content": "continue"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "continue"},
    ]
    c.chat.completions.create(model="gpt-test", messages=messages)
    proxy.flush()
    with open_store() as store:
        rows = store.con.execute(
            "SELECT depth, content FROM nodes WHERE role = 'user' ORDER BY depth"
        ).fetchall()
    assert [r[0] for r in rows] == [0, 2]
    assert rows[0][1] == rows[1][1]


def test_unrelated_conversations_share_a_system_prompt_node_but_not_a_thread(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    for task in ("fix the parser", "write the docs"):
        c.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": task}],
        )
    proxy.flush()
    convs = cli.json("ls")["conversations"]
    assert sorted(conv["title"] for conv in convs) == ["fix the parser", "write the docs"]
    with open_store() as store:
        assert store.con.execute("SELECT count(*) FROM nodes WHERE role = 'system'").fetchone() == (
            1,
        )


def test_tool_definitions_are_stored_once_by_hash(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    tools: list[Any] = [
        {"type": "function", "function": {"name": f"tool_{i}", "parameters": {"type": "object"}}}
        for i in range(20)
    ]
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    history: list[Any] = [{"role": "user", "content": "go"}]
    for i in range(5):
        fake_openai.script.append(Answer(tool_calls=[("tool_0", json.dumps({"step": i}))]))
        answer = c.chat.completions.create(model="gpt-test", messages=history, tools=tools)
        msg = answer.choices[0].message
        history.append(msg.model_dump(exclude_none=True))
        history.append(
            {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "file contents"}
        )  # type: ignore[index]
    proxy.flush()
    with open_store() as store:
        assert store.con.execute("SELECT count(*) FROM blobs WHERE kind = 'tools'").fetchone() == (
            1,
        )
        assert store.con.execute(
            "SELECT count(DISTINCT conversation_id) FROM exchanges"
        ).fetchone() == (1,)


def test_calls_with_the_same_agent_session_header_join_one_conversation(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    def call(content: str, session: str) -> None:
        http.request(
            "POST",
            f"{proxy.url}/v1/chat/completions",
            json.dumps(
                {"model": "gpt-test", "messages": [{"role": "user", "content": content}]}
            ).encode(),
            {
                "Authorization": f"Bearer {fake_openai.api_key}",
                "Content-Type": "application/json",
                "session_id": session,
            },
        )

    call("first, after a compaction the prefix is new", "s-1")
    call("second, unrelated prefix", "s-1")
    call("third, another session", "s-2")
    proxy.flush()
    convs = cli.json("ls")["conversations"]
    assert sorted(conv["calls"] for conv in convs) == [1, 2]
    assert {conv["session_key"] for conv in convs} == {"codex:s-1", "codex:s-2"}


def test_show_rebuilds_the_full_request_from_the_tree(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli, db_path: Path
) -> None:
    body = {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ],
        "tools": [
            {"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}
        ],
        "temperature": 0,
        "stream": False,
    }
    http.request(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {fake_openai.api_key}", "Content-Type": "application/json"},
    )
    proxy.flush()
    from redline.transcripts import wire

    with open_store() as store:
        call_id = store.con.execute("SELECT id FROM exchanges").fetchone()[0]  # type: ignore[index]
        call = store.load_call(call_id)
    assert call.request is not None
    assert wire.get("openai-chat").render_request(call.request) == body


def test_the_same_first_prompt_in_two_agent_sessions_is_two_conversations(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    def call(messages: list[Any], session: str) -> None:
        http.request(
            "POST",
            f"{proxy.url}/v1/chat/completions",
            json.dumps({"model": "gpt-test", "messages": messages}).encode(),
            {
                "Authorization": f"Bearer {fake_openai.api_key}",
                "Content-Type": "application/json",
                "session_id": session,
            },
        )

    first = [{"role": "user", "content": "run the test suite and fix what fails"}]
    for session in ("s-1", "s-2"):
        call(first, session)
        call(
            [*first, {"role": "assistant", "content": "ok"}, {"role": "user", "content": session}],
            session,
        )
    proxy.flush()
    convs = cli.json("ls")["conversations"]
    assert sorted((c["session_key"], c["calls"]) for c in convs) == [
        ("codex:s-1", 2),
        ("codex:s-2", 2),
    ]
