"""A fake OpenAI Chat Completions upstream on 127.0.0.1 that answers like the real API.

Framing, error bodies and usage follow docs/wire-formats.md §1a. Answers are
deterministic functions of the request (ids included), so a direct call and a call through the
proxy can be compared byte for byte. `script` lets a test queue exact answers.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import Received, remember

CREATED = 1_764_000_000


@dataclass
class Answer:
    """What the fake says next: text, and/or tool calls as (name, arguments-json) pairs."""

    text: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    # Fault injection for streams: stop after this many data events and cut the connection.
    drop_after_events: int | None = None
    # Send a mid-stream error object after this many data events (HTTP status stays 200).
    error_after_events: int | None = None
    status: int = 200
    error_body: dict[str, Any] | None = None


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: deque[Answer] = deque()
        self.received: list[Received] = []
        self.api_key = "sk-test-fake-key-0123456789"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024, middlewares=[self.api_headers])
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    @web.middleware
    async def api_headers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # The real API adds these to every answer; a proxy must pass them on.
        request_id = "req_" + hashlib.sha256(request.path.encode()).hexdigest()[:12]
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        if not response.prepared:
            response.headers["x-request-id"] = request_id
            response.headers["openai-processing-ms"] = "7"
        return response

    async def _remember(self, request: web.Request) -> bytes:
        return await remember(self.received, request)

    @staticmethod
    def error(status: int, message: str, kind: str, code: str | None = None) -> web.Response:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return web.json_response(body, status=status)

    async def not_found(self, request: web.Request) -> web.Response:
        await self._remember(request)
        return self.error(
            404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error"
        )

    async def models(self, request: web.Request) -> web.Response:
        await self._remember(request)
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": "fake-model",
                        "object": "model",
                        "created": CREATED,
                        "owned_by": "redline",
                    }
                ],
            }
        )

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def chat(self, request: web.Request) -> web.StreamResponse:
        raw = await self._remember(request)
        if not self._authorized(request):
            return self.error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return self.error(
                400,
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
            )
        if not isinstance(body.get("messages"), list):
            return self.error(
                400, "Missing required parameter: 'messages'.", "invalid_request_error"
            )
        answer = self.script.popleft() if self.script else self.default_answer(body)
        if answer.status != 200:
            return web.json_response(
                answer.error_body or {"error": {"message": "fail"}}, status=answer.status
            )
        ident = "chatcmpl-" + hashlib.sha256(raw).hexdigest()[:24]
        # Tool call ids depend on the conversation only, so a streamed and a whole answer agree.
        self.call_prefix = (
            "call_" + hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()[:8]
        )
        usage = {
            "prompt_tokens": sum(len(json.dumps(m).split()) for m in body["messages"]),
            "completion_tokens": len((answer.text or "").split()) + 10 * len(answer.tool_calls),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": 0, "audio_tokens": 0}
        if body.get("stream"):
            return await self._stream(request, body, answer, ident, usage)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": answer.text,
            "refusal": None,
            "annotations": [],
        }
        if answer.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"{self.call_prefix}{i}",
                    "type": "function",
                    "function": {"name": n, "arguments": a},
                }
                for i, (n, a) in enumerate(answer.tool_calls)
            ]
        payload = {
            "id": ident,
            "object": "chat.completion",
            "created": CREATED,
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if answer.tool_calls else "stop",
                }
            ],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        data = json.dumps(payload).encode()
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(
                body=gzip.compress(data),
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        return web.Response(body=data, content_type="application/json")

    @staticmethod
    def default_answer(body: dict[str, Any]) -> Answer:
        last = next((m for m in reversed(body["messages"]) if m.get("role") == "user"), {})
        content = last.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        if body.get("tools") and body["messages"][-1].get("role") != "tool":
            name = body["tools"][0]["function"]["name"]
            return Answer(text=None, tool_calls=[(name, json.dumps({"path": "src/app.py"}))])
        return Answer(text=f"You said: {text}. Here is my answer, in a few words.")

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        answer: Answer,
        ident: str,
        usage: dict[str, Any],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await resp.prepare(request)
        base = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": body.get("model", "fake-model"),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            c = dict(
                base,
                choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            )
            if include_usage:
                c["usage"] = None
            return c

        events: list[dict[str, Any]] = [
            chunk({"role": "assistant", "content": "" if answer.text else None, "refusal": None})
        ]
        text = answer.text or ""
        for i in range(0, len(text), 7):
            events.append(chunk({"content": text[i : i + 7]}))
        for index, (name, args) in enumerate(answer.tool_calls):
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": f"{self.call_prefix}{index}",
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for j in range(0, len(args), 5):
                events.append(
                    chunk(
                        {
                            "tool_calls": [
                                {"index": index, "function": {"arguments": args[j : j + 5]}}
                            ]
                        }
                    )
                )
        events.append(chunk({}, "tool_calls" if answer.tool_calls else "stop"))
        if include_usage:
            events.append(dict(base, choices=[], usage=usage))
        for n, event in enumerate(events):
            if answer.drop_after_events is not None and n == answer.drop_after_events:
                assert request.transport is not None
                request.transport.abort()
                return resp
            if answer.error_after_events is not None and n == answer.error_after_events:
                err = {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                    }
                }
                await resp.write(f"data: {json.dumps(err)}\n\n".encode())
                await resp.write_eof()
                return resp
            await resp.write(f"data: {json.dumps(event)}\n\n".encode())
            await asyncio.sleep(0)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
