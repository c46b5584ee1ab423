"""The openai-responses wire format: requests both ways, responses, stream reassembly.

Bodies and streams are shaped as the Responses API and Codex CLI send them
(reference/wire_formats.md section 1b).
"""

from __future__ import annotations

import copy
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
    Usage,
)
from redline.transcripts.sse import parse_sse
from redline.transcripts.wire import openai_responses as responses

APPLY_PATCH_GRAMMAR = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n'
PATCH = (
    "*** Begin Patch\n*** Update File: app.py\n@@\n-    except:\n+    except ImportError:\n"
    "*** End Patch\n"
)

# A Codex CLI request over HTTP: full history, reasoning sent back encrypted, a function call
# and a free-form (custom) apply_patch call with their outputs.
CODEX_REQUEST: dict[str, Any] = {
    "model": "gpt-5-codex",
    "instructions": "You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI.",
    "input": [
        {
            "type": "message",
            "role": "developer",
            "content": [
                {
                    "type": "input_text",
                    "text": "<permissions instructions>workspace-write</permissions instructions>",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": "# AGENTS.md instructions for /repo\n\nRun pytest before finishing.",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": "<environment_context>\n  <cwd>/repo</cwd>\n</environment_context>",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "fix the failing test"}],
        },
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "**Running the tests**"}],
            "content": None,
            "encrypted_content": "gAAAAABor0AxQ2Vbnn3p-encrypted",
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Running the tests first."}],
        },
        {
            "type": "function_call",
            "name": "exec_command",
            "arguments": '{"cmd":"pytest -q","workdir":"/repo"}',
            "call_id": "call_Kx1sVtQ0b7nZ",
        },
        {
            "type": "function_call_output",
            "call_id": "call_Kx1sVtQ0b7nZ",
            "output": "F...\n1 failed, 3 passed in 0.21s",
        },
        {
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "call_P2aQ",
            "name": "apply_patch",
            "input": PATCH,
        },
        {
            "type": "custom_tool_call_output",
            "call_id": "call_P2aQ",
            "output": "Success. Updated the following files:\nM app.py\n",
        },
    ],
    "tools": [
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
        },
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Use the `apply_patch` tool to edit files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR},
        },
        {"type": "web_search", "external_web_access": False},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "0199c5c6-8a9e-7c53-9f4e-3a1b2c3d4e5f",
    "client_metadata": {"originator": "codex_exec"},
}

# What the openai SDK's users send: a response's output appended as-is (ids, statuses,
# annotations), an easy message without `type`, an image, list output, a stored conversation.
SDK_REQUEST: dict[str, Any] = {
    "model": "gpt-5.1",
    "instructions": None,
    "previous_response_id": "resp_68af3f9e0a2c8193",
    "input": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is wrong in this screenshot?"},
                {
                    "type": "input_image",
                    "image_url": "data:image/png;base64,iVBORw0KGgo=",
                    "detail": "high",
                },
            ],
        },
        {
            "id": "msg_68af4033",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "phase": "final_answer",
            "content": [
                {"type": "output_text", "annotations": [], "logprobs": [], "text": "A traceback: "},
                {
                    "type": "output_text",
                    "annotations": [
                        {
                            "type": "url_citation",
                            "start_index": 0,
                            "end_index": 4,
                            "url": "https://docs.python.org",
                            "title": "docs",
                        }
                    ],
                    "text": "ImportError.",
                },
            ],
        },
        {"role": "assistant", "content": "Shall I fix it?"},
        {
            "id": "fc_68af4034",
            "type": "function_call",
            "status": "completed",
            "arguments": '{"path":"app.py"}',
            "call_id": "call_3",
            "name": "read_file",
        },
        {
            "type": "function_call_output",
            "call_id": "call_3",
            "output": [
                {"type": "input_text", "text": "import yaml"},
                {"type": "input_file", "file_id": "file-1"},
            ],
        },
        {"role": "user", "content": "yes"},
    ],
    "tools": [
        {
            "type": "function",
            "name": "read_file",
            "parameters": None,
            "strict": True,
            "description": None,
        }
    ],
    "max_output_tokens": 2000,
    "temperature": 0.2,
}

STRING_INPUT_REQUEST: dict[str, Any] = {"model": "gpt-5-mini", "input": "Say hi.", "stream": False}

