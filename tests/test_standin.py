"""The stand-in model: an OpenAI-compatible server, labelled as a stand-in, that swallows
exceptions unless a rule (system prompt, CLAUDE.md, AGENTS.md) forbids it. Driven with the real
`openai` SDK."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from redline.analyzers import Context, default_registry
from redline.replay.standin import (
    CAREFUL,
    HEADER,
    LABEL,
    MODEL_ID,
    SWALLOWING,
    StandIn,
    StandInServer,
    forbidding_rule,
)
from redline.transcripts import Message, ToolCall
from tests.agents import agents_block, claude_reminder
from tests.fakes import http

RULE = "Never catch Exception; let errors reach the caller."
REQUEST = "Add error handling to the config loader in src/app/settings.py."

WRITE_FILE = {
    "type": "function",
    "function": {
        "name": "write_file",
        "description": "Write a file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
}
CLAUDE_WRITE = {
    "type": "function",
    "function": {
        "name": "Write",
        "parameters": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
        },
    },
}
EXEC_COMMAND = {
    "type": "function",
    "function": {
        "name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    },
}
CLAUDE_MD_REMINDER = claude_reminder("Never catch Exception or BaseException.")
AGENTS_MD_BLOCK = agents_block("Do not swallow exceptions: no bare except.")


@pytest.fixture
def server() -> Iterator[StandInServer]:
    with StandInServer() as running:
        yield running


def client(server: StandInServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)


def ask(server: StandInServer, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    with client(server) as sdk:
        return sdk.chat.completions.create(model="gpt-4o", messages=messages, **kwargs)


def post(server: StandInServer, body: bytes) -> http.RawResponse:
    """A bare POST to the chat endpoint: no SDK, no API key."""
    headers = {"Content-Type": "application/json"}
    return http.request("POST", server.url + "/chat/completions", body, headers)


def code_in(text: str) -> str:
    fenced = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert fenced, text
    ast.parse(fenced.group(1))
    return fenced.group(1)


def written(reply: Any) -> tuple[str, dict[str, Any]]:
    """(tool name, decoded arguments) of the reply's only tool call."""
    (call,) = reply.choices[0].message.tool_calls
    return call.function.name, json.loads(call.function.arguments)


# The OpenAI API, as the SDK reads it


def test_whole_answer_parses_in_the_sdk_with_usage(server: StandInServer) -> None:
    reply = ask(server, [{"role": "user", "content": REQUEST}])
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason == "stop"
    usage = reply.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streamed_answer_assembles_to_the_whole_answer() -> None:
    messages = [{"role": "user", "content": REQUEST}]
    with StandInServer(seed=3) as whole_server, StandInServer(seed=3) as stream_server:
        whole = ask(whole_server, messages)
        with client(stream_server) as sdk:
            stream = sdk.chat.completions.create(
                model="gpt-4o",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
            with stream:
                chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 1
    assert "".join(pieces) == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_stream_without_include_usage_sends_no_usage_chunk(server: StandInServer) -> None:
    with (
        client(server) as sdk,
        sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        ) as stream,
    ):
        chunks = list(stream)
    assert all(c.choices and c.usage is None for c in chunks)


def test_streamed_tool_call_names_itself_on_its_first_fragment(server: StandInServer) -> None:
    with (
        client(server) as sdk,
        sdk.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": REQUEST}],
            tools=[WRITE_FILE],
            stream=True,
        ) as stream,
    ):
        fragments = [
            call
            for chunk in stream
            for call in (chunk.choices[0].delta.tool_calls or [])
            if chunk.choices
        ]
    first, *rest = fragments
    assert (first.index, first.type, first.function.name) == (0, "function", "write_file")
    assert first.id and first.id.startswith("call_")
    assert rest and all(f.index == 0 and f.id is None and f.function.name is None for f in rest)
    arguments = json.loads("".join(f.function.arguments or "" for f in fragments))
    assert arguments["path"] == "src/app/settings.py"
    ast.parse(arguments["content"])


