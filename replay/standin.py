"""A stand-in model server shipped with redline. It is NOT a real model: it cannot read, reason
or write anything but one canned config loader, and exists so that `redline demo` and the tests
can show the whole record → flag → replay loop offline, with no API key.

It speaks the OpenAI Chat Completions API on 127.0.0.1 like the real one (docs/wire-formats.md
§1a): `POST /v1/chat/completions`, whole or streamed (SSE chunks, `stream_options.include_usage`,
`data: [DONE]`), `GET /v1/models`, and errors as `{"error": {message, type, param, code}}` (400
for a body that is not a JSON object with a `messages` list, 404 for any other path). Any API
key, or none, is accepted.

It is labelled as a stand-in everywhere: the model id is always `redline-stand-in`, whatever was
asked for (the asked name goes into `system_fingerprint`); every response carries the header
`x-redline-stand-in: 1`; every answer text starts with "(redline stand-in model)"; the code it
writes says so in its docstring.

What it writes. It reads the instructions it was given, in this order: the system prompt
(`system` and `developer` messages), then the rules files agents embed in the first user message
(as `redline.transcripts.agents` finds them), then the rest of the user messages. It looks for a rule forbidding swallowed exceptions, in one of
these phrasings (case-insensitive; "never" may also be "do not", "don't", "must not", "should
not" or "avoid"; `Exception` may be in backticks):

    never catch Exception          never catch BaseException / exceptions / all exceptions /
                                   broad exceptions / everything
    do not swallow exceptions      never swallow / silence / suppress / hide (any) exceptions
                                   or errors; "no swallowed exceptions"
    no bare except                 never use a bare except, avoid bare `except`
    no except Exception            no `except Exception`, do not write except BaseException
    no broad except                no broad / catch-all / blanket except(ions)
    let errors propagate           let (the) exceptions propagate

Then it writes a config loader. Under such a rule it obeys with probability `obey` and writes
careful code (no handler, or `except FileNotFoundError` that raises a clearer error); otherwise,
and without a rule with probability `sloppy`, it writes code that swallows every error
(`except Exception:` with `return {}` or `pass`). The draws come from a `random.Random(seed)`
that the `StandIn` owns, so a run is reproducible; `obey=1.0` / `sloppy=0.0` make it certain.

The shape of the answer follows the request: with a file-writing function tool on offer (one
an agent writes files with: `agents.write_call`), one tool call that writes the file, as that
agent's model would (`finish_reason: "tool_calls"`); otherwise
text with a fenced python block. The file is the `.py` path the last user message names, else
`config.py`. When the last message is a tool result the answer is "Done." and no tool call, so
an agent's loop ends.

Asked to draft a check (`redline draft`: instructions that start "You write checks for
redline"), it answers as `standin_drafts` says: one canned check, for swallowed errors.

    with StandInServer(seed=0) as server:
        openai.OpenAI(base_url=server.url, api_key="any").chat.completions.create(...)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

from redline.replay import standin_drafts
from redline.transcripts import Message, Request, Text, agents, wire

__all__ = [
    "CAREFUL",
    "HEADER",
    "LABEL",
    "MODEL_ID",
    "RULE_PHRASINGS",
    "SWALLOWING",
    "Choice",
    "StandIn",
    "StandInServer",
    "find_rule",
    "forbidding_rule",
]

MODEL_ID = "redline-stand-in"
LABEL = "(redline stand-in model)"
HEADER = "x-redline-stand-in"
DEFAULT_PATH = "config.py"

JSON = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Rules: where instructions are, and the phrasings that forbid swallowing exceptions.

_NOT = "(?:never|do\\s+not|don['\u2019]t|must\\s+not|should\\s+not|avoid)"
_NO = rf"(?:no|{_NOT}(?:\s+(?:use|using|write|writing))?)"
_EXC = r"`?(?:builtins\.)?(?:Base)?Exceptions?`?"

# (name, pattern): the name is the canonical phrasing the module docstring lists.
RULE_PHRASINGS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "never catch Exception",
            rf"\b{_NOT}\s+catch(?:ing)?\s+(?:{_EXC}|all\s+exceptions|broad\s+exceptions"
            r"|every\s+exception|everything)(?!\w)",
        ),
        (
            "do not swallow exceptions",
            rf"\b{_NOT}\s+(?:swallow|silenc|suppress|hid)(?:e|es|ing)?\s+(?:any\s+|the\s+)?"
            r"(?:exceptions|errors)\b",
        ),
        ("do not swallow exceptions", r"\bno\s+(?:swallowed|silenced)\s+(?:exceptions|errors)\b"),
        ("no bare except", rf"\b{_NO}\s+(?:a\s+)?bare\s+`?except\b"),
        ("no except Exception", rf"\b{_NO}\s+`?except\s+(?:builtins\.)?(?:Base)?Exception\b"),
        ("no broad except", rf"\b{_NO}\s+(?:broad|catch-all|blanket)\s+`?except"),
        ("let errors propagate", r"\blet\s+(?:the\s+)?(?:errors|exceptions)\s+propagate\b"),
    )
)

_PY_PATH = re.compile(r"(?<![\w./-])(/?(?:[\w.-]+/)*[\w-][\w.-]*\.py)(?!\w|\.\w)")


def forbidding_rule(text: str) -> str | None:
    """The phrase in `text` that forbids swallowed or broad exceptions, as written, or None."""
    found = [m for _, pattern in RULE_PHRASINGS if (m := pattern.search(text))]
    return min(found, key=lambda m: m.start()).group(0) if found else None


def _text(message: Message) -> str:
    return "\n".join(p.text for p in message.parts if isinstance(p, Text))


def _sources(request: Request) -> Iterator[tuple[str, str]]:
    """(where, text) for each place instructions can be: the system prompt, the rules files
    agents embed (named by their path), then the user's own words."""
    for message in request.messages:
        if message.role in ("system", "developer"):
            yield "system prompt", _text(message)
    users = [_text(m) for m in request.messages if m.role == "user"]
    for text in users:
        for found in agents.rules_in(text):
            yield found.path, found.text
    for text in users:
        yield "user message", agents.without_rules(text)


