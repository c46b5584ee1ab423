"""Agent-shaped sessions recorded through the proxy, for tests that need a call where the model
went wrong: Claude Code writing a file (Anthropic), Codex patching one through its shell tool
(Responses), aider answering with SEARCH/REPLACE blocks (Chat Completions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
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


def claude_reminder(rules: str, folder: str = "/repo") -> str:
    """Claude Code 2.1.332's first user text block, embedding `rules` as the project's CLAUDE.md."""
    return (
        "<system-reminder>\nAs you answer the user's questions, you can use the following "
        f"context:\n# claudeMd\nContents of {folder}/CLAUDE.md (project instructions, checked "
        f"into the codebase):\n\n{rules}\n</system-reminder>"
    )


def agents_block(rules: str, folder: str = "/repo") -> str:
    """Codex CLI 0.171.0's first input_text, embedding `rules` as the project's AGENTS.md."""
    return f"# AGENTS.md instructions for {folder}\n\n<INSTRUCTIONS>\n{rules}\n</INSTRUCTIONS>"


CLAUDE_MD = "Never catch Exception or BaseException; let errors reach the caller."
CLAUDE_REMINDER = claude_reminder(CLAUDE_MD)


def careful_answer_file(path: Path) -> Path:
    """A known-good answer as a file `--good` reads: one Write of the loader whole, a missing
    file still raising."""
    write = {"file_path": "/repo/config.py", "content": CAREFUL}
    call = {"type": "tool_call", "id": "w", "name": "Write", "arguments": json.dumps(write)}
    path.write_text(json.dumps({"role": "assistant", "parts": [call]}))
    return path


def write_block(code: str, path: str = "/repo/config.py") -> fake_anthropic_module.ToolUse:
    return fake_anthropic_module.ToolUse("Write", {"file_path": path, "content": code})


def claude_code_session(
    fake: FakeAnthropic,
    proxy_url: str,
    *answers: list[Any],
    session: str = "s-1",
    ask: str = "Add error handling to the config loader.",
) -> None:
    """A Claude Code session: the first user message carries CLAUDE.md in a system-reminder
    and `ask`, each answer's tool calls get a result, and the history is re-sent on every
    call."""
    client = claude_code_client(proxy_url, fake.api_key, session)
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": CLAUDE_REMINDER},
                {"type": "text", "text": ask},
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
# Codex CLI 0.171.0's first user item, as observed (docs/wire-formats.md).
AGENTS_BLOCK = agents_block(AGENTS_MD)


def environment_context(cwd: str = "/repo") -> str:
    """Codex CLI's statement of its working directory, in a user message."""
    return f"<environment_context>\n  <cwd>{cwd}</cwd>\n</environment_context>"


def reminder(text: str) -> str:
    """Context Claude Code adds to a user message (a date, a note on a read file)."""
    return f"<system-reminder>{text}</system-reminder>"


ENVIRONMENT_CONTEXT = environment_context()
# Claude Code 2.1.332's statement of where and on what it started, as observed.
CLAUDE_ENVIRONMENT = (
    "# Environment\nYou have been invoked in the following environment: \n"
    " - Primary working directory: /repo\n - Is a git repository: true\n - Platform: linux\n"
    " - Shell: bash\n - OS Version: Linux 6.1"
)
CLAUDE_GIT_STATUS = (
    "# gitStatus\nThis is the git status at the start of the conversation. Note that this "
    "status is a snapshot in time, and will not update during the conversation.\n\n"
    "Current branch: master\n\nMain branch (you will usually use this for PRs): main\n\n"
    "Status:\n?? untracked.txt\n\nRecent commits:\ne264412 init"
)


def claude_code_system(cwd: str, head: str, status: tuple[str, ...] = ()) -> str:
    """Claude Code's system prompt where it states its working directory and the git state at
    the session's start (HEAD is the first of the recent commits), as observed."""
    return (
        "You are Claude Code, a coding agent.\n\n# Environment\nYou have been invoked in the "
        f"following environment: \n - Primary working directory: {cwd}\n - Is a git "
        "repository: true\n - Platform: linux\n\n# gitStatus\nThis is the git status at the "
        "start of the conversation.\n\nCurrent branch: main\n\nStatus:\n"
        + ("\n".join(status) if status else "(clean)")
        + f"\n\nRecent commits:\n{head[:7]} the session's commit"
    )


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
                        {"type": "input_text", "text": AGENTS_BLOCK},
                        {"type": "input_text", "text": ENVIRONMENT_CONTEXT},
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


# -- multi-turn sessions whose user answers back (redline scan --corrections) --------------------

# What Claude Code and Codex put in the history when the user says no (docs/wire-formats.md).
CLAUDE_REJECTED = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it "
    "was a file edit, the new_string was NOT written to the file). STOP what you are doing and "
    "wait for the user to tell you how to proceed."
)
CLAUDE_REJECTED_WITH_REASON = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it "
    "was a file edit, the new_string was NOT written to the file). To tell you how to proceed, "
    "the user said:\n"
)
CLAUDE_INTERRUPTED = "[Request interrupted by user]"
CLAUDE_INTERRUPTED_FOR_TOOL_USE = "[Request interrupted by user for tool use]"
CODEX_REJECTED = "exec command rejected by user"
CODEX_TURN_ABORTED = (
    "<turn_aborted>\nThe user interrupted the previous turn on purpose. Any running unified exec "
    "processes were terminated. If any tools/commands were aborted, they may have partially "
    "executed; verify current state before retrying.\n</turn_aborted>"
)

