"""What `redline check` reads: a recorded call, or files.

* a code file (`.py`, or another language's extension): wholly introduced code, as if the
  output had written the file whole (`agents.written`);
* `.json`: a response body in any registered wire format (tried by shape first, then each
  format), or redline's canonical JSON: a message `{"role", "parts"}`, a response
  `{"message": ...}`, or `{"request": ..., "response": ...}` (the request then gives context);
* `.sse`, or any file whose text starts with an SSE field (`event:`, `data:`): a streamed
  response, reassembled by the wire format its events belong to;
* `.md`, `.txt`: the text of an assistant message (aider's SEARCH/REPLACE blocks, fences...).

Files are UTF-8 (a byte order mark dropped); Python source may declare its encoding (PEP 263).
`Output.cut_off` says the output stopped before the model finished it: its finish reason, or a
stream (or recorded call) that ended early.
"""

from __future__ import annotations

import io
import json
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redline.analyzers.extract._language import from_path
from redline.transcripts import (
    Message,
    RedlineError,
    Request,
    Text,
    agents,
    message_from_dict,
    parse_sse,
    request_from_dict,
    response_from_dict,
    wire,
)

if TYPE_CHECKING:
    from redline.transcripts import Call

_TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
_PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


@dataclass(frozen=True, slots=True)
class Output:
    """`cut_off`: the output stopped before the model finished it (a length limit, a stream
    that ended early), so the last thing it wrote may be unfinished."""

    label: str  # the file path or call id, for reports
    message: Message
    request: Request | None = None
    cut_off: bool = False


def cut_off(finish_reason: str | None, wire_name: str | None = None) -> bool:
    return wire.is_cut_off(finish_reason, wire_name)


def call_output(call: Call) -> Output:
    """A recorded call's answer, with its request as context."""
    if call.response is None:
        raise RedlineError(f"call {call.id} has no response to check (it failed or was cut off)")
    cut = cut_off(call.response.finish_reason, call.summary.wire)
    return Output(
        call.id, call.response.message, call.request, cut or call.summary.status == "incomplete"
    )


def load_call(id_prefix: str, db: str | Path | None = None) -> Output:
    """The output of a recorded call (`db`: the database, else the default one)."""
    from redline.transcripts import open_store

    with open_store(db) as store:
        return call_output(store.load_call(id_prefix))


def _read(path: Path) -> str:
    """The file's text: UTF-8 (a byte order mark dropped); Python source in the encoding its
    coding line declares (PEP 263)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RedlineError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    encoding = "utf-8-sig"
    if from_path(str(path)) == "python":
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as error:  # an unknown or contradictory coding line
            raise RedlineError(f"cannot read {str(path)!r}: {error}") from None
    shown = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise RedlineError(f"cannot read {str(path)!r}: it is not {shown} text ({error})") from None


def load_file(path: Path) -> Output:
    text = _read(path)
    suffix = path.suffix.lower()
    label = str(path)
    if suffix == ".json":
        return _json_output(label, text)
    if suffix == ".sse" or text.lstrip().startswith(("event:", "data:")):
        return _stream_output(label, text)
    if suffix in _TEXT_SUFFIXES:
        return Output(label, Message("assistant", (Text(text),)))
    if from_path(label) is not None:
        return Output(label, Message("assistant", (agents.written(label, text),)))
    raise RedlineError(
        f"do not know how to read {label!r}: give a code file (.py...), a response body (.json), "
        "a stream (.sse) or an output's text (.md, .txt)"
    )


def _json_output(label: str, text: str) -> Output:
    try:
        body = json.loads(text)
    except ValueError as error:
        raise RedlineError(f"{label!r} is not valid JSON: {error}") from None
    except RecursionError:
        raise RedlineError(
            f"{label!r} is not a response body: its JSON is nested too deeply"
        ) from None
    if not isinstance(body, Mapping):
        raise RedlineError(f"{label!r} holds JSON {type(body).__name__}, not a response object")
    canonical = _canonical(body)
    if canonical is not None:
        return Output(label, *canonical)
    for fmt in wire.guess_response(body):
        try:
            response = fmt.parse_response(body)
        except (*_PARSE_ERRORS, RecursionError):
            continue
        return Output(label, response.message, None, cut_off(response.finish_reason, fmt.name))
    raise RedlineError(
        f"{label!r} is not a response body in any known wire format ({', '.join(wire.names())}) "
        "nor redline's JSON of a message or response"
    )


def _canonical(body: Mapping[str, Any]) -> tuple[Message, Request | None, bool] | None:
    try:
        if "parts" in body and "role" in body:
            return message_from_dict(body), None, False
        message = body.get("message")
        if isinstance(message, Mapping) and "parts" in message:
            response = response_from_dict(body)
            return response.message, None, cut_off(response.finish_reason)
        response_d, request = body.get("response"), body.get("request")
        if isinstance(response_d, Mapping) and isinstance(response_d.get("message"), Mapping):
            parsed = request_from_dict(request) if isinstance(request, Mapping) else None
            response = response_from_dict(response_d)
            return response.message, parsed, cut_off(response.finish_reason)
    except (*_PARSE_ERRORS, RecursionError) as error:
        raise RedlineError(f"malformed redline JSON: {type(error).__name__}: {error}") from None
    return None


def _stream_output(label: str, text: str) -> Output:
    events = parse_sse(text)
    if not events:
        raise RedlineError(f"{label!r} holds no server-sent events")
    if not any(_json_object(e.data) for e in events):
        raise RedlineError(
            f"{label!r} is not a stream in any known wire format ({', '.join(wire.names())}): "
            "none of its events carries a JSON object"
        )
    fmt = wire.guess_stream(events)
    if fmt is None:
        raise RedlineError(
            f"{label!r} is not a stream in any known wire format ({', '.join(wire.names())}): "
            "its event types are none of theirs"
        )
    try:
        reassembled = fmt.reassemble(events)
    except (*_PARSE_ERRORS, RecursionError) as error:
        raise RedlineError(
            f"{label!r}: the {fmt.name} stream could not be reassembled: {error}"
        ) from None
    response = reassembled.response
    cut = not reassembled.complete or cut_off(response.finish_reason, fmt.name)
    return Output(label, response.message, None, cut)


def _json_object(data: str) -> bool:
    try:
        return isinstance(json.loads(data), Mapping)
    except (ValueError, RecursionError):
        return False
