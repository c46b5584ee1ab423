"""`redline scan -c CHECK`: checks over every recorded answer, each with its own request as
context; verdicts cached by call and check version."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from redline.errors import RedlineError
from redline.proxy import ThreadedProxy
from redline.replay.scanning import parse_since
from tests.agents import (
    CAREFUL,
    SWALLOWING,
    aider_reply,
    aider_session,
    calls_by_time,
    claude_code_turns,
    codex_outputs,
    codex_turns,
    rejected,
    says,
    tool_results,
    write_block,
)
from tests.fakes import anthropic as fa
from tests.fakes import openai_responses
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.openai_responses import FakeResponses
from tests.support import Cli

LOGGING = SWALLOWING.replace(
    "        return {}", "        logger.exception('bad config')\n        return {}"
)


@pytest.fixture
def history(
    fake_anthropic: FakeAnthropic,
    anthropic_proxy: ThreadedProxy,
    fake_responses: FakeResponses,
    responses_proxy: ThreadedProxy,
    fake_openai: FakeOpenAI,
    proxy: ThreadedProxy,
    cli: Cli,
) -> dict[str, str]:
    """A day of agent work: Claude Code swallows an error and is told off, then fixes it; a
    second Claude Code session whose swallowing write the user rejects; Codex patching a
    swallowing loader; aider making a careful edit. Returns the calls by role."""
    claude_code_turns(
        fake_anthropic,
        anthropic_proxy.url,
        ([write_block(SWALLOWING)], says("No, don't catch all exceptions: you ignored CLAUDE.md")),
        ([write_block(CAREFUL)], tool_results()),
        ([fa.Text("Done: errors now reach the caller.")], says("Thanks.")),
        session="s-told-off",
    )
    anthropic_proxy.flush()
    told_off, fixed, done = calls_by_time(cli)
    claude_code_turns(
        fake_anthropic,
        anthropic_proxy.url,
        ([write_block(LOGGING, "/repo/settings.py")], rejected("log it and re-raise")),
        ([fa.Text("Understood, I will re-raise.")], says("Go on.")),
        session="s-rejected",
        prompt="Load the settings file.",
    )
    anthropic_proxy.flush()
    rejected_write, understood = calls_by_time(cli)[3:]
    codex_turns(
        fake_responses,
        responses_proxy.url,
        fake_responses.api_key,
        (
            openai_responses.Answer(calls=[("exec_command", _codex_patch(SWALLOWING))]),
            codex_outputs(),
        ),
        (openai_responses.Answer(text="Patched."), codex_outputs()),
    )
    responses_proxy.flush()
    codex_patch, patched = calls_by_time(cli)[5:]
    aider_session(fake_openai, proxy.url, aider_reply("", CAREFUL))
    proxy.flush()
    (aider,) = calls_by_time(cli)[7:]
    return {
        "told_off": told_off,
        "fixed": fixed,
        "done": done,
        "rejected": rejected_write,
        "understood": understood,
        "codex_patch": codex_patch,
        "patched": patched,
        "aider": aider,
    }


def _codex_patch(code: str) -> str:
    from tests.agents import codex_patch

    return codex_patch(code)


def listed(cli: Cli, *args: str) -> list[str]:
    return [c["id"] for c in cli.json("scan", *args)["calls"]]


def test_scan_lists_exactly_the_calls_whose_answers_a_check_fails(
    history: dict[str, str], cli: Cli
) -> None:
    assert listed(cli, "-c", "broad-except") == [
        history["told_off"],
        history["rejected"],
        history["codex_patch"],
    ]


def test_each_call_comes_with_its_finding_and_the_command_that_flags_it(
    history: dict[str, str], cli: Cli
) -> None:
    out = cli("scan", "-c", "broad-except").stdout
    assert "scanned 8 answers with broad-except: 3 with findings" in out
    call = history["told_off"]
    block = out[out.index(call) :].split("\n\n")[0]
    assert "claude-sonnet-4-5" in block and "claude-cli/" in block
    assert "Add error handling to the config loader." in block  # the conversation's title
    assert "broad-except  /repo/config.py:8" in block
    assert f"redline flag {call} -c broad-except" in block


def test_the_flag_command_quotes_a_check_with_options(history: dict[str, str], cli: Cli) -> None:
    found = cli.json("scan", "-c", "regex:pattern=except Exception:")["calls"]
    assert {c["id"] for c in found} == {
        history["told_off"],
        history["rejected"],
        history["codex_patch"],
    }
    assert found[0]["flag"] == f"redline flag {found[0]['id']} -c 'regex:pattern=except Exception:'"


def test_a_verdict_is_what_check_call_says_of_that_call(history: dict[str, str], cli: Cli) -> None:
    (scanned,) = [
        c for c in cli.json("scan", "-c", "broad-except")["calls"] if c["id"] == history["rejected"]
    ]
    checked = json.loads(
        cli("check", "-c", "broad-except", "--call", history["rejected"], "--json", expect=1).stdout
    )
    assert scanned["verdicts"] == checked["verdicts"]


def test_a_second_scan_judges_nothing_new(history: dict[str, str], cli: Cli) -> None:
    first = cli.json("scan", "-c", "broad-except")
    second = cli.json("scan", "-c", "broad-except")
    assert (first["judged"], first["cached"]) == (8, 0)
    assert (second["judged"], second["cached"]) == (0, 8)
    assert second["calls"] == first["calls"]


def test_a_changed_option_judges_again(history: dict[str, str], cli: Cli) -> None:
    cli.json("scan", "-c", "broad-except")
    again = cli.json("scan", "-c", "broad-except:allow-logging")
    assert (again["judged"], again["cached"]) == (8, 0)
    # With logging allowed, the rejected write (which logs) is no longer a finding.
    assert [c["id"] for c in again["calls"]] == [history["told_off"], history["codex_patch"]]
    # Spelling the same options another way is the same check.
    same = cli.json("scan", "-c", "broad-except:allow-logging=true")
    assert (same["judged"], same["cached"]) == (0, 8)


PLUGIN = """
from redline.analyzers import Finding, Verdict


