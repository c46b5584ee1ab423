"""The task file's JSON Schema, and validation that names the file and the field at fault.

The schema is the format's contract: `redline import` checks every file against it before
anything is written, so a file is imported whole or not at all.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from redline.errors import TaskFileError
from redline.transcripts.model import ROLES
from redline.transcripts.task import MAX_FILES

# The format's version: a file of a newer version is refused with a clear message.
TASK_FILE_VERSION = 1

_TIME = {"type": "string", "minLength": 10}
_NULLABLE_STRING = {"type": ["string", "null"]}

_PART: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": ["text", "tool_call", "tool_result", "image", "thinking", "opaque"]},
        "extra": {"type": "object"},
    },
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "text"}}},
            "then": {"required": ["text"], "properties": {"text": {"type": "string"}}},
        },
        {
            "if": {"properties": {"type": {"const": "tool_call"}}},
            "then": {
                "required": ["id", "name", "arguments"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "arguments": {"type": "string"},
                    "kind": {"type": "string"},
                    "parse_error": {"type": "string"},
                },
            },
        },
        {
            "if": {"properties": {"type": {"const": "tool_result"}}},
            "then": {
                "required": ["call_id", "content"],
                "properties": {
                    "call_id": {"type": "string"},
                    "content": {"type": ["string", "array"], "items": {"$ref": "#/$defs/part"}},
                    "is_error": {"type": "boolean"},
                },
            },
        },
        {
            "if": {"properties": {"type": {"const": "image"}}},
            "then": {
                "required": ["url"],
                "properties": {"url": {"type": "string"}, "media_type": {"type": "string"}},
            },
        },
        {
            "if": {"properties": {"type": {"const": "thinking"}}},
            "then": {
                "required": ["text"],
                "properties": {
                    "text": {"type": "string"},
                    "signature": {"type": "string"},
                    "redacted": {"type": "string"},
                },
            },
        },
        {
            "if": {"properties": {"type": {"const": "opaque"}}},
            "then": {"required": ["data"], "properties": {"data": {"type": "object"}}},
        },
    ],
}

_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role", "parts"],
    "properties": {
        "role": {"enum": sorted(ROLES)},
        "parts": {"type": "array", "items": {"$ref": "#/$defs/part"}},
        "extra": {"type": "object"},
    },
}

_TOOL: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "parameters": {"type": ["object", "null"]},
        "extra": {"type": "object"},
    },
}

_OUTPUT: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"$ref": "#/$defs/message"},
        "finish_reason": _NULLABLE_STRING,
        "cut_off": {"type": "boolean"},
        "source": _NULLABLE_STRING,
    },
}

_FILE: dict[str, Any] = {
    "type": "object",
    "required": ["path"],
    "properties": {
        "path": {"type": "string", "minLength": 1, "maxLength": 4096},
        "text": {"type": "string"},
        "base64": {"type": "string"},
        "executable": {"type": "boolean"},
    },
    "oneOf": [{"required": ["text"]}, {"required": ["base64"]}],
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "redline task file",
    "type": "object",
    "required": ["format_version", "name", "created_at", "checks", "request", "output"],
    "properties": {
        "format_version": {"const": 1},
        "name": {"type": "string"},
        "note": {"type": "string"},
        "created_at": _TIME,
        "checks": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "request": {
            "type": "object",
            "required": ["wire", "messages"],
            "properties": {
                "wire": {"type": "string"},
                "model": _NULLABLE_STRING,
                "system": {"type": "array", "items": {"$ref": "#/$defs/part"}},
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/$defs/message"},
                },
                "tools": {"type": "array", "items": {"$ref": "#/$defs/tool"}},
                "params": {"type": "object"},
            },
        },
        "output": {"$ref": "#/$defs/output"},
        "good_output": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/output"}]},
        "transcript": {
            "type": "object",
            "properties": {
                "drop_last": {"type": "integer", "minimum": 0},
                "tool_call": {"type": ["integer", "null"], "minimum": 1},
            },
        },
        "files": {"type": "array", "maxItems": MAX_FILES, "items": {"$ref": "#/$defs/file"}},
        "provenance": {
            "type": "object",
            "properties": {
                "call": _NULLABLE_STRING,
                "conversation": _NULLABLE_STRING,
                "model": _NULLABLE_STRING,
                "client": _NULLABLE_STRING,
                "recorded_at": {"oneOf": [{"type": "null"}, _TIME]},
            },
        },
        # The workspace archive beside the task file: a plain file name, and its SHA-256.
        "workspace": {
            "type": "object",
            "required": ["archive", "sha256"],
            "properties": {
                "archive": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$"},
                "sha256": {"type": "string", "pattern": r"^[0-9a-f]{64}$"},
            },
        },
    },
    "$defs": {
        "part": _PART,
        "message": _MESSAGE,
        "tool": _TOOL,
        "output": _OUTPUT,
        "file": _FILE,
    },
}


def _where(path: deque[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def validate(document: Any, source: str) -> None:
    """Raise TaskFileError (naming `source` and the field) unless `document` is a task file
    this redline reads."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    if not isinstance(document, dict):
        raise TaskFileError(source, "", f"holds JSON {type(document).__name__}, not a task object")
    version = document.get("format_version")
    if isinstance(version, int) and version > TASK_FILE_VERSION:
        raise TaskFileError(
            source,
            "format_version",
            f"{version} is newer than this redline reads ({TASK_FILE_VERSION}); upgrade redline",
        )
    error = best_match(Draft202012Validator(SCHEMA).iter_errors(document))
    if error is not None:
        raise TaskFileError(source, _where(error.absolute_path), error.message)
