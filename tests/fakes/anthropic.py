"""A fake Anthropic Messages upstream on 127.0.0.1 that answers like the real API.

Endpoints, auth, error bodies, the message JSON and the SSE event stream follow
docs/wire-formats.md §1c and the `anthropic` SDK's types. Answers are deterministic
functions of the request (ids and signatures included), so a direct call and a call through the
proxy can be compared byte for byte, and a streamed and a whole answer to the same conversation
carry the same tool ids. `script` queues exact answers, faults included.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import brotli
from aiohttp import web
from backports import zstd

from tests.fakes.server import Received, remember

MODEL = "claude-sonnet-4-6"


def _digest(data: bytes | str, n: int) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:n]


@dataclass(frozen=True)
class Thinking:
    text: str

    @property
    def signature(self) -> str:
        # Real signatures are opaque base64; this one is a function of the text.
        return base64.b64encode(hashlib.sha512(self.text.encode()).digest()).decode()


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Unknown:
    """A content block of a type the parsers do not know (a future API feature), streamed as its
    start event, these deltas (of an unknown type too) and its stop event."""

    block: dict[str, Any]
    deltas: tuple[dict[str, Any], ...] = ()


Block = Thinking | Text | ToolUse | Unknown


@dataclass
class Answer:
    """What the fake says next."""

    blocks: list[Block] = field(default_factory=list)
    stop_reason: str | None = None  # default: "tool_use" when a ToolUse is among the blocks
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    # Events of unknown type, sent verbatim right after the first `ping`.
    unknown_events: list[dict[str, Any]] = field(default_factory=list)
    # Send an `error` event after this many events (the HTTP status stays 200), then end.
    error_after_events: int | None = None
    error_type: str = "overloaded_error"
    # Cut the connection right after this many non-empty `input_json_delta` fragments.
    cut_after_json_fragments: int | None = None
    # Compress the whole body with this Content-Encoding when the client accepts it (§3.2.4).
    content_encoding: str | None = None


COMPRESS = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstd.compress}


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class FakeAnthropic:
    def __init__(self) -> None:
        self.script: deque[Answer] = deque()
        self.received: list[Received] = []
        self.api_key = "sk-ant-test-fake-key-0123456789"
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.count_tokens)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    async def _remember(self, request: web.Request) -> bytes:
        return await remember(self.received, request)

    @staticmethod
    def error(status: int, kind: str, message: str, raw: bytes = b"") -> web.Response:
        request_id = "req_011C" + _digest(raw + kind.encode(), 20)
        body = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": request_id,
        }
        return web.json_response(body, status=status, headers={"request-id": request_id})

    async def not_found(self, request: web.Request) -> web.Response:
        await self._remember(request)
        return self.error(404, "not_found_error", "Not Found")

    async def _read(self, request: web.Request) -> tuple[bytes, dict[str, Any] | web.Response]:
        """The raw body and the request as JSON; or the error the real API gives instead."""
        raw = await self._remember(request)
        key = request.headers.get("x-api-key")
        bearer = request.headers.get("Authorization")
        if key != self.api_key and bearer != f"Bearer {self.api_key}":
            return raw, self.error(401, "authentication_error", "invalid x-api-key", raw)
        if not request.headers.get("anthropic-version"):
            return raw, self.error(
                400, "invalid_request_error", "anthropic-version: header is required", raw
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return raw, self.error(
                400, "invalid_request_error", "invalid JSON in request body", raw
            )
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return raw, self.error(400, "invalid_request_error", "messages: Field required", raw)
        return raw, body

    @staticmethod
    def input_tokens(body: dict[str, Any]) -> int:
        seen = {k: body.get(k) for k in ("system", "messages", "tools")}
        return len(json.dumps(seen).split())

    async def count_tokens(self, request: web.Request) -> web.Response:
        _, body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        return web.json_response({"input_tokens": self.input_tokens(body)})

    async def messages(self, request: web.Request) -> web.StreamResponse:
        raw, body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body.get("max_tokens"), int):
            return self.error(400, "invalid_request_error", "max_tokens: Field required", raw)
        answer = self.script.popleft() if self.script else self.default_answer(body)
        message = self._message(body, answer, raw)
        headers = {"request-id": "req_011C" + _digest(raw, 20)}
        coding = answer.content_encoding
        if coding and coding in request.headers.get("Accept-Encoding", ""):
            return self._compressed(body, message, answer, headers, coding)
        if body.get("stream"):
            return await self._stream(request, message, answer, headers)
        return web.json_response(message, headers=headers)

    def _compressed(
        self,
        body: dict[str, Any],
        message: dict[str, Any],
        answer: Answer,
        headers: dict[str, str],
        coding: str,
    ) -> web.Response:
        if body.get("stream"):
            data = b"".join(sse(name, d) for name, d in self.events(message, answer))
            kind = "text/event-stream; charset=utf-8"
        else:
            data, kind = json.dumps(message).encode(), "application/json"
        headers = {**headers, "Content-Type": kind, "Content-Encoding": coding}
        return web.Response(body=COMPRESS[coding](data), headers=headers)

    @staticmethod
    def default_answer(body: dict[str, Any]) -> Answer:
        """Thinking when asked for; a call of the first tool until a tool result comes back;
        then a text answer."""
        thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        last = body["messages"][-1] if body["messages"] else {}
        content = last.get("content")
        answered = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        )
        blocks: list[Block] = []
        if thinking:
            blocks.append(Thinking("The user wants a change; I will look at the code first."))
        if body.get("tools") and not answered:
            blocks.append(Text("Let me look at the file first."))
            blocks.append(ToolUse(body["tools"][0]["name"], {"path": "src/app.py"}))
        else:
            said = content if isinstance(content, str) else json.dumps(content)
            blocks.append(Text(f"You said: {said[:80]}. Here is my answer, in a few words."))
        return Answer(blocks)

    def _message(self, body: dict[str, Any], answer: Answer, raw: bytes) -> dict[str, Any]:
        # Tool ids depend on the conversation only, so a streamed and a whole answer agree.
        tool_prefix = "toolu_01" + _digest(json.dumps(body["messages"]), 16)
        content: list[dict[str, Any]] = []
        for i, block in enumerate(answer.blocks):
            match block:
                case Thinking(text):
                    content.append(
                        {"type": "thinking", "thinking": text, "signature": block.signature}
                    )
                case Text(text):
                    content.append({"type": "text", "text": text})
                case ToolUse(name, value):
                    content.append(
                        {
                            "type": "tool_use",
                            "id": f"{tool_prefix}{i}",
                            "name": name,
                            "input": value,
                        }
                    )
                case Unknown(data):
                    content.append(data)
        stop = answer.stop_reason or (
            "tool_use" if any(isinstance(b, ToolUse) for b in answer.blocks) else "end_turn"
        )
        output = sum(len(json.dumps(b).split()) for b in content)
        usage = {
            "input_tokens": self.input_tokens(body),
            "cache_creation_input_tokens": answer.cache_creation_input_tokens,
            "cache_read_input_tokens": answer.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": answer.cache_creation_input_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output,
            "service_tier": "standard",
        }
        return {
            "model": body.get("model", MODEL),
            "id": "msg_01" + _digest(raw, 22),
            "type": "message",
            "role": "assistant",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }

    @staticmethod
    def events(message: dict[str, Any], answer: Answer) -> list[tuple[str, dict[str, Any]]]:
        """The SSE events that stream `message`, as the real API orders them."""
        usage = message["usage"]
        start = dict(message, content=[], stop_reason=None, stop_sequence=None)
        start["usage"] = dict(usage, output_tokens=1)
        out: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start})
        ]

        def delta(index: int, d: dict[str, Any]) -> None:
            out.append(
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            )

        for index, (block, whole) in enumerate(zip(answer.blocks, message["content"], strict=True)):
            match block:
                case Thinking():
                    opened: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
                case Text():
                    opened = {"type": "text", "text": ""}
                case ToolUse():
                    opened = {**whole, "input": {}}
                case Unknown():
                    opened = whole
            out.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opened},
                )
            )
            if index == 0:
                out.append(("ping", {"type": "ping"}))
                out.extend((str(e["type"]), e) for e in answer.unknown_events)
            match block:
                case Thinking(text):
                    for i in range(0, len(text), 11):
                        delta(index, {"type": "thinking_delta", "thinking": text[i : i + 11]})
                    delta(index, {"type": "signature_delta", "signature": block.signature})
                case Text(text):
                    for i in range(0, len(text), 7):
                        delta(index, {"type": "text_delta", "text": text[i : i + 7]})
                case ToolUse(_, value):
                    args = json.dumps(value)
                    delta(index, {"type": "input_json_delta", "partial_json": ""})
                    for i in range(0, len(args), 9):
                        delta(index, {"type": "input_json_delta", "partial_json": args[i : i + 9]})
                case Unknown(_, deltas):
                    for d in deltas:
                        delta(index, d)
            out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        final_usage = {
            k: usage[k]
            for k in (
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
            )
        }
        out.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": final_usage,
                },
            )
        )
        out.append(("message_stop", {"type": "message_stop"}))
        return out

    async def _stream(
        self,
        request: web.Request,
        message: dict[str, Any],
        answer: Answer,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **headers,
            }
        )
        await resp.prepare(request)
        fragments = 0
        for n, (name, data) in enumerate(self.events(message, answer)):
            if answer.error_after_events is not None and n == answer.error_after_events:
                error = {
                    "type": "error",
                    "error": {"type": answer.error_type, "message": "Overloaded"},
                    "request_id": headers["request-id"],
                }
                await resp.write(sse("error", error))
                await resp.write_eof()
                return resp
            await resp.write(sse(name, data))
            if (data.get("delta") or {}).get("partial_json"):
                fragments += 1
                if fragments == answer.cut_after_json_fragments:
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp
