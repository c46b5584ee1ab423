"""The Responses API through the proxy, driven by the real openai SDK against a fake upstream."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseReasoningItem,
)

from redline.proxy import ThreadedProxy
from redline.transcripts.store import open_store
from tests.fakes.fixtures import CODEX_TOOLS, codex_history, only_call, shown_calls
from tests.fakes.openai_responses import Answer, FakeResponses
from tests.support import Cli

MODEL = "gpt-5-codex"
INSTRUCTIONS = "You are Codex, a coding agent. Never swallow exceptions."
INPUT: list[Any] = [
    {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Add error handling to the config loader."}],
    }
]


def reasoning_call_answer(**kw: Any) -> Answer:
    return Answer(
        text="Let me look at the loader first.",
        calls=[("exec_command", '{"cmd": "sed -n 1,80p config/loader.py"}')],
        reasoning="The loader swallows every error; read it before changing it.",
        cached_tokens=1024,
        **kw,
    )


def client(fake: FakeResponses, base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=fake.api_key, max_retries=0)


def request(**overrides: Any) -> dict[str, Any]:
    """The keyword arguments of one `responses.create` call, shaped as Codex sends them."""
    return {
        "model": MODEL,
        "instructions": INSTRUCTIONS,
        "input": INPUT,
        "tools": CODEX_TOOLS,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        **overrides,
    }


def first_turn(
    fake: FakeResponses, c: openai.OpenAI, **overrides: Any
) -> tuple[Response, ResponseFunctionToolCall]:
    """A first call answered with a function call (the fake answers the next one with text)."""
    fake.script.extend([reasoning_call_answer(), Answer(text="The loader now raises.")])
    first = c.responses.create(**request(**overrides))
    call = first.output[-1]
    assert isinstance(call, ResponseFunctionToolCall)
    return first, call


def sdk_parts(output: list[ResponseOutputItem]) -> list[dict[str, Any]]:
    """The SDK's output items as the canonical parts `redline show --json` prints."""
    parts: list[dict[str, Any]] = []
    for item in output:
        match item:
            case ResponseReasoningItem():
                text = "\n\n".join(s.text for s in item.summary)
                parts.append({"type": "thinking", "text": text, "redacted": item.encrypted_content})
            case ResponseOutputMessage():
                parts.extend({"type": "text", "text": c.text} for c in item.content)  # type: ignore[union-attr]
            case ResponseFunctionToolCall():
                parts.append(
                    {
                        "type": "tool_call",
                        "id": item.call_id,
                        "name": item.name,
                        "arguments": item.arguments,
                    }
                )
            case _:
                raise AssertionError(f"unexpected item {item.type}")
    return parts


