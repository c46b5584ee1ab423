"""Prompt variants: appended to or replacing the system prompt, or replacing the project rules
file the agent embedded (Claude Code's and Codex's, as the agents module finds them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redline.errors import RedlineError
from redline.replay.variants import Variant, apply, parse_variant
from redline.transcripts import (
    Message,
    Request,
    Text,
    agents,
    example_files,
    read_task_file,
    wire,
)
from tests.agents import agents_block, claude_reminder

STRICT = "Never catch Exception; let errors reach the caller."


def task(prefix: str) -> Request:
    (path,) = [p for p in example_files() if p.name.startswith(prefix)]
    return read_task_file(path).request


def rendered_text(request: Request, fmt: str) -> str:
    import json

    return json.dumps(wire.get(fmt).render_request(request))


def test_parse_reads_the_file_now_and_keeps_its_text(tmp_path: Path) -> None:
    rules = tmp_path / "RULES.md"
    rules.write_text(STRICT)
    v = parse_variant(f"strict={rules}")
    assert (v.name, v.mode, v.text) == ("strict", "append", STRICT)
    assert v.sha256 is not None and len(v.sha256) == 64
    assert parse_variant(f"v2={rules}:rules").mode == "rules"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("strict", "should look like NAME=FILE"),
        ("strict={dir}/missing.md", "does not exist"),
        ("strict={dir}/empty.md", "is empty"),
        ("baseline={dir}/rules.md", "'baseline' is the task as recorded"),
        (
            "strict={dir}/rules.md:bogus",
            "'bogus' is not a mode; give one of append, replace, rules",
        ),
    ],
)
def test_a_bad_variant_is_a_clear_error(tmp_path: Path, spec: str, message: str) -> None:
    (tmp_path / "empty.md").write_text("  \n")
    (tmp_path / "rules.md").write_text(STRICT)
    with pytest.raises(RedlineError, match=message):
        parse_variant(spec.format(dir=tmp_path))


def test_append_adds_to_anthropics_top_level_system() -> None:
    request = apply(Variant("s", "append", None, STRICT), task("claude"), "t")
    assert request.system is not None
    assert [p.text for p in request.system if isinstance(p, Text)][-1] == STRICT
    assert STRICT in rendered_text(request, "anthropic-messages")


def test_append_creates_a_system_prompt_when_there_is_none() -> None:
    bare = Request("m", (Message("user", (Text("hi"),)),), wire="openai-chat")
    request = apply(Variant("s", "append", None, STRICT), bare, "t")
    body = wire.get("openai-chat").render_request(request)
    assert body["messages"][0] == {"role": "system", "content": STRICT}


def test_append_adds_to_a_chat_system_message() -> None:
    request = apply(Variant("s", "append", None, STRICT), task("aider"), "t")
    first = wire.get("openai-chat").render_request(request)["messages"][0]
    assert first["role"] == "system" and first["content"].endswith("\n\n" + STRICT)
    assert first["content"].startswith("Act as an expert software developer.")


def test_replace_replaces_the_system_prompt() -> None:
    request = apply(Variant("s", "replace", None, STRICT), task("codex"), "t")
    assert wire.get("openai-responses").render_request(request)["instructions"] == STRICT


def test_rules_replaces_claude_mds_text_in_its_reminder() -> None:
    before = task("claude")
    request = apply(Variant("v2", "rules", None, STRICT + "\n"), before, "t")
    text = request.messages[0].parts[0]
    assert isinstance(text, Text)
    (rules,) = agents.rules_files(request)
    assert (rules.path, rules.text) == ("/repo/CLAUDE.md", STRICT)
    assert text.text == claude_reminder(STRICT)
    assert "Never catch Exception or BaseException" not in text.text
    assert request.messages[1:] == before.messages[1:] and request.system == before.system


def test_rules_replaces_agents_mds_instructions() -> None:
    request = apply(Variant("v2", "rules", None, STRICT), task("codex"), "t")
    body = rendered_text(request, "openai-responses")
    assert json.dumps(agents_block(STRICT))[1:-1] in body
    assert "Do not swallow exceptions" not in body


def test_rules_on_a_transcript_without_a_rules_file_names_the_task() -> None:
    with pytest.raises(RedlineError, match="task aider-x: its transcript embeds no rules file"):
        apply(Variant("v2", "rules", None, STRICT), task("aider"), "aider-x")


def test_the_baseline_is_the_task_as_recorded() -> None:
    request = task("claude")
    assert apply(Variant("baseline"), request, "t") is request