# Items no parser maps: built-in tool calls and outputs, compaction, a reference.
BUILTIN_ITEMS_REQUEST: dict[str, Any] = {
    "model": "gpt-5-codex",
    "input": [
        {"type": "compaction", "encrypted_content": "gAAAAABcompacted"},
        {"type": "item_reference", "id": "msg_123"},
        {
            "type": "local_shell_call",
            "id": "lsh_1",
            "call_id": "call_sh",
            "status": "completed",
            "action": {"type": "exec", "command": ["ls"], "env": {}},
        },
        {"type": "local_shell_call_output", "id": "lsh_1", "output": "app.py\n"},
        {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {"type": "search", "query": "lark"},
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": "I can't help with that."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}],
        },
        {"type": "message", "role": "user", "content": []},
    ],
    "tools": [{"type": "local_shell"}, {"type": "apply_patch"}],
}

REQUESTS = [CODEX_REQUEST, SDK_REQUEST, STRING_INPUT_REQUEST, BUILTIN_ITEMS_REQUEST]
REQUEST_IDS = ["codex", "sdk", "string-input", "builtin-items"]


# --- requests ---------------------------------------------------------------------------------


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
    assert messages[4].parts == (Opaque(items[4]), Opaque(items[5]))  # web search, refusal


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


# --- responses and streams --------------------------------------------------------------------

REASONING_ITEM: dict[str, Any] = {
    "id": "rs_68af4031",
    "type": "reasoning",
    "summary": [
        {
            "type": "summary_text",
            "text": "**Running the tests**\n\nI'll run pytest to see the failure.",
        }
    ],
    "encrypted_content": "gAAAAABor0Ax-new",
}
MESSAGE_ITEM: dict[str, Any] = {
    "id": "msg_68af4033",
    "type": "message",
    "status": "completed",
    "content": [
        {
            "type": "output_text",
            "annotations": [],
            "logprobs": [],
            "text": "Running the tests first.",
        }
    ],
    "role": "assistant",
}
CALL_ITEM: dict[str, Any] = {
    "id": "fc_68af4034",
    "type": "function_call",
    "status": "completed",
    "arguments": '{"cmd":"pytest -q","workdir":"/repo"}',
    "call_id": "call_Kx1sVtQ0b7nZ",
    "name": "exec_command",
}
USAGE = {
    "input_tokens": 5210,
    "input_tokens_details": {"cached_tokens": 4096},
    "output_tokens": 88,
    "output_tokens_details": {"reasoning_tokens": 64},
    "total_tokens": 5298,
}
ANSWER: dict[str, Any] = {
    "id": "resp_68af4030592c81938ec0a5fbab4a3e9f",
    "object": "response",
    "created_at": 1764200000,
    "status": "completed",
    "background": False,
    "error": None,
    "incomplete_details": None,
    "instructions": "You are Codex, based on GPT-5.",
    "max_output_tokens": None,
    "model": "gpt-5-codex",
    "output": [REASONING_ITEM, MESSAGE_ITEM, CALL_ITEM],
    "parallel_tool_calls": False,
    "previous_response_id": None,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "store": False,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}, "verbosity": "medium"},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": USAGE,
    "metadata": {},
}


def _in_progress(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "status": "in_progress", "output": [], "usage": None}


