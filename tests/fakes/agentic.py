"""Fake models that work like an agent's model over several steps, for replay past the first.

Each is one of the API fakes (Anthropic, Chat Completions, Responses: their wire shapes, ids and
usage), answering through a `Policy` instead of a script: a function of what the request shows
(`Seen`: its whole text, the calls of the model's previous answer and the results that came
back for them) to the next answer's `Say` and `Call` moves. A `Shape` turns a move into one
agent's tools: Claude Code's Read and Write, Codex's exec_command (cat, apply_patch), a chat
client's read_file and write_file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import anthropic as fa
from tests.fakes import openai_chat as fc
from tests.fakes import openai_responses as fr


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Call:
    """A tool call; `arguments` as JSON, or a raw string sent as it is (invalid JSON)."""

    name: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class Fail:
    """The API answers this HTTP status instead (Chat Completions only)."""

    status: int


Move = Say | Call | Fail


@dataclass(frozen=True)
class Seen:
    """What the model sees: the request as sent, the calls of its previous answer (name,
    decoded arguments) and the results that followed them (text, is_error), and what that
    answer said (a policy tells its own steps from the transcript's by it)."""

    body: str
    calls: list[tuple[str, Any]] = field(default_factory=list)
    results: list[tuple[str, bool]] = field(default_factory=list)
    said: str = ""  # the text of the previous answer

    def called(self, call: Call) -> bool:
        """True when the previous answer made this call."""
        return (call.name, call.arguments) in self.calls


Policy = Callable[[Seen], list[Move]]


def _decoded(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def seen_anthropic(body: dict[str, Any]) -> Seen:
    messages = body["messages"]
    at = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if at is None:
        return Seen(json.dumps(body))
    content = messages[at]["content"]
    blocks = content if isinstance(content, list) else []
    calls = [(b["name"], b["input"]) for b in blocks if b.get("type") == "tool_use"]
    said = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    results = [
        (_text(b.get("content")), bool(b.get("is_error")))
        for m in messages[at + 1 :]
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    return Seen(json.dumps(body), calls, results, said)


def seen_chat(body: dict[str, Any]) -> Seen:
    messages = body["messages"]
    at = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if at is None:
        return Seen(json.dumps(body))
    calls = [
        (c["function"]["name"], _decoded(c["function"]["arguments"]))
        for c in messages[at].get("tool_calls") or []
    ]
    results = [(_text(m.get("content")), False) for m in messages[at + 1 :] if m["role"] == "tool"]
    return Seen(json.dumps(body), calls, results, _text(messages[at].get("content")))


def seen_responses(history: list[Any], body: dict[str, Any]) -> Seen:
    at = max(
        (
            i
            for i, item in enumerate(history)
            if item.get("type") == "function_call" or item.get("role") == "assistant"
        ),
        default=None,
    )
    if at is None:
        return Seen(json.dumps(body))
    first = at
    while first > 0 and history[first - 1].get("type") == "function_call":
        first -= 1
    calls = [
        (i["name"], _decoded(i["arguments"]))
        for i in history[first : at + 1]
        if i.get("type") == "function_call"
    ]
    results = [
        (_text(i.get("output")), False)
        for i in history[at + 1 :]
        if i.get("type") == "function_call_output"
    ]
    start = first
    while start > 0 and history[start - 1].get("role") == "assistant":
        start -= 1
    said = "".join(
        c.get("text", "")
        for i in history[start : at + 1]
        if i.get("role") == "assistant"
        for c in i.get("content") or []
        if isinstance(c, dict)
    )
    return Seen(json.dumps(body), calls, results, said)


def _arguments(call: Call) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


class AgenticAnthropic(fa.FakeAnthropic):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def default_answer(self, body: dict[str, Any]) -> fa.Answer:  # type: ignore[override]
        blocks: list[fa.Block] = []
        for move in self.policy(seen_anthropic(body)):
            if isinstance(move, Say):
                blocks.append(fa.Text(move.text))
            elif isinstance(move, Call):
                assert isinstance(move.arguments, dict), "Anthropic tool input is an object"
                blocks.append(fa.ToolUse(move.name, move.arguments))
        return fa.Answer(blocks)


class AgenticChat(fc.FakeOpenAI):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def default_answer(self, body: dict[str, Any]) -> fc.Answer:  # type: ignore[override]
        moves = self.policy(seen_chat(body))
        for move in moves:
            if isinstance(move, Fail):
                error = {"error": {"message": "The server is overloaded.", "type": "server_error"}}
                return fc.Answer(status=move.status, error_body=error)
        text = "\n".join(m.text for m in moves if isinstance(m, Say)) or None
        calls = [(m.name, _arguments(m)) for m in moves if isinstance(m, Call)]
        return fc.Answer(text, calls)


class AgenticResponses(fr.FakeResponses):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def default_answer(  # type: ignore[override]
        self, body: dict[str, Any], history: list[Any]
    ) -> fr.Answer:
        moves = self.policy(seen_responses(history, body))
        text = "\n".join(m.text for m in moves if isinstance(m, Say)) or None
        calls = [(m.name, _arguments(m)) for m in moves if isinstance(m, Call)]
        return fr.Answer(text, calls)


# -- the agents' tools ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How one agent's model reads a file, writes one, runs a command, and calls a tool the
    agent does not have."""

    name: str
    wire: str
    read: Callable[[str], Call]
    write: Callable[[str, str], Call]
    run: Callable[[str], Call]
    unknown: Call


def _patch(path: str, code: str) -> str:
    body = "".join(f"+{line}\n" for line in code.rstrip("\n").split("\n"))
    return f"apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch\nEOF\n"


CLAUDE_CODE = Shape(
    "claude-code",
    "anthropic-messages",
    read=lambda path: Call("Read", {"file_path": f"/repo/{path}"}),
    write=lambda path, code: Call("Write", {"file_path": f"/repo/{path}", "content": code}),
    run=lambda command: Call("Bash", {"command": command}),
    unknown=Call("Deploy", {"target": "production"}),
)
CODEX = Shape(
    "codex",
    "openai-responses",
    read=lambda path: Call("exec_command", {"cmd": f"cat {path}", "workdir": "/repo"}),
    write=lambda path, code: Call("exec_command", {"cmd": _patch(path, code), "workdir": "/repo"}),
    run=lambda command: Call("exec_command", {"cmd": command, "workdir": "/repo"}),
    unknown=Call("deploy", {"target": "production"}),
)
CHAT = Shape(
    "chat",
    "openai-chat",
    read=lambda path: Call("read_file", {"path": path}),
    write=lambda path, code: Call("write_file", {"path": path, "content": code}),
    run=lambda command: Call("run_command", {"command": command}),
    unknown=Call("deploy", {"target": "production"}),
)
SHAPES = {s.name: s for s in (CLAUDE_CODE, CODEX, CHAT)}


def serving_fake(shape: Shape, policy: Policy) -> Any:
    """The fake of the shape's API, answering with `policy`."""
    if shape.wire == "anthropic-messages":
        return AgenticAnthropic(policy)
    if shape.wire == "openai-responses":
        return AgenticResponses(policy)
    return AgenticChat(policy)
