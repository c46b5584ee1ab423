"""`redline scan --corrections`: the answers the next turn pushed back on, found by the
agents' own markers, the user's words and an edit the next answer undoes; no model is asked."""

from __future__ import annotations

from typing import Any

import pytest

from redline.proxy import ThreadedProxy
from redline.replay.corrections import (
    markers,
    phrases,
    signals_of,
    turn,
    undone,
    user_words,
)
from redline.transcripts import Message, Text, ToolCall, ToolResult
from tests.agents import (
    AGENTS_BLOCK,
    CAREFUL,
    CLAUDE_INTERRUPTED,
    CLAUDE_REJECTED,
    CLAUDE_REMINDER,
    CODEX_REJECTED,
    CODEX_TURN_ABORTED,
    ENVIRONMENT_CONTEXT,
    SWALLOWING,
    calls_by_time,
    claude_code_turns,
    codex_aborted,
    codex_outputs,
    codex_patch,
    codex_rejected,
    codex_turns,
    edit_block,
    interrupted,
    rejected,
    says,
    tool_results,
    write_block,
)
from tests.fakes import anthropic as fa
from tests.fakes import openai_responses
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai_responses import FakeResponses
from tests.support import Cli


def corrections(cli: Cli, *args: str) -> list[dict[str, Any]]:
    return list(cli.json("scan", "--corrections", *args)["corrections"])


def signal_names(found: dict[str, Any]) -> list[str]:
    return [s["signal"] for s in found["signals"]]


@pytest.fixture
def claude(fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli) -> Any:
    def record(*turns: Any, session: str = "s-1") -> list[str]:
        before = set(calls_by_time(cli))
        claude_code_turns(fake_anthropic, anthropic_proxy.url, *turns, session=session)
        anthropic_proxy.flush()
        return [c for c in calls_by_time(cli) if c not in before]

    return record


@pytest.fixture
def codex(fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli) -> Any:
    def record(*turns: Any) -> list[str]:
        before = set(calls_by_time(cli))
        codex_turns(fake_responses, responses_proxy.url, fake_responses.api_key, *turns)
        responses_proxy.flush()
        return [c for c in calls_by_time(cli) if c not in before]

    return record


def test_a_correcting_reply_marks_the_answer_before_it(claude: Any, cli: Cli) -> None:
    told_off, fixed, _ = claude(
        ([write_block(SWALLOWING)], says("No, don't catch all exceptions: you ignored CLAUDE.md")),
        ([write_block(CAREFUL)], tool_results()),
        ([fa.Text("Done.")], says("Thanks, looks good.")),
    )
    (found,) = corrections(cli)
    assert found["id"] == told_off
    assert signal_names(found) == ["ignored", "no", "dont"]
    assert found["score"] == 6
    assert found["said"] == "No, don't catch all exceptions: you ignored CLAUDE.md"
    assert found["output"] == "[Write /repo/config.py]"
    assert found["next_call"] == fixed
    assert found["title"] == "Add error handling to the config loader."


def test_a_rejected_tool_use_marks_the_answer_and_keeps_the_users_reason(
    claude: Any, cli: Cli
) -> None:
    write, _ = claude(
        ([write_block(SWALLOWING)], rejected("why did you swallow the error?")),
        ([fa.Text("I will let it raise.")], says("Go on.")),
    )
    (found,) = corrections(cli)
    assert found["id"] == write
    assert signal_names(found) == ["rejected", "why"]
    assert found["said"] == "why did you swallow the error?"


def test_a_plain_rejection_is_enough(claude: Any, cli: Cli) -> None:
    write, _ = claude(([write_block(SWALLOWING)], rejected()), ([fa.Text("OK.")], says("Go on.")))
    (found,) = corrections(cli)
    assert (found["id"], signal_names(found), found["score"]) == (write, ["rejected"], 3)
    assert found["said"] == ""


def test_an_interrupted_tool_use_marks_the_answer(claude: Any, cli: Cli) -> None:
    write, _ = claude(
        ([write_block(SWALLOWING)], interrupted("use the config module instead")),
        ([fa.Text("OK.")], says("Go on.")),
    )
    (found,) = corrections(cli)
    assert found["id"] == write
    assert signal_names(found) == ["interrupted", "instead"]
    assert found["said"] == "use the config module instead"


def test_codexs_rejected_command_marks_the_answer(codex: Any, cli: Cli) -> None:
    patch, _ = codex(
        (
            openai_responses.Answer(calls=[("exec_command", codex_patch(SWALLOWING))]),
            codex_rejected(),
        ),
        (openai_responses.Answer(text="The command was rejected."), codex_outputs()),
    )
    (found,) = corrections(cli)
    assert (found["id"], signal_names(found)) == (patch, ["rejected"])
    assert found["signals"][0]["evidence"] == CODEX_REJECTED


