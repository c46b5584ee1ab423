"""The task file's JSON Schema, and validation that names the file and the field at fault.

The schema is the format's contract: `redline import` checks every file against it before
anything is written, so a file is imported whole or not at all. Task files come from other
people, so the schema is closed: a field it does not name is refused (a typo, or a field of a
format this redline does not know, is never dropped silently), whole numbers are JSON integers
(not `1.0`, not `true`) within bounds the store can hold, and `wire` names a wire format.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from typing import Any

from redline.errors import TaskFileError
from redline.transcripts.model import ROLES

# The format's version: a file of a newer version is refused with a clear message.
TASK_FILE_VERSION = 1
# The most `drop_last` and `tool_call` may say: far past any transcript, well inside the store's
# 32-bit integers.
MAX_COUNT = 1_000_000
# How much of a problem is shown: jsonschema's messages quote the value at fault, which in a
# file from elsewhere can be a megabyte long.
_SHOWN = 160

_TIME = {"type": "string", "minLength": 10, "maxLength": 64}
_NULLABLE_STRING = {"type": ["string", "null"]}

_PART: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    # The properties each type's `then` names count as evaluated: any other is refused.
    "unevaluatedProperties": False,
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
    "additionalProperties": False,
    "properties": {
        "role": {"enum": sorted(ROLES)},
        "parts": {"type": "array", "items": {"$ref": "#/$defs/part"}},
        "extra": {"type": "object"},
    },
}

_TOOL: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
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
    "additionalProperties": False,
    "properties": {
        "message": {"$ref": "#/$defs/message"},
        "finish_reason": _NULLABLE_STRING,
        "cut_off": {"type": "boolean"},
        "source": _NULLABLE_STRING,
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "redline task file",
    "type": "object",
    "required": ["format_version", "name", "created_at", "checks", "request", "output"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"type": "integer", "const": TASK_FILE_VERSION},
        "name": {"type": "string"},
        "note": {"type": "string"},
        "created_at": _TIME,
        "checks": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1, "maxLength": 4096},
        },
        "request": {
            "type": "object",
            "required": ["wire", "messages"],
            "additionalProperties": False,
            "properties": {
                # The names of the wire formats registered (`_with_wires`).
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
            "additionalProperties": False,
            "properties": {
                "drop_last": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                "tool_call": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_COUNT},
            },
        },
        "provenance": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "call": _NULLABLE_STRING,
                "conversation": _NULLABLE_STRING,
                "model": _NULLABLE_STRING,
                "client": _NULLABLE_STRING,
                "recorded_at": {"oneOf": [{"type": "null"}, _TIME]},
            },
        },
    },
    "$defs": {"part": _PART, "message": _MESSAGE, "tool": _TOOL, "output": _OUTPUT},
}


def _where(path: deque[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def _with_wires(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with `request.wire` held to the wire formats this redline knows."""
    from redline.transcripts import wire

    request = schema["properties"]["request"]
    properties = {**request["properties"], "wire": {"enum": sorted(wire.names())}}
    return {
        **schema,
        "properties": {**schema["properties"], "request": {**request, "properties": properties}},
    }


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators

    # JSON Schema counts 1.0 as an integer; a task file's counts are written as integers.
    strict = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: type(value) is int
    )
    cls = validators.extend(Draft202012Validator, type_checker=strict)  # type: ignore[no-untyped-call]
    return cls(_with_wires(SCHEMA))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


_UNEXPECTED = frozenset({"additionalProperties", "unevaluatedProperties"})


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _problem(error: Any) -> str:
    """jsonschema's message, without quoting a long value back."""
    if error.validator == "type":
        wanted = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        return f"should be {' or '.join(names)}, not {_json_type(error.instance)}"
    if error.validator == "const":
        return f"should be {error.validator_value!r}, not {_shown(error.instance)}"
    if error.validator == "enum":
        return f"{_shown(error.instance)} is none of {', '.join(map(str, error.validator_value))}"
    message = str(error.message)
    if error.validator in _UNEXPECTED:
        found = re.search(r"\((.*) (was|were) unexpected\)", message)
        if found:
            unexpected, were = found.groups()
            not_ = "are not fields" if were == "were" else "is not a field"
            message = f"{unexpected} {not_} of the task file format (a typo, or a newer format's)"
    return message if len(message) <= _SHOWN else message[: _SHOWN - 3] + "..."


def validate(document: Any, source: str) -> None:
    """Raise TaskFileError (naming `source` and the field) unless `document` is a task file
    this redline reads."""
    from jsonschema.exceptions import best_match

    if not isinstance(document, dict):
        raise TaskFileError(source, "", f"holds {_json_type(document)}, not a task object")
    version = document.get("format_version")
    if type(version) is int and version > TASK_FILE_VERSION:
        raise TaskFileError(
            source,
            "format_version",
            f"{version} is newer than this redline reads ({TASK_FILE_VERSION}); upgrade redline"
            if version < 10**6
            else f"{str(version)[:12]}... is not a version of the format",
        )
    # A field that is not allowed says less than a wrong value beside it: a part of an unknown
    # type has none of its properties evaluated, and its type is what is wrong.
    errors = list(_validator().iter_errors(document))
    wrong = [e for e in errors if e.validator not in _UNEXPECTED]
    error = best_match(wrong or errors)
    if error is not None:
        raise TaskFileError(source, _where(error.absolute_path), _problem(error))
