"""One agent session, recorded through the proxy as Claude Code, Codex CLI and a chat client make
it, for replay past the first step. The model

1. writes `helpers.py` (the transcript's own file),
2. reads `config.py` (the careful loader),
3. rewrites `config.py` so that it swallows every error: the call a task is flagged on;

then, after the cut, the user writes `PLANTED` and the model reads `notes.md`, whose text holds
`PLANTED` too, and says it is done. Nothing of steps 4 and 5 may ever reach a replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai

from tests.agents import (
    AGENTS_BLOCK,
    CAREFUL,
    CLAUDE_REMINDER,
    CLAUDE_TOOLS,
    ENVIRONMENT_CONTEXT,
    SWALLOWING,
)
from tests.fakes import anthropic as fa
from tests.fakes import openai_chat as fc
from tests.fakes import openai_responses as fr
from tests.fakes.agentic import CHAT, CLAUDE_CODE, CODEX, Call, Shape
from tests.fakes.fixtures import CODEX_TOOLS, claude_code_client

HELPERS = 'def default_path():\n    return "config.json"\n'
PLANTED = "PLANTED-AFTER-THE-CUT-7f3a"
NOTES = f"{PLANTED}: the release notes nobody saw before the cut.\n"
PROMPT = "Add error handling to the config loader."

CHAT_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name.replace('_', ' ')} in the repository",
            "parameters": {
                "type": "object",
                "properties": {k: {"type": "string"} for k in keys},
                "required": list(keys),
            },
        },
    }
    for name, keys in (("read_file", ("path",)), ("write_file", ("path", "content")))
]


def claude_read(text: str) -> str:
    """Claude Code's Read result: `cat -n` with an arrow."""
    return "\n".join(f"{n:>6}→{line}" for n, line in enumerate(text.rstrip("\n").split("\n"), 1))


def codex_output(text: str) -> str:
    """Codex CLI's exec_command result."""
    return f"Chunk ID: 4f1c\nWall time: 0.0 seconds\nProcess exited with code 0\nOutput:\n{text}"


def _calls(shape: Shape) -> list[tuple[Call, str]]:
    """The session's calls and the results the agent gave back, in the shape's tools."""
    read = claude_read if shape is CLAUDE_CODE else codex_output if shape is CODEX else str
    written = "File written." if shape is not CODEX else codex_output("Success.")
    return [
        (shape.write("helpers.py", HELPERS), written),
        (shape.read("config.py"), read(CAREFUL)),
        (shape.write("config.py", SWALLOWING), written),
        (shape.read("notes.md"), read(NOTES)),
    ]


def record(shape: Shape, fake: Any, proxy_url: str) -> None:
    """The session, as `shape`'s agent makes it, through the proxy at `proxy_url`."""
    {"claude-code": _claude_code, "codex": _codex, "chat": _chat}[shape.name](fake, proxy_url)


def _claude_code(fake: fa.FakeAnthropic, proxy_url: str) -> None:
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": CLAUDE_REMINDER},
                {"type": "text", "text": PROMPT},
            ],
        }
    ]
    turns = [*_calls(CLAUDE_CODE), None]
    with claude_code_client(proxy_url, fake.api_key, "steps") as client:
        for n, turn in enumerate(turns):
            blocks: list[fa.Block] = [fa.Text("Done.")]
            if turn is not None:
                call = turn[0]
                assert isinstance(call.arguments, dict)
                blocks = [fa.ToolUse(call.name, call.arguments)]
            fake.script.append(fa.Answer(blocks))
            answer = client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=4096,
                system=[{"type": "text", "text": "You are Claude Code, a coding agent."}],
                tools=CLAUDE_TOOLS,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
            )
            if turn is None:
                break
            content = [b.model_dump(exclude_none=True) for b in answer.content]
            messages.append({"role": "assistant", "content": content})
            reply: list[dict[str, Any]] = [
                {"type": "tool_result", "tool_use_id": b.id, "content": turn[1]}
                for b in answer.content
                if b.type == "tool_use"
            ]
            if n == 2:  # after the cut
                reply.append({"type": "text", "text": f"{PLANTED} now read the notes."})
            messages.append({"role": "user", "content": reply})


def _codex(fake: fr.FakeResponses, proxy_url: str) -> None:
    items: list[dict[str, Any]] = [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": AGENTS_BLOCK},
                {"type": "input_text", "text": ENVIRONMENT_CONTEXT},
            ],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": PROMPT}]},
    ]
    turns = [*_calls(CODEX), None]
    with openai.OpenAI(base_url=proxy_url + "/v1", api_key=fake.api_key, max_retries=0) as c:
        for n, turn in enumerate(turns):
            if turn is None:
                fake.script.append(fr.Answer(text="Done."))
            else:
                fake.script.append(fr.Answer(calls=[(turn[0].name, json.dumps(turn[0].arguments))]))
            response = c.responses.create(
                model="gpt-5-codex",
                instructions="You are Codex, a coding agent.",
                tools=CODEX_TOOLS,  # type: ignore[arg-type]
                input=items,  # type: ignore[arg-type]
            )
            if turn is None:
                break
            out = [item.model_dump(exclude_none=True) for item in response.output]
            items += [{k: v for k, v in o.items() if k not in ("id", "status")} for o in out]
            items += [
                {"type": "function_call_output", "call_id": o["call_id"], "output": turn[1]}
                for o in out
                if o.get("type") == "function_call"
            ]
            if n == 2:
                text = f"{PLANTED} now read the notes."
                items.append(
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    }
                )


def _chat(fake: fc.FakeOpenAI, proxy_url: str) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a coding assistant with tools. Work in /repo."},
        {"role": "user", "content": PROMPT},
    ]
    turns = [*_calls(CHAT), None]
    with openai.OpenAI(base_url=proxy_url + "/v1", api_key=fake.api_key, max_retries=0) as c:
        for n, turn in enumerate(turns):
            if turn is None:
                fake.script.append(fc.Answer("Done."))
            else:
                fake.script.append(fc.Answer(None, [(turn[0].name, json.dumps(turn[0].arguments))]))
            completion = c.chat.completions.create(
                model="gpt-4.1",
                messages=messages,  # type: ignore[arg-type]
                tools=CHAT_TOOLS,  # type: ignore[arg-type]
            )
            if turn is None:
                break
            answer = completion.choices[0].message
            messages.append(answer.model_dump(exclude_none=True))
            messages += [
                {"role": "tool", "tool_call_id": call.id, "content": turn[1]}
                for call in answer.tool_calls or []
            ]
            if n == 2:
                messages.append({"role": "user", "content": f"{PLANTED} now read the notes."})


FLAGGED_CALL = 2
"""The index, among the session's calls in the order they started, of the call flagged."""

Recorder = Callable[[Shape, Any, str], None]