def test_codexs_aborted_turn_marks_the_answer(codex: Any, cli: Cli) -> None:
    patch, _ = codex(
        (
            openai_responses.Answer(calls=[("exec_command", codex_patch(SWALLOWING))]),
            codex_aborted("that's wrong, keep the errors"),
        ),
        (openai_responses.Answer(text="Sorry."), codex_outputs()),
    )
    (found,) = corrections(cli)
    assert (found["id"], signal_names(found)) == (patch, ["interrupted", "wrong"])
    assert found["said"] == "that's wrong, keep the errors"


def test_an_edit_the_next_answer_undoes_marks_the_answer(claude: Any, cli: Cli) -> None:
    edit, undo, _ = claude(
        ([edit_block("return json.load(f)", "return json.load(f) or {}")], tool_results()),
        ([edit_block("return json.load(f) or {}", "return json.load(f)")], tool_results()),
        ([fa.Text("Back as it was.")], says("Fine.")),
    )
    (found,) = corrections(cli)
    assert (found["id"], found["next_call"], signal_names(found)) == (edit, undo, ["undone"])


def test_clean_sessions_are_not_listed(claude: Any, codex: Any, cli: Cli) -> None:
    claude(
        ([write_block(CAREFUL)], tool_results()),
        ([fa.Text("Done: the loader lets errors through.")], says("Thanks, looks good.")),
        ([fa.Text("Glad to help.")], says("Go on.")),
    )
    codex(
        (openai_responses.Answer(calls=[("exec_command", codex_patch(CAREFUL))]), codex_outputs()),
        (openai_responses.Answer(text="Patched."), codex_outputs()),
    )
    assert corrections(cli) == []
    out = cli("scan", "--corrections").stdout
    assert out.startswith("0 answers the next turn corrected")


def test_corrections_are_ranked_by_score(claude: Any, cli: Cli) -> None:
    (interrupt, _) = claude(
        ([write_block(SWALLOWING)], interrupted("hold on")),
        ([fa.Text("OK.")], says("Go on.")),
        session="s-a",
    )
    (told_off, _) = claude(
        ([write_block(SWALLOWING)], rejected("no, I told you to let errors through")),
        ([fa.Text("OK.")], says("Go on.")),
        session="s-b",
    )
    assert [(c["id"], c["score"]) for c in corrections(cli)] == [(told_off, 7), (interrupt, 2)]


def test_min_score_leaves_out_weaker_corrections(claude: Any, cli: Cli) -> None:
    claude(
        ([write_block(SWALLOWING)], says("Use pathlib instead.")),
        ([fa.Text("OK.")], says("Go on.")),
    )
    assert corrections(cli) == []
    (found,) = corrections(cli, "--min-score", "1")
    assert signal_names(found) == ["instead"]


def test_the_human_listing_shows_the_correction_next_to_the_answer(claude: Any, cli: Cli) -> None:
    write, _ = claude(
        ([write_block(SWALLOWING)], rejected("you ignored CLAUDE.md")),
        ([fa.Text("OK.")], says("Go on.")),
    )
    out = cli("scan", "--corrections").stdout
    assert "1 answer the next turn corrected (score 2 or more), strongest first" in out
    assert f"score 6  {write}" in out
    assert "  answer:  [Write /repo/config.py]" in out
    assert "  then:    you ignored CLAUDE.md" in out
    assert '  signals: rejected (3) "' in out and 'ignored (3) "you ignored"' in out
    assert f"  redline flag {write} -c CHECK" in out


def test_corrections_respect_since_and_mark_flagged_calls(claude: Any, cli: Cli) -> None:
    write, _ = claude(
        ([write_block(SWALLOWING)], rejected()),
        ([fa.Text("OK.")], says("Go on.")),
    )
    assert corrections(cli, "--since", "2999-01-01") == []
    cli("flag", write, "-c", "broad-except", "--name", "rejected-swallow")
    (found,) = corrections(cli, "--since", "1d")
    assert found["flagged"] == ["rejected-swallow"]


def test_scan_with_checks_and_corrections_prints_both(claude: Any, cli: Cli) -> None:
    write, _ = claude(
        ([write_block(SWALLOWING)], rejected()),
        ([fa.Text("OK.")], says("Go on.")),
    )
    out = cli.json("scan", "-c", "broad-except", "--corrections")
    assert [c["id"] for c in out["calls"]] == [write]
    assert [c["id"] for c in out["corrections"]] == [write]


# -- the signals, one at a time ------------------------------------------------------------------


