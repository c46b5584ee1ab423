"""A session whose agent looped, as the proxy records one (issue 23): about 800 calls in one
conversation. Claude Code's main loop runs the same failing test and retries the same edit turn
after turn; before each turn it makes a side call (another model, its own system prompt and
tools) under the same session header; and the API is overloaded now and then, so the same request
is sent again up to six times. Every call re-sends the whole history, as agents do."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from redline.transcripts import RawExchange, new_id

SESSION = "looping-session"
AGENT = "claude-cli/2.1.332 (external, cli)"
# Claude Code's system prompt and tool list are tens of KB; each distinct one is stored once.
SYSTEM = [
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude. "
        + "Follow the repository's conventions and run the tests after each change. " * 160,
    }
]
TOOLS = [
    {
        "name": name,
        "description": f"{name}: " + "Use this tool to work on the repository's files. " * 40,
        "input_schema": {
            "type": "object",
            "properties": {
                f"arg{i}": {"type": "string", "description": "What the tool needs. " * 6}
                for i in range(6)
            },
        },
    }
    for name in (
        *("Read", "Write", "Edit", "MultiEdit", "Bash", "Grep", "Glob", "LS", "Task"),
        *("TodoWrite", "WebFetch", "WebSearch", "NotebookEdit", "ExitPlanMode", "BashOutput"),
    )
]
SIDE_SYSTEM = [{"type": "text", "text": "Summarise the agent's progress in one line. " * 10}]
SIDE_TOOLS = [
    {
        "name": "report",
        "description": "Report the summary.",
        "input_schema": {"type": "object", "properties": {"line": {"type": "string"}}},
    }
]
FAILING = (
    "============================= test session starts ==============================\n"
    + "".join(f"tests/test_parser.py::test_case_{i} FAILED\n" for i in range(12))
    + "E   AssertionError: expected 'value', got None\n" * 8
    + "========================= 12 failed in 0.41s =========================\n"
)
OVERLOADED = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'


def _sse(message: dict[str, Any], stop: str, turn: int) -> bytes:
    """The answer streamed as Anthropic streams it."""
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{turn:05d}",
                    "type": "message",
                    "role": "assistant",
                    "model": message["model"],
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 2000 + turn * 900, "output_tokens": 1},
                },
            },
        )
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            ),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop},
                "usage": {"output_tokens": 200},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events)


def _exchange(at: datetime, body: dict[str, Any], status: int, response: bytes) -> RawExchange:
    stream = status == 200
    return RawExchange(
        id=new_id(at),
        started_at=at,
        method="POST",
        path="/v1/messages",
        query="beta=true",
        upstream="https://api.anthropic.com",
        request_headers=[
            ("content-type", "application/json"),
            ("x-claude-code-session-id", SESSION),
            ("user-agent", AGENT),
        ],
        request_body=json.dumps(body).encode(),
        status=status,
        response_headers=[("content-type", "text/event-stream" if stream else "application/json")],
        response_body=response,
        ttfb_ms=600.0,
        duration_ms=4000.0 if stream else 300.0,
        outcome="complete",
        client=AGENT,  # the proxy records the User-Agent so
    )


def looping_session(calls: int, start: datetime, seed: int = 23) -> list[RawExchange]:
    """`calls` calls of one session whose agent loops (see the module's docstring)."""
    rng = random.Random(seed)
    out: list[RawExchange] = []
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": "The parser tests fail; make them pass. Do not stop until they do.",
        }
    ]
    at = start
    turn = 0
    while len(out) < calls:
        turn += 1
        side = {
            "model": "claude-3-5-haiku",
            "max_tokens": 512,
            "system": SIDE_SYSTEM,
            "tools": SIDE_TOOLS,
            "messages": [{"role": "user", "content": f"Step {turn}: the tests still fail."}],
        }
        side_answer = {
            "model": "claude-3-5-haiku",
            "content": [{"type": "text", "text": f"Step {turn}: still failing."}],
        }
        out.append(_exchange(at, side, 200, _sse(side_answer, "end_turn", turn)))
        at += timedelta(seconds=1)
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": True,
            "system": SYSTEM,
            "tools": TOOLS,
            "messages": messages,
        }
        if rng.random() < 0.3:  # overloaded: the same request again, up to six times
            for _ in range(rng.randint(1, 6)):
                out.append(_exchange(at, body, 529, OVERLOADED))
                at += timedelta(seconds=2)
        tool_id = f"toolu_{turn:05d}"
        run_tests = turn % 2 == 1
        block: dict[str, Any] = (
            {
                "type": "tool_use",
                "id": tool_id,
                "name": "Bash",
                "input": {"command": "pytest tests/test_parser.py"},
            }
            if run_tests
            else {
                "type": "tool_use",
                "id": tool_id,
                "name": "Edit",
                "input": {
                    "file_path": "/repo/src/parser.py",
                    "old_string": "    return None\n",
                    "new_string": "    return value\n",
                },
            }
        )
        text = "Let me run the tests again." if run_tests else "The parser returns None; fix it."
        answer = {"model": "claude-sonnet-4-5", "content": [{"type": "text", "text": text}, block]}
        out.append(_exchange(at, body, 200, _sse(answer, "tool_use", turn)))
        at += timedelta(seconds=rng.uniform(5, 20))
        result = FAILING if run_tests else "String to replace not found in file."
        messages = [
            *messages,
            {"role": "assistant", "content": answer["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": result}],
            },
        ]
    return out[:calls]
