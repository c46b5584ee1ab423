"""A Chat Completions upstream that misbehaves on cue, for replay's retries: each request takes
the next behaviour from `script` (`"ok"` once it runs out)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

# The SWALLOWING code of tests/agents.py, as a model would answer with a tool call.
CODE = "def load(path):\n    try:\n        return open(path).read()\n    except Exception:\n        return ''\n"


@dataclass
class Behaviour:
    """`ok`, `status` (with `code`, `headers`, a JSON error body), `hang` (answer after
    `seconds`), `reset` (close the connection without answering), `redirect` (302 to `to`),
    `echo-key` (`code` with an error quoting the bearer token it was sent, as real APIs do),
    `echo-answer` (an answer quoting it)."""

    kind: str = "ok"
    code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    to: str = ""


def completion(text: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-flaky",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": "flaky-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
    }


class FlakyModel:
    def __init__(self, answer: str = f"```python\n{CODE}```") -> None:
        self.script: deque[Behaviour] = deque()
        self.answer = answer
        self.requests: list[dict[str, object]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(json.loads(await request.read()))
        b = self.script.popleft() if self.script else Behaviour()
        if b.kind == "hang":
            await asyncio.sleep(b.seconds)
        elif b.kind == "reset":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        elif b.kind == "redirect":
            return web.Response(status=302, headers={"Location": b.to})
        elif b.kind == "status":
            body = {"error": {"message": f"flaky says {b.code}", "type": "server_error"}}
            return web.json_response(body, status=b.code, headers=b.headers)
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if b.kind == "echo-key":
            body = {"error": {"message": f"Incorrect API key provided: {key}.", "type": "auth"}}
            return web.json_response(body, status=b.code, headers=b.headers)
        if b.kind == "echo-answer":
            return web.json_response(completion(f"Your key is {key}.\n{self.answer}"))
        return web.json_response(completion(self.answer))


CAREFUL = "def load(path):\n    with open(path) as f:\n        return f.read()\n"


class RuleAwareModel(FlakyModel):
    """Swallows errors unless the request carries `RULE` (anywhere: the system prompt, a rules
    file embedded in a user message): a model that follows one rule, and only that one."""

    RULE = "STRICT: no except Exception"

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(json.loads(body))
        code = CAREFUL if self.RULE.encode() in body else CODE
        return web.json_response(completion(f"```python\n{code}```"))