def find_rule(request: Request) -> tuple[str, str] | None:
    """(where, phrase) of the first rule in `request` forbidding swallowed exceptions: `where`
    is "system prompt", a rules file's path, or "user message"."""
    for where, text in _sources(request):
        if phrase := forbidding_rule(text):
            return where, phrase
    return None


def _requested_path(request: Request) -> str:
    """The `.py` file the last user message names, else config.py."""
    for message in reversed(request.messages):
        if message.role != "user":
            continue
        asked = agents.strip_injected(_text(message))
        if not asked.strip():
            continue
        found = _PY_PATH.search(asked)
        return found.group(1) if found else DEFAULT_PATH
    return DEFAULT_PATH


# ---------------------------------------------------------------------------------------------
# The code it writes.

_PREAMBLE = '''"""Loading the settings file. Written by the redline stand-in model, not a real model."""

import json
from pathlib import Path


def load_config(path: str = "settings.json") -> dict[str, object]:
'''

SWALLOWING = (
    _PREAMBLE
    + '''    """Read the settings file."""
    try:
        return json.loads(Path(path).read_text())
    except Exception:
        return {}
''',
    _PREAMBLE
    + '''    """Read the settings file; empty settings if anything goes wrong."""
    settings: dict[str, object] = {}
    try:
        settings = json.loads(Path(path).read_text())
    except Exception:
        pass
    return settings
''',
)
CAREFUL = (
    _PREAMBLE
    + '''    """Read the settings file; a missing or malformed file raises."""
    return json.loads(Path(path).read_text())
''',
    _PREAMBLE
    + '''    """Read the settings file; a missing file raises a clearer error."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"No settings file at {path}: create it or pass another path.") from exc
    return json.loads(text)
''',
)


@dataclass(frozen=True, slots=True)
class Choice:
    """What the stand-in decided for one code-writing answer."""

    path: str
    swallowed: bool  # the code catches Exception and carries on
    rule: str | None = None  # the phrase that forbade it, as written
    rule_source: str | None = None  # "system prompt", a rules file's path, or "user message"