class Shouts:
    name = "shouts"
    description = "Answers that say {word}."
    options = ()
    {version}

    def check(self, output, context):
        if "{word}" in output.text:
            return Verdict.of([Finding(None, None, "it says {word}")])
        return Verdict.of([])


def register(add):
    add(Shouts())
"""


def _plugin(tmp_path: Path, word: str, version: str = "") -> Path:
    path = tmp_path / "shouts.py"
    path.write_text(PLUGIN.format(word=word, version=version))
    return path


def test_a_changed_plugin_source_judges_again(
    history: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    first = cli.json("scan", "-c", "shouts", "--plugin", str(_plugin(tmp_path, "Patched")))
    assert [c["id"] for c in first["calls"]] == [history["patched"]]
    assert cli.json("scan", "-c", "shouts", "--plugin", str(tmp_path / "shouts.py"))["judged"] == 0
    changed = cli.json("scan", "-c", "shouts", "--plugin", str(_plugin(tmp_path, "Done")))
    assert changed["judged"] == 8
    assert [c["id"] for c in changed["calls"]] == [history["done"]]


def test_a_declared_version_decides_instead_of_the_source(
    history: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    plugin = _plugin(tmp_path, "Patched", 'version = "1"')
    first = cli.json("scan", "-c", "shouts", "--plugin", str(plugin))
    assert first["checks"][0]["version"].startswith("version 1; readers ")
    plugin.write_text(plugin.read_text() + "\n# a comment\n")
    assert cli.json("scan", "-c", "shouts", "--plugin", str(plugin))["judged"] == 0
    bumped = cli.json(
        "scan", "-c", "shouts", "--plugin", str(_plugin(tmp_path, "Done", 'version = "2"'))
    )
    assert bumped["judged"] == 8


def test_a_check_that_raises_is_reported_and_judged_again_next_time(
    history: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "class Broken:\n    name = 'broken'\n    description = 'Raises.'\n    options = ()\n\n"
        "    def check(self, output, context):\n        raise ValueError('oops')\n\n\n"
        "def register(add):\n    add(Broken())\n"
    )
    result = cli("scan", "-c", "broken", "-c", "broad-except", "--plugin", str(plugin), "--json")
    out = json.loads(result.stdout)
    assert len(out["errors"]) == 8 and "ValueError: oops" in out["errors"][0]["error"]
    assert len(out["calls"]) == 3  # the other check's verdicts are kept
    again = cli.json("scan", "-c", "broken", "--plugin", str(plugin))
    assert (again["judged"], len(again["errors"])) == (0, 8)


def test_flagged_calls_are_marked(history: dict[str, str], cli: Cli) -> None:
    cli("flag", history["told_off"], "-c", "broad-except", "--name", "swallow")
    (first, *_) = cli.json("scan", "-c", "broad-except")["calls"]
    assert first["id"] == history["told_off"] and first["flagged"] == ["swallow"]
    out = cli("scan", "-c", "broad-except").stdout
    assert f"{history['told_off']}" in out and "[flagged: swallow]" in out


def test_since_keeps_the_calls_of_that_period(history: dict[str, str], cli: Cli) -> None:
    assert len(listed(cli, "-c", "broad-except", "--since", "1h")) == 3
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    found = cli.json("scan", "-c", "broad-except", "--since", tomorrow)
    assert (found["scanned"], found["calls"]) == (0, [])


def test_a_bad_since_is_a_one_line_error(cli: Cli) -> None:
    result = cli("scan", "-c", "broad-except", "--since", "last week", expect=2)
    assert result.stderr.strip() == (
        "error: --since takes 7d, 12h, 30m or an ISO date such as 2025-06-01, not 'last week'"
    )


def test_conversation_keeps_one_conversation(history: dict[str, str], cli: Cli) -> None:
    conversation = cli.json("show", history["codex_patch"])["conversation_id"]
    found = cli.json("scan", "-c", "broad-except", "--conversation", conversation[:12])
    assert found["scanned"] == 2 and [c["id"] for c in found["calls"]] == [history["codex_patch"]]


def test_model_takes_a_glob_or_a_substring(history: dict[str, str], cli: Cli) -> None:
    assert listed(cli, "-c", "broad-except", "--model", "claude-*") == [
        history["told_off"],
        history["rejected"],
    ]
    assert listed(cli, "-c", "broad-except", "--model", "CODEX") == [history["codex_patch"]]
    assert cli.json("scan", "-c", "broad-except", "--model", "gpt-4*")["scanned"] == 1


def test_scan_needs_a_check_or_corrections(cli: Cli) -> None:
    result = cli("scan", expect=2)
    assert result.stderr.startswith("error: give --check NAME[:OPTIONS]")


def test_an_unknown_check_is_a_one_line_error(cli: Cli) -> None:
    result = cli("scan", "-c", "no-such-check", expect=2)
    assert result.stderr.startswith("error: unknown check 'no-such-check'")


def test_worker_processes_judge_as_this_process_does(
    history: dict[str, str], cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redline.replay.scanning as scan_module

    monkeypatch.setattr(scan_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(scan_module, "BATCH", 1)
    in_workers = cli.json("scan", "-c", "broad-except", "--jobs", "2")
    assert in_workers["judged"] == 8
    cli("scan", "-c", "broad-except:allow-logging", "--jobs", "1")
    here = cli.json("scan", "-c", "broad-except", "--jobs", "1")
    assert here["judged"] == 0 and here["calls"] == in_workers["calls"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        (" 2D ", timedelta(days=2)),
    ],
)
def test_since_takes_days_hours_and_minutes(text: str, expected: timedelta) -> None:
    now = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
    assert parse_since(text, now) == now - expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01", datetime(2025, 6, 1, tzinfo=UTC)),
        ("2025-06-01T08:30", datetime(2025, 6, 1, 8, 30, tzinfo=UTC)),
        ("2025-06-01T08:30+02:00", datetime(2025, 6, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_since_takes_an_iso_date_or_time(text: str, expected: datetime) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7w", "-3d", "yesterday", "2025-13-01"])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(RedlineError, match="--since takes"):
        parse_since(text)


def test_a_check_defined_in_main_without_a_version_is_never_cached() -> None:
    from redline.replay.scanning import analyzer_version

    def check(self: object, output: object, context: object) -> None: ...

    check.__module__ = "__main__"  # as if typed into `python -i`
    unversioned = type("Unversioned", (), {"__module__": "__main__", "check": check})
    versioned = type("Versioned", (), {"__module__": "__main__", "check": check, "version": "3"})
    assert analyzer_version(unversioned()) is None
    assert analyzer_version(versioned()) == "version 3"


@pytest.fixture
def looping(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> dict[str, list[str]]:
    """An agent that loops: six answers of one session write the same swallowing loader (to six
    files); then
    a second session writes it once, with two swallowing handlers."""
    turns = [([write_block(SWALLOWING, f"/repo/config{i}.py")], tool_results()) for i in range(6)]
    claude_code_turns(fake_anthropic, anthropic_proxy.url, *turns, session="s-loop")
    anthropic_proxy.flush()
    loop = calls_by_time(cli)
    twice = (
        SWALLOWING
        + "\n\ndef load_again(path):\n    try:\n        return 1\n    except Exception:\n        return None\n"
    )
    claude_code_turns(
        fake_anthropic,
        anthropic_proxy.url,
        ([write_block(twice, "/repo/other.py")], tool_results()),
        session="s-once",
        prompt="Write the other loader.",
    )
    anthropic_proxy.flush()
    return {"loop": loop, "once": calls_by_time(cli)[6:]}


def test_a_looping_session_is_one_group_and_the_listing_stops_at_the_limit(
    looping: dict[str, list[str]], cli: Cli
) -> None:
    out = cli("scan", "-c", "broad-except", "--limit", "2").stdout
    assert "7 with findings in 2 conversations" in out
    # The answer with the most findings comes first: the loop does not bury it.
    (once,) = looping["once"]
    assert out.index(once) < min(out.index(c) for c in looping["loop"] if c in out)
    assert "conversation " in out and "6 answers with findings, the worst first" in out
    assert sum(c in out for c in looping["loop"]) == 1  # the limit left room for one more
    assert "... 5 more in this conversation" in out
    assert "--limit 0" in out


def test_the_default_limit_keeps_a_loop_to_a_few_answers_and_limit_0_lists_all(
    looping: dict[str, list[str]], cli: Cli
) -> None:
    default = cli("scan", "-c", "broad-except").stdout
    assert sum(c in default for c in looping["loop"]) == 3
    everything = cli("scan", "-c", "broad-except", "--limit", "0").stdout
    assert all(c in everything for c in looping["loop"]) and "more in this" not in everything


def test_json_lists_every_answer_whatever_the_limit(
    looping: dict[str, list[str]], cli: Cli
) -> None:
    assert len(cli.json("scan", "-c", "broad-except", "--limit", "1")["calls"]) == 7


def test_conversations_beyond_the_limit_are_counted(
    looping: dict[str, list[str]], cli: Cli
) -> None:
    out = cli("scan", "-c", "broad-except", "--limit", "1").stdout
    (once,) = looping["once"]
    assert once in out
    assert "1 more conversation with 6 answers with findings; --limit 0 lists them all" in out
