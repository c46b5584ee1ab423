"""Agent-shaped recordings for the benchmarks: Claude Code-like sessions whose every call re-sends
the whole history (system prompt, tools, a moving cache breakpoint, tool calls and results) and
whose answers are streamed, written to a spool as the proxy would write them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, new_id

TOOLS = [
    {
        "name": name,
        "description": f"{name}: " + "A tool an agent uses to work on the repository. " * 12,
        "input_schema": {
            "type": "object",
            "properties": {
                f"arg{i}": {"type": "string", "description": "x" * 60} for i in range(4)
            },
        },
    }
    for name in ("Read", "Write", "Edit", "Bash", "Grep", "Glob", "TodoWrite", "WebFetch")
]
SYSTEM = [{"type": "text", "text": "You are Claude Code. " + "Follow the rules. " * 250}]


def _sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events)


def _answer(turn: int, rng: random.Random) -> tuple[dict[str, Any], bytes]:
    text = f"Step {turn}: " + " ".join(
        rng.choice(["read", "the", "parser", "next", "edit"]) for _ in range(60)
    )
    tool_id = f"toolu_{turn:04d}{rng.randrange(10**8):08d}"
    args = {
        "file_path": f"/repo/src/module_{turn % 17}.py",
        "content": "x = 1\n" * rng.randrange(5, 30),
    }
    content = [
        {"type": "text", "text": text},
        {"type": "tool_use", "id": tool_id, "name": "Write", "input": args},
    ]
    raw_args = json.dumps(args)
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{tool_id}",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 1000 + turn * 400, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for i in range(0, len(text), 40):
        events.append(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text[i : i + 40]},
                },
            )
        )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": tool_id, "name": "Write", "input": {}},
            },
        )
    )
    for i in range(0, len(raw_args), 200):
        events.append(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": raw_args[i : i + 200]},
                },
            )
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 300},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return {"role": "assistant", "content": content}, _sse(events)


def conversation(calls: int, seed: int, start: datetime) -> Iterator[RawExchange]:
    """One session of `calls` calls; each adds a tool result of about 1 KB to the history."""
    rng = random.Random(seed)
    session = f"session-{seed}"
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [{"type": "text", "text": f"Task {seed}: fix the parser. " * 20}],
        }
    ]
    for turn in range(calls):
        for m in messages:  # Claude Code moves its cache breakpoint to the newest message
            if isinstance(m["content"], list):
                for block in m["content"]:
                    block.pop("cache_control", None)
        messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": True,
            "system": SYSTEM,
            "tools": TOOLS,
            "messages": messages,
        }
        answer, sse = _answer(turn, rng)
        when = start + timedelta(seconds=turn * 5)
        yield RawExchange(
            id=new_id(when),
            started_at=when,
            method="POST",
            path="/v1/messages",
            query="beta=true",
            upstream="https://api.anthropic.com",
            request_headers=[
                ("content-type", "application/json"),
                ("x-claude-code-session-id", session),
                ("user-agent", "claude-cli/2.1.332 (external, cli)"),
            ],
            request_body=json.dumps(body).encode(),
            status=200,
            response_headers=[("content-type", "text/event-stream; charset=utf-8")],
            response_body=sse,
            ttfb_ms=400.0,
            duration_ms=2000.0,
            outcome="complete",
        )
        result = "\n".join(f"{i:>6}→line {i} of the file" for i in range(rng.randrange(8, 25)))
        messages.append(answer)
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": answer["content"][1]["id"],
                        "content": result,
                    }
                ],
            }
        )


def write_spool(db: Path, conversations: int, calls: int) -> tuple[int, int]:
    """Write `conversations` × `calls` exchanges to the spool of `db`, interleaved as several
    agents would be. Returns (exchanges, request bytes)."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    streams = [
        conversation(calls, seed, start + timedelta(milliseconds=seed))
        for seed in range(conversations)
    ]
    writer = SpoolWriter(config.spool_dir(db))
    count = size = 0
    try:
        for _ in range(calls):
            batch = [next(s) for s in streams]
            writer.append(batch)
            count += len(batch)
            size += sum(len(x.request_body) for x in batch)
    finally:
        writer.close()
    return count, size


def read_and_parse(db: Path) -> tuple[float, int]:
    """The machine's limit for ingesting the spool of `db`: the seconds one process takes to
    merely read every segment and JSON-parse every body in it (a stream's every event), and the
    bytes read. Ingest does this and more (the tree, threading, the database)."""
    import time

    import msgspec

    from redline.transcripts.spool import Record, load, read_records, segments

    decode = msgspec.json.Decoder().decode
    t0 = time.perf_counter()
    size = 0
    for path in segments(config.spool_dir(db)):
        size += path.stat().st_size
        records = [r for r in read_records(path, 0, final=True) if isinstance(r, Record)]
        for x in load(records):
            decode(x.request_body)
            if x.response_body.startswith((b"event:", b"data:")):
                for line in x.response_body.split(b"\n"):
                    if line.startswith(b"data: {"):
                        decode(line[6:])
            elif x.response_body:
                decode(x.response_body)
    return time.perf_counter() - t0, size
