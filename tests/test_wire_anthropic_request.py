"""The anthropic-messages wire format, requests: path matching, parse/render identity, and
how request bodies map onto canonical messages (docs/wire-formats.md section 1c).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from redline.transcripts import wire
from redline.transcripts.model import (
    Image,
    Message,
    Opaque,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from redline.transcripts.wire import anthropic_messages as anthropic
from tests.wire_samples_anthropic import (
    CLAUDE_CODE_REQUEST,
    IMAGE_REQUEST,
    MODEL,
    ODD_BLOCKS_REQUEST,
    REQUEST_IDS,
    REQUESTS,
    SIMPLE_REQUEST,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/messages", True),
        ("/anthropic/v1/messages", True),
        ("/messages", True),
        ("/v1/messages/", True),
        ("/v1/messages/count_tokens", False),
        ("/v1/messages/batches", False),
        ("/v1/chat/completions", False),
    ],
)
def test_matches_the_messages_path_but_not_count_tokens(path: str, expected: bool) -> None:
    assert anthropic.matches(path) is expected


def test_is_registered_and_detected_from_the_path() -> None:
    assert wire.get("anthropic-messages") is anthropic.FORMAT
    assert wire.detect("/v1/messages") is anthropic.FORMAT
    assert anthropic.FORMAT.history_key == "messages"


@pytest.mark.parametrize("body", REQUESTS, ids=REQUEST_IDS)
def test_render_of_parse_gives_back_the_request(body: dict[str, Any]) -> None:
    assert anthropic.render_request(anthropic.parse_request(body)) == body


@pytest.mark.parametrize("body", REQUESTS, ids=REQUEST_IDS)
def test_parse_of_render_gives_back_the_canonical_request(body: dict[str, Any]) -> None:
    request = anthropic.parse_request(body)
    assert anthropic.parse_request(anthropic.render_request(request)) == request


def test_block_system_becomes_request_system_with_cache_markers_in_extra() -> None:
    system = anthropic.parse_request(CLAUDE_CODE_REQUEST).system
    assert system is not None
    assert system[1] == Text(
        "You are Claude Code, Anthropic's official CLI for Claude.",
        {"cache_control": {"type": "ephemeral"}},
    )


def test_string_system_and_string_content_are_one_text_each() -> None:
    request = anthropic.parse_request(SIMPLE_REQUEST)
    assert request.system is not None
    assert [p.text for p in request.system if isinstance(p, Text)] == ["You are terse."]
    assert request.messages[1].parts == (Text("Merge sort"),)


def test_tool_use_input_becomes_compact_json_arguments() -> None:
    request = anthropic.parse_request(CLAUDE_CODE_REQUEST)
    edit = request.messages[3].tool_calls[0]
    assert edit.name == "Edit"
    assert edit.arguments == (
        '{"file_path":"/home/u/proj/app.py","old_string":"except:\\n    pass",'
        '"new_string":"except ImportError:\\n    yaml = None","replace_all":false}'
    )


def test_thinking_keeps_its_signature_and_redacted_thinking_its_data() -> None:
    request = anthropic.parse_request(CLAUDE_CODE_REQUEST)
    assert request.messages[1].parts[0] == Thinking(
        "I should read app.py first.", signature="EqQBCkYIBxgCKkBxm3AbQ2xTqW9pZ1lJ"
    )
    assert request.messages[3].parts[0] == Thinking(
        "", redacted="EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"
    )


def test_error_tool_result_keeps_is_error_and_its_block_content() -> None:
    result = anthropic.parse_request(CLAUDE_CODE_REQUEST).messages[4].parts[0]
    assert isinstance(result, ToolResult)
    assert result.is_error
    assert result.content == (
        Text("<tool_use_error>File has been modified since read</tool_use_error>"),
    )


def test_images_become_data_or_plain_urls_and_file_images_stay_opaque() -> None:
    parts = anthropic.parse_request(IMAGE_REQUEST).messages[0].parts
    assert parts[0] == Image(
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==",
        "image/png",
        {"cache_control": {"type": "ephemeral", "ttl": "1h"}},
    )
    assert parts[1] == Image("https://example.com/chart.jpg")
    assert isinstance(parts[2], Opaque)


def test_unknown_blocks_and_server_tool_results_are_kept_verbatim_as_opaque() -> None:
    request = anthropic.parse_request(ODD_BLOCKS_REQUEST)
    document = request.messages[0].parts[0]
    search_result = request.messages[1].parts[1]
    assert document == Opaque(ODD_BLOCKS_REQUEST["messages"][0]["content"][0])
    assert search_result == Opaque(ODD_BLOCKS_REQUEST["messages"][1]["content"][1])


def test_a_server_tool_use_is_a_tool_call_of_its_block_type() -> None:
    request = anthropic.parse_request(ODD_BLOCKS_REQUEST)
    server_use = request.messages[1].parts[0]
    block = ODD_BLOCKS_REQUEST["messages"][1]["content"][0]
    assert server_use == ToolCall(
        block["id"], "web_search", '{"query":"python bare except"}', "server_tool_use"
    )
    rendered = anthropic.render_request(request)["messages"][1]["content"][0]
    assert rendered == block


def test_server_tools_are_kept_whole_and_client_tools_keep_their_schema() -> None:
    tools = anthropic.parse_request(CLAUDE_CODE_REQUEST).tools
    assert tools is not None
    assert tools[0].parameters == CLAUDE_CODE_REQUEST["tools"][0]["input_schema"]
    assert tools[1].extra == {"cache_control": {"type": "ephemeral"}}
    assert tools[2].extra == {"_raw": CLAUDE_CODE_REQUEST["tools"][2]}


def test_other_body_keys_are_params() -> None:
    params = anthropic.parse_request(CLAUDE_CODE_REQUEST).params
    assert params["thinking"] == {"type": "enabled", "budget_tokens": 10000}
    assert params["max_tokens"] == 32000
    assert params["metadata"] == {"user_id": "user_3f1c_account__session_9a2e"}


def test_a_request_without_a_messages_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="messages"):
        anthropic.parse_request({"model": MODEL, "max_tokens": 5, "prompt": "hi"})


def test_canonical_messages_round_trip_through_the_store_json_form() -> None:
    from redline.transcripts.model import message_from_dict, message_to_dict

    for message in anthropic.parse_request(CLAUDE_CODE_REQUEST).messages:
        assert message_from_dict(json.loads(json.dumps(message_to_dict(message)))) == message


def test_assistant_message_with_only_text_and_calls_renders_as_block_list() -> None:
    message = Message("assistant", (Text("ok"), ToolCall("toolu_1", "Bash", '{"command":"ls"}')))
    assert anthropic.render_message(message) == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "ok"},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
        ],
    }
