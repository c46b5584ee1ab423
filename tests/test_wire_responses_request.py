"""The openai-responses wire format, requests: path matching, parse/render identity, and
how input items map onto canonical messages (docs/wire-formats.md section 1b).
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
from redline.transcripts.wire import openai_responses as responses
from tests.wire_samples_responses import (
    BUILTIN_ITEMS_REQUEST,
    CODEX_REQUEST,
    PATCH,
    REQUEST_IDS,
    REQUESTS,
    SDK_REQUEST,
    STRING_INPUT_REQUEST,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/responses", True),
        ("/openai/v1/responses", True),
        ("/backend-api/codex/responses", True),
        ("/v1/responses/", True),
        ("/v1/responses/compact", False),
        ("/v1/responses/resp_68af3f9e0a2c8193", False),
        ("/v1/responses/resp_68af3f9e0a2c8193/input_items", False),
        ("/v1/responses/resp_68af3f9e0a2c8193/cancel", False),
        ("/v1/chat/completions", False),
    ],
)
def test_matches_the_create_path_only(path: str, expected: bool) -> None:
    assert responses.matches(path) is expected


def test_is_registered_and_detected_from_the_path() -> None:
    assert wire.get("openai-responses") is responses.FORMAT
    assert wire.detect("/v1/responses") is responses.FORMAT
    assert responses.FORMAT.history_key == "input"


@pytest.mark.parametrize("body", REQUESTS, ids=REQUEST_IDS)
def test_render_of_parse_gives_back_the_request(body: dict[str, Any]) -> None:
    assert responses.render_request(responses.parse_request(body)) == body


@pytest.mark.parametrize("body", REQUESTS, ids=REQUEST_IDS)
def test_parse_of_render_gives_back_the_canonical_request(body: dict[str, Any]) -> None:
    request = responses.parse_request(body)
    assert responses.parse_request(responses.render_request(request)) == request


def test_instructions_become_request_system_and_their_absence_is_kept() -> None:
    system = responses.parse_request(CODEX_REQUEST).system
    assert system == (Text(CODEX_REQUEST["instructions"]),)
    assert responses.parse_request(STRING_INPUT_REQUEST).system is None
    assert "instructions" not in responses.render_request(
        responses.parse_request(STRING_INPUT_REQUEST)
    )


def test_string_input_is_one_user_message() -> None:
    (message,) = responses.parse_request(STRING_INPUT_REQUEST).messages
    assert (message.role, message.parts) == ("user", (Text("Say hi."),))


def test_consecutive_model_items_form_one_assistant_message() -> None:
    messages = responses.parse_request(CODEX_REQUEST).messages
    assert [m.role for m in messages] == [
        "developer",
        "user",
        "user",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    reasoning, text, call = messages[4].parts
    assert reasoning == Thinking(
        "**Running the tests**",
        redacted="gAAAAABor0AxQ2Vbnn3p-encrypted",
        extra={
            "summary": [{"type": "summary_text", "text": "**Running the tests**"}],
            "content": None,
        },
    )
    assert text == Text("Running the tests first.", {"_item": {"type": "message"}})
    assert call == ToolCall(
        "call_Kx1sVtQ0b7nZ", "exec_command", '{"cmd":"pytest -q","workdir":"/repo"}'
    )


def test_custom_tool_call_keeps_its_raw_input_and_its_output_is_a_tool_result() -> None:
    messages = responses.parse_request(CODEX_REQUEST).messages
    assert messages[6].parts == (
        ToolCall("call_P2aQ", "apply_patch", PATCH, "custom", {"status": "completed"}),
    )
    (result,) = messages[7].parts
    assert isinstance(result, ToolResult)
    assert (result.call_id, result.content) == (
        "call_P2aQ",
        "Success. Updated the following files:\nM app.py\n",
    )


def test_function_call_output_is_a_tool_message_with_one_result() -> None:
    message = responses.parse_request(CODEX_REQUEST).messages[5]
    assert message == Message(
        "tool", (ToolResult("call_Kx1sVtQ0b7nZ", "F...\n1 failed, 3 passed in 0.21s"),)
    )


def test_list_output_and_images_become_parts() -> None:
    messages = responses.parse_request(SDK_REQUEST).messages
    assert messages[0].parts[1] == Image(
        "data:image/png;base64,iVBORw0KGgo=", None, {"detail": "high"}
    )
    (result,) = messages[2].parts
    assert isinstance(result, ToolResult)
    assert result.content == (
        Text("import yaml"),
        Opaque({"type": "input_file", "file_id": "file-1"}),
    )


def test_items_no_parser_knows_are_kept_verbatim_as_opaque() -> None:
    messages = responses.parse_request(BUILTIN_ITEMS_REQUEST).messages
    items = BUILTIN_ITEMS_REQUEST["input"]
    assert messages[0].parts == (Opaque(items[0]),)  # compaction: the model's side
    assert messages[1].parts == (Opaque(items[1]),)  # item_reference
    assert messages[3].parts == (Opaque(items[3]),)  # local_shell_call_output
    assert messages[4].parts[1] == Opaque(items[5])  # a refusal


def test_a_builtin_tools_call_is_a_tool_call_of_its_item_type() -> None:
    messages = responses.parse_request(BUILTIN_ITEMS_REQUEST).messages
    search = messages[4].parts[0]
    assert isinstance(search, ToolCall)
    assert (search.id, search.name, search.kind) == ("ws_1", "web_search_call", "web_search_call")
    assert json.loads(search.arguments) == BUILTIN_ITEMS_REQUEST["input"][4]
    assert (
        responses.render_request(responses.parse_request(BUILTIN_ITEMS_REQUEST))["input"]
        == BUILTIN_ITEMS_REQUEST["input"]
    )


def test_custom_and_builtin_tools_are_kept() -> None:
    tools = responses.parse_request(CODEX_REQUEST).tools
    assert tools is not None
    assert (tools[0].kind, tools[0].extra) == ("function", {"strict": False})
    assert (tools[1].kind, tools[1].parameters) == ("custom", None)
    assert tools[1].extra == {"format": CODEX_REQUEST["tools"][1]["format"]}
    assert tools[2].extra == {"_raw": CODEX_REQUEST["tools"][2]}


def test_previous_response_id_and_other_keys_are_params() -> None:
    params = responses.parse_request(SDK_REQUEST).params
    assert params["previous_response_id"] == "resp_68af3f9e0a2c8193"
    assert params["instructions"] is None
    assert responses.parse_request(CODEX_REQUEST).params["client_metadata"] == {
        "originator": "codex_exec"
    }