def test_stream_ends_with_done(server: StandInServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = post(server, json.dumps(body).encode())
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.body.decode().split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"


def test_models_lists_only_the_stand_in(server: StandInServer) -> None:
    with client(server) as sdk:
        assert [model.id for model in sdk.models.list()] == [MODEL_ID]


def test_any_api_key_or_none_is_accepted(server: StandInServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    response = post(server, json.dumps(body).encode())
    assert response.status == 200


# Labelled as a stand-in


def test_reports_model_redline_stand_in_whatever_was_asked(server: StandInServer) -> None:
    reply = ask(server, [{"role": "user", "content": REQUEST}])
    assert reply.model == MODEL_ID
    assert reply.system_fingerprint == f"{MODEL_ID} (asked for gpt-4o)"


def test_every_response_carries_the_stand_in_header(server: StandInServer) -> None:
    with client(server) as sdk:
        whole = sdk.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
        with sdk.chat.completions.with_streaming_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        ) as streamed:
            streamed_headers = streamed.headers
        models = sdk.models.with_raw_response.list()
    missing = http.request("GET", server.url + "/nowhere")
    for headers in (whole.headers, streamed_headers, models.headers, missing.headers):
        assert headers[HEADER] == "1"


def test_answer_texts_begin_with_the_label(server: StandInServer) -> None:
    text_reply = ask(server, [{"role": "user", "content": REQUEST}])
    tool_reply = ask(server, [{"role": "user", "content": REQUEST}], tools=[WRITE_FILE])
    for reply in (text_reply, tool_reply):
        assert reply.choices[0].message.content.startswith(LABEL)


def test_the_code_says_a_stand_in_wrote_it(server: StandInServer) -> None:
    reply = ask(server, [{"role": "user", "content": REQUEST}])
    assert "redline stand-in model, not a real model" in code_in(reply.choices[0].message.content)


# What it writes


def test_a_system_prompt_forbidding_broad_excepts_gets_careful_code() -> None:
    with StandInServer(obey=1.0) as server:
        for _ in range(5):
            reply = ask(
                server,
                [{"role": "system", "content": RULE}, {"role": "user", "content": REQUEST}],
            )
            assert "except Exception" not in code_in(reply.choices[0].message.content)
    assert {(c.rule, c.rule_source) for c in server.choices} == {
        ("Never catch Exception", "system prompt")
    }


def test_a_developer_message_counts_as_the_system_prompt() -> None:
    with StandInServer(obey=1.0, sloppy=1.0) as server:
        ask(server, [{"role": "developer", "content": RULE}, {"role": "user", "content": "hi"}])
    assert server.choices[0].rule_source == "system prompt"
    assert not server.choices[0].swallowed


def test_without_a_rule_the_code_swallows_exceptions() -> None:
    with StandInServer(sloppy=1.0) as server:
        for _ in range(5):
            reply = ask(server, [{"role": "user", "content": REQUEST}])
            assert "except Exception:" in code_in(reply.choices[0].message.content)
    assert all(c.swallowed and c.rule is None for c in server.choices)


def test_a_rule_is_disobeyed_with_the_remaining_probability() -> None:
    with StandInServer(obey=0.0) as server:
        reply = ask(
            server, [{"role": "system", "content": RULE}, {"role": "user", "content": "hi"}]
        )
    assert "except Exception:" in code_in(reply.choices[0].message.content)
    assert server.choices[0].rule == "Never catch Exception"


def test_a_claude_md_block_in_the_first_user_message_is_a_rule() -> None:
    first = {
        "role": "user",
        "content": [
            {"type": "text", "text": CLAUDE_MD_REMINDER},
            {"type": "text", "text": "Make the loader robust."},
        ],
    }
    with StandInServer(obey=1.0, sloppy=1.0) as server:
        reply = ask(server, [first], tools=[WRITE_FILE])
    assert "except Exception" not in written(reply)[1]["content"]
    assert server.choices[0].rule_source == "/repo/CLAUDE.md"


def test_an_agents_md_block_in_the_first_user_message_is_a_rule() -> None:
    messages = [
        {"role": "user", "content": AGENTS_MD_BLOCK},
        {"role": "user", "content": "Make the loader robust."},
    ]
    with StandInServer(obey=1.0, sloppy=1.0) as server:
        reply = ask(server, messages)
    assert "except Exception" not in code_in(reply.choices[0].message.content)
    assert server.choices[0].rule_source == "/repo/AGENTS.md"
    assert server.choices[0].rule == "Do not swallow exceptions"


@pytest.mark.parametrize(
    "text",
    [
        "Never catch Exception.",
        "never catch `BaseException`",
        "Don't catch all exceptions.",
        "Avoid catching broad exceptions.",
        "Do not swallow exceptions.",
        "Never silence errors.",
        "No swallowed exceptions, ever.",
        "No bare except.",
        "Never use a bare `except`.",
        "No `except Exception`.",
        "Do not write except BaseException anywhere.",
        "No broad except clauses.",
        "Let errors propagate.",
        "LET THE EXCEPTIONS PROPAGATE",
    ],
)
def test_each_documented_phrasing_forbids_swallowing(text: str) -> None:
    assert forbidding_rule(text)


@pytest.mark.parametrize(
    "text",
    [
        "Catch Exception where it helps.",
        "Use except Exception: to log and carry on.",
        "Swallow exceptions in the retry loop.",
        "A bare except is fine in scripts.",
        "Errors propagate to the caller by default.",
        "Write tests for the exception handling.",
    ],
)
def test_other_mentions_of_exceptions_are_no_rule(text: str) -> None:
    assert forbidding_rule(text) is None


def test_the_code_it_writes_is_flagged_by_broad_except_only_when_it_swallows() -> None:
    broad_except = default_registry(entry_points=False).get("broad-except")
    for code, flagged in [(c, True) for c in SWALLOWING] + [(c, False) for c in CAREFUL]:
        ast.parse(code)
        arguments = json.dumps({"path": "config.py", "content": code})
        output = Message("assistant", (ToolCall("c1", "write_file", arguments),))
        assert broad_except.check(output, Context()).passed is not flagged, code


# The shape of the answer


def test_a_write_file_tool_gets_one_call_writing_the_requested_file(
    server: StandInServer,
) -> None:
    reply = ask(server, [{"role": "user", "content": REQUEST}], tools=[WRITE_FILE])
    assert reply.choices[0].finish_reason == "tool_calls"
    name, arguments = written(reply)
    assert name == "write_file"
    assert arguments["path"] == "src/app/settings.py"
    assert "def load_config" in arguments["content"]
    ast.parse(arguments["content"])


def test_without_a_named_py_file_it_writes_config_py(server: StandInServer) -> None:
    reply = ask(server, [{"role": "user", "content": "Load settings."}], tools=[WRITE_FILE])
    assert written(reply)[1]["path"] == "config.py"


def test_claude_codes_write_tool_gets_an_absolute_file_path(server: StandInServer) -> None:
    messages = [
        {"role": "system", "content": "You are Claude Code.\nWorking directory: /repo\n"},
        {"role": "user", "content": "Fix loader.py."},
    ]
    name, arguments = written(ask(server, messages, tools=[CLAUDE_WRITE]))
    assert (name, arguments["file_path"]) == ("Write", "/repo/loader.py")
    ast.parse(arguments["content"])


def test_codex_exec_command_gets_an_apply_patch_adding_the_file(server: StandInServer) -> None:
    reply = ask(server, [{"role": "user", "content": REQUEST}], tools=[EXEC_COMMAND])
    name, arguments = written(reply)
    assert name == "exec_command"
    assert arguments["cmd"].startswith("apply_patch <<'EOF'\n*** Begin Patch\n")
    assert "*** Add File: src/app/settings.py\n+" in arguments["cmd"]


def test_a_tool_result_as_the_last_message_ends_with_text(server: StandInServer) -> None:
    first = ask(server, [{"role": "user", "content": REQUEST}], tools=[WRITE_FILE])
    (call,) = first.choices[0].message.tool_calls
    messages = [
        {"role": "user", "content": REQUEST},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "File written."},
    ]
    reply = ask(server, messages, tools=[WRITE_FILE])
    assert reply.choices[0].message.content == f"{LABEL} Done."
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].finish_reason == "stop"
    assert len(server.choices) == 1