def user(*texts: str) -> Message:
    return Message("user", tuple(Text(t) for t in texts))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("No, don't catch all exceptions", ["no", "dont"]),
        ("you ignored CLAUDE.md", ["ignored"]),
        ("This is against the rules in AGENTS.md", ["ignored"]),
        ("why did you skip the test?", ["why"]),
        ("That's wrong.", ["wrong"]),
        ("It doesn't work any more", ["wrong"]),
        ("I told you to keep the logging", ["told-you"]),
        ("revert that", ["revert"]),
        ("please undo the last change", ["revert"]),
        ("Stop. Use the helper instead", ["no", "dont", "instead"]),
        ("wait", ["no"]),
    ],
)
def test_correcting_phrases(text: str, names: list[str]) -> None:
    assert [s.name for s in phrases([text])] == names


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, looks good.",
        "Go on.",
        "Now add a test for the loader.",
        "Nothing else for today",
        "Notice the config path",
        "knowledge base",
    ],
)
def test_ordinary_replies_say_nothing(text: str) -> None:
    assert phrases([text]) == []


def test_only_the_start_of_a_long_message_is_read() -> None:
    long = "Here is the log you asked for:\n" + "x = 1\n" * 200 + "that's wrong"
    assert phrases([long]) == []


def test_what_agents_inject_is_not_the_users_words() -> None:
    injected = user(
        CLAUDE_REMINDER,
        ENVIRONMENT_CONTEXT,
        AGENTS_BLOCK,
        CODEX_TURN_ABORTED,
        CLAUDE_INTERRUPTED,
        "<system-reminder>don't do that</system-reminder>Looks good.",
    )
    assert user_words([injected]) == ["Looks good."]


def test_markers_are_found_in_tool_results_and_user_text() -> None:
    results = Message(
        "user",
        (
            ToolResult("a", CLAUDE_REJECTED, True),
            ToolResult("b", "aborted"),
            Text(CODEX_TURN_ABORTED),
        ),
    )
    assert [s.name for s in markers([results])] == ["rejected", "interrupted", "interrupted"]


def test_a_tool_error_is_not_a_correction() -> None:
    failed = Message("user", (ToolResult("a", "Error: file not found", True),))
    assert markers([failed]) == [] and user_words([failed]) == []


def test_the_turn_ends_at_the_next_answer() -> None:
    later = Message(
        "assistant",
        (Text("Sorry.")),
    )
    after = [user("ok"), later, user("that's wrong")]
    assert turn(after) == [after[0]]
    # From the request onwards, the agent's own copy of the answer comes first and is skipped.
    assert turn([later, user("no")], after_answer=False) == [user("no")]


def test_each_signal_counts_once_strongest_first() -> None:
    output = Message("assistant", (Text("Done."),))
    found = signals_of(output, [user("no no no, don't", "don't!")], True, None)
    assert [(s.name, s.weight) for s in found] == [("no", 2), ("dont", 1)]


def _edit(old: str, new: str, path: str = "/repo/a.py") -> Message:
    args = f'{{"file_path": "{path}", "old_string": "{old}", "new_string": "{new}"}}'
    return Message("assistant", (ToolCall("t1", "Edit", args),))


def test_an_edit_reversed_exactly_is_undone() -> None:
    assert undone(_edit("a = 1", "a = 2"), _edit("a = 2", "a = 1")) is not None


def test_an_edit_of_another_file_or_a_further_change_is_not_undone() -> None:
    assert undone(_edit("a = 1", "a = 2"), _edit("a = 2", "a = 1", "/repo/b.py")) is None
    assert undone(_edit("a = 1", "a = 2"), _edit("a = 2", "a = 3")) is None


def test_git_checkout_of_an_edited_file_is_undone() -> None:
    restore = Message("assistant", (ToolCall("t2", "Bash", '{"command": "git checkout -- a.py"}'),))
    signal = undone(_edit("a = 1", "a = 2"), restore)
    assert signal is not None and signal.evidence == "git checkout -- a.py"


def test_an_answer_the_agent_kept_in_another_form_is_matched_by_its_request(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    """Interrupted mid-answer, Claude Code keeps what it had shown, not the recorded answer:
    the next request then extends the call's request, not its answer."""
    from tests.fakes.fixtures import claude_code_client

    first: list[dict[str, Any]] = [{"role": "user", "content": "Add error handling."}]
    with claude_code_client(anthropic_proxy.url, fake_anthropic.api_key, "s-cut") as client:
        for messages, blocks in (
            (first, [write_block(SWALLOWING)]),
            (
                [
                    *first,
                    {"role": "assistant", "content": [{"type": "text", "text": "I will wr"}]},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": CLAUDE_INTERRUPTED},
                            {"type": "text", "text": "no, let the errors through"},
                        ],
                    },
                ],
                [fa.Text("OK.")],
            ),
        ):
            fake_anthropic.script.append(fa.Answer(list(blocks)))
            client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=1024,
                messages=messages,  # type: ignore[arg-type]
            )
    anthropic_proxy.flush()
    write, answer = calls_by_time(cli)
    (found,) = corrections(cli)
    assert (found["id"], found["next_call"]) == (write, answer)
    assert signal_names(found) == ["interrupted", "no"]
    assert found["said"] == "no, let the errors through"
