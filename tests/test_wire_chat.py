"""The openai-chat wire format: requests both ways, responses, stream reassembly.

Bodies and streams are shaped as Chat Completions and its clients send them
(docs/wire-formats.md section 1a).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from redline.transcripts import wire
from redline.transcripts.model import Text, ToolCall, ToolResult, Usage
from redline.transcripts.sse import parse_sse
from redline.transcripts.wire import openai_chat as chat

# An agent's request: system and developer prompts, an image, parallel calls answered in order,
# a named user, a custom (free-form) tool call with no content key at all.
AGENT_REQUEST: dict[str, Any] = {
    "model": "gpt-4.1",
    "messages": [
        {"role": "system", "content": "Act as an expert software developer."},
        {"role": "developer", "content": [{"type": "text", "text": "Prefer small diffs."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "The traceback is in this screenshot."},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/tb.png", "detail": "low"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_A",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path":"app.py"}'},
                },
                {
                    "id": "call_B",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path":"b.py"}'},
                },
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_A",
            "content": "try:\n    import yaml\nexcept:\n    pass\n",
        },
        {"role": "tool", "tool_call_id": "call_B", "content": [{"type": "text", "text": "x = 1"}]},
        {"role": "assistant", "content": "Both files read.", "refusal": None},
        {"role": "user", "content": "now fix it", "name": "dev"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_C",
                    "type": "custom",
                    "custom": {"name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_C", "content": "Done"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file.",
                "parameters": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                },
                "strict": True,
            },
        },
        {
            "type": "custom",
            "custom": {
                "name": "apply_patch",
                "description": "Edit files with a patch.",
                "format": {
                    "type": "grammar",
                    "grammar": {"syntax": "lark", "definition": "start: /.+/s"},
                },
            },
        },
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_completion_tokens": 4096,
    "reasoning_effort": "low",
}

# aider: plain strings, no tools.
AIDER_REQUEST: dict[str, Any] = {
    "model": "openai/gpt-4.1",
    "messages": [
        {
            "role": "system",
            "content": "Act as an expert software developer. Use SEARCH/REPLACE blocks.",
        },
        {"role": "user", "content": "I switched to a new code base."},
        {"role": "assistant", "content": "Ok."},
        {"role": "user", "content": "Fix the bare except in app.py"},
    ],
    "temperature": 0,
    "stream": True,
}

# Anthropic-shaped content sent to /chat/completions (reported of Cursor): kept as sent.
CURSOR_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "messages": [
        {
            "role": "system",
            "content": [
                {"type": "text", "text": "You are Cursor.", "cache_control": {"type": "ephemeral"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
        },
    ],
    "tool_choice": {"type": "auto"},
}

REQUESTS = [AGENT_REQUEST, AIDER_REQUEST, CURSOR_REQUEST]
REQUEST_IDS = ["agent", "aider", "cursor"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", True),
        ("/openai/v1/chat/completions/", True),
        ("/v1/completions", False),
    ],
)
def test_matches_the_chat_completions_path(path: str, expected: bool) -> None:
    assert chat.matches(path) is expected


def test_is_registered_and_detected_from_the_path() -> None:
    assert wire.detect("/v1/chat/completions") is chat.FORMAT
    assert chat.FORMAT.history_key == "messages"


@pytest.mark.parametrize("body", REQUESTS, ids=REQUEST_IDS)
def test_render_of_parse_gives_back_the_request(body: dict[str, Any]) -> None:
    assert chat.render_request(chat.parse_request(body)) == body


@pytest.mark.parametrize("body", REQUESTS, ids=REQUEST_IDS)
def test_parse_of_render_gives_back_the_canonical_request(body: dict[str, Any]) -> None:
    request = chat.parse_request(body)
    assert chat.parse_request(chat.render_request(request)) == request


def test_tool_messages_hold_one_result_each_and_calls_keep_raw_arguments() -> None:
    messages = chat.parse_request(AGENT_REQUEST).messages
    assert messages[3].tool_calls == (
        ToolCall("call_A", "read_file", '{"path":"app.py"}'),
        ToolCall("call_B", "read_file", '{"path":"b.py"}'),
    )
    assert messages[4].parts == (
        ToolResult("call_A", "try:\n    import yaml\nexcept:\n    pass\n"),
    )
    assert messages[8].tool_calls[0].kind == "custom"


# --- streams ----------------------------------------------------------------------------------

HEAD = '"id":"chatcmpl-C1x","object":"chat.completion.chunk","created":1764200000,"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_3f58d112f7"'
USAGE = {
    "prompt_tokens": 812,
    "completion_tokens": 40,
    "total_tokens": 852,
    "prompt_tokens_details": {"cached_tokens": 768, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}

TEXT_STREAM = f"""data: {{{HEAD},"choices":[{{"index":0,"delta":{{"role":"assistant","content":"","refusal":null}},"logprobs":null,"finish_reason":null}}],"usage":null,"obfuscation":"kQ"}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{"content":"Narrow the"}},"logprobs":null,"finish_reason":null}}],"usage":null,"obfuscation":"a1"}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{"content":" except clause."}},"logprobs":null,"finish_reason":null}}],"usage":null,"obfuscation":"b2"}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"stop"}}],"usage":null,"obfuscation":"c3"}}

