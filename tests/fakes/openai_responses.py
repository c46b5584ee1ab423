"""A fake OpenAI Responses upstream on 127.0.0.1 that answers like the real API.

`POST /v1/responses` answers whole or streamed (`event:` + `data:` SSE, a `sequence_number` on
every event, no `[DONE]`), and `GET /v1/responses` upgraded to a WebSocket answers each
`{"type": "response.create", ...}` frame with the same events as text frames, as Codex uses it.
Facts: docs/wire-formats.md §1b and §3.2. Earlier responses are kept in memory, so
`previous_response_id` continues them. Answers are deterministic functions of the request: item
and call ids depend on the conversation only, so a streamed and a whole answer agree.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.server import Received, remember

CREATED = 1_764_000_000


def _digest(data: bytes | str, n: int) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:n]


@dataclass
class Answer:
    """What the fake says next: an optional reasoning item (its summary text), text, and
    function calls as (name, arguments-json) pairs, in that order."""

    text: str | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)
    reasoning: str | None = None
    cached_tokens: int = 0
    # The ChatGPT backend sends `response.completed` with an empty `output` (§1b).
    empty_completed_output: bool = False
    # Send an `error` event after this many events (the HTTP status stays 200), then end.
    error_after_events: int | None = None


class FakeResponses:
    def __init__(self, *, websocket: bool = True) -> None:
        self.script: deque[Answer] = deque()
        self.received: list[Received] = []
        self.frames: list[str] = []  # text frames received over WebSockets
        self.api_key = "sk-test-fake-key-0123456789"
        self.url = ""
        self.websocket_enabled = websocket
        # Earlier responses by id: the whole conversation up to and including their output.
        self.histories: dict[str, list[Any]] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_post("/v1/responses", self.create)
        app.router.add_get("/v1/responses", self.websocket)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    async def _remember(self, request: web.Request) -> bytes:
        return await remember(self.received, request)

    @staticmethod
    def error_body(
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": param, "code": code}}

    def error(self, status: int, message: str, **kw: Any) -> web.Response:
        return web.json_response(self.error_body(message, **kw), status=status)

    async def not_found(self, request: web.Request) -> web.Response:
        await self._remember(request)
        return self.error(404, f"Invalid URL ({request.method} {request.path})")

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return self.error(401, "Incorrect API key provided.", code="invalid_api_key")

    # -- HTTP ------------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.StreamResponse:
        raw = await self._remember(request)
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(raw)
        except ValueError:
            return self.error(400, "We could not parse the JSON body of your request.")
        result = self.answer(body, raw)
        if isinstance(result, dict):
            return web.json_response(result, status=400)
        response, events = result
        if not body.get("stream"):
            return web.json_response(response)
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await resp.prepare(request)
        for event in events:
            await resp.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp

    # -- WebSocket -------------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        await self._remember(request)
        if not self.websocket_enabled:
            return self.error(405, "Method Not Allowed")
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(max_msg_size=0)
        if not ws.can_prepare(request).ok:
            return self.error(400, "Expected a WebSocket upgrade.")
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            self.frames.append(msg.data)
            frame = json.loads(msg.data)
            if frame.get("type") != "response.create":
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "error",
                            "status": 400,
                            **self.error_body(f"Unsupported frame type {frame.get('type')!r}."),
                        }
                    )
                )
                continue
            body = {k: v for k, v in frame.items() if k != "type"}
            result = self.answer(body, msg.data.encode())
            if isinstance(result, dict):
                await ws.send_str(json.dumps({"type": "error", "status": 400, **result}))
                continue
            for event in result[1]:
                await ws.send_str(json.dumps(event))
        return ws

    # -- answers ---------------------------------------------------------------------------------

    def answer(
        self, body: dict[str, Any], raw: bytes
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | dict[str, Any]:
        """The whole response and the events that stream it; or an error body."""
        previous = body.get("previous_response_id")
        if previous is not None and previous not in self.histories:
            return self.error_body(
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        items = body.get("input", [])
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        history = [*(self.histories[previous] if previous else []), *items]
        answer = self.script.popleft() if self.script else self.default_answer(body, history)
        # Item ids depend on the conversation only, so a streamed and a whole answer agree.
        key = _digest(json.dumps([body.get("instructions"), history]), 24)
        sealed = "reasoning.encrypted_content" in (body.get("include") or [])
        output = self._output(answer, key, sealed)
        self_id = "resp_" + _digest(raw, 40)
        self.histories[self_id] = [*history, *output]
        seen = json.dumps([body.get("instructions"), history, body.get("tools")])
        usage = {
            "input_tokens": len(seen.split()),
            "input_tokens_details": {"cached_tokens": answer.cached_tokens},
            "output_tokens": len(json.dumps(output).split()),
            "output_tokens_details": {"reasoning_tokens": len((answer.reasoning or "").split())},
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        response = self._response(body, self_id, "completed", output, usage)
        return response, self._events(body, self_id, answer, output, response)

    @staticmethod
    def default_answer(body: dict[str, Any], history: list[Any]) -> Answer:
        """A call of the first function tool until its output comes back; then text."""
        functions = [t for t in body.get("tools") or [] if t.get("type") == "function"]
        last = history[-1] if history else {}
        if functions and last.get("type") != "function_call_output":
            return Answer(calls=[(functions[0]["name"], json.dumps({"cmd": "ls"}))])
        said = next(
            (json.dumps(i.get("content")) for i in reversed(history) if i.get("role") == "user"),
            "",
        )
        return Answer(text=f"You said: {said[:80]}. Here is my answer, in a few words.")

    @staticmethod
    def _output(answer: Answer, key: str, sealed: bool) -> list[dict[str, Any]]:
        output: list[dict[str, Any]] = []
        if answer.reasoning is not None:
            item: dict[str, Any] = {
                "id": f"rs_{key}",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": answer.reasoning}],
            }
            if sealed:
                cipher = hashlib.sha512(answer.reasoning.encode()).digest()
                item["encrypted_content"] = "gAAAAAB" + base64.urlsafe_b64encode(cipher).decode()
            output.append(item)
        if answer.text is not None:
            output.append(
                {
                    "id": f"msg_{key}",
                    "type": "message",
                    "status": "completed",
                    "content": [
                        {
                            "type": "output_text",
                            "annotations": [],
                            "logprobs": [],
                            "text": answer.text,
                        }
                    ],
                    "role": "assistant",
                }
            )
        for i, (name, arguments) in enumerate(answer.calls):
            output.append(
                {
                    "id": f"fc_{key}{i}",
                    "type": "function_call",
                    "status": "completed",
                    "arguments": arguments,
                    "call_id": f"call_{key[:16]}{i}",
                    "name": name,
                }
            )
        return output

    @staticmethod
    def _response(
        body: dict[str, Any],
        ident: str,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None,
    ) -> dict[str, Any]:
        reasoning = body.get("reasoning") or {}
        return {
            "id": ident,
            "object": "response",
            "created_at": CREATED,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": body.get("model", "gpt-5-codex"),
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "safety_identifier": None,
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []),
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    def _events(
        self,
        body: dict[str, Any],
        ident: str,
        answer: Answer,
        output: list[dict[str, Any]],
        response: dict[str, Any],
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []

        def emit(kind: str, **fields: Any) -> None:
            events.append({"type": kind, "sequence_number": len(events), **fields})

        pending = self._response(body, ident, "in_progress", [], None)
        emit("response.created", response=pending)
        emit("response.in_progress", response=pending)
        for index, item in enumerate(output):
            ids = {"item_id": item["id"], "output_index": index}
            match item["type"]:
                case "reasoning":
                    emit(
                        "response.output_item.added",
                        output_index=index,
                        item={"id": item["id"], "type": "reasoning", "summary": []},
                    )
                    text = item["summary"][0]["text"]
                    part = {"type": "summary_text", "text": ""}
                    emit("response.reasoning_summary_part.added", **ids, summary_index=0, part=part)
                    for i in range(0, len(text), 9):
                        emit(
                            "response.reasoning_summary_text.delta",
                            **ids,
                            summary_index=0,
                            delta=text[i : i + 9],
                        )
                    emit("response.reasoning_summary_text.done", **ids, summary_index=0, text=text)
                    emit(
                        "response.reasoning_summary_part.done",
                        **ids,
                        summary_index=0,
                        part=dict(part, text=text),
                    )
                case "message":
                    emit(
                        "response.output_item.added",
                        output_index=index,
                        item=dict(item, status="in_progress", content=[]),
                    )
                    text = item["content"][0]["text"]
                    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
                    emit("response.content_part.added", **ids, content_index=0, part=part)
                    for i in range(0, len(text), 7):
                        emit(
                            "response.output_text.delta",
                            **ids,
                            content_index=0,
                            delta=text[i : i + 7],
                            logprobs=[],
                        )
                    emit(
                        "response.output_text.done", **ids, content_index=0, text=text, logprobs=[]
                    )
                    emit(
                        "response.content_part.done",
                        **ids,
                        content_index=0,
                        part=dict(part, text=text),
                    )
                case "function_call":
                    emit(
                        "response.output_item.added",
                        output_index=index,
                        item=dict(item, status="in_progress", arguments=""),
                    )
                    args = item["arguments"]
                    for i in range(0, len(args), 5):
                        emit("response.function_call_arguments.delta", **ids, delta=args[i : i + 5])
                    emit(
                        "response.function_call_arguments.done",
                        **ids,
                        name=item["name"],
                        arguments=args,
                    )
            emit("response.output_item.done", output_index=index, item=item)
        final = dict(response, output=[]) if answer.empty_completed_output else response
        emit("response.completed", response=final)
        if answer.error_after_events is not None:
            del events[answer.error_after_events :]
            emit(
                "error",
                code="server_error",
                message="The server had an error while processing your request.",
                param=None,
            )
        return events
