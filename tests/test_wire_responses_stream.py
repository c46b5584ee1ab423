"""The openai-responses wire format, responses: non-streamed answers and SSE stream
reassembly (docs/wire-formats.md section 1b).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from redline.transcripts import wire
from redline.transcripts.model import Thinking, ToolCall, Usage
from redline.transcripts.sse import parse_sse
from redline.transcripts.wire import openai_responses as responses
from tests.wire_samples_responses import CODEX_REQUEST, PATCH

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
