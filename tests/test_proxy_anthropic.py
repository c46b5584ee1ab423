"""Anthropic Messages through the proxy, driven by the real anthropic SDK against a fake upstream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx2
import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts.store import open_store
from tests.fakes.anthropic import MODEL, Answer, FakeAnthropic, Text, Thinking, ToolUse, Unknown
from tests.fakes.fixtures import (
    CLAUDE_CODE_BETAS,
    CLAUDE_CODE_USER_AGENT,
    claude_code_client,
    only_call,
    shown_calls,
)
from tests.support import Cli

TOOLS: list[Any] = [
    {
        "name": "read_file",
        "description": "Read a file from the workspace.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        },
    },
    {
        "name": "write_file",
        "description": "Write a file.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        },
    },
]
SYSTEM: list[Any] = [
    {
        "type": "text",
        "text": "You are a careful coding agent. Never swallow exceptions.",
        "cache_control": {"type": "ephemeral"},
    }
]
MESSAGES: list[Any] = [{"role": "user", "content": "Add error handling to the config loader."}]
THINKING: Any = {"type": "enabled", "budget_tokens": 2048}


def thinking_tool_answer(**kw: Any) -> Answer:
    return Answer(
        [
            Thinking("The loader swallows every error; I should read it before changing it."),
            Text("Let me read the loader first."),
            ToolUse("read_file", {"path": "config/loader.py"}),
        ],
        cache_read_input_tokens=1800,
        cache_creation_input_tokens=212,
        **kw,
    )


def client(fake: FakeAnthropic, base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base, api_key=fake.api_key, max_retries=0)


def request(**overrides: Any) -> dict[str, Any]:
    """The keyword arguments of one `messages.create` call with tools, system and thinking."""
    return {
        "model": MODEL,
        "max_tokens": 4096,
        "system": SYSTEM,
        "messages": MESSAGES,
        "tools": TOOLS,
        "thinking": THINKING,
        **overrides,
    }


def sdk_parts(message: anthropic.types.Message) -> list[dict[str, Any]]:
    """The SDK's content blocks in the canonical form `redline show --json` prints."""
    parts: list[dict[str, Any]] = []
    for block in message.content:
        match block:
            case anthropic.types.ThinkingBlock():
                parts.append(
                    {"type": "thinking", "text": block.thinking, "signature": block.signature}
                )
            case anthropic.types.TextBlock():
                parts.append({"type": "text", "text": block.text})
            case anthropic.types.ToolUseBlock():
                parts.append(
                    {"type": "tool_call", "id": block.id, "name": block.name, "input": block.input}
                )
            case _:
                raise AssertionError(f"unexpected block {block.type}")
    return parts