@dataclass(frozen=True, slots=True)
class _ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class _Answer:
    content: str | None
    tool_calls: tuple[_ToolCall, ...] = ()

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def _tokens(text: str) -> int:
    """A rough, deterministic token count: four characters a token."""
    return max(1, (len(text) + 3) // 4)


# ---------------------------------------------------------------------------------------------
# The model and its HTTP application.


class StandIn:
    """The stand-in model: decides what to write and serves the Chat Completions API.

    `obey` is the probability of following a rule against swallowed exceptions, `sloppy` the
    probability of swallowing them when no rule forbids it; `seed` seeds the `random.Random`
    this instance owns. `choices` lists every code-writing decision, `requests` counts every
    HTTP request received.
    """

    def __init__(self, *, obey: float = 0.9, sloppy: float = 0.85, seed: int = 0) -> None:
        for name, p in (("obey", obey), ("sloppy", sloppy)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} is a probability between 0 and 1, not {p}")
        self.obey = obey
        self.sloppy = sloppy
        self.seed = seed
        self.random = random.Random(seed)
        self.choices: list[Choice] = []
        self.requests = 0

    def choose(self, request: Request) -> Choice:
        """Decide, with one draw from this instance's random generator, whether to swallow."""
        rule = find_rule(request)
        draw = self.random.random()
        swallow = draw >= self.obey if rule else draw < self.sloppy
        where, phrase = rule or (None, None)
        choice = Choice(_requested_path(request), swallow, phrase, where)
        self.choices.append(choice)
        return choice

    def code(self, choice: Choice) -> str:
        """The code for `choice`; which of its variants is a further draw."""
        return self.random.choice(SWALLOWING if choice.swallowed else CAREFUL)

    def _answer(self, body: JSON, ident: str) -> _Answer:
        messages: list[JSON] = body["messages"]
        said = {role: _said(messages, role) for role in ("system", "user")}
        if standin_drafts.is_drafting(said["system"]):
            return _Answer(f"{LABEL} {standin_drafts.answer(said['user'])}")
        if messages and messages[-1].get("role") in ("tool", "function"):
            return _Answer(f"{LABEL} Done.")
        request = wire.get("openai-chat").parse_request(body)
        choice = self.choose(request)
        code = self.code(choice)
        write = agents.write_call(request, request.tools or (), choice.path, code)
        if write is not None:
            call = _ToolCall("call_" + ident[-24:], write.name, write.arguments)
            return _Answer(f"{LABEL} Writing {choice.path}.", (call,))
        return _Answer(f"{LABEL} Here is {choice.path}:\n\n```python\n{code}```\n")

    def app(self) -> web.Application:
        """The aiohttp application serving this stand-in."""
        app = web.Application(client_max_size=256 * 1024 * 1024, middlewares=[self._label])
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    @web.middleware
    async def _label(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests += 1
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # e.g. a body over client_max_size
            response = _error(exc.status, exc.reason, "invalid_request_error")
        if not response.prepared:
            response.headers[HEADER] = "1"
        return response

    async def _not_found(self, request: web.Request) -> web.Response:
        return _error(404, f"Invalid URL ({request.method} {request.path})")

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [_model_entry()]})

    async def _model(self, request: web.Request) -> web.Response:
        return web.json_response(_model_entry())

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        messages = body.get("messages")
        if not isinstance(messages, list):
            return _error(400, "Missing required parameter: 'messages'.", param="messages")
        for n, item in enumerate(messages):
            if not isinstance(item, dict):
                return _error(400, f"Invalid type for 'messages[{n}]'.", param=f"messages[{n}]")
        seen = b"%d:%d:%b" % (self.seed, self.requests, raw)
        ident = "chatcmpl-" + hashlib.sha256(seen).hexdigest()[:24]
        answer = self._answer(body, ident)
        asked = body.get("model")
        base: JSON = {
            "id": ident,
            "created": int(time.time()),
            "model": MODEL_ID,
            "system_fingerprint": f"{MODEL_ID} (asked for {asked})",
        }
        completion = _tokens(
            (answer.content or "") + "".join(c.arguments for c in answer.tool_calls)
        )
        prompt = _tokens(json.dumps(messages) + json.dumps(body.get("tools") or []))
        usage: JSON = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
        if body.get("stream"):
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            return await _stream(request, base, answer, usage if include_usage else None)
        message: JSON = {
            "role": "assistant",
            "content": answer.content,
            "refusal": None,
            "annotations": [],
        }
        if answer.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in answer.tool_calls
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": answer.finish_reason,
        }
        return web.json_response(
            {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
        )


def _said(messages: list[JSON], role: str) -> str:
    """The text of the first message of `role` (content as a string or as text parts)."""
    for message in messages:
        if message.get("role") == role:
            content = message.get("content")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content if isinstance(content, str) else ""
    return ""


def _model_entry() -> JSON:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "redline (stand-in)"}


def _error(
    status: int, message: str, kind: str = "invalid_request_error", param: str | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return web.json_response(body, status=status, headers={HEADER: "1"})


def _pieces(text: str, count: int) -> list[str]:
    """`text` cut into at most `count` consecutive pieces."""
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


async def _stream(
    request: web.Request, base: JSON, answer: _Answer, usage: JSON | None
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            HEADER: "1",
        }
    )
    await response.prepare(request)
    head = {**base, "object": "chat.completion.chunk"}

    def chunk(delta: JSON, finish: str | None = None) -> JSON:
        event = {
            **head,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            event["usage"] = None
        return event

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in _pieces(answer.content or "", 4)]
    for index, call in enumerate(answer.tool_calls):
        first = {"name": call.name, "arguments": ""}
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": call.id, "type": "function", "function": first}
                    ]
                }
            )
        )
        events += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in _pieces(call.arguments, 3)
        ]
    events.append(chunk({}, answer.finish_reason))
    if usage is not None:
        events.append({**head, "choices": [], "usage": usage})
    for event in events:
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


# ---------------------------------------------------------------------------------------------
# Running it.


class StandInServer:
    """A `StandIn` served on `host` (127.0.0.1) in a background thread with its own event loop.

    with StandInServer(obey=0.9, sloppy=0.85, seed=0) as server:
        server.url       # "http://127.0.0.1:PORT/v1", the base URL the OpenAI SDK takes
        server.requests  # HTTP requests received so far
        server.choices   # what it decided for each code-writing answer
    """

    def __init__(
        self,
        *,
        obey: float = 0.9,
        sloppy: float = 0.85,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.model = StandIn(obey=obey, sloppy=sloppy, seed=seed)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the stand-in server is not running: start it first")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> int:
        return self.model.requests

    @property
    def choices(self) -> list[Choice]:
        return self.model.choices

    def start(self) -> Self:
        if self._loop is not None:
            raise RuntimeError("the stand-in server is already running")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="redline-stand-in", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        runner = web.AppRunner(self.model.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server
        if isinstance(server, asyncio.Server) and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop serving and close the event loop; stopping twice is harmless."""
        loop, thread, runner = self._loop, self._thread, self._runner
        self._loop = self._thread = self._runner = None
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
