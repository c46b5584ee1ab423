"""Chat Completions through the proxy, driven by the real openai SDK against a fake upstream."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import openai
import pytest

from redline.proxy import ThreadedProxy
from tests.fakes import http
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.support import Cli

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file from the workspace.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "write_file",
            "description": "Write a file.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            },
        },
    },
]
MESSAGES: list[Any] = [
    {"role": "developer", "content": "You are a careful coding agent. Never swallow exceptions."},
    {"role": "user", "content": "Add error handling to the config loader."},
]


def client(fake: FakeOpenAI, base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=fake.api_key, max_retries=0)


def only_call(cli: Cli) -> dict[str, Any]:
    convs = cli.json("ls")["conversations"]
    assert len(convs) == 1
    calls = cli.json("ls", convs[0]["id"])["calls"]
    assert len(calls) == 1
    return cli.json("show", calls[0]["id"])


def test_plain_answer_reaches_the_client_byte_identical_to_a_direct_call(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    direct = client(fake_openai, fake_openai.url).chat.completions.with_raw_response.create(
        model="gpt-test", messages=MESSAGES
    )
    proxied = client(fake_openai, proxy.url).chat.completions.with_raw_response.create(
        model="gpt-test", messages=MESSAGES
    )
    assert proxied.http_response.content == direct.http_response.content
    assert proxied.parse().choices[0].message.content.startswith("You said:")


def test_the_request_reaches_the_upstream_unchanged_with_its_credentials(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    client(fake_openai, proxy.url).chat.completions.create(
        model="gpt-test", messages=MESSAGES, temperature=0.3
    )
    received = fake_openai.received[-1]
    assert json.loads(received.body) == {
        "model": "gpt-test",
        "messages": MESSAGES,
        "temperature": 0.3,
    }
    assert received.headers["authorization"] == f"Bearer {fake_openai.api_key}"
    assert received.headers["host"] == fake_openai.url.removeprefix("http://")  # type: ignore[attr-defined]


def test_streamed_answer_is_byte_identical_to_a_direct_stream(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    def raw_stream(base: str) -> bytes:
        with client(fake_openai, base).chat.completions.with_streaming_response.create(
            model="gpt-test",
            messages=MESSAGES,
            tools=TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        ) as response:
            return b"".join(response.iter_bytes())

    direct, proxied = raw_stream(fake_openai.url), raw_stream(proxy.url)  # type: ignore[attr-defined]
    assert proxied == direct
    assert proxied.endswith(b"data: [DONE]\n\n")


def test_show_holds_exactly_the_message_the_sdk_reassembled_from_a_tool_call_stream(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_openai.script.append(
        Answer(
            text="Let me look first.",
            tool_calls=[
                ("read_file", '{"path": "config.py"}'),
                ("write_file", '{"path": "b.py", "content": "x = 1\\n"}'),
            ],
        )
    )
    with client(fake_openai, proxy.url).chat.completions.stream(
        model="gpt-test", messages=MESSAGES, tools=TOOLS, stream_options={"include_usage": True}
    ) as stream:
        final = stream.get_final_completion()
    proxy.flush()

    shown = only_call(cli)
    sdk = final.choices[0].message
    message = shown["response"]["message"]
    assert message["role"] == "assistant"
    assert [p["text"] for p in message["parts"] if p["type"] == "text"] == [sdk.content]
    calls = [p for p in message["parts"] if p["type"] == "tool_call"]
    assert [(c["id"], c["name"], c["arguments"]) for c in calls] == [
        (tc.id, tc.function.name, tc.function.arguments) for tc in sdk.tool_calls or []
    ]
    assert shown["response"]["finish_reason"] == final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None
    assert shown["usage"]["input_tokens"] == final.usage.prompt_tokens
    assert shown["usage"]["output_tokens"] == final.usage.completion_tokens
    assert shown["status"] == "complete" and shown["stream"] is True


def test_streamed_and_whole_answers_are_stored_as_the_same_message(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    c = client(fake_openai, proxy.url)
    c.chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS)
    list(c.chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS, stream=True))
    proxy.flush()
    conv = cli.json("ls")["conversations"][0]
    calls = cli.json("ls", conv["id"])["calls"]
    assert len(calls) == 2  # the same request twice: one conversation
    whole, streamed = (cli.json("show", call["id"])["response"]["message"] for call in calls)
    assert whole == streamed


def test_async_client_with_streaming_is_recorded(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    async def run() -> str:
        aclient = openai.AsyncOpenAI(
            base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0
        )
        text = []
        stream = await aclient.chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        await aclient.close()
        return "".join(text)

    text = asyncio.run(run())
    proxy.flush()
    shown = only_call(cli)
    assert shown["response"]["message"]["parts"] == [{"type": "text", "text": text}]
    assert shown["request"]["messages"][0] == {
        "role": "developer",
        "parts": [{"type": "text", "text": MESSAGES[0]["content"]}],
    }


def test_show_lists_request_messages_tools_and_timings(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    client(fake_openai, proxy.url).chat.completions.create(
        model="gpt-test", messages=MESSAGES, tools=TOOLS, tool_choice="auto"
    )
    proxy.flush()
    shown = only_call(cli)
    request = shown["request"]
    assert request["model"] == "gpt-test"
    assert [m["role"] for m in request["messages"]] == ["developer", "user"]
    assert [t["name"] for t in request["tools"]] == ["read_file", "write_file"]
    assert request["params"] == {"tool_choice": "auto"}
    timings = shown["timings"]
    assert 0 < timings["ttfb_ms"] <= timings["duration_ms"]
    assert shown["client"]["user_agent"].startswith("OpenAI/Python")


def test_other_endpoints_pass_through(fake_openai: FakeOpenAI, proxy: ThreadedProxy) -> None:
    models = client(fake_openai, proxy.url).models.list()
    assert [m.id for m in models.data] == ["fake-model"]


def test_upstream_errors_reach_the_client_unchanged(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    bad = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"
    proxy.flush()
    shown = only_call(cli)
    assert shown["http_status"] == 401
    assert "Incorrect API key" in shown["error"]


def test_gzip_compressed_answers_are_forwarded_intact_and_recorded_decoded(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    response = http.request(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json.dumps({"model": "gpt-test", "messages": MESSAGES}).encode(),
        {
            "Authorization": f"Bearer {fake_openai.api_key}",
            "Accept-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert response.headers["content-encoding"] == "gzip"
    answer = json.loads(gzip.decompress(response.body))
    assert answer["choices"][0]["message"]["content"].startswith("You said:")
    proxy.flush()
    shown = only_call(cli)
    assert shown["parse_error"] is None
    assert shown["response"]["message"]["parts"][0]["text"].startswith("You said:")


def test_request_bodies_of_tens_of_megabytes_are_accepted(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    big = "x" * (30 * 1024 * 1024)
    completion = client(fake_openai, proxy.url).chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": big}]
    )
    assert completion.choices[0].finish_reason == "stop"
    assert len(fake_openai.received[-1].body) > 30 * 1024 * 1024


def test_connections_to_the_upstream_are_pooled(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    c = client(fake_openai, proxy.url)
    for _ in range(3):
        c.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert len({r.peer for r in fake_openai.received}) == 1


def test_status_and_headers_pass_through_without_hop_by_hop_ones(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    response = http.request(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json.dumps({"model": "gpt-test", "messages": MESSAGES}).encode(),
        {
            "Authorization": f"Bearer {fake_openai.api_key}",
            "Content-Type": "application/json",
            "Connection": "keep-alive, x-hop",
            "x-hop": "only for the next hop",
            "x-custom": "kept",
        },
    )
    assert response.status == 200
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["openai-processing-ms"] == "7"
    received = fake_openai.received[-1].headers
    assert received["x-custom"] == "kept"
    assert "x-hop" not in received