def recorded_parts(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded answer's parts, with tool arguments parsed (their spelling is the store's)."""
    parts = []
    for part in shown["response"]["message"]["parts"]:
        part = dict(part)
        if part["type"] == "tool_call":
            part["input"] = json.loads(part.pop("arguments"))
        parts.append(part)
    return parts


def assert_recorded_exactly(shown: dict[str, Any], final: anthropic.types.Message) -> None:
    assert recorded_parts(shown) == sdk_parts(final)
    assert shown["response"]["id"] == final.id
    assert shown["response"]["finish_reason"] == final.stop_reason
    usage = shown["usage"]
    assert (
        usage["input_tokens"],
        usage["output_tokens"],
        usage["cache_read_tokens"],
        usage["cache_write_tokens"],
    ) == (
        final.usage.input_tokens,
        final.usage.output_tokens,
        final.usage.cache_read_input_tokens,
        final.usage.cache_creation_input_tokens,
    )
    assert shown["status"] == "complete" and shown["wire"] == "anthropic-messages"


# --- pass-through -----------------------------------------------------------------------------


def test_whole_answer_reaches_the_client_byte_identical_to_a_direct_call(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy
) -> None:
    def raw(base: str) -> bytes:
        fake_anthropic.script.append(thinking_tool_answer())
        with client(fake_anthropic, base) as c:
            return c.messages.with_raw_response.create(**request()).http_response.content

    direct, proxied = raw(fake_anthropic.url), raw(anthropic_proxy.url)
    assert proxied == direct
    assert json.loads(proxied)["content"][2]["type"] == "tool_use"


def test_streamed_answer_is_byte_identical_to_a_direct_stream(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy
) -> None:
    def raw(base: str) -> bytes:
        fake_anthropic.script.append(thinking_tool_answer())
        with (
            client(fake_anthropic, base) as c,
            c.messages.with_streaming_response.create(**request(stream=True)) as response,
        ):
            return b"".join(response.iter_bytes())

    direct, proxied = raw(fake_anthropic.url), raw(anthropic_proxy.url)
    assert proxied == direct
    assert b"event: signature_delta" not in proxied  # deltas are content_block_delta events
    assert b'"type": "signature_delta"' in proxied and b"event: ping" in proxied


def test_a_claude_code_request_reaches_the_upstream_unchanged_with_its_query_and_headers(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy
) -> None:
    session = "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f"
    with claude_code_client(anthropic_proxy.url, fake_anthropic.api_key, session) as c:
        c.messages.create(**request())
    received = fake_anthropic.received[-1]
    assert (received.path, received.query) == ("/v1/messages", "beta=true")
    assert json.loads(received.body) == request()
    assert received.headers["x-api-key"] == fake_anthropic.api_key
    assert received.headers["anthropic-beta"] == CLAUDE_CODE_BETAS
    assert received.headers["user-agent"] == CLAUDE_CODE_USER_AGENT
    assert received.headers["x-claude-code-session-id"] == session


def test_count_tokens_passes_through(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy
) -> None:
    asked = {"model": MODEL, "system": SYSTEM, "messages": MESSAGES, "tools": TOOLS}
    with client(fake_anthropic, fake_anthropic.url) as c:
        direct = c.messages.count_tokens(**asked)
    with client(fake_anthropic, anthropic_proxy.url) as c:
        proxied = c.messages.count_tokens(**asked)
    assert proxied.input_tokens == direct.input_tokens > 0
    assert fake_anthropic.received[-1].path == "/v1/messages/count_tokens"


def test_a_wrong_api_key_gets_the_upstreams_authentication_error_unchanged(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    bad = anthropic.Anthropic(base_url=anthropic_proxy.url, api_key="sk-ant-wrong", max_retries=0)
    with bad, pytest.raises(anthropic.AuthenticationError) as caught:
        bad.messages.create(**request())
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    anthropic_proxy.flush()
    shown = only_call(cli)
    assert shown["http_status"] == 401
    assert "authentication_error" in shown["error"]


# --- recording --------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [True, False], ids=["messages.stream", "messages.create"])
def test_show_holds_exactly_the_sdks_final_message_with_thinking_and_a_tool_call(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, streamed: bool
) -> None:
    fake_anthropic.script.append(thinking_tool_answer())
    with client(fake_anthropic, anthropic_proxy.url) as c:
        if streamed:
            with c.messages.stream(**request()) as stream:
                final = stream.get_final_message()
        else:
            final = c.messages.create(**request())
    anthropic_proxy.flush()
    shown = only_call(cli)
    assert [p["type"] for p in shown["response"]["message"]["parts"]] == [
        "thinking",
        "text",
        "tool_call",
    ]
    assert_recorded_exactly(shown, final)
    assert shown["stream"] is streamed


def test_show_holds_what_an_async_client_streamed(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_anthropic.script.append(thinking_tool_answer())

    async def run() -> dict[str, str]:
        seen = {"thinking": "", "text": "", "json": "", "stop_reason": ""}
        async with anthropic.AsyncAnthropic(
            base_url=anthropic_proxy.url, api_key=fake_anthropic.api_key, max_retries=0
        ) as aclient:
            stream = await aclient.messages.create(**request(stream=True))
            async for event in stream:
                if event.type == "content_block_delta":
                    match event.delta.type:
                        case "thinking_delta":
                            seen["thinking"] += event.delta.thinking
                        case "text_delta":
                            seen["text"] += event.delta.text
                        case "input_json_delta":
                            seen["json"] += event.delta.partial_json
                elif event.type == "message_delta":
                    seen["stop_reason"] = str(event.delta.stop_reason)
        return seen

    seen = asyncio.run(run())
    anthropic_proxy.flush()
    shown = only_call(cli)
    thinking, text, call = shown["response"]["message"]["parts"]
    assert thinking["text"] == seen["thinking"]
    assert text["text"] == seen["text"]
    assert json.loads(call["arguments"]) == json.loads(seen["json"])
    assert shown["response"]["finish_reason"] == seen["stop_reason"] == "tool_use"


def test_streamed_and_whole_answers_are_stored_as_the_same_message(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_anthropic.script.extend([thinking_tool_answer(), thinking_tool_answer()])
    with client(fake_anthropic, anthropic_proxy.url) as c:
        c.messages.create(**request())
        with c.messages.stream(**request()) as stream:
            stream.until_done()
    anthropic_proxy.flush()
    whole, streamed = shown_calls(cli)
    assert (whole["stream"], streamed["stream"]) == (False, True)
    assert whole["response"]["message"] == streamed["response"]["message"]
    assert whole["usage"] == streamed["usage"]


def test_tool_results_sent_back_continue_the_conversation_and_are_recorded(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_anthropic.script.append(
        Answer(
            [
                Thinking("Two files matter here."),
                ToolUse("read_file", {"path": "config/loader.py"}),
                ToolUse("read_file", {"path": "config/missing.py"}),
            ]
        )
    )
    with client(fake_anthropic, anthropic_proxy.url) as c:
        with c.messages.stream(**request()) as stream:
            first = stream.get_final_message()
        ok, missing = (b for b in first.content if isinstance(b, anthropic.types.ToolUseBlock))
        results: list[Any] = [
            {"type": "tool_result", "tool_use_id": ok.id, "content": "def load(): ..."},
            {
                "type": "tool_result",
                "tool_use_id": missing.id,
                "content": [{"type": "text", "text": "No such file"}],
                "is_error": True,
            },
        ]
        history = [
            *MESSAGES,
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in first.content],
            },
            {"role": "user", "content": results},
        ]
        second = c.messages.create(**request(messages=history))
    anthropic_proxy.flush()

    convs = cli.json("ls")["conversations"]
    assert [conv["calls"] for conv in convs] == [2]
    _, shown = shown_calls(cli)
    assert shown["request"]["messages"][-1]["parts"] == [
        {"type": "tool_result", "call_id": ok.id, "content": "def load(): ..."},
        {
            "type": "tool_result",
            "call_id": missing.id,
            "content": [{"type": "text", "text": "No such file"}],
            "is_error": True,
        },
    ]
    assert recorded_parts(shown) == sdk_parts(second)
    with open_store() as store:
        roles = dict(store.con.execute("SELECT role, count(*) FROM nodes GROUP BY role").fetchall())
    # The first answer, sent back as history, is the same node: stored once.
    assert roles == {"user": 2, "assistant": 2}


@pytest.mark.parametrize(
    "coding",
    [
        "gzip",
        "br",
        "zstd",
    ],
)
def test_a_compressed_stream_reaches_the_client_intact_and_is_recorded_decoded(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, coding: str
) -> None:
    fake_anthropic.script.append(thinking_tool_answer(content_encoding=coding))
    with (
        client(fake_anthropic, anthropic_proxy.url) as c,
        c.messages.stream(**request()) as stream,
    ):
        final = stream.get_final_message()
    assert coding in fake_anthropic.received[-1].headers["accept-encoding"]
    assert len(final.content) == 3
    anthropic_proxy.flush()
    shown = only_call(cli)
    assert shown["parse_error"] is None
    assert_recorded_exactly(shown, final)


# --- bad input and faults ---------------------------------------------------------------------


def test_an_overloaded_error_event_after_http_200_records_the_call_as_failed_with_the_partial_answer(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_anthropic.script.append(
        Answer([Text("I will start by reading the loader, then")], error_after_events=5)
    )
    received = ""
    with (
        client(fake_anthropic, anthropic_proxy.url) as c,
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        for event in c.messages.create(**request(stream=True)):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                received += event.delta.text
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    anthropic_proxy.flush()
    shown = only_call(cli)
    assert shown["http_status"] == 200
    assert shown["status"] == "error"
    assert "overloaded_error" in shown["error"]
    assert shown["response"]["message"]["parts"] == [{"type": "text", "text": received}]
    assert received == "I will start b"  # two 7-character deltas arrived


def test_a_stream_cut_inside_a_tool_calls_json_keeps_the_raw_fragment_and_a_parse_error(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_anthropic.script.append(
        Answer(
            [ToolUse("write_file", {"path": "config/loader.py", "content": "x = 1\n"})],
            cut_after_json_fragments=3,
        )
    )
    fragments = ""
    with (
        client(fake_anthropic, anthropic_proxy.url) as c,
        pytest.raises(httpx2.RemoteProtocolError),
    ):
        for event in c.messages.create(**request(stream=True)):
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                fragments += event.delta.partial_json
    anthropic_proxy.flush()
    shown = only_call(cli)
    assert shown["status"] == "incomplete"
    (call,) = shown["response"]["message"]["parts"]
    assert call["type"] == "tool_call" and call["name"] == "write_file"
    assert call["arguments"] == fragments == '{"path": "config/loader.py"'
    assert call["parse_error"]
    assert "arguments of tool call write_file" in shown["parse_error"]


def test_an_unknown_content_block_is_kept_verbatim(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    future = {"type": "hologram", "scene": {"objects": 3}, "caption": "a cube"}
    future_delta = {"type": "hologram_delta", "objects": 1}
    fake_anthropic.script.append(Answer([Unknown(future, (future_delta,)), Text("Here it is.")]))
    with (
        client(fake_anthropic, anthropic_proxy.url) as c,
        c.messages.stream(**request()) as stream,
    ):
        stream.until_done()
    anthropic_proxy.flush()
    shown = only_call(cli)
    assert shown["status"] == "complete"
    assert shown["response"]["message"]["parts"] == [
        {"type": "opaque", "data": future},
        {"type": "text", "text": "Here it is."},
    ]
    assert shown["response"]["extra"]["unknown_events"] == [
        {"type": "content_block_delta", "index": 0, "delta": future_delta}
    ]


def test_an_unknown_event_is_kept_verbatim_and_the_rest_reassembled(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    odd = {"type": "model_status", "queue_position": 0, "region": "us-east"}
    fake_anthropic.script.append(Answer([Text("All done.")], unknown_events=[odd]))
    with (
        client(fake_anthropic, anthropic_proxy.url) as c,
        c.messages.stream(**request()) as stream,
    ):
        final = stream.get_final_message()
    anthropic_proxy.flush()
    shown = only_call(cli)
    assert shown["response"]["extra"]["unknown_events"] == [odd]
    assert_recorded_exactly(shown, final)
