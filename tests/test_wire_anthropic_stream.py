"""The anthropic-messages wire format, responses: non-streamed answers and SSE stream
reassembly (docs/wire-formats.md section 1c).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from redline.transcripts import wire
from redline.transcripts.model import Opaque, Text, Thinking, ToolCall, Usage
from redline.transcripts.sse import parse_sse
from redline.transcripts.wire import anthropic_messages as anthropic
from tests.wire_samples_anthropic import MODEL

USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 4000,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 87,
    "service_tier": "standard",
}

# The same answer non-streamed and streamed: thinking, text, an Edit tool_use.
TOOL_ANSWER: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [
        {
            "type": "thinking",
            "thinking": "The bare except hides import errors. I should narrow it.",
            "signature": "EqQBCkYIBxgCKkBxm3AbQ2xTqW9pZ1lJ",
        },
        {"type": "text", "text": "I'll narrow the except clause."},
        {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "Edit",
            "input": {
                "file_path": "/home/u/proj/app.py",
                "old_string": "except:\n    pass",
                "new_string": "except ImportError:\n    yaml = None",
            },
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": USAGE,
}

TOOL_STREAM = r"""event: message_start
data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":4000,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The bare except hides import errors."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" I should narrow it."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkYIBxgCKkBxm3AbQ2xTqW9pZ1lJ"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"I'll narrow"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" the except clause."}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"Edit","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\": \"/home/u/proj/app.py\", "}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"old_string\": \"except:\\n    pass\", \"new_string\": \"except ImportError:\\n    yaml = None\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":87}}

event: message_stop
data: {"type":"message_stop"}

