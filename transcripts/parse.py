"""Reading a finished exchange: pure, no database, so the store, tasks and replay share it.

`parse_exchange` undoes the content codings of redline's copy of the bodies, finds the wire
format from the path, parses the request, parses or reassembles the response, and derives what
threading needs (the agent's session key, a title). Nothing in it can fail: whatever cannot be
read is reported in `problems` and the raw bytes are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redline.transcripts import agents
from redline.transcripts import wire as wires
from redline.transcripts.codings import decode_body
from redline.transcripts.exchange import RawExchange, header
from redline.transcripts.fastjson import LazyList, loads, loads_object
from redline.transcripts.model import Request, Response, Text
from redline.transcripts.sse import parse_sse

# Exceptions a parser raises on a body of an unexpected shape.
PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)

UNPARSED_TITLE = "(request not parsed)"


@dataclass(frozen=True, slots=True)
class ParsedExchange:
    """What a raw exchange says, read once.

    `fmt` is the wire format its path belongs to (None for other endpoints); `model_call` is
    True for a request to a model that carried a body (a bodiless request on a model path, such
    as a refused WebSocket upgrade, is not a call). `request_body`/`response_body` are redline's
    decoded copies (the raw bytes when decoding failed). `outcome` and `error` are the proxy's,
    corrected by what the body says (an error event inside a stream). `split` is the request
    body taken apart by the format, when it parsed.
    """

    raw: RawExchange
    fmt: wires.WireFormat | None
    model_call: bool
    request: Request | None
    response: Response | None
    request_body: bytes
    response_body: bytes
    split: wires.SplitBody | None
    stream: bool
    outcome: str
    error: str | None
    problems: tuple[str, ...]
    session_key: str | None
    title: str | None
    title_at: int | None = None  # the index in request.messages of the message it came from
    items: LazyList | None = None  # the request's history list (items decoded when read)
    skipped: int = 0  # leading history items not parsed (`skip`): `request` holds the rest

    @property
    def parse_error(self) -> str | None:
        return "; ".join(self.problems) or None

    @property
    def continues(self) -> str | None:
        """The upstream id of the answer this call continues on the server's side, if any."""
        if self.fmt is None or self.request is None:
            return None
        return self.fmt.continues(self.request)


# Given a format and a request's history list, how many leading items need no parsing (their
# messages are known already). Must return a cut the format allows (`WireFormat.can_split`).
Skip = Callable[[wires.WireFormat, LazyList], int]


def parse_exchange(
    x: RawExchange, *, unparsed_because: str | None = None, skip: Skip | None = None
) -> ParsedExchange:
    """Read `x`. With `unparsed_because`, the bodies are decoded but not parsed, and that reason
    is the parse problem (for an exchange whose parsed form could not be stored). With `skip`,
    the leading history items it names are not parsed: `request.messages` holds only the rest,
    `skipped` says how many items were left out (an agent re-sends its history on every call;
    ingest knows that prefix already), and `title` is the first among the messages that were
    read (ingest keeps the known prefix's title when it has one)."""
    detected = wires.detect(x.path)
    fmt = None if unparsed_because else detected
    problems: list[str] = []
    request_body, request, body, items, skipped = _request(x, fmt, problems, skip)
    if unparsed_because:
        problems.append(unparsed_because)
    response_body, stream, response, outcome, error = _response(x, fmt, problems)
    model_call = detected is not None and (bool(x.request_body) or x.method == "WEBSOCKET")
    title = title_at = None
    if model_call:
        title, title_at = _title(request) if request is not None else (UNPARSED_TITLE, None)
    return ParsedExchange(
        raw=x,
        fmt=detected,
        model_call=model_call,
        request=request,
        response=response,
        request_body=request_body,
        response_body=response_body,
        split=fmt.split_body(body) if fmt is not None and body is not None else None,
        stream=stream,
        outcome=outcome or x.outcome,
        error=error or x.error,
        problems=tuple(problems),
        session_key=session_key(x.request_headers),
        title=title,
        title_at=title_at,
        items=items,
        skipped=skipped,
    )


def _request(
    x: RawExchange, fmt: wires.WireFormat | None, problems: list[str], skip: Skip | None
) -> tuple[bytes, Request | None, dict[str, Any] | None, LazyList | None, int]:
    try:
        raw = decode_body(x.request_body, header(x.request_headers, "content-encoding"))
    except ValueError as exc:
        problems.append(f"request: {exc}")
        return x.request_body, None, None, None, 0
    if fmt is None or not raw:
        return raw, None, None, None, 0
    try:
        # The history is decoded only from where `skip` says it is not known already.
        body = loads_object(raw, fmt.history_key)
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
        items = body.get(fmt.history_key)
        if not isinstance(items, LazyList):
            return raw, fmt.parse_request(body), body, None, 0
        skipped = skip(fmt, items) if skip is not None else 0
        tail = {**body, fmt.history_key: items[skipped:]}
        return raw, fmt.parse_request(tail), body, items, skipped
    except PARSE_ERRORS as exc:
        problems.append(f"request: {exc}")
        return raw, None, None, None, 0


def _response(
    x: RawExchange, fmt: wires.WireFormat | None, problems: list[str]
) -> tuple[bytes, bool, Response | None, str | None, str | None]:
    """The decoded body, whether it was a stream, the response, and the outcome and error the
    body itself tells (None where it adds nothing to the proxy's)."""
    websocket = x.extra.get("transport") == "websocket"
    content_type = (header(x.response_headers, "content-type") or "").lower()
    stream = websocket or "text/event-stream" in content_type
    try:
        raw = decode_body(x.response_body, header(x.response_headers, "content-encoding"))
    except ValueError as exc:
        problems.append(f"response: {exc}")
        return x.response_body, stream, None, None, None
    if fmt is None or x.status is None or not raw:
        return raw, stream, None, None, None
    if x.status >= 400:
        error = None
        if not x.error:
            error = f"upstream answered {x.status}: {raw[:500].decode('utf-8', 'replace')}"
        return raw, stream, None, None, error
    if not (200 <= x.status < 300 or websocket):
        return raw, stream, None, None, None
    response: Response | None = None
    outcome = error = None
    try:
        if stream:
            result = fmt.reassemble(parse_sse(raw.decode("utf-8", "replace")))
            response = result.response
            if result.error:
                outcome, error = "error", result.error
            elif not result.complete and x.outcome == "complete":
                outcome = "incomplete"
                error = (
                    f"the stream ended without its end marker ({fmt.stream_end}): the "
                    "upstream closed it early, so the answer may be cut short"
                )
        else:
            response = fmt.parse_response(loads(raw))
    except PARSE_ERRORS as exc:
        problems.append(f"response: {exc}")
    if response is not None:
        # A tool call whose arguments were cut off keeps the raw fragment; say so at call level.
        for call in response.message.tool_calls:
            if call.parse_error is not None:
                problems.append(
                    f"response: arguments of tool call {call.name} ({call.id}): {call.parse_error}"
                )
    return raw, stream, response, outcome, error


def session_key(headers: Iterable[tuple[str, str]]) -> str | None:
    """The agent session a call belongs to, from the agent's own session header."""
    return agents.session_key(headers)


def _title(request: Request) -> tuple[str | None, int | None]:
    """What the user first asked: the first user text that is not agent boilerplate, and the
    index of its message."""
    for index, m in enumerate(request.messages):
        if m.role != "user":
            continue
        for part in m.parts:
            text = part.text.strip() if isinstance(part, Text) else ""
            if text and not agents.is_boilerplate(text):
                return " ".join(text.split())[:120], index
    return None, None
