"""OpenAI Responses request bodies shared by the responses wire tests and test_wire_cross.

Shaped as the Responses API and Codex CLI send them (docs/wire-formats.md section 1b).
"""

from __future__ import annotations

from typing import Any

from tests.agents import agents_block, environment_context

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
                    "text": agents_block("Run pytest before finishing."),
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": environment_context(),
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