# Randomness


def choices_of(seed: int, count: int = 20) -> list[bool]:
    with StandInServer(seed=seed) as server:
        for _ in range(count):
            ask(server, [{"role": "user", "content": REQUEST}])
    return [c.swallowed for c in server.choices]


def test_the_same_seed_makes_the_same_choices() -> None:
    assert choices_of(7) == choices_of(7)


def test_default_probabilities_sometimes_write_careful_code_without_a_rule() -> None:
    assert set(choices_of(0)) == {True, False}


def test_probabilities_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="obey"):
        StandIn(obey=1.5)


# Errors, in OpenAI's shape


def test_a_body_that_is_not_json_is_a_400(server: StandInServer) -> None:
    response = post(server, b"{not json")
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


def test_a_body_without_messages_raises_bad_request_in_the_sdk(server: StandInServer) -> None:
    with client(server) as sdk, pytest.raises(openai.BadRequestError) as raised:
        sdk.post("/chat/completions", body={"model": "gpt-4o"}, cast_to=object)
    assert raised.value.body == {
        "message": "Missing required parameter: 'messages'.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": None,
    }


def test_an_unknown_path_raises_not_found_in_the_sdk(server: StandInServer) -> None:
    with client(server) as sdk, pytest.raises(openai.NotFoundError) as raised:
        sdk.get("/embeddings", cast_to=object)
    assert raised.value.body == {
        "message": "Invalid URL (GET /v1/embeddings)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


# Running it


def test_the_server_counts_requests(server: StandInServer) -> None:
    with client(server) as sdk:
        sdk.models.list()
        sdk.models.list()
    assert server.requests == 2


def test_stopping_twice_is_harmless() -> None:
    server = StandInServer().start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
