"""What `redline check` reads: a recorded call, or files.

* a code file (`.py`, or another language's extension): wholly introduced code, as if the
  output had written it with a Write tool;
* `.json`: a response body in any registered wire format (tried by shape first, then each
  format), or redline's canonical JSON: a message `{"role", "parts"}`, a response
  `{"message": ...}`, or `{"request": ..., "response": ...}` (the request then gives context);
* `.sse`, or any file whose text starts with an SSE field (`event:`, `data:`): a streamed
  response, reassembled by the wire format its events belong to;
* `.md`, `.txt`: the text of an assistant message (aider's SEARCH/REPLACE blocks, fences...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.analyzers.extract._language import from_path
from redline.errors import RedlineError
from redline.transcripts import wire
from redline.transcripts.model import (
    Message,
    Request,
    Text,
    ToolCall,
    message_from_dict,
    request_from_dict,
    response_from_dict,
)
from redline.transcripts.sse import parse_sse

_TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
_PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


@dataclass(frozen=True, slots=True)
class Output:
    label: str  # the file path or call id, for reports
    message: Message
    request: Request | None = None


def load_call(id_prefix: str) -> Output:
    try:
        from redline.transcripts.store import open_store
    except ImportError:
        raise RedlineError(
            "this build of redline cannot load recorded calls yet; check files instead"
        ) from None
    with open_store() as store:
        call = store.load_call(id_prefix)
    if call.response is None:
        raise RedlineError(f"call {id_prefix} has no response to check (it failed or was cut off)")
    return Output(id_prefix, call.response.message, call.request)


def load_file(path: Path) -> Output:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise RedlineError(f"cannot read {str(path)!r}: {reason}") from None
    suffix = path.suffix.lower()
    label = str(path)
    if suffix == ".json":
        return _json_output(label, text)
    if suffix == ".sse" or text.lstrip().startswith(("event:", "data:")):
        return Output(label, _stream_message(label, text))
    if suffix in _TEXT_SUFFIXES:
        return Output(label, Message("assistant", (Text(text),)))
    if from_path(label) is not None:
        args = json.dumps({"file_path": label, "content": text})
        return Output(label, Message("assistant", (ToolCall("file", "Write", args),)))
    raise RedlineError(
        f"do not know how to read {label!r}: give a code file (.py...), a response body (.json), "
        "a stream (.sse) or an output's text (.md, .txt)"
    )


def _json_output(label: str, text: str) -> Output:
    try:
        body = json.loads(text)
    except ValueError as error:
        raise RedlineError(f"{label!r} is not valid JSON: {error}") from None
    if not isinstance(body, Mapping):
        raise RedlineError(f"{label!r} holds JSON {type(body).__name__}, not a response object")
    canonical = _canonical(body)
    if canonical is not None:
        return Output(label, *canonical)
    for name in _formats_for(body):
        try:
            return Output(label, wire.get(name).parse_response(body).message)
        except _PARSE_ERRORS:
            continue
    raise RedlineError(
        f"{label!r} is not a response body in any known wire format ({', '.join(wire.names())}) "
        "nor redline's JSON of a message or response"
    )


def _canonical(body: Mapping[str, Any]) -> tuple[Message, Request | None] | None:
    try:
        if "parts" in body and "role" in body:
            return message_from_dict(body), None
        message = body.get("message")
        if isinstance(message, Mapping) and "parts" in message:
            return response_from_dict(body).message, None
        response, request = body.get("response"), body.get("request")
        if isinstance(response, Mapping) and isinstance(response.get("message"), Mapping):
            parsed = request_from_dict(request) if isinstance(request, Mapping) else None
            return response_from_dict(response).message, parsed
    except _PARSE_ERRORS as error:
        raise RedlineError(f"malformed redline JSON: {type(error).__name__}: {error}") from None
    return None


def _formats_for(body: Mapping[str, Any]) -> list[str]:
    """Registered formats, the one the body's shape suggests first."""
    guess = None
    if "choices" in body:
        guess = "openai-chat"
    elif body.get("type") == "message" or ("content" in body and "stop_reason" in body):
        guess = "anthropic-messages"
    elif "output" in body or body.get("object") == "response":
        guess = "openai-responses"
    names = wire.names()
    first = [guess] if guess is not None and guess in names else []
    return first + [n for n in names if n != guess]


def _stream_message(label: str, text: str) -> Message:
    events = parse_sse(text)
    if not events:
        raise RedlineError(f"{label!r} holds no server-sent events")
    kinds = {e.event for e in events}
    if any(k.startswith("response.") for k in kinds):
        name = "openai-responses"
    elif kinds & {"message_start", "content_block_start", "content_block_delta"}:
        name = "anthropic-messages"
    else:
        name = "openai-chat"
    if name not in wire.names():
        raise RedlineError(f"{label!r} is a {name} stream, and that wire format is not available")
    try:
        return wire.get(name).reassemble(events).response.message
    except _PARSE_ERRORS as error:
        raise RedlineError(
            f"{label!r}: the {name} stream could not be reassembled: {error}"
        ) from None
