"""Fixtures and helpers for the Anthropic and Responses tests: fake upstreams, a proxy in front,
clients shaped like the agents, and what `redline show` recorded.

A test module binds the fixtures it uses to its own names (`fake_anthropic =
fixtures.fake_anthropic`), which is how pytest finds them without a conftest entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import anthropic
import pytest

from redline import config
from redline.proxy import ProxyRunner, Route, ThreadedProxy
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai_responses import FakeResponses
from tests.fakes.server import ServerThread
from tests.support import Cli


class Fake(Protocol):
    url: str

    def app(self) -> Any: ...


@contextmanager
def serving[F: Fake](fake: F) -> Iterator[F]:
    """The fake listening on 127.0.0.1 in a background thread, its `url` set."""
    with ServerThread(fake.app()) as server:
        fake.url = server.url
        yield fake


@contextmanager
def recording_proxy(db_path: Path, *routes: tuple[str, str]) -> Iterator[ThreadedProxy]:
    """A proxy on 127.0.0.1 with these (prefix, upstream) routes, spooling for `db_path`."""
    runner = ProxyRunner(
        [Route.parse(prefix, url) for prefix, url in routes],
        config.spool_dir(db_path),
        "127.0.0.1",
        0,
    )
    with ThreadedProxy(runner) as running:
        yield running


CLAUDE_CODE_USER_AGENT = "claude-cli/2.1.332 (external, cli)"
CLAUDE_CODE_BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14"


def claude_code_client(base: str, api_key: str, session: str) -> anthropic.Anthropic:
    """The anthropic SDK sending what Claude Code sends (docs/wire-formats.md §1c, §2.1): its
    User-Agent, `x-api-key`, a session id header and `?beta=true` on every call."""
    return anthropic.Anthropic(
        base_url=base,
        api_key=None,
        max_retries=0,
        default_headers={
            "User-Agent": CLAUDE_CODE_USER_AGENT,
            "x-api-key": api_key,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": CLAUDE_CODE_BETAS,
            "X-Claude-Code-Session-Id": session,
        },
        default_query={"beta": "true"},
    )


# Codex's shell tool (docs/wire-formats.md, observed first-hand: patches arrive through it too).
CODEX_TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command in a PTY, returning output or a session ID.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"cmd": {"type": "string"}, "workdir": {"type": "string"}},
            "required": ["cmd"],
            "additionalProperties": False,
        },
    }
]


def codex_history(output: list[Any]) -> list[dict[str, Any]]:
    """Output items (openai SDK models) as Codex sends them back in the next request's `input`:
    no item ids or statuses, output text without annotations (codex-rs protocol `models.rs`)."""
    items: list[dict[str, Any]] = []
    for item in output:
        match item.type:
            case "reasoning":
                summary = [{"type": "summary_text", "text": s.text} for s in item.summary]
                items.append(
                    {
                        "type": "reasoning",
                        "summary": summary,
                        "encrypted_content": item.encrypted_content,
                    }
                )
            case "message":
                content = [{"type": "output_text", "text": c.text} for c in item.content]
                items.append({"type": "message", "role": item.role, "content": content})
            case "function_call":
                items.append(
                    {
                        "type": "function_call",
                        "name": item.name,
                        "arguments": item.arguments,
                        "call_id": item.call_id,
                    }
                )
            case other:
                raise AssertionError(f"Codex would not send back a {other!r} item")
    return items


def shown_calls(cli: Cli) -> list[dict[str, Any]]:
    """`redline show --json` of every recorded call, conversation by conversation, in order."""
    shown = []
    for conv in reversed(cli.json("ls")["conversations"]):
        for call in cli.json("ls", conv["id"])["calls"]:
            shown.append(cli.json("show", call["id"]))
    return shown


def only_call(cli: Cli) -> dict[str, Any]:
    calls = shown_calls(cli)
    assert len(calls) == 1, [c["id"] for c in calls]
    return calls[0]


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with serving(FakeAnthropic()) as fake:
        yield fake


@pytest.fixture
def anthropic_proxy(fake_anthropic: FakeAnthropic, db_path: Path) -> Iterator[ThreadedProxy]:
    with recording_proxy(db_path, ("", fake_anthropic.url)) as proxy:
        yield proxy


@pytest.fixture
def fake_responses() -> Iterator[FakeResponses]:
    with serving(FakeResponses()) as fake:
        yield fake


@pytest.fixture
def responses_proxy(fake_responses: FakeResponses, db_path: Path) -> Iterator[ThreadedProxy]:
    with recording_proxy(db_path, ("", fake_responses.url)) as proxy:
        yield proxy