# The user's next message after an answer, given the ids of the answer's tool calls.
Reply = Callable[[list[str]], list[dict[str, Any]]]


def tool_results(text: str = "File written.") -> Reply:
    """Claude Code ran every tool call: one result each (or "Go on." when there were none)."""
    return lambda ids: (
        [{"type": "tool_result", "tool_use_id": i, "content": text} for i in ids]
        or [{"type": "text", "text": "Go on."}]
    )


def says(text: str) -> Reply:
    """The tools ran, then the user typed `text`."""
    return lambda ids: [
        *({"type": "tool_result", "tool_use_id": i, "content": "File written."} for i in ids),
        {"type": "text", "text": text},
    ]


def rejected(reason: str | None = None) -> Reply:
    """The user rejected the tool calls in Claude Code's permission prompt (with a reason)."""
    content = CLAUDE_REJECTED if reason is None else CLAUDE_REJECTED_WITH_REASON + reason
    return lambda ids: [
        {"type": "tool_result", "tool_use_id": i, "content": content, "is_error": True} for i in ids
    ]


def interrupted(then: str) -> Reply:
    """The user pressed Esc during the tool calls, then typed `then`."""
    return lambda ids: [
        *(
            {
                "type": "tool_result",
                "tool_use_id": i,
                "content": CLAUDE_INTERRUPTED_FOR_TOOL_USE,
                "is_error": True,
            }
            for i in ids
        ),
        {"type": "text", "text": CLAUDE_INTERRUPTED},
        {"type": "text", "text": then},
    ]


def claude_code_turns(
    fake: FakeAnthropic,
    proxy_url: str,
    *turns: tuple[list[Any], Reply],
    session: str = "s-turns",
    prompt: str = "Add error handling to the config loader.",
    system: str = "You are Claude Code, a coding agent.",
) -> None:
    """A Claude Code session of several turns: each answer, then the user's reply to it (tool
    results, a rejection, an interruption, a correction), re-sending the history every call.
    The reply to the last answer is never sent: end with an answer nobody replies to."""
    client = claude_code_client(proxy_url, fake.api_key, session)
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": CLAUDE_REMINDER},
                {"type": "text", "text": prompt},
            ],
        }
    ]
    with client:
        for blocks, reply in turns:
            fake.script.append(fake_anthropic_module.Answer(list(blocks)))
            answer = client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=4096,
                system=[{"type": "text", "text": system}],
                tools=CLAUDE_TOOLS,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
            )
            messages.append(
                {
                    "role": "assistant",
                    "content": [b.model_dump(exclude_none=True) for b in answer.content],
                }
            )
            ids = [b.id for b in answer.content if b.type == "tool_use"]
            messages.append({"role": "user", "content": reply(ids)})


def edit_block(old: str, new: str, path: str = "/repo/config.py") -> fake_anthropic_module.ToolUse:
    return fake_anthropic_module.ToolUse(
        "Edit", {"file_path": path, "old_string": old, "new_string": new}
    )


# Codex's reply items after an answer, given the ids of its function calls.
CodexReply = Callable[[list[str]], list[dict[str, Any]]]


def codex_outputs(text: str = "Success. Updated the following files:\nA config.py") -> CodexReply:
    return lambda ids: [{"type": "function_call_output", "call_id": i, "output": text} for i in ids]


def codex_rejected() -> CodexReply:
    """The user declined the command in Codex's approval prompt."""
    return codex_outputs(CODEX_REJECTED)


def codex_aborted(then: str) -> CodexReply:
    """The user interrupted the turn (Esc): the pending calls are `aborted`, Codex records a
    `<turn_aborted>` message, then the user types `then`."""
    return lambda ids: [
        *({"type": "function_call_output", "call_id": i, "output": "aborted"} for i in ids),
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": CODEX_TURN_ABORTED}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": then}]},
    ]


def codex_turns(
    fake: FakeResponses,
    proxy_url: str,
    api_key: str,
    *turns: tuple[openai_responses.Answer, CodexReply],
    prompt: str = "Make the loader robust.",
) -> None:
    """Codex CLI over HTTP for several turns, sending the whole item history every call."""
    items: list[dict[str, Any]] = [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": AGENTS_BLOCK},
            ],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]},
    ]
    with openai.OpenAI(base_url=proxy_url + "/v1", api_key=api_key, max_retries=0) as client:
        for answer, reply in turns:
            fake.script.append(answer)
            response = client.responses.create(
                model="gpt-5-codex",
                instructions="You are Codex, a coding agent.",
                tools=CODEX_TOOLS,  # type: ignore[arg-type]
                input=items,  # type: ignore[arg-type]
            )
            out = [item.model_dump(exclude_none=True) for item in response.output]
            items += out
            items += reply([o["call_id"] for o in out if o.get("type") == "function_call"])


def calls_by_time(cli: Cli) -> list[str]:
    """Every recorded call in the order they started (a conversation's `seq` follows the order
    the proxy finished recording them, which two quick calls may swap)."""
    calls = []
    for conversation in cli.json("ls")["conversations"]:
        calls += cli.json("ls", conversation["id"])["calls"]
    return [c["id"] for c in sorted(calls, key=lambda c: (c["started_at"], c["id"]))]