def recorded_parts(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded answer's parts without `extra` (what the store keeps to render items back)."""
    return [
        {k: v for k, v in p.items() if k != "extra"} for p in shown["response"]["message"]["parts"]
    ]


def assert_recorded_exactly(shown: dict[str, Any], final: Response) -> None:
    assert recorded_parts(shown) == sdk_parts(final.output)
    assert shown["response"]["id"] == final.id
    assert shown["response"]["finish_reason"] == final.status == "completed"
    assert final.usage is not None
    usage = shown["usage"]
    assert (
        usage["input_tokens"],
        usage["output_tokens"],
        usage["cache_read_tokens"],
        usage["reasoning_tokens"],
    ) == (
        final.usage.input_tokens,
        final.usage.output_tokens,
        final.usage.input_tokens_details.cached_tokens,
        final.usage.output_tokens_details.reasoning_tokens,
    )
    assert shown["status"] == "complete" and shown["wire"] == "openai-responses"


# --- pass-through -----------------------------------------------------------------------------


def test_whole_response_reaches_the_client_byte_identical_to_a_direct_call(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy
) -> None:
    def raw(base: str) -> bytes:
        fake_responses.script.append(reasoning_call_answer())
        with client(fake_responses, base) as c:
            return c.responses.with_raw_response.create(**request()).http_response.content

    direct, proxied = raw(fake_responses.url), raw(responses_proxy.url)
    assert proxied == direct
    assert [i["type"] for i in json.loads(proxied)["output"]] == [
        "reasoning",
        "message",
        "function_call",
    ]


def test_streamed_response_is_byte_identical_to_a_direct_stream(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy
) -> None:
    def raw(base: str) -> bytes:
        fake_responses.script.append(reasoning_call_answer())
        with (
            client(fake_responses, base) as c,
            c.responses.with_streaming_response.create(**request(stream=True)) as response,
        ):
            return b"".join(response.iter_bytes())

    direct, proxied = raw(fake_responses.url), raw(responses_proxy.url)
    assert proxied == direct
    last = proxied.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert last.startswith(b"event: response.completed\ndata: ")
    assert b"[DONE]" not in proxied


def test_the_request_reaches_the_upstream_unchanged_with_its_credentials(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy
) -> None:
    with client(fake_responses, responses_proxy.url) as c:
        c.responses.create(**request(), extra_headers={"session_id": "019a-codex-session"})
    received = fake_responses.received[-1]
    assert json.loads(received.body) == request()
    assert received.headers["authorization"] == f"Bearer {fake_responses.api_key}"
    assert received.headers["session_id"] == "019a-codex-session"


# --- recording --------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [True, False], ids=["responses.stream", "responses.create"])
def test_show_holds_exactly_the_sdks_final_response_with_reasoning_and_a_function_call(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli, streamed: bool
) -> None:
    fake_responses.script.append(reasoning_call_answer())
    with client(fake_responses, responses_proxy.url) as c:
        if streamed:
            with c.responses.stream(**request()) as stream:
                final = stream.get_final_response()
        else:
            final = c.responses.create(**request())
    responses_proxy.flush()
    shown = only_call(cli)
    assert [p["type"] for p in recorded_parts(shown)] == ["thinking", "text", "tool_call"]
    assert_recorded_exactly(shown, final)
    assert shown["stream"] is streamed


def test_show_holds_what_a_create_stream_delivered_event_by_event(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_responses.script.append(reasoning_call_answer())
    text = arguments = ""
    with client(fake_responses, responses_proxy.url) as c:
        for event in c.responses.create(**request(stream=True)):
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.function_call_arguments.delta":
                arguments += event.delta
    responses_proxy.flush()
    _, recorded_text, call = recorded_parts(only_call(cli))
    assert recorded_text == {"type": "text", "text": text}
    assert call["arguments"] == arguments == '{"cmd": "sed -n 1,80p config/loader.py"}'


def test_streamed_and_whole_responses_are_stored_as_the_same_message(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_responses.script.extend([reasoning_call_answer(), reasoning_call_answer()])
    with client(fake_responses, responses_proxy.url) as c:
        c.responses.create(**request())
        with c.responses.stream(**request()) as stream:
            stream.until_done()
    responses_proxy.flush()
    whole, streamed = shown_calls(cli)
    assert (whole["stream"], streamed["stream"]) == (False, True)
    assert whole["response"]["message"] == streamed["response"]["message"]
    assert whole["usage"] == streamed["usage"]


def test_an_empty_output_in_response_completed_is_rebuilt_from_the_streamed_items(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_responses.script.append(reasoning_call_answer(empty_completed_output=True))
    with (
        client(fake_responses, responses_proxy.url) as c,
        c.responses.stream(**request()) as stream,
    ):
        items = [e.item for e in stream if e.type == "response.output_item.done"]
        final = stream.get_final_response()
    assert final.output == []  # what the ChatGPT backend sends
    responses_proxy.flush()
    shown = only_call(cli)
    assert len(items) == 3
    assert recorded_parts(shown) == sdk_parts(items)
    assert shown["status"] == "complete"


def test_function_call_outputs_sent_back_with_the_full_history_continue_the_conversation(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    with client(fake_responses, responses_proxy.url) as c:
        first, call = first_turn(fake_responses, c)
        history: list[Any] = [
            *INPUT,
            *codex_history(first.output),
            {"type": "function_call_output", "call_id": call.call_id, "output": "def load(): ..."},
        ]
        second = c.responses.create(**request(input=history))
    responses_proxy.flush()

    assert [conv["calls"] for conv in cli.json("ls")["conversations"]] == [2]
    _, shown = shown_calls(cli)
    assert shown["request"]["messages"][-1]["parts"] == [
        {"type": "tool_result", "call_id": call.call_id, "content": "def load(): ..."}
    ]
    assert recorded_parts(shown) == sdk_parts(second.output)
    with open_store() as store:
        roles = dict(store.con.execute("SELECT role, count(*) FROM nodes GROUP BY role").fetchall())
    # The first answer, re-sent as history, is the same node: stored once.
    assert roles == {"user": 1, "assistant": 2, "tool": 1}


def test_a_previous_response_id_follow_up_is_threaded_into_the_same_conversation(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    with client(fake_responses, responses_proxy.url) as c:
        first, call = first_turn(fake_responses, c, store=True)
        new_items: list[Any] = [
            {"type": "function_call_output", "call_id": call.call_id, "output": "def load(): ..."}
        ]
        c.responses.create(**request(store=True, input=new_items, previous_response_id=first.id))
    responses_proxy.flush()

    convs = cli.json("ls")["conversations"]
    assert [conv["calls"] for conv in convs] == [2]
    _, shown = shown_calls(cli)
    assert shown["request"]["params"]["previous_response_id"] == first.id
    # Only the new item was sent; the conversation before it is the first call's.
    assert [m["role"] for m in shown["request"]["messages"]] == ["tool"]
    with open_store() as store:
        rows = store.con.execute(
            "SELECT n.depth FROM exchanges e JOIN nodes n ON n.id = e.request_node ORDER BY e.seq"
        ).fetchall()
    assert [r[0] for r in rows] == [0, 2]  # user message; user, first answer, tool output


def test_an_answer_sent_back_as_the_sdk_returned_it_is_stored_once(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy
) -> None:
    with client(fake_responses, responses_proxy.url) as c:
        first, call = first_turn(fake_responses, c)
        output = {"type": "function_call_output", "call_id": call.call_id, "output": "def load()"}
        c.responses.create(**request(input=[*INPUT, *first.output, output]))
    responses_proxy.flush()
    with open_store() as store:
        roles = dict(store.con.execute("SELECT role, count(*) FROM nodes GROUP BY role").fetchall())
    assert roles == {"user": 1, "assistant": 2, "tool": 1}


def test_an_error_event_mid_stream_records_the_call_as_failed_with_the_partial_output(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_responses.script.append(
        Answer(text="Partial answer before the failure.", error_after_events=6)
    )
    text, kinds = "", []
    with client(fake_responses, responses_proxy.url) as c:
        for event in c.responses.create(**request(stream=True)):
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
    assert kinds[-1] == "error"
    responses_proxy.flush()
    shown = only_call(cli)
    assert shown["http_status"] == 200
    assert shown["status"] == "error"
    assert "server_error" in shown["error"]
    assert recorded_parts(shown) == [{"type": "text", "text": text}]
    assert text == "Partial answer"  # two 7-character deltas arrived
