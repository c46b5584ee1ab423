"""Tool calls in the other shapes they arrive in (cases from an adversarial review): the
legacy `message.function_call` of openai-chat (k07, x03), Anthropic `server_tool_use` and
`mcp_tool_use` blocks (x15, k04), arguments sent as an object instead of a string (m03), an
Anthropic `input` sent as a string (m02), and the text editor's `insert_text`."""

from __future__ import annotations

import json
from typing import Any

from redline.analyzers import Context, extract, parse_check
from redline.transcripts import wire
from redline.transcripts.model import Message
from redline.transcripts.sse import parse_sse
from tests.corpus import assistant, call

HANDLER = "try:\n    x()\nexcept Exception:\n    pass\n"


def chat_response(message: dict[str, Any]) -> Message:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "model": "gpt-4",
        "choices": [{"index": 0, "finish_reason": "function_call", "message": message}],
    }
    return wire.get("openai-chat").parse_response(body).message


def anthropic_response(content: list[dict[str, Any]]) -> Message:
    body = {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": content,
        "stop_reason": "end_turn",
        "usage": {},
    }
    return wire.get("anthropic-messages").parse_response(body).message


def findings(spec: str, output: Message) -> list[str]:
    check = parse_check(spec)
    return [
        f.message for f in check.analyzer.check(output, Context(options=check.options)).findings
    ]


def test_legacy_function_call_is_a_tool_call() -> None:
    message = chat_response(
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "Bash", "arguments": '{"command": "rm -rf build"}'},
        }
    )
    assert findings("tool:name=Bash;pattern=rm\\s+-rf", message) == [
        "call to Bash matching /rm\\s+-rf/"
    ]
    assert findings("tool:mode=require", message) == []


def test_legacy_function_call_writes_code() -> None:
    args = json.dumps({"path": "a.py", "content": HANDLER})
    message = chat_response(
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "write_file", "arguments": args},
        }
    )
    (edit,) = extract(message).edits
    assert (edit.path, edit.kind, edit.after) == ("a.py", "write", HANDLER)


def test_legacy_function_call_streamed() -> None:
    pieces = ['{"command": ', '"rm -rf build"}']
    chunks = [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "function_call": {"name": "Bash", "arguments": ""},
                    },
                }
            ]
        }
    ]
    chunks += [
        {"choices": [{"index": 0, "delta": {"function_call": {"arguments": p}}}]} for p in pieces
    ]
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    message = wire.get("openai-chat").reassemble(parse_sse(text)).response.message
    assert [(c.name, c.arguments) for c in message.tool_calls] == [
        ("Bash", '{"command": "rm -rf build"}')
    ]


def test_server_and_mcp_tool_uses_are_tool_calls() -> None:
    server = {
        "type": "server_tool_use",
        "id": "srvtoolu_1",
        "name": "web_search",
        "input": {"query": "rm -rf"},
    }
    mcp = {
        "type": "mcp_tool_use",
        "id": "mcptoolu_1",
        "name": "delete_repo",
        "server_name": "github",
        "input": {"repo": "x"},
    }
    message = anthropic_response([server, {"type": "text", "text": "ok"}, mcp])
    assert findings("tool:pattern=rm -rf", message) == ["call to web_search matching /rm -rf/"]
    assert findings("tool:name=delete_repo", message) == ["call to delete_repo forbidden"]
    assert findings("tool:name=delete_repo;mode=require", message) == []


def test_a_responses_builtin_call_is_named_by_its_type_and_searched_whole() -> None:
    body = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-5-codex",
        "output": [
            {
                "type": "shell_call",
                "id": "sh_1",
                "call_id": "call_1",
                "status": "completed",
                "action": {"commands": ["rm -rf build"]},
            }
        ],
    }
    message = wire.get("openai-responses").parse_response(body).message
    assert findings("tool:name=shell_call;pattern=rm -rf", message) == [
        "call to shell_call matching /rm -rf/"
    ]
    assert findings("tool:pattern=sh_1", message) == ["call to shell_call matching /sh_1/"]


def test_a_server_tool_that_writes_a_file_is_extracted() -> None:
    editor = {
        "type": "server_tool_use",
        "id": "s",
        "name": "text_editor_code_execution",
        "input": {"command": "create", "path": "a.py", "file_text": HANDLER},
    }
    (edit,) = extract(anthropic_response([editor])).edits
    assert (edit.path, edit.after) == ("a.py", HANDLER)


def test_arguments_sent_as_an_object() -> None:
    """m03: the chat parser kept the object as its Python text; the arguments still decode."""
    tool_call = {
        "id": "1",
        "type": "function",
        "function": {
            "name": "write_file",
            "arguments": {"path": "a.py", "content": HANDLER, "ok": True},
        },
    }
    message = chat_response({"role": "assistant", "tool_calls": [tool_call]})
    (edit,) = extract(message).edits
    assert (edit.path, edit.after) == ("a.py", HANDLER)
    assert findings("broad-except", message)


def test_anthropic_input_sent_as_a_string() -> None:
    """m02: `input` holds the JSON as a string."""
    block = {
        "type": "tool_use",
        "id": "t",
        "name": "Write",
        "input": json.dumps({"file_path": "a.py", "content": HANDLER}),
    }
    message = anthropic_response([block])
    (edit,) = extract(message).edits
    assert (edit.path, edit.after) == ("a.py", HANDLER)
    assert findings("tool:pattern=except Exception", message)


def test_text_editor_insert_text() -> None:
    args = {"command": "insert", "path": "a.py", "insert_line": 7, "insert_text": "x = 1\n"}
    (edit,) = extract(assistant(call("str_replace_based_edit_tool", args))).edits
    assert (edit.kind, edit.after, edit.start_line) == ("insert", "x = 1\n", 8)
