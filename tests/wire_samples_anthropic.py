"""Anthropic Messages request bodies shared by the anthropic wire tests and test_wire_cross.

Shaped as the Messages API and Claude Code send them (docs/wire-formats.md section 1c).
"""

from __future__ import annotations

from typing import Any

from tests.agents import reminder

MODEL = "claude-sonnet-4-5-20250929"

# A Claude Code turn: block system with cache markers, thinking, tool_use / tool_result, an
# error result with block content, a server tool next to the client tools.
CLAUDE_CODE_REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 32000,
    "system": [
        {
            "type": "text",
            "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=cli",
        },
        {
            "type": "text",
            "text": "You are Claude Code, Anthropic's official CLI for Claude.",
            "cache_control": {"type": "ephemeral"},
        },
        {
            "type": "text",
            "text": "Working directory: /home/u/proj\nIs directory a git repo: Yes",
            "cache_control": {"type": "ephemeral"},
        },
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": reminder("Today's date is 2026-11-27."),
                },
                {"type": "text", "text": "The import in app.py swallows every error. Fix it."},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "I should read app.py first.",
                    "signature": "EqQBCkYIBxgCKkBxm3AbQ2xTqW9pZ1lJ",
                },
                {"type": "text", "text": "Let me look at the file."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": "Read",
                    "input": {"file_path": "/home/u/proj/app.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                    "content": "     1\ttry:\n     2\t    import yaml\n     3\texcept:\n     4\t    pass\n",
                }
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "redacted_thinking",
                    "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw",
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01B7fV3mNQKk2xYd8s6tGxAo",
                    "name": "Edit",
                    "input": {
                        "file_path": "/home/u/proj/app.py",
                        "old_string": "except:\n    pass",
                        "new_string": "except ImportError:\n    yaml = None",
                        "replace_all": False,
                    },
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01B7fV3mNQKk2xYd8s6tGxAo",
                    "content": [
                        {
                            "type": "text",
                            "text": "<tool_use_error>File has been modified since read</tool_use_error>",
                        }
                    ],
                    "is_error": True,
                },
                {
                    "type": "text",
                    "text": "Read it again, then edit.",
                    "cache_control": {"type": "ephemeral"},
                },
            ],
        },
    ],
    "tools": [
        {
            "name": "Read",
            "description": "Reads a file from the local filesystem.",
            "input_schema": {
                "type": "object",
                "properties": {"file_path": {"type": "string", "description": "The absolute path"}},
                "required": ["file_path"],
                "additionalProperties": False,
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
        },
        {
            "name": "Edit",
            "description": "Performs exact string replacements in files.",
            "input_schema": {
                "type": "object",
                "properties": {
                    "file_path": {"type": "string"},
                    "old_string": {"type": "string"},
                    "new_string": {"type": "string"},
                    "replace_all": {"type": "boolean", "default": False},
                },
                "required": ["file_path", "old_string", "new_string"],
            },
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
    ],
    "metadata": {"user_id": "user_3f1c_account__session_9a2e"},
    "temperature": 1,
    "thinking": {"type": "enabled", "budget_tokens": 10000},
    "stream": True,
}

SIMPLE_REQUEST: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 1024,
    "system": "You are terse.",
    "messages": [
        {"role": "user", "content": "Name a sorting algorithm."},
        {"role": "assistant", "content": "Merge sort"},
        {"role": "user", "content": ""},
    ],
    "stop_sequences": ["\n\nHuman:"],
    "top_k": 40,
}

IMAGE_REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 1024,
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": "iVBORw0KGgoAAAANSUhEUg==",
                    },
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
                {
                    "type": "image",
                    "source": {"type": "url", "url": "https://example.com/chart.jpg"},
                },
                {
                    "type": "image",
                    "source": {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"},
                },
                {"type": "text", "text": "What changed between these?"},
            ],
        }
    ],
}

# Tool results in every spelling, server-tool blocks, a document, and a final-turn prefill.
ODD_BLOCKS_REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 2048,
    "cache_control": {"type": "ephemeral"},
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "def f(): pass"},
                    "title": "f.py",
                },
                {"type": "text", "text": "Search the docs, then run it."},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
                    "name": "web_search",
                    "input": {"query": "python bare except"},
                },
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
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
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "Bash",
                    "input": {"command": "python f.py"},
                },
                {"type": "tool_use", "id": "toolu_02", "name": "Bash", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": "",
                    "is_error": False,
                },
                {"type": "tool_result", "tool_use_id": "toolu_02"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "The script ran"}]},
    ],
    "tools": [
        {
            "name": "Bash",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    ],
}

REQUESTS = [CLAUDE_CODE_REQUEST, SIMPLE_REQUEST, IMAGE_REQUEST, ODD_BLOCKS_REQUEST]
REQUEST_IDS = ["claude-code", "strings", "images", "odd-blocks"]