def _events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The events the API sends for ANSWER, in order (without sequence numbers)."""
    started = {**REASONING_ITEM, "summary": []}
    del started["encrypted_content"]
    summary = REASONING_ITEM["summary"][0]["text"]
    text = MESSAGE_ITEM["content"][0]["text"]
    rs, msg, fc = REASONING_ITEM["id"], MESSAGE_ITEM["id"], CALL_ITEM["id"]
    empty_text = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    return [
        {"type": "response.created", "response": _in_progress(answer)},
        {"type": "response.in_progress", "response": _in_progress(answer)},
        {"type": "response.output_item.added", "output_index": 0, "item": started},
        {
            "type": "response.reasoning_summary_part.added",
            "item_id": rs,
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": ""},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": rs,
            "output_index": 0,
            "summary_index": 0,
            "delta": "**Running the tests**",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": rs,
            "output_index": 0,
            "summary_index": 0,
            "delta": "\n\nI'll run pytest to see the failure.",
        },
        {
            "type": "response.reasoning_summary_text.done",
            "item_id": rs,
            "output_index": 0,
            "summary_index": 0,
            "text": summary,
        },
        {
            "type": "response.reasoning_summary_part.done",
            "item_id": rs,
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": summary},
        },
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING_ITEM},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {
                "id": msg,
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            },
        },
        {
            "type": "response.content_part.added",
            "item_id": msg,
            "output_index": 1,
            "content_index": 0,
            "part": empty_text,
        },
        {
            "type": "response.output_text.delta",
            "item_id": msg,
            "output_index": 1,
            "content_index": 0,
            "delta": "Running the",
            "logprobs": [],
        },
        {
            "type": "response.output_text.delta",
            "item_id": msg,
            "output_index": 1,
            "content_index": 0,
            "delta": " tests first.",
            "logprobs": [],
        },
        {
            "type": "response.output_text.done",
            "item_id": msg,
            "output_index": 1,
            "content_index": 0,
            "text": text,
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            "item_id": msg,
            "output_index": 1,
            "content_index": 0,
            "part": {**empty_text, "text": text},
        },
        {"type": "response.output_item.done", "output_index": 1, "item": MESSAGE_ITEM},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {**CALL_ITEM, "status": "in_progress", "arguments": ""},
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": fc,
            "output_index": 2,
            "delta": '{"cmd":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": fc,
            "output_index": 2,
            "delta": '"pytest -q","workdir":"/repo"}',
        },
        {
            "type": "response.function_call_arguments.done",
            "item_id": fc,
            "output_index": 2,
            "arguments": CALL_ITEM["arguments"],
        },
        {"type": "response.output_item.done", "output_index": 2, "item": CALL_ITEM},
        {"type": "response.completed", "response": answer},
    ]


def _sse(events: list[dict[str, Any]]) -> str:
    """SSE text as the API frames it: an `event:` line naming the type, one compact `data:`
    line with a `sequence_number`, a blank line; no `[DONE]`."""
    lines = []
    for n, event in enumerate(events):
        data = {
            "type": event["type"],
            "sequence_number": n,
            **{k: v for k, v in event.items() if k != "type"},
        }
        lines.append(f"event: {event['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n")
    return "".join(lines)


def _reassemble(events: list[dict[str, Any]]) -> wire.Reassembly:
    return responses.reassemble(parse_sse(_sse(events)))


def _until(events: list[dict[str, Any]], type_: str, nth: int = 1) -> list[dict[str, Any]]:
    """The events before the `nth` one of type `type_` (a stream cut there)."""
    seen = 0
    for i, event in enumerate(events):
        seen += event["type"] == type_
        if seen == nth:
            return events[:i]
    raise AssertionError(f"no {type_} #{nth}")


def test_non_streamed_answer_parses_reasoning_text_call_id_and_usage() -> None:
    response = responses.parse_response(ANSWER)
    assert response.id == "resp_68af4030592c81938ec0a5fbab4a3e9f"
    assert response.finish_reason == "completed"
    assert [type(p).__name__ for p in response.message.parts] == ["Thinking", "Text", "ToolCall"]
    assert response.message.tool_calls[0].id == "call_Kx1sVtQ0b7nZ"
    assert response.usage == Usage(5210, 88, 4096, None, 64, USAGE)


def test_stream_reassembles_to_the_non_streamed_response() -> None:
    result = _reassemble(_events(ANSWER))
    assert (result.complete, result.error) == (True, None)
    assert result.response == responses.parse_response(ANSWER)


def test_empty_output_in_response_completed_is_filled_with_the_streamed_items() -> None:
    # The ChatGPT (Codex) backend ends with response.completed whose output is [].
    result = _reassemble(_events({**ANSWER, "output": []}))
    assert result.complete
    assert result.response == responses.parse_response(ANSWER)


def test_output_item_added_may_come_before_response_created() -> None:
    events = _events(ANSWER)
    events.insert(0, events.pop(2))
    assert _reassemble(events).response == responses.parse_response(ANSWER)


def test_stream_without_a_terminal_event_is_incomplete_with_its_partial_output() -> None:
    result = _reassemble(_until(_events(ANSWER), "response.function_call_arguments.delta", 2))
    assert (result.complete, result.error) == (False, None)
    assert result.response.finish_reason is None
    assert result.response.message.text == "Running the tests first."
    assert result.response.message.tool_calls[0].arguments == '{"cmd":'


def test_item_without_output_item_done_is_built_from_its_deltas() -> None:
    result = _reassemble(_until(_events(ANSWER), "response.output_text.done"))
    assert result.response.message.text == "Running the tests first."


def test_error_event_fails_the_stream_and_keeps_the_partial_output() -> None:
    error = {
        "type": "error",
        "code": "server_error",
        "message": "The server had an error while processing your request.",
        "param": None,
    }
    result = _reassemble([*_until(_events(ANSWER), "response.output_item.added", 2), error])
    assert not result.complete
    assert result.error == "server_error: The server had an error while processing your request."
    assert isinstance(result.response.message.parts[0], Thinking)


def test_response_failed_sets_the_error_from_its_response() -> None:
    failed = {
        **_in_progress(ANSWER),
        "status": "failed",
        "error": {"code": "rate_limit_exceeded", "message": "Rate limit reached for gpt-5-codex."},
    }
    events = [
        *_until(_events(ANSWER), "response.output_item.added"),
        {"type": "response.failed", "response": failed},
    ]
    result = _reassemble(events)
    assert not result.complete
    assert result.error == "rate_limit_exceeded: Rate limit reached for gpt-5-codex."


def test_response_incomplete_ends_the_stream_with_its_reason_as_finish_reason() -> None:
    incomplete = {
        **ANSWER,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    events = _events(ANSWER)
    events[-1] = {"type": "response.incomplete", "response": incomplete}
    result = _reassemble(events)
    assert result.complete
    assert result.response.finish_reason == "max_output_tokens"


def test_custom_tool_call_input_streams_to_the_non_streamed_call() -> None:
    item = {
        "id": "ctc_1",
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": "call_P2aQ",
        "name": "apply_patch",
        "input": PATCH,
    }
    answer = {**ANSWER, "output": [item]}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _in_progress(answer)},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "input": ""},
        },
        {
            "type": "response.custom_tool_call_input.delta",
            "item_id": "ctc_1",
            "output_index": 0,
            "delta": PATCH[:40],
        },
        {
            "type": "response.custom_tool_call_input.delta",
            "item_id": "ctc_1",
            "output_index": 0,
            "delta": PATCH[40:],
        },
        {
            "type": "response.custom_tool_call_input.done",
            "item_id": "ctc_1",
            "output_index": 0,
            "input": PATCH,
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": answer},
    ]
    result = _reassemble(events)
    assert result.response == responses.parse_response(answer)
    assert result.response.message.parts == (
        ToolCall("call_P2aQ", "apply_patch", PATCH, "custom", {"status": "completed"}),
    )


def test_events_outside_the_responses_namespace_are_kept_and_do_not_break_reassembly() -> None:
    limits = {"type": "codex.rate_limits", "primary": {"used_percent": 12.0, "window_minutes": 300}}
    events = _events(ANSWER)
    events.insert(1, limits)
    result = _reassemble(events)
    assert result.complete
    assert result.response.extra["unknown_events"] == [{**limits, "sequence_number": 1}]
    assert result.response.message == responses.parse_response(ANSWER).message


def test_answer_parses_to_the_assistant_message_codex_sends_back_next_turn() -> None:
    # Codex re-sends output items without their ids and statuses (codex-rs models.rs); the
    # store's message tree relies on the answer and the re-sent history being one message.
    next_turn = copy.deepcopy(CODEX_REQUEST)
    next_turn["input"] = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "fix the failing test"}],
        },
        {
            "type": "reasoning",
            "summary": REASONING_ITEM["summary"],
            "encrypted_content": "gAAAAABor0Ax-new",
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Running the tests first."}],
        },
        {
            "type": "function_call",
            "name": "exec_command",
            "arguments": CALL_ITEM["arguments"],
            "call_id": "call_Kx1sVtQ0b7nZ",
        },
    ]
    sent_back = responses.parse_request(next_turn).messages[1]
    assert responses.parse_response(ANSWER).message == sent_back
    assert _reassemble(_events({**ANSWER, "output": []})).response.message == sent_back