data: {{{HEAD},"choices":[],"usage":{{"prompt_tokens":812,"completion_tokens":40,"total_tokens":852,"prompt_tokens_details":{{"cached_tokens":768,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},"obfuscation":"d4"}}

data: [DONE]

"""

TEXT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-C1x",
    "object": "chat.completion",
    "created": 1764200000,
    "model": "gpt-4.1-2025-04-14",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Narrow the except clause.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
    "service_tier": "default",
    "system_fingerprint": "fp_3f58d112f7",
}

# Two calls whose argument fragments interleave: only `index` tells them apart.
PARALLEL_STREAM = f"""data: {{{HEAD},"choices":[{{"index":0,"delta":{{"role":"assistant","content":null,"tool_calls":[{{"index":0,"id":"call_A","type":"function","function":{{"name":"read_file","arguments":""}}}}],"refusal":null}},"logprobs":null,"finish_reason":null}}],"usage":null}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":1,"id":"call_B","type":"function","function":{{"name":"read_file","arguments":""}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"function":{{"arguments":"{{\\"path\\":"}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":1,"function":{{"arguments":"{{\\"path\\":"}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":1,"function":{{"arguments":"\\"b.py\\"}}"}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"function":{{"arguments":"\\"app.py\\"}}"}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}

data: {{{HEAD},"choices":[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"tool_calls"}}],"usage":null}}

data: {{{HEAD},"choices":[],"usage":{{"prompt_tokens":812,"completion_tokens":40,"total_tokens":852,"prompt_tokens_details":{{"cached_tokens":768,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}}}

data: [DONE]

"""

PARALLEL_ANSWER: dict[str, Any] = {
    **TEXT_ANSWER,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_A",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": '{"path":"app.py"}'},
                    },
                    {
                        "id": "call_B",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": '{"path":"b.py"}'},
                    },
                ],
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
}

# Ollama's OpenAI-compatible endpoint: every call of a batch at index 0, told apart by its id.
OLLAMA_STREAM = """data: {"id":"chatcmpl-612","object":"chat.completion.chunk","created":1764200000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_kd9z2b1x","index":0,"type":"function","function":{"name":"read_file","arguments":"{\\"path\\":\\"a.py\\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-612","object":"chat.completion.chunk","created":1764200000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_0sl3m8qa","index":0,"type":"function","function":{"name":"read_file","arguments":"{\\"path\\":\\"b.py\\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-612","object":"chat.completion.chunk","created":1764200000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"tool_calls"}]}

data: [DONE]

"""


def _reassemble(text: str) -> wire.Reassembly:
    return chat.reassemble(parse_sse(text))


def _without_events_from(text: str, marker: str) -> str:
    events = text.split("\n\n")
    index = next(i for i, e in enumerate(events) if marker in e)
    return "\n\n".join(events[:index]) + "\n\n"


def test_text_stream_reassembles_to_the_non_streamed_response() -> None:
    result = _reassemble(TEXT_STREAM)
    assert (result.complete, result.error) == (True, None)
    assert result.response == chat.parse_response(TEXT_ANSWER)
    assert result.response.message.text == "Narrow the except clause."


def test_text_with_unicode_line_separators_left_unescaped_is_not_cut_apart() -> None:
    # JSON may carry U+2028, U+0085 or a form feed unescaped; SSE lines end only at CR and LF.
    text = "one\u2028two\x85three\x0cfour"
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}],
    }
    stream = f"data: {json.dumps(chunk, ensure_ascii=False)}\r\n\r\ndata: [DONE]\n\n"
    result = _reassemble(stream)
    assert (result.complete, result.response.message.text) == (True, text)


def test_parallel_calls_interleaved_by_index_reassemble_to_the_non_streamed_response() -> None:
    result = _reassemble(PARALLEL_STREAM)
    assert result.complete
    assert result.response == chat.parse_response(PARALLEL_ANSWER)
    assert [c.arguments for c in result.response.message.tool_calls] == [
        '{"path":"app.py"}',
        '{"path":"b.py"}',
    ]


def test_a_new_id_at_a_reused_index_zero_starts_a_new_call() -> None:
    calls = _reassemble(OLLAMA_STREAM).response.message.tool_calls
    assert calls == (
        ToolCall("call_kd9z2b1x", "read_file", '{"path":"a.py"}'),
        ToolCall("call_0sl3m8qa", "read_file", '{"path":"b.py"}'),
    )


def test_usage_comes_from_the_usage_only_chunk_and_nulls_are_ignored() -> None:
    assert _reassemble(TEXT_STREAM).response.usage == Usage(812, 40, 768, None, 0, USAGE)


def test_stream_without_the_usage_chunk_has_no_usage() -> None:
    result = _reassemble(_without_events_from(TEXT_STREAM, '"choices":[]') + "data: [DONE]\n\n")
    assert result.complete
    assert result.response.usage is None


def test_error_chunk_fails_the_stream_and_keeps_the_partial_output() -> None:
    error = (
        'data: {"error":{"message":"The server had an error processing your request.",'
        '"type":"server_error","param":null,"code":null}}\n\n'
    )
    result = _reassemble(_without_events_from(TEXT_STREAM, "except clause") + error)
    assert not result.complete
    assert result.error == "The server had an error processing your request."
    assert result.response.message.text == "Narrow the"


def test_stream_cut_before_done_is_incomplete_with_partial_arguments() -> None:
    result = _reassemble(_without_events_from(PARALLEL_STREAM, '\\"b.py'))
    assert (result.complete, result.error) == (False, None)
    assert result.response.finish_reason is None
    assert [c.arguments for c in result.response.message.tool_calls] == ['{"path":', '{"path":']


def test_answer_parses_to_the_assistant_message_the_client_sends_back_next_turn() -> None:
    sent_back = chat.parse_request(AGENT_REQUEST).messages[3]  # the same two calls, as history
    assert chat.parse_response(PARALLEL_ANSWER).message == sent_back
    assert _reassemble(PARALLEL_STREAM).response.message == sent_back


def test_system_of_a_request_becomes_a_leading_system_message() -> None:
    request = chat.parse_request(AIDER_REQUEST)
    request = dataclasses.replace(
        request, messages=request.messages[1:], system=(Text("Be brief."), Text("Use diffs."))
    )
    rendered = chat.render_request(request)
    assert rendered["messages"][0] == {"role": "system", "content": "Be brief.\n\nUse diffs."}
