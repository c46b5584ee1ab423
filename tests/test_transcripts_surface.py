"""The `transcripts` library surface that the store, tasks, replay, the mitm mode and the web view
share: a finished exchange is read without a database, and everything about a wire format is
asked of its `WireFormat`."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from redline.transcripts import wire as wires
from redline.transcripts.exchange import RawExchange
from redline.transcripts.model import Message, Request, Response, Text
from redline.transcripts.parse import parse_exchange
from redline.transcripts.sse import parse_sse

TOOLS = [{"name": "Read", "description": "read a file", "input_schema": {"type": "object"}}]


def exchange(
    path: str,
    body: dict[str, Any],
    response: bytes,
    *,
    request_headers: tuple[tuple[str, str], ...] = (),
    response_headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),),
    compress: bool = False,
) -> RawExchange:
    raw = json.dumps(body).encode()
    headers = (("content-type", "application/json"), *request_headers)
    if compress:
        raw = gzip.compress(raw)
        headers = (*headers, ("content-encoding", "gzip"))
    return RawExchange(
        id="01JTEST0000000000000000000",
        started_at=datetime(2026, 12, 1, tzinfo=UTC),
        method="POST",
        path=path,
        query="",
        upstream="http://127.0.0.1:9",
        request_headers=headers,
        request_body=raw,
        status=200,
        response_headers=response_headers,
        response_body=response,
        ttfb_ms=1.0,
        duration_ms=2.0,
        outcome="complete",
    )


def anthropic_stream(text: str, stop_reason: str = "end_turn") -> bytes:
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1},
        }}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode()


def claude_code_body(turns: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        messages.append({"role": "user", "content": f"step {i}: fix the parser"})
        messages.append({"role": "assistant", "content": f"done with step {i}"})
    messages.append({"role": "user", "content": "now add a test"})
    return {
        "model": "claude-x",
        "max_tokens": 1024,
        "stream": True,
        "system": "You are a coding agent.",
        "tools": TOOLS,
        "messages": messages,
    }


def test_a_compressed_streamed_exchange_is_read_whole_without_a_database() -> None:
    x = exchange(
        "/v1/messages",
        claude_code_body(1),
        anthropic_stream("Added test_parser.py"),
        request_headers=(("x-claude-code-session-id", "sess-42"),),
        response_headers=(("content-type", "text/event-stream"),),
        compress=True,
    )

    p = parse_exchange(x)

    assert p.fmt is not None and p.fmt.name == "anthropic-messages"
    assert p.model_call and p.stream and p.problems == ()
    assert p.request is not None and p.request.model == "claude-x"
    assert p.request.system is not None and p.request.system[0].text == "You are a coding agent."
    assert [m.role for m in p.request.messages] == ["user", "assistant", "user"]
    assert p.request.tools is not None and p.request.tools[0].name == "Read"
    assert p.response is not None
    assert p.response.message.parts == (Text("Added test_parser.py"),)
    assert p.response.usage is not None and p.response.usage.output_tokens == 5
    assert p.session_key is not None and "sess-42" in p.session_key
    assert p.title == "step 0: fix the parser"
    assert json.loads(p.request_body)["messages"][0]["content"] == "step 0: fix the parser"


def test_a_body_that_does_not_parse_is_kept_raw_with_the_reason() -> None:
    x = exchange("/v1/messages", {"model": "claude-x", "messages": "not a list"}, b"{}")
    x = RawExchange(**{**{f: getattr(x, f) for f in x.__slots__}, "request_body": b"{oops"})

    p = parse_exchange(x)

    assert p.request is None
    assert p.request_body == b"{oops"
    assert p.parse_error is not None and p.parse_error.startswith("request:")


def test_skip_leaves_a_known_history_unparsed_and_says_how_much() -> None:
    body = claude_code_body(3)
    x = exchange("/v1/messages", body, anthropic_stream("ok"))

    whole = parse_exchange(x)
    p = parse_exchange(x, skip=lambda fmt, items: 4)

    assert p.skipped == 4 and p.items == body["messages"]
    assert whole.request is not None and p.request is not None
    assert p.request.messages[-3:] == whole.request.messages[-3:]
    assert len(p.request.messages) == len(whole.request.messages) - 4
    # The title comes from the messages read; ingest keeps the known prefix's own title.
    assert whole.title == "step 0: fix the parser"
    assert (p.title, p.title_at) == ("step 2: fix the parser", 0)


@pytest.mark.parametrize(
    ("name", "body", "blobs"),
    [
        (
            "anthropic-messages",
            {"model": "m", "max_tokens": 5, "system": "S", "tools": TOOLS,
             "messages": [{"role": "user", "content": "hi"}]},
            {"system": "S", "tools": TOOLS},
        ),
        (
            "openai-chat",
            {"model": "m", "tools": [{"type": "function", "function": {"name": "f"}}],
             "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]},
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
        ),
        (
            "openai-responses",
            {"model": "m", "instructions": "S", "input": [{"role": "user", "content": "hi"}]},
            {"system": "S"},
        ),
    ],
)  # fmt: skip
def test_split_body_takes_out_history_and_blobs_and_join_body_puts_the_rest_back(
    name: str, body: dict[str, Any], blobs: dict[str, Any]
) -> None:
    fmt = wires.get(name)

    split = fmt.split_body(body)

    assert split.blobs == blobs
    assert fmt.history_key not in split.meta
    assert all(v not in split.meta.values() for v in blobs.values())
    assert fmt.join_body(split) == {**body, fmt.history_key: []}


@pytest.mark.parametrize(
    ("name", "cut", "finished"),
    [
        ("openai-chat", "length", "stop"),
        ("anthropic-messages", "max_tokens", "end_turn"),
    ],
)
def test_each_format_says_which_finish_reasons_mean_cut_off(
    name: str, cut: str, finished: str
) -> None:
    assert wires.get(name).is_cut_off(cut)
    assert not wires.get(name).is_cut_off(finished)
    assert wires.is_cut_off(cut, name) and wires.is_cut_off(cut)
    assert not wires.is_cut_off(finished, name)


def test_a_stream_and_a_response_body_are_recognised_by_their_shape() -> None:
    events = parse_sse(anthropic_stream("hi").decode())
    chat = {"id": "c", "object": "chat.completion", "choices": [], "model": "m"}

    fmt = wires.guess_stream(events)

    assert fmt is not None and fmt.name == "anthropic-messages"
    assert "message_stop" in fmt.terminal_events
    assert wires.guess_response(chat)[0].name == "openai-chat"


@dataclass(frozen=True)
class EchoFormat(wires.BodyKeys):
    """A toy API: `{"turns": [...]}` in, `{"reply": "..."}` out."""

    name: str = "echo"
    history_key: str = "turns"
    system_key: str | None = None
    terminal_events: frozenset[str] = frozenset({"done"})
    default_key_env: str = "ECHO_KEY"

    def matches(self, path: str) -> bool:
        return path.endswith("/echo")

    def parse_request(self, body: Any) -> Request:
        turns = tuple(Message("user", (Text(t),)) for t in body["turns"])
        return Request(model="echo-1", messages=turns, wire=self.name)

    def parse_response(self, body: Any) -> Response:
        return Response(Message("assistant", (Text(body["reply"]),)), model="echo-1")

    def sniff_response(self, body: Any) -> bool:
        return "reply" in body

    def sniff_stream(self, event_types: Any) -> bool:
        return "done" in event_types

    def is_cut_off(self, finish_reason: str | None) -> bool:
        return False

    def continues(self, request: Request) -> str | None:
        return None


def test_a_new_format_is_one_class_and_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = EchoFormat()
    monkeypatch.setitem(wires._REGISTRY, fmt.name, fmt)  # undone after the test
    x = exchange("/v1/echo", {"turns": ["hello"]}, json.dumps({"reply": "hello"}).encode())

    p = parse_exchange(x)

    assert p.fmt is fmt and "echo" in wires.names()
    assert p.request is not None and p.request.messages[0].parts == (Text("hello"),)
    assert p.response is not None and p.response.message.parts == (Text("hello"),)
    assert p.split == wires.SplitBody({}, {})
    assert p.title == "hello"


def test_every_public_name_of_the_library_and_its_store_resolves() -> None:
    """Most names load on first use, from a table kept beside the typed imports: a name listed
    but not loadable, or a store name the library forgot, fails here rather than in a user's
    command."""
    import redline.transcripts as library
    import redline.transcripts.store as store

    for module in (library, store):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    assert set(store.__all__) <= set(library.__all__)
