"""`redline proxy --mode mitm` records a call exactly as the reverse proxy records it: the same
call made both ways, with the real `openai` and `anthropic` SDKs, is spooled and shown alike but
for ids, times and the upstream (tests/mitm_support.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import httpx2

from tests.fakes import anthropic as fake_anthropic
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.tls import Pki
from tests.mitm.support import assert_recorded_alike, both_ways, openai_client
from tests.support import Cli
from tests.test_proxy_chat import MESSAGES, TOOLS


def test_openai_calls_are_recorded_as_the_reverse_proxy_records_them(
    tmp_path: Path, pki: Pki, cli: Cli
) -> None:
    fake = FakeOpenAI()

    def calls(base: str, http: httpx2.Client | None) -> None:
        with openai_client(base, fake.api_key, http) as client:
            client.chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS)
            chunks = client.chat.completions.create(
                model="gpt-test",
                messages=[*MESSAGES, {"role": "user", "content": "Stream it."}],
                tools=TOOLS,
                stream=True,
                stream_options={"include_usage": True},
            )
            assert any(c.choices and c.choices[0].delta.tool_calls for c in list(chunks))

    whole, streamed = assert_recorded_alike(cli, *both_ways(tmp_path, pki, fake, calls))
    for shown, stream in ((whole, False), (streamed, True)):
        assert (shown["wire"], shown["status"], shown["stream"]) == (
            "openai-chat",
            "complete",
            stream,
        )
        assert shown["response"]["message"]["parts"][0]["name"] == "read_file"


def test_anthropic_calls_are_recorded_as_the_reverse_proxy_records_them(
    tmp_path: Path, pki: Pki, cli: Cli
) -> None:
    fake = fake_anthropic.FakeAnthropic()
    answer = fake_anthropic.Answer(
        [
            fake_anthropic.Thinking("The loader reads YAML; look at it first."),
            fake_anthropic.Text("Let me read the loader."),
            fake_anthropic.ToolUse("read_file", {"path": "config/loader.py"}),
        ]
    )
    ask: dict[str, Any] = {
        "model": fake_anthropic.MODEL,
        "max_tokens": 1024,
        "system": "You are a careful coding agent.",
        "tools": [{"name": "read_file", "input_schema": {"type": "object"}}],
    }

    def calls(base: str, http: httpx2.Client | None) -> None:
        fake.script.extend([answer, answer])
        with anthropic.Anthropic(
            base_url=base, api_key=fake.api_key, http_client=http, max_retries=0
        ) as client:
            first = [{"role": "user", "content": "Add error handling to the loader."}]
            final = client.messages.create(**ask, messages=first)
            assert final.stop_reason == "tool_use"
            second = [{"role": "user", "content": "Stream it."}]
            with client.messages.stream(**ask, messages=second) as events:
                assert events.get_final_message().stop_reason == "tool_use"

    whole, streamed = assert_recorded_alike(cli, *both_ways(tmp_path, pki, fake, calls))
    for shown, stream in ((whole, False), (streamed, True)):
        assert (shown["wire"], shown["status"], shown["stream"]) == (
            "anthropic-messages",
            "complete",
            stream,
        )
        parts = shown["response"]["message"]["parts"]
        assert [p["type"] for p in parts] == ["thinking", "text", "tool_call"]
