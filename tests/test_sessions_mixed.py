"""Issue 3, done when: a Claude Code session and a Codex session recorded at once through one
proxy with two routes are two threaded conversations, each message stored once."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts.store import open_store
from tests.agents import agents_block, environment_context
from tests.fakes import anthropic as fake_claude
from tests.fakes import openai_responses as fake_codex
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import CODEX_TOOLS, claude_code_client, codex_history, recording_proxy
from tests.fakes.openai_responses import FakeResponses
from tests.support import Cli

CLAUDE_SESSION = "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f"
CODEX_SESSION = "019a8c3e-7f1d-7c22-9a40-5e2b1f0d9c11"
CLAUDE_CALLS = 30
CODEX_CALLS = 8

CLAUDE_SYSTEM: list[Any] = [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=cli"},
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": {"type": "ephemeral"},
    },
    {
        "type": "text",
        "text": "Working directory: /home/u/proj\nIs directory a git repo: Yes\n"
        + "Follow the repository's conventions. " * 40,
        "cache_control": {"type": "ephemeral"},
    },
]
CLAUDE_TOOLS: list[Any] = [
    {
        "name": name,
        "description": f"The {name} tool.",
        "input_schema": {
            "type": "object",
            "properties": {key: {"type": "string"} for key in keys},
            "required": list(keys),
        },
    }
    for name, keys in (
        ("Read", ("file_path",)),
        ("Edit", ("file_path", "old_string", "new_string")),
        ("Bash", ("command",)),
    )
]
CODEX_INPUT: list[Any] = [
    {
        "type": "message",
        "role": role,
        "content": [{"type": "input_text", "text": text}],
    }
    for role, text in (
        ("developer", "<permissions instructions>workspace-write</permissions instructions>"),
        ("user", agents_block("Run the tests before finishing.", "/home/u/proj")),
        ("user", environment_context("/home/u/proj")),
        ("user", "Make the config loader raise a clear error for a missing file."),
    )
]


@pytest.fixture
def two_routes(
    fake_anthropic: FakeAnthropic, fake_responses: FakeResponses, db_path: Path
) -> Iterator[ThreadedProxy]:
    with recording_proxy(
        db_path, ("/anthropic", fake_anthropic.url), ("/openai", fake_responses.url)
    ) as proxy:
        yield proxy


def claude_code_session(
    fake: FakeAnthropic, proxy: ThreadedProxy, *, moving_breakpoint: bool = False
) -> None:
    """30 streamed calls: 29 answered with thinking and a tool call, whose result goes back in
    the next call, then a final text answer. With `moving_breakpoint`, the last message carries
    a cache_control marker, dropped once it is no longer last, as Claude Code places them."""
    for i in range(CLAUDE_CALLS - 1):
        fake.script.append(
            fake_claude.Answer(
                [
                    fake_claude.Thinking(f"Step {i}: I need to look at module {i}."),
                    fake_claude.Text(f"Reading module {i}."),
                    fake_claude.ToolUse("Read", {"file_path": f"/home/u/proj/src/mod{i}.py"}),
                ],
                cache_read_input_tokens=1200 + i,
            )
        )
    fake.script.append(fake_claude.Answer([fake_claude.Text("The loader now raises clearly.")]))
    history: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": "Fix the config loader."}]}
    ]
    with claude_code_client(f"{proxy.url}/anthropic", fake.api_key, CLAUDE_SESSION) as c:
        for _ in range(CLAUDE_CALLS):
            sent = history
            if moving_breakpoint:
                last = dict(history[-1], content=[*history[-1]["content"]])
                last["content"][-1] = {
                    **last["content"][-1],
                    "cache_control": {"type": "ephemeral"},
                }
                sent = [*history[:-1], last]
            with c.messages.stream(
                model=fake_claude.MODEL,
                max_tokens=32000,
                system=CLAUDE_SYSTEM,
                messages=sent,
                tools=CLAUDE_TOOLS,
                thinking={"type": "enabled", "budget_tokens": 4096},
            ) as stream:
                answer = stream.get_final_message()
            history.append(
                {
                    "role": "assistant",
                    "content": [b.model_dump(exclude_none=True) for b in answer.content],
                }
            )
            calls = [b for b in answer.content if isinstance(b, anthropic.types.ToolUseBlock)]
            if not calls:
                return
            history.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": calls[0].id,
                            "content": f"# {calls[0].input}",
                        }
                    ],
                }
            )
    raise AssertionError("the session did not end")


def codex_session(fake: FakeResponses, proxy: ThreadedProxy) -> None:
    """8 streamed calls with full history: 7 answered with reasoning and an `exec_command`
    call, whose output goes back in the next call, then a final message. The fake answers as
    the ChatGPT backend does, with an empty `output` in `response.completed`."""
    for i in range(CODEX_CALLS - 1):
        fake.script.append(
            fake_codex.Answer(
                calls=[("exec_command", f'{{"cmd": "sed -n 1,40p src/mod{i}.py"}}')],
                reasoning=f"Look at module {i} next.",
                empty_completed_output=True,
            )
        )
    fake.script.append(
        fake_codex.Answer(text="Done: the loader raises.", empty_completed_output=True)
    )
    history = list(CODEX_INPUT)
    headers = {
        "session_id": CODEX_SESSION,
        "originator": "codex_cli_rs",
        "User-Agent": "codex_cli_rs/0.171.0 (Ubuntu 24.4.0; x86_64) xterm-256color",
    }
    with openai.OpenAI(
        base_url=f"{proxy.url}/openai/v1",
        api_key=fake.api_key,
        max_retries=0,
        default_headers=headers,
    ) as c:
        for _ in range(CODEX_CALLS):
            stream = c.responses.create(
                model="gpt-5-codex",
                instructions="You are Codex, based on GPT-5. You are running as a coding agent.",
                input=history,
                tools=CODEX_TOOLS,
                tool_choice="auto",
                parallel_tool_calls=False,
                reasoning={"effort": "medium", "summary": "auto"},
                store=False,
                stream=True,
                include=["reasoning.encrypted_content"],
                prompt_cache_key=CODEX_SESSION,
            )
            items = [e.item for e in stream if e.type == "response.output_item.done"]
            history.extend(codex_history(items))
            calls = [item for item in items if item.type == "function_call"]
            if not calls:
                return
            history.append(
                {"type": "function_call_output", "call_id": calls[0].call_id, "output": "x = 1\n"}
            )
    raise AssertionError("the session did not end")


def node_counts() -> dict[str, int]:
    with open_store() as store:
        rows = store.con.execute("SELECT role, count(*) FROM nodes GROUP BY role").fetchall()
    return dict(rows)


def blob_counts() -> dict[str, int]:
    with open_store() as store:
        rows = store.con.execute("SELECT kind, count(*) FROM blobs GROUP BY kind").fetchall()
    return dict(rows)


def test_a_claude_code_and_a_codex_session_at_once_are_two_conversations_each_message_stored_once(
    fake_anthropic: FakeAnthropic,
    fake_responses: FakeResponses,
    two_routes: ThreadedProxy,
    cli: Cli,
) -> None:
    with ThreadPoolExecutor(2) as pool:
        sessions = [
            pool.submit(claude_code_session, fake_anthropic, two_routes),
            pool.submit(codex_session, fake_responses, two_routes),
        ]
        for session in sessions:
            session.result()
    two_routes.flush()

    convs = {c["wire"]: c for c in cli.json("ls")["conversations"]}
    assert len(convs) == 2
    claude, codex = convs["anthropic-messages"], convs["openai-responses"]
    assert (claude["calls"], claude["session_key"]) == (
        CLAUDE_CALLS,
        f"claude-code:{CLAUDE_SESSION}",
    )
    assert (codex["calls"], codex["session_key"]) == (CODEX_CALLS, f"codex:{CODEX_SESSION}")
    assert [c["status"] for c in cli.json("ls", claude["id"])["calls"]] == [
        "complete"
    ] * CLAUDE_CALLS
    assert [c["status"] for c in cli.json("ls", codex["id"])["calls"]] == ["complete"] * CODEX_CALLS
    # Claude Code: the first prompt, 29 tool results and 30 answers. Codex: its four opening
    # items, 7 call outputs and 8 answers. Each once, however often the history was re-sent.
    assert node_counts() == {
        "user": 1 + (CLAUDE_CALLS - 1) + 3,
        "assistant": CLAUDE_CALLS + CODEX_CALLS,
        "developer": 1,
        "tool": CODEX_CALLS - 1,
    }
    # The system prompt (Codex: instructions) and the tools of each session, once each.
    assert blob_counts() == {"system": 2, "tools": 2}


def test_each_route_strips_its_prefix_and_reaches_its_own_upstream(
    fake_anthropic: FakeAnthropic, fake_responses: FakeResponses, two_routes: ThreadedProxy
) -> None:
    with claude_code_client(f"{two_routes.url}/anthropic", fake_anthropic.api_key, "s") as c:
        c.messages.create(
            model=fake_claude.MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
    with openai.OpenAI(
        base_url=f"{two_routes.url}/openai/v1", api_key=fake_responses.api_key, max_retries=0
    ) as c:
        c.responses.create(model="gpt-5-codex", input="hi")
    assert [(r.path, r.query) for r in fake_anthropic.received] == [("/v1/messages", "beta=true")]
    assert [r.path for r in fake_responses.received] == ["/v1/responses"]


def test_a_moving_cache_breakpoint_still_stores_each_message_once(
    fake_anthropic: FakeAnthropic, two_routes: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(fake_anthropic, two_routes, moving_breakpoint=True)
    two_routes.flush()
    assert [c["calls"] for c in cli.json("ls")["conversations"]] == [CLAUDE_CALLS]
    assert node_counts() == {"user": CLAUDE_CALLS, "assistant": CLAUDE_CALLS}
