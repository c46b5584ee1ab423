"""Agent-shaped sessions recorded through the proxy, for tests that need a call where the model
went wrong: Claude Code writing a file (Anthropic), Codex patching one through its shell tool
(Responses), aider answering with SEARCH/REPLACE blocks (Chat Completions)."""

from __future__ import annotations

import json
from typing import Any

import openai

from tests.fakes import anthropic as fake_anthropic_module
from tests.fakes import openai_chat, openai_responses
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import CODEX_TOOLS, claude_code_client
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.openai_responses import FakeResponses
from tests.support import Cli

SWALLOWING = """import json


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return {}
"""

CAREFUL = """import json


def load(path):
    with open(path) as f:
        return json.load(f)
"""

CLAUDE_TOOLS: list[dict[str, Any]] = [
    {
        "name": "Write",
        "description": "Writes a file to the local filesystem.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["file_path", "content"],
        },
    },
    {
        "name": "Read",
        "description": "Reads a file from the local filesystem.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}},
            "required": ["file_path"],
        },
    },
]

CLAUDE_MD = "Never catch Exception or BaseException; let errors reach the caller."
CLAUDE_REMINDER = (
    "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n"
    "# claudeMd\nContents of /repo/CLAUDE.md (project instructions, checked into the "
    f"codebase):\n\n{CLAUDE_MD}\n</system-reminder>"
)


def write_block(code: str, path: str = "/repo/config.py") -> fake_anthropic_module.ToolUse:
    return fake_anthropic_module.ToolUse("Write", {"file_path": path, "content": code})


def claude_code_session(
    fake: FakeAnthropic, proxy_url: str, *answers: list[Any], session: str = "s-1"
) -> None:
    """A Claude Code session: the first user message carries CLAUDE.md in a system-reminder,
    each answer's tool calls get a result, and the history is re-sent on every call."""
    client = claude_code_client(proxy_url, fake.api_key, session)
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": CLAUDE_REMINDER},
                {"type": "text", "text": "Add error handling to the config loader."},
            ],
        }
    ]
    with client:
        for blocks in answers:
            fake.script.append(fake_anthropic_module.Answer(list(blocks)))
            reply = client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=4096,
                system=[{"type": "text", "text": "You are Claude Code, a coding agent."}],
                tools=CLAUDE_TOOLS,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
            )
            content = [b.model_dump(exclude_none=True) for b in reply.content]
            messages.append({"role": "assistant", "content": content})
            results = [
                {"type": "tool_result", "tool_use_id": b.id, "content": "File written."}
                for b in reply.content
                if b.type == "tool_use"
            ]
            messages.append(
                {"role": "user", "content": results or [{"type": "text", "text": "Go on."}]}
            )


AGENTS_MD = "Do not swallow exceptions: no bare except, no except Exception."


def codex_patch(code: str, path: str = "config.py") -> str:
    body = "".join(f"+{line}\n" for line in code.rstrip("\n").split("\n"))
    patch = f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch"
    return json.dumps({"cmd": f"apply_patch <<'EOF'\n{patch}\nEOF\n", "workdir": "/repo"})


def codex_session(fake: FakeResponses, proxy_url: str, api_key: str, code: str) -> None:
    """Codex CLI over HTTP: AGENTS.md in its first user item, a patch through exec_command."""
    fake.script.append(openai_responses.Answer(calls=[("exec_command", codex_patch(code))]))
    with openai.OpenAI(base_url=proxy_url + "/v1", api_key=api_key, max_retries=0) as client:
        client.responses.create(
            model="gpt-5-codex",
            instructions="You are Codex, a coding agent.",
            tools=CODEX_TOOLS,  # type: ignore[arg-type]
            input=[
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {
                            "type": "input_text",
                            "text": "# AGENTS.md instructions for /repo\n\n<INSTRUCTIONS>\n"
                            f"{AGENTS_MD}\n</INSTRUCTIONS>",
                        },
                        {
                            "type": "input_text",
                            "text": "<environment_context>\n  <cwd>/repo</cwd>\n</environment_context>",
                        },
                    ],
                },
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Make the loader robust."}],
                },
            ],
        )


def aider_reply(code_before: str, code_after: str, path: str = "config.py") -> str:
    return (
        f"Here is the change.\n\n{path}\n```python\n<<<<<<< SEARCH\n{code_before}=======\n"
        f"{code_after}>>>>>>> REPLACE\n```\n"
    )


def aider_session(fake: FakeOpenAI, proxy_url: str, reply: str) -> None:
    """aider with the diff edit format: no tools, SEARCH/REPLACE blocks in the text."""
    fake.script.append(openai_chat.Answer(reply))
    with openai.OpenAI(base_url=proxy_url + "/v1", api_key=fake.api_key, max_retries=0) as c:
        c.chat.completions.create(
            model="gpt-4.1",
            messages=[
                {
                    "role": "system",
                    "content": "Act as an expert software developer. Use SEARCH/REPLACE blocks.",
                },
                {
                    "role": "user",
                    "content": f"config.py\n```python\n{CAREFUL}```\nMake it never fail.",
                },
            ],
        )


def call_ids(cli: Cli) -> list[str]:
    """Every recorded call, oldest first."""
    ids = []
    for conversation in reversed(cli.json("ls")["conversations"]):
        ids += [c["id"] for c in cli.json("ls", conversation["id"])["calls"]]
    return ids
