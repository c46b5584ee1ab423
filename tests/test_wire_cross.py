"""A transcript captured in one wire format renders as a valid request of the other two.

Replay needs it: a task recorded from Claude Code is sent to an OpenAI model and back. Validity
is checked by the rules each API enforces (docs/wire-formats.md sections 1 and 3.2.10):
only the keys the API knows, Anthropic's alternating turns with tool_result blocks first, every
call followed by its result, no provider ciphertext sent to another provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from redline.transcripts import wire
from redline.transcripts.model import Message, Request, Text, ToolCall, ToolResult
from tests.test_wire_chat import AGENT_REQUEST, AIDER_REQUEST
from tests.wire_samples_anthropic import CLAUDE_CODE_REQUEST, IMAGE_REQUEST, ODD_BLOCKS_REQUEST
from tests.wire_samples_responses import CODEX_REQUEST, PATCH, SDK_REQUEST

ANTHROPIC, CHAT, RESPONSES = "anthropic-messages", "openai-chat", "openai-responses"

# --- what each API accepts --------------------------------------------------------------------

_ANTHROPIC_TOP = {
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "temperature",
}
_ANTHROPIC_TOP |= {"top_p", "top_k", "stop_sequences", "stream", "metadata", "thinking"}
_ANTHROPIC_BLOCKS = {
    "text": ({"type", "text"}, set()),
    "image": ({"type", "source"}, set()),
    "tool_use": ({"type", "id", "name", "input"}, set()),
    "tool_result": ({"type", "tool_use_id"}, {"content", "is_error"}),
}
_ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def _keys(
    where: str,
    d: dict[str, Any],
    required: set[str],
    optional: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    problems = [f"{where}: missing {k}" for k in sorted(required - d.keys())]
    return problems + [f"{where}: unknown key {k}" for k in sorted(d.keys() - required - optional)]


def _anthropic_block(where: str, block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind not in _ANTHROPIC_BLOCKS:
        return [f"{where}: block type {kind!r}"]
    problems = _keys(where, block, *_ANTHROPIC_BLOCKS[kind])
    if kind == "text" and not block["text"].strip():
        problems.append(f"{where}: empty text block")
    if kind == "tool_use" and not (
        _ANTHROPIC_ID.match(block["id"]) and isinstance(block["input"], dict)
    ):
        problems.append(f"{where}: bad tool_use {block}")
    if kind == "tool_result":
        if not _ANTHROPIC_ID.match(block["tool_use_id"]):
            problems.append(f"{where}: bad tool_use_id")
        content = block.get("content")
        for b in content if isinstance(content, list) else []:
            problems += _anthropic_block(f"{where}.content", b)
    return problems


def anthropic_problems(body: dict[str, Any]) -> list[str]:
    problems = _keys("body", body, {"model", "max_tokens", "messages"}, _ANTHROPIC_TOP)
    system = body.get("system", "")
    if not isinstance(system, str):
        problems += [p for b in system for p in _anthropic_block("system", b)]
    if body.get("temperature", 0) > 1:
        problems.append("temperature above 1")
    pending: set[str] = set()  # tool_use ids the next user turn must answer
    for i, m in enumerate(body["messages"]):
        where = f"messages[{i}]"
        problems += _keys(where, m, {"role", "content"})
        expected = "user" if i % 2 == 0 else "assistant"
        if m["role"] != expected:
            problems.append(f"{where}: role {m['role']}, turns must alternate starting with user")
        blocks = (
            m["content"]
            if isinstance(m["content"], list)
            else [{"type": "text", "text": m["content"]}]
        )
        if not blocks:
            problems.append(f"{where}: no content")
        for j, block in enumerate(blocks):
            problems += _anthropic_block(f"{where}[{j}]", block)
        kinds = [b.get("type") for b in blocks]
        if "tool_result" in kinds and kinds[: kinds.count("tool_result")] != [
            "tool_result"
        ] * kinds.count("tool_result"):
            problems.append(f"{where}: tool_result blocks must come first")
        answered = {b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"}
        if m["role"] == "user" and answered != pending:
            problems.append(f"{where}: answers {sorted(answered)}, calls were {sorted(pending)}")
        pending = {b["id"] for b in blocks if b.get("type") == "tool_use"}
    for t in body.get("tools", []):
        problems += _keys("tool", t, {"name", "input_schema"}, {"description"})
        if t.get("input_schema", {}).get("type") != "object":
            problems.append(f"tool {t.get('name')}: input_schema is not an object schema")
    choice = body.get("tool_choice")
    if choice is not None and choice.get("type") not in ("auto", "any", "tool", "none"):
        problems.append(f"tool_choice {choice}")
    return problems


_CHAT_TOP = {"model", "messages", "tools", "tool_choice", "parallel_tool_calls", "stream"}
_CHAT_TOP |= {"stream_options", "max_completion_tokens", "temperature", "top_p", "stop"}
_CHAT_TOP |= {"reasoning_effort", "response_format", "seed", "n", "user", "metadata", "store"}


def _chat_parts(where: str, content: Any, allowed: set[str]) -> list[str]:
    if isinstance(content, str):
        return []
    if not isinstance(content, list):
        return [f"{where}: content {content!r}"]
    problems = []
    for part in content:
        if part.get("type") not in allowed:
            problems.append(f"{where}: part type {part.get('type')}")
        elif part["type"] == "text":
            problems += _keys(where, part, {"type", "text"})
        else:
            problems += _keys(where, part, {"type", "image_url"})
    return problems


def chat_problems(body: dict[str, Any]) -> list[str]:
    problems = _keys("body", body, {"model", "messages"}, _CHAT_TOP)
    pending: set[str] = set()  # call ids still waiting for their tool message
    for i, m in enumerate(body["messages"]):
        where = f"messages[{i}]"
        role = m.get("role")
        if role != "tool" and pending:
            problems.append(f"{where}: calls {sorted(pending)} not followed by tool messages")
            pending = set()
        if role in ("system", "developer"):
            problems += _keys(where, m, {"role", "content"}) + _chat_parts(
                where, m["content"], {"text"}
            )
        elif role == "user":
            problems += _keys(where, m, {"role", "content"}, {"name"})
            problems += _chat_parts(where, m["content"], {"text", "image_url"})
        elif role == "assistant":
            problems += _keys(where, m, {"role"}, {"content", "tool_calls", "refusal", "name"})
            if m.get("content") is not None:
                problems += _chat_parts(where, m["content"], {"text"})
            for call in m.get("tool_calls", []):
                kind = call.get("type")
                body_key = {"function": "arguments", "custom": "input"}.get(kind, "")
                problems += _keys(where, call, {"id", "type", str(kind)})
                problems += _keys(where, call.get(kind, {}), {"name", body_key})
                pending.add(call["id"])
        elif role == "tool":
            problems += _keys(where, m, {"role", "tool_call_id", "content"})
            problems += _chat_parts(where, m["content"], {"text"})
            if m.get("tool_call_id") not in pending:
                problems.append(f"{where}: result for {m.get('tool_call_id')} follows no call")
            pending.discard(m.get("tool_call_id"))
        else:
            problems.append(f"{where}: role {role}")
    for t in body.get("tools", []):
        kind = t.get("type")
        problems += _keys("tool", t, {"type", str(kind)})
        optional = (
            {"description", "parameters", "strict"}
            if kind == "function"
            else {"description", "format"}
        )
        problems += _keys("tool", t.get(kind, {}), {"name"}, optional)
        fmt = t.get(kind, {}).get("format", {"type": "text"})
        if fmt["type"] == "grammar":
            problems += _keys("tool format", fmt, {"type", "grammar"})
    return problems


_RESPONSES_TOP = {"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls"}
_RESPONSES_TOP |= {"max_output_tokens", "temperature", "top_p", "stream", "reasoning", "store"}
_RESPONSES_TOP |= {"include", "previous_response_id", "text", "metadata", "prompt_cache_key"}
_RESPONSES_ITEMS = {
    "function_call": ({"type", "call_id", "name", "arguments"}, "function"),
    "custom_tool_call": ({"type", "call_id", "name", "input"}, "custom"),
    "function_call_output": ({"type", "call_id", "output"}, "function"),
    "custom_tool_call_output": ({"type", "call_id", "output"}, "custom"),
}


def _responses_message(where: str, item: dict[str, Any]) -> list[str]:
    problems = _keys(where, item, {"type", "role", "content"})
    if item.get("role") not in ("user", "system", "developer", "assistant"):
        problems.append(f"{where}: role {item.get('role')}")
    for part in item.get("content") or []:
        if item.get("role") == "assistant":
            problems += _keys(where, part, {"type", "text"}) + (
                [f"{where}: {part['type']}"] if part.get("type") != "output_text" else []
            )
        elif part.get("type") == "input_text":
            problems += _keys(where, part, {"type", "text"})
        elif part.get("type") == "input_image":
            problems += _keys(where, part, {"type", "image_url", "detail"})
        else:
            problems.append(f"{where}: part type {part.get('type')}")
    return problems


def responses_problems(body: dict[str, Any]) -> list[str]:
    problems = _keys("body", body, {"model", "input"}, _RESPONSES_TOP)
    calls: dict[str, str] = {}  # call_id -> kind, for the outputs that follow
    for i, item in enumerate(body["input"]):
        where = f"input[{i}]"
        kind = item.get("type")
        if kind == "message":
            problems += _responses_message(where, item)
        elif kind in _RESPONSES_ITEMS:
            required, call_kind = _RESPONSES_ITEMS[kind]
            problems += _keys(where, item, required)
            if kind.endswith("_output"):
                if calls.pop(item["call_id"], None) != call_kind:
                    problems.append(
                        f"{where}: output for {item['call_id']} matches no {call_kind} call"
                    )
            else:
                calls[item["call_id"]] = call_kind
        else:
            problems.append(f"{where}: item type {kind}")
    problems += [f"call {c} has no output" for c in calls]
    for t in body.get("tools", []):
        if t.get("type") == "function":
            problems += _keys("tool", t, {"type", "name", "parameters", "strict"}, {"description"})
        else:
            problems += _keys("tool", t, {"type", "name"}, {"description", "format"})
            fmt = t.get("format", {"type": "text"})
            if fmt["type"] == "grammar":
                problems += _keys("tool format", fmt, {"type", "syntax", "definition"})
    return problems


PROBLEMS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    ANTHROPIC: anthropic_problems,
    CHAT: chat_problems,
    RESPONSES: responses_problems,
}

# The realistic transcripts of the three formats' own tests.
TRANSCRIPTS = {
    "claude-code": (ANTHROPIC, CLAUDE_CODE_REQUEST),
    "anthropic-images": (ANTHROPIC, IMAGE_REQUEST),
    "anthropic-server-tools": (ANTHROPIC, ODD_BLOCKS_REQUEST),
    "codex": (RESPONSES, CODEX_REQUEST),
    "responses-sdk": (RESPONSES, SDK_REQUEST),
    "chat-agent": (CHAT, AGENT_REQUEST),
    "aider": (CHAT, AIDER_REQUEST),
}
CROSSINGS = [
    (name, target)
    for name, (source, _) in TRANSCRIPTS.items()
    for target in PROBLEMS
    if target != source
]


def parse(source: str, body: dict[str, Any]) -> Request:
    return wire.get(source).parse_request(body)


def render(target: str, request: Request) -> dict[str, Any]:
    return wire.get(target).render_request(request)


@pytest.mark.parametrize(("name", "target"), CROSSINGS, ids=[f"{n}->{t}" for n, t in CROSSINGS])
def test_transcript_renders_as_a_valid_request_of_another_format(name: str, target: str) -> None:
    source, body = TRANSCRIPTS[name]
    assert PROBLEMS[target](render(target, parse(source, body))) == []


CLIENT_CALLS = ("function", "custom")


@pytest.mark.parametrize(("name", "target"), CROSSINGS, ids=[f"{n}->{t}" for n, t in CROSSINGS])
def test_crossing_keeps_every_call_and_result(name: str, target: str) -> None:
    """Every call of the client's own tools and its result; a provider's built-in tools'
    calls (server_tool_use...) stay with that provider."""
    source, body = TRANSCRIPTS[name]
    crossed = parse(target, render(target, parse(source, body)))

    def calls_and_results(request: Request) -> list[tuple[str, str]]:
        builtin = {
            c.id for m in request.messages for c in m.tool_calls if c.kind not in CLIENT_CALLS
        }
        return [
            (type(p).__name__, p.name if isinstance(p, ToolCall) else "")
            for m in request.messages
            for p in m.parts
            if (isinstance(p, ToolCall) and p.kind in CLIENT_CALLS)
            or (isinstance(p, ToolResult) and p.call_id not in builtin)
        ]

    original = calls_and_results(parse(source, body))
    assert calls_and_results(crossed) == original


@pytest.mark.parametrize(("name", "target"), CROSSINGS, ids=[f"{n}->{t}" for n, t in CROSSINGS])
def test_signatures_and_encrypted_reasoning_do_not_cross_providers(name: str, target: str) -> None:
    source, body = TRANSCRIPTS[name]
    rendered = json.dumps(render(target, parse(source, body)))
    for secret in (
        "signature",
        "redacted_thinking",
        "encrypted_content",
        "EqQBCkYIBxgC",
        "gAAAAAB",
    ):
        assert secret not in rendered


def test_anthropic_system_blocks_become_instructions_and_a_system_message() -> None:
    request = parse(ANTHROPIC, CLAUDE_CODE_REQUEST)
    expected = "\n\n".join(b["text"] for b in CLAUDE_CODE_REQUEST["system"])
    assert render(RESPONSES, request)["instructions"] == expected
    assert render(CHAT, request)["messages"][0] == {"role": "system", "content": expected}


def test_instructions_and_leading_developer_messages_become_anthropic_system() -> None:
    body = render(ANTHROPIC, parse(RESPONSES, CODEX_REQUEST))
    assert body["system"] == (
        CODEX_REQUEST["instructions"]
        + "\n\n<permissions instructions>workspace-write</permissions instructions>"
    )
    first = body["messages"][0]
    assert first["role"] == "user"
    assert [b["text"] for b in first["content"]] == [
        CODEX_REQUEST["input"][i]["content"][0]["text"] for i in (1, 2, 3)
    ]  # three consecutive user items merged into one turn


def test_chat_system_message_becomes_anthropic_system() -> None:
    body = render(ANTHROPIC, parse(CHAT, AIDER_REQUEST))
    assert body["system"] == AIDER_REQUEST["messages"][0]["content"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_tool_use_becomes_function_call_and_tool_call_with_the_same_id_and_arguments() -> None:
    request = parse(ANTHROPIC, CLAUDE_CODE_REQUEST)
    edit_input = CLAUDE_CODE_REQUEST["messages"][3]["content"][1]["input"]
    responses_call = [
        i for i in render(RESPONSES, request)["input"] if i["type"] == "function_call"
    ][1]
    chat_call = render(CHAT, request)["messages"][4]["tool_calls"][0]
    assert responses_call["call_id"] == chat_call["id"] == "toolu_01B7fV3mNQKk2xYd8s6tGxAo"
    assert (
        json.loads(responses_call["arguments"])
        == json.loads(chat_call["function"]["arguments"])
        == edit_input
    )


def test_function_call_becomes_tool_use_with_its_arguments_as_input() -> None:
    body = render(ANTHROPIC, parse(RESPONSES, CODEX_REQUEST))
    assistant = body["messages"][1]
    assert assistant["content"] == [
        {"type": "text", "text": "Running the tests first."},
        {
            "type": "tool_use",
            "id": "call_Kx1sVtQ0b7nZ",
            "name": "exec_command",
            "input": {"cmd": "pytest -q", "workdir": "/repo"},
        },
    ]


def test_tool_results_become_tool_result_blocks_first_in_one_user_turn() -> None:
    # Anthropic's last turn: an error result, then the user's text; OpenAI formats spell them
    # as a result message right after the call, then a user message.
    request = parse(ANTHROPIC, CLAUDE_CODE_REQUEST)
    chat_tail = render(CHAT, request)["messages"][-3:]
    assert [m["role"] for m in chat_tail] == ["assistant", "tool", "user"]
    assert (
        chat_tail[1]["content"]
        == "<tool_use_error>File has been modified since read</tool_use_error>"
    )
    responses_tail = render(RESPONSES, request)["input"][-2:]
    assert responses_tail[0] == {
        "type": "function_call_output",
        "call_id": "toolu_01B7fV3mNQKk2xYd8s6tGxAo",
        "output": "<tool_use_error>File has been modified since read</tool_use_error>",
    }
    # And back: the results lead the user turn, its text follows.
    back = render(ANTHROPIC, parse(CHAT, render(CHAT, request)))
    assert [b["type"] for b in back["messages"][-1]["content"]] == ["tool_result", "text"]


def test_parallel_results_join_one_anthropic_user_turn() -> None:
    body = render(ANTHROPIC, parse(CHAT, AGENT_REQUEST))
    results = body["messages"][2]["content"]
    assert [(b["type"], b["tool_use_id"]) for b in results] == [
        ("tool_result", "call_A"),
        ("tool_result", "call_B"),
    ]


def test_custom_tool_call_becomes_an_anthropic_tool_taking_one_string() -> None:
    body = render(ANTHROPIC, parse(RESPONSES, CODEX_REQUEST))
    tool = next(t for t in body["tools"] if t["name"] == "apply_patch")
    assert tool["input_schema"]["properties"] == {"input": {"type": "string"}}
    call = body["messages"][3]["content"][0]
    assert (call["name"], call["input"]) == ("apply_patch", {"input": PATCH})


def test_custom_tool_call_stays_custom_between_the_openai_formats() -> None:
    chat_body = render(CHAT, parse(RESPONSES, CODEX_REQUEST))
    call = chat_body["messages"][-2]["tool_calls"][0]
    assert call == {
        "id": "call_P2aQ",
        "type": "custom",
        "custom": {"name": "apply_patch", "input": PATCH},
    }
    responses_body = render(RESPONSES, parse(CHAT, AGENT_REQUEST))
    assert [i["type"] for i in responses_body["input"][-2:]] == [
        "custom_tool_call",
        "custom_tool_call_output",
    ]


def test_server_and_builtin_tools_stay_with_their_provider() -> None:
    chat_tools = render(CHAT, parse(ANTHROPIC, CLAUDE_CODE_REQUEST))["tools"]
    assert [t["function"]["name"] for t in chat_tools] == ["Read", "Edit"]  # no web_search
    anthropic_tools = render(ANTHROPIC, parse(RESPONSES, CODEX_REQUEST))["tools"]
    assert [t["name"] for t in anthropic_tools] == ["exec_command", "apply_patch"]


def test_params_are_translated_and_provider_only_ones_dropped() -> None:
    from_anthropic = render(RESPONSES, parse(ANTHROPIC, CLAUDE_CODE_REQUEST))
    assert {
        k: v
        for k, v in from_anthropic.items()
        if k not in ("model", "instructions", "input", "tools")
    } == {
        "max_output_tokens": 32000,
        "temperature": 1,
        "stream": True,
    }
    from_codex = render(CHAT, parse(RESPONSES, CODEX_REQUEST))
    assert (from_codex["reasoning_effort"], from_codex["parallel_tool_calls"]) == ("medium", False)
    assert "client_metadata" not in from_codex
    to_anthropic = render(ANTHROPIC, parse(RESPONSES, CODEX_REQUEST))
    assert to_anthropic["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_anthropic_gets_a_max_tokens_even_when_the_source_had_none() -> None:
    assert render(ANTHROPIC, parse(CHAT, AIDER_REQUEST))["max_tokens"] == 8192
    assert render(ANTHROPIC, parse(CHAT, AGENT_REQUEST))["max_tokens"] == 4096


def test_a_named_tool_choice_is_translated_for_each_format() -> None:
    forced = dict(
        AIDER_REQUEST, tool_choice={"type": "function", "function": {"name": "read_file"}}
    )
    request = parse(CHAT, forced)
    assert render(ANTHROPIC, request)["tool_choice"] == {"type": "tool", "name": "read_file"}
    assert render(RESPONSES, request)["tool_choice"] == {"type": "function", "name": "read_file"}


def test_tool_ids_other_apis_allow_are_made_safe_for_anthropic() -> None:
    request = Request(
        "kimi-k2",
        (
            Message("user", (Text("list files"),)),
            Message("assistant", (ToolCall("functions.ls:0", "ls", "{}"),)),
            Message("tool", (ToolResult("functions.ls:0", "a.py"),)),
        ),
    )
    body = render(ANTHROPIC, request)
    assert body["messages"][1]["content"][0]["id"] == "functions_ls_0"
    assert body["messages"][2]["content"][0]["tool_use_id"] == "functions_ls_0"
    assert anthropic_problems(body) == []


def test_images_cross_as_data_urls_and_get_the_detail_responses_requires() -> None:
    request = parse(ANTHROPIC, IMAGE_REQUEST)
    chat_parts = render(CHAT, request)["messages"][0]["content"]
    assert chat_parts[0] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="},
    }
    responses_parts = render(RESPONSES, request)["input"][0]["content"]
    assert responses_parts[1] == {
        "type": "input_image",
        "image_url": "https://example.com/chart.jpg",
        "detail": "auto",
    }
    back = render(ANTHROPIC, parse(RESPONSES, render(RESPONSES, request)))
    assert back["messages"][0]["content"][0]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": "iVBORw0KGgoAAAANSUhEUg==",
    }


def test_a_transcript_survives_a_tour_of_all_three_formats() -> None:
    start = parse(ANTHROPIC, CLAUDE_CODE_REQUEST)
    via_responses = parse(RESPONSES, render(RESPONSES, start))
    via_chat = parse(CHAT, render(CHAT, via_responses))
    home = render(ANTHROPIC, via_chat)
    assert anthropic_problems(home) == []
    assert [m["role"] for m in home["messages"]] == [
        m["role"] for m in CLAUDE_CODE_REQUEST["messages"]
    ]
    expected = [
        b for m in CLAUDE_CODE_REQUEST["messages"] for b in m["content"] if b["type"] == "tool_use"
    ]
    got = [b for m in home["messages"] for b in m["content"] if b["type"] == "tool_use"]
    assert got == expected