"""

# Web search with a citation, a server tool call streamed as JSON, a redacted thinking block.
SEARCH_ANSWER: dict[str, Any] = {
    "id": "msg_01Search",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
        {
            "type": "server_tool_use",
            "id": "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE",
            "name": "web_search",
            "input": {"query": "pep 8 bare except"},
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE",
            "content": [
                {
                    "type": "web_search_result",
                    "title": "PEP 8",
                    "url": "https://peps.python.org/pep-0008/",
                    "encrypted_content": "Eq0JCioIAxgCIiQ3",
                    "page_age": None,
                }
            ],
        },
        {
            "type": "text",
            "text": "PEP 8 advises against bare except clauses.",
            "citations": [
                {
                    "type": "web_search_result_location",
                    "cited_text": "A bare except: clause will catch SystemExit",
                    "url": "https://peps.python.org/pep-0008/",
                    "title": "PEP 8",
                    "encrypted_index": "Eo8BCioIAhgBIiQ",
                }
            ],
        },
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 2101,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 190,
        "server_tool_use": {"web_search_requests": 1},
        "service_tier": "standard",
    },
}

SEARCH_STREAM = r"""event: message_start
data: {"type":"message_start","message":{"id":"msg_01Search","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":2101,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"srvtoolu_01WYG3ziw53XMcoyKL4XcZmE","name":"web_search","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"pep 8 bare except\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01WYG3ziw53XMcoyKL4XcZmE","content":[{"type":"web_search_result","title":"PEP 8","url":"https://peps.python.org/pep-0008/","encrypted_content":"Eq0JCioIAxgCIiQ3","page_age":null}]}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"text","text":"","citations":null}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"A bare except: clause will catch SystemExit","url":"https://peps.python.org/pep-0008/","title":"PEP 8","encrypted_index":"Eo8BCioIAhgBIiQ"}}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"PEP 8 advises against bare except clauses."}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":2101,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":190,"server_tool_use":{"web_search_requests":1}}}

event: message_stop
data: {"type":"message_stop"}

"""

TEXT_ANSWER: dict[str, Any] = {
    "id": "msg_01Text",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [{"type": "text", "text": "Merge sort."}],
    "stop_reason": "stop_sequence",
    "stop_sequence": "\n\nHuman:",
    "usage": {"input_tokens": 20, "output_tokens": 4},
}

TEXT_STREAM = r"""event: message_start
data: {"type":"message_start","message":{"id":"msg_01Text","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Merge"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" sort."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"\n\nHuman:"},"usage":{"output_tokens":4}}

event: message_stop
data: {"type":"message_stop"}

"""


def _reassemble(text: str) -> wire.Reassembly:
    return anthropic.reassemble(parse_sse(text))


def _cut(text: str, marker: str) -> str:
    """The stream up to (not including) the first event whose text contains `marker`."""
    events = text.split("\n\n")
    index = next(i for i, e in enumerate(events) if marker in e)
    return "\n\n".join(events[:index]) + "\n\n"


def test_non_streamed_answer_parses_thinking_text_tool_use_and_usage() -> None:
    response = anthropic.parse_response(TOOL_ANSWER)
    assert response.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert response.model == MODEL
    assert response.finish_reason == "tool_use"
    thinking, text, call = response.message.parts
    assert thinking == Thinking(
        "The bare except hides import errors. I should narrow it.",
        signature="EqQBCkYIBxgCKkBxm3AbQ2xTqW9pZ1lJ",
    )
    assert text == Text("I'll narrow the except clause.")
    assert isinstance(call, ToolCall)
    assert json.loads(call.arguments) == TOOL_ANSWER["content"][2]["input"]


def test_usage_includes_cache_read_and_creation_tokens() -> None:
    assert anthropic.parse_response(TOOL_ANSWER).usage == Usage(
        input_tokens=12,
        output_tokens=87,
        cache_read_tokens=4000,
        cache_write_tokens=0,
        raw=USAGE,
    )


@pytest.mark.parametrize(
    ("stream", "answer"),
    [(TOOL_STREAM, TOOL_ANSWER), (SEARCH_STREAM, SEARCH_ANSWER), (TEXT_STREAM, TEXT_ANSWER)],
    ids=["thinking-text-tool-use", "search-citations-redacted", "text-stop-sequence"],
)
def test_stream_reassembles_to_the_non_streamed_response(
    stream: str, answer: dict[str, Any]
) -> None:
    result = _reassemble(stream)
    assert result.complete
    assert result.error is None
    assert result.response == anthropic.parse_response(answer)


def test_stream_usage_is_cumulative_so_message_delta_overwrites_it() -> None:
    # message_start says output_tokens 1; message_delta's 190 is the total, not an increment,
    # and its input and cache counts repeat message_start's rather than add to them.
    usage = _reassemble(SEARCH_STREAM).response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (2101, 190, 0)


def test_stream_is_complete_after_message_delta_with_stop_reason_even_without_message_stop() -> (
    None
):
    result = _reassemble(_cut(TOOL_STREAM, "message_stop"))
    assert result.complete
    assert result.response == anthropic.parse_response(TOOL_ANSWER)


def test_stream_that_stops_before_message_delta_is_incomplete_with_its_partial_output() -> None:
    result = _reassemble(_cut(TEXT_STREAM, "message_delta"))
    assert not result.complete
    assert result.response.message.text == "Merge sort."
    assert result.response.finish_reason is None


def test_error_event_fails_the_stream_and_keeps_the_partial_output() -> None:
    stream = _cut(TEXT_STREAM, '" sort."') + (
        "event: error\n"
        'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    result = _reassemble(stream)
    assert not result.complete
    assert result.error == "overloaded_error: Overloaded"
    assert result.response.message.text == "Merge"


def test_tool_use_cut_off_mid_json_keeps_the_raw_fragment_and_a_parse_error() -> None:
    result = _reassemble(_cut(TOOL_STREAM, "old_string"))
    call = result.response.message.parts[2]
    assert not result.complete
    assert isinstance(call, ToolCall)
    assert call.arguments == '{"file_path": "/home/u/proj/app.py", '
    assert call.parse_error is not None


def test_tool_use_without_any_input_delta_has_empty_object_arguments() -> None:
    stream = r"""event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_01","name":"TodoRead","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":12}}

event: message_stop
data: {"type":"message_stop"}

"""
    assert _reassemble(stream).response.message.parts == (ToolCall("toolu_01", "TodoRead", "{}"),)


def test_tool_use_arguments_the_fast_parser_refuses_are_read_as_the_standard_library_reads_them() -> (
    None
):
    # NaN is not JSON, but Python clients send it; msgspec refuses it, json.loads reads it.
    partial = json.dumps(json.dumps({"ratio": float("nan"), "big": 2**70}))[1:-1]
    stream = (
        "event: message_start\n"
        'data: {"type":"message_start","message":{"id":"msg_1","role":"assistant",'
        '"content":[],"usage":{"input_tokens":9,"output_tokens":1}}}\n\n'
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":0,"content_block":'
        '{"type":"tool_use","id":"toolu_01","name":"Tune","input":{}}}\n\n'
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":0,"delta":'
        f'{{"type":"input_json_delta","partial_json":"{partial}"}}}}\n\n'
        "event: message_stop\n"
        'data: {"type":"message_stop"}\n\n'
    )
    (call,) = _reassemble(stream).response.message.parts
    assert isinstance(call, ToolCall)
    assert call.parse_error is None
    assert call.arguments == '{"ratio":NaN,"big":1180591620717411303424}'


def test_parallel_tool_uses_are_keyed_by_block_index_not_by_arrival() -> None:
    stream = r"""event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_A","name":"Read","input":{}}}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_B","name":"Read","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\": \"/b"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\": \"/a"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":".py\"}"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":".py\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":30}}

event: message_stop
data: {"type":"message_stop"}

"""
    calls = _reassemble(stream).response.message.tool_calls
    assert [(c.id, c.arguments) for c in calls] == [
        ("toolu_A", '{"file_path":"/a.py"}'),
        ("toolu_B", '{"file_path":"/b.py"}'),
    ]


def test_unknown_events_and_delta_types_are_kept_and_do_not_break_reassembly() -> None:
    future_event = 'event: message_annotation\ndata: {"type":"message_annotation","note":"x"}\n\n'
    future_delta = (
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":0,"delta":{"type":"emphasis_delta","level":2}}\n\n'
    )
    head = _cut(TEXT_STREAM, "content_block_stop")
    tail = TEXT_STREAM[len(head) :]
    result = _reassemble(head + future_event + future_delta + tail)
    assert result.complete
    assert result.response.message.text == "Merge sort."
    assert [e["type"] for e in result.response.extra["unknown_events"]] == [
        "message_annotation",
        "content_block_delta",
    ]


def test_unknown_block_type_in_a_stream_is_kept_as_opaque() -> None:
    block = (
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":1,"content_block":{"type":"diagram","spec":{"nodes":2}}}\n\n'
        "event: content_block_stop\n"
        'data: {"type":"content_block_stop","index":1}\n\n'
    )
    head = _cut(TEXT_STREAM, "message_delta")
    result = _reassemble(head + block + TEXT_STREAM[len(head) :])
    assert result.complete
    assert result.response.message.parts == (
        Text("Merge sort."),
        Opaque({"type": "diagram", "spec": {"nodes": 2}}),
    )


def test_answer_parses_to_the_assistant_message_the_client_sends_back_next_turn() -> None:
    # Claude Code sends the answer's blocks back as the next request's assistant turn; the
    # store's message tree relies on the two being the same message.
    next_turn = {
        "model": MODEL,
        "max_tokens": 32000,
        "messages": [
            {"role": "user", "content": "Fix app.py"},
            {"role": "assistant", "content": TOOL_ANSWER["content"]},
        ],
    }
    sent_back = anthropic.parse_request(next_turn).messages[1]
    assert _reassemble(TOOL_STREAM).response.message == sent_back
    assert anthropic.parse_response(TOOL_ANSWER).message == sent_back
