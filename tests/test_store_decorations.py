"""Decorations (cache breakpoints, item ids) stay out of the tree and come back on rebuild."""

from __future__ import annotations

import copy
from typing import Any

from redline.transcripts import wire
from redline.transcripts.model import message_to_dict
from redline.transcripts.store.decorations import restore, split
from redline.transcripts.store.tree import chain

CLAUDE_TURN: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 1024,
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Fix the loader."}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "Read",
                    "input": {"file_path": "/r/a.py"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "x = 1",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ],
}


def test_a_moved_cache_breakpoint_does_not_change_the_nodes() -> None:
    fmt = wire.get("anthropic-messages")
    marked = fmt.parse_request(CLAUDE_TURN)
    plain_body = copy.deepcopy(CLAUDE_TURN)
    del plain_body["messages"][2]["content"][0]["cache_control"]
    plain = fmt.parse_request(plain_body)
    marked_nodes, marked_decorations = chain(marked.messages)
    plain_nodes, plain_decorations = chain(plain.messages)
    assert [n.id for n in marked_nodes] == [n.id for n in plain_nodes]
    assert plain_decorations == []
    assert marked_decorations == [
        (2, ["parts", 0, "extra", "cache_control"], {"type": "ephemeral"})
    ]


def test_restoring_the_decorations_gives_back_the_message_as_sent() -> None:
    fmt = wire.get("openai-responses")
    body = {
        "model": "gpt-5",
        "input": [
            {"role": "user", "content": "hi"},
            {
                "id": "msg_1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}
                ],
            },
            {
                "id": "fc_1",
                "type": "function_call",
                "status": "completed",
                "call_id": "call_1",
                "name": "ls",
                "arguments": "{}",
            },
        ],
    }
    for message in fmt.parse_request(body).messages:
        full = message_to_dict(message)
        stable, removed = split(copy.deepcopy(full))
        assert restore(stable, removed) == full


def test_content_that_only_looks_like_a_decoration_is_kept() -> None:
    # A tool call's own id and a non-empty annotation list are content, not delivery.
    message = {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": "call_1", "name": "ls", "arguments": "{}"},
            {
                "type": "text",
                "text": "see [1]",
                "extra": {"annotations": [{"type": "url_citation"}]},
            },
        ],
    }
    stable, removed = split(copy.deepcopy(message))
    assert stable == message and removed == []


def test_a_recorded_request_is_rebuilt_exactly_with_its_breakpoints(db_path: Any) -> None:
    import json
    from datetime import UTC, datetime

    from redline import config
    from redline.transcripts.spool import RawExchange, SpoolWriter, new_id
    from redline.transcripts.store import open_store

    writer = SpoolWriter(config.spool_dir(db_path))
    writer.append(
        [
            RawExchange(
                id=new_id(),
                started_at=datetime.now(UTC),
                method="POST",
                path="/v1/messages",
                query="beta=true",
                upstream="https://api.anthropic.com",
                request_headers=[("content-type", "application/json")],
                request_body=json.dumps(CLAUDE_TURN).encode(),
                status=None,
                response_headers=[],
                response_body=b"",
                ttfb_ms=None,
                duration_ms=1.0,
                outcome="error",
                error="cannot reach upstream",
            )
        ]
    )
    writer.close()
    with open_store() as store:
        call_id = store.con.execute("SELECT id FROM exchanges").fetchone()[0]  # type: ignore[index]
        call = store.load_call(call_id)
    assert call.request is not None
    assert wire.get("anthropic-messages").render_request(call.request) == CLAUDE_TURN
