"""Recorded sessions for the web view's tests (no tests here): written to the spool as the proxy
would, so the store ingests them through the real path; and a store with a run (the demo's)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, new_id

# Debian's chromium, which the browser tests and docs/screenshots.py drive through Playwright.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SWALLOWING = (
    "import json\n\n\n"
    "def load_config(path):\n"
    "    try:\n"
    "        return json.load(open(path))\n"
    "    except Exception:\n"
    "        return {}\n"
)
HOSTILE = (
    "Look at this: <script>window.pwned = 1</script> and "
    '<img src=x onerror="window.pwned = 2"> and [a link](javascript:window.pwned=3)'
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "write_file",
            "description": "Write a file in the repository.",
            "parameters": {"type": "object"},
        },
    }
]
SIDE_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "report",
            "description": "Report a one-line summary.",
            "parameters": {"type": "object"},
        },
    }
]
OVERLOADED = b'{"error": {"type": "overloaded_error", "message": "Overloaded"}}'


def _chat_response(message: dict[str, Any], n: int, finish: str) -> bytes:
    return json.dumps(
        {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-test",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": 1200 + n,
                "completion_tokens": 80,
                "total_tokens": 1280 + n,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
        }
    ).encode()


def _exchange(
    at: datetime,
    messages: list[dict[str, Any]],
    answer: dict[str, Any] | None,
    n: int,
    agent: str,
    *,
    tools: list[dict[str, Any]] = TOOLS,
    headers: list[tuple[str, str]] | None = None,
) -> RawExchange:
    """A Chat Completions call; with no answer, the API's 529 "overloaded"."""
    body = {"model": "gpt-test", "messages": messages, "tools": tools}
    finish = "tool_calls" if answer and answer.get("tool_calls") else "stop"
    return RawExchange(
        id=new_id(at),
        started_at=at,
        method="POST",
        path="/v1/chat/completions",
        query="",
        upstream="https://api.example",
        request_headers=[
            ("content-type", "application/json"),
            ("user-agent", agent),
            *(headers or []),
        ],
        request_body=json.dumps(body).encode(),
        status=200 if answer else 529,
        response_headers=[("content-type", "application/json")],
        response_body=_chat_response(answer, n, finish) if answer else OVERLOADED,
        ttfb_ms=420.0 + n,
        duration_ms=1800.0 + n,
        outcome="complete",
        client=agent,
    )


def session(
    prompt: str,
    answers: list[dict[str, Any]],
    *,
    agent: str = "aider/0.86.1",
    at: datetime | None = None,
    system: str = "You are a careful coding agent.",
) -> list[RawExchange]:
    """An agent loop: each answer's tool calls get a result, and the next call re-sends it all."""
    start = at or datetime.now(UTC) - timedelta(minutes=5)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": prompt},
    ]
    out = []
    for n, answer in enumerate(answers):
        out.append(_exchange(start + timedelta(seconds=10 * n), list(messages), answer, n, agent))
        messages.append(answer)
        for call in answer.get("tool_calls") or []:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": "Wrote it."})
    return out


def tool_call(call_id: str, path: str, content: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {
            "name": "write_file",
            "arguments": json.dumps({"path": path, "content": content}),
        },
    }


def config_session(at: datetime | None = None) -> list[RawExchange]:
    """The model swallows a config error in a file it writes, then says it is done."""
    return session(
        "Add error handling to the config loader in config.py.",
        [
            {
                "role": "assistant",
                "content": "I will **wrap** the loader:\n\n```python\nx = 1\n```",
                "tool_calls": [tool_call("call_1", "config.py", SWALLOWING)],
            },
            {"role": "assistant", "content": "Done: the loader handles `every` error now."},
        ],
        at=at,
    )


def looping_session(
    turns: int, at: datetime, *, retry_every: int = 10, result: str = "Wrote it."
) -> list[RawExchange]:
    """An agent that loops, in one session: each turn it first asks a side model for a summary
    (its own system prompt and tools, a question of its own), then makes the same edit again
    and is told the same thing; on every `retry_every`th turn the API is overloaded twice and
    the same request goes out three times before it is answered."""
    start = at
    header = [("x-claude-code-session-id", "looping")]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful coding agent."},
        {"role": "user", "content": "Make the parser tests pass; do not stop until they do."},
    ]
    out = []
    n = 0

    def call(body: list[dict[str, Any]], answer: dict[str, Any] | None, **kw: Any) -> None:
        nonlocal n
        out.append(_exchange(start + timedelta(seconds=n), body, answer, n, "loop/1.0", **kw))
        n += 1

    for turn in range(1, turns + 1):
        side = [
            {"role": "system", "content": "Summarise the agent's progress in one line."},
            {"role": "user", "content": f"Turn {turn}: the tests still fail."},
        ]
        call(
            side,
            {"role": "assistant", "content": "Still failing."},
            tools=SIDE_TOOLS,
            headers=header,
        )
        if turn % retry_every == 0:
            call(list(messages), None, headers=header)
            call(list(messages), None, headers=header)
        answer = {
            "role": "assistant",
            "content": f"Turn {turn}: the same fix again.",
            "tool_calls": [tool_call(f"call_{turn}", "parser.py", "VALUE = 1\n")],
        }
        call(list(messages), answer, headers=header)
        messages.append(answer)
        messages.append({"role": "tool", "tool_call_id": f"call_{turn}", "content": result})
    return out


def hostile_session(at: datetime | None = None) -> list[RawExchange]:
    """A conversation whose messages hold markup that must show as text."""
    return session(
        HOSTILE,
        [{"role": "assistant", "content": "You wrote " + HOSTILE}],
        agent="claude-cli/1.0.83 (external, cli)",
        at=at,
    )


def record(db: Path, exchanges: list[RawExchange]) -> None:
    writer = SpoolWriter(config.spool_dir(db))
    writer.append(exchanges)
    writer.close()


def demo_store(db: Path) -> str:
    """The demo's store: a recorded session, a task flagged from it, a run of 2 variants.
    Returns the run's id."""
    from redline.demo import run

    def quiet(_: Any) -> None:
        return None

    return run(quiet, quiet, quiet, keep=db)


@pytest.fixture
def recorded(db_path: Path) -> Path:
    """The config session and the hostile one, in the test's database."""
    now = datetime.now(UTC)
    record(db_path, config_session(now - timedelta(hours=2)) + hostile_session(now))
    return db_path


def only(items: Iterator[Any] | list[Any], where: Callable[[Any], bool]) -> Any:
    (found,) = [i for i in items if where(i)]
    return found
