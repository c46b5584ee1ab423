"""`redline flag`: a recorded call where the model went wrong becomes a task, only when its
checks catch the failure (and pass a known-good output)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from redline.proxy import ThreadedProxy
from tests.agents import (
    CAREFUL,
    SWALLOWING,
    aider_reply,
    aider_session,
    call_ids,
    claude_code_session,
    codex_session,
    write_block,
)
from tests.fakes import anthropic as fa
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.fakes.openai_responses import FakeResponses
from tests.support import Cli


def tasks(cli: Cli) -> list[dict[str, Any]]:
    return list(cli.json("tasks")["tasks"])


def shown(cli: Cli, name: str) -> dict[str, Any]:
    return dict(cli.json("task", "show", name))


@pytest.fixture
def claude_bad_call(fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli) -> str:
    """Claude Code wrote a config loader that swallows every error."""
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(SWALLOWING)])
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    return call


def test_flag_makes_a_task_from_claude_codes_write(claude_bad_call: str, cli: Cli) -> None:
    out = cli("flag", claude_bad_call, "-c", "broad-except", "--note", "swallowed the error").stdout
    assert "broad-except  FAIL  1 finding" in out
    assert "saved task broad-except-add-error-handling-config" in out
    (task,) = tasks(cli)
    assert task["name"] == "broad-except-add-error-handling-config"
    assert task["origin_call"] == claude_bad_call
    assert task["wire"] == "anthropic-messages" and task["model"] == "claude-sonnet-4-5"
    assert task["checks"] == ["broad-except"] and task["note"] == "swallowed the error"


def test_the_task_is_the_calls_transcript_and_its_answer(claude_bad_call: str, cli: Cli) -> None:
    call = cli.json("show", claude_bad_call)
    cli("flag", claude_bad_call, "-c", "broad-except", "--name", "swallow")
    task = shown(cli, "swallow")["task"]
    assert task["request"] == call["request"]
    assert task["output"]["message"] == call["response"]["message"]
    assert task["output"]["finish_reason"] == "tool_use" and task["output"]["cut_off"] is False
    assert task["provenance"]["call"] == claude_bad_call
    assert task["provenance"]["conversation"] == call["conversation_id"]
    assert task["provenance"]["client"].startswith("claude-cli/")


def test_flag_refuses_when_every_check_passes_on_the_original(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(CAREFUL)])
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    result = cli("flag", call, "-c", "broad-except", expect=1)
    assert "broad-except  pass" in result.stdout
    assert "cannot catch its own failure" in result.stderr
    assert tasks(cli) == []


def test_force_keeps_a_task_that_catches_nothing(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(CAREFUL)])
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    out = cli("flag", call, "-c", "broad-except", "--force", "--name", "kept").stdout
    assert "saved task kept" in out and "forced" in out
    assert [t["name"] for t in tasks(cli)] == ["kept"]


def test_a_known_good_file_must_pass_every_check(
    claude_bad_call: str, cli: Cli, tmp_path: Path
) -> None:
    bad_fix = tmp_path / "also_bad.py"
    bad_fix.write_text(SWALLOWING)
    refused = cli("flag", claude_bad_call, "-c", "broad-except", "--good", str(bad_fix), expect=1)
    assert "fails on the known-good output" in refused.stderr
    assert tasks(cli) == []
    fix = tmp_path / "fix.py"
    fix.write_text(CAREFUL)
    out = cli(
        "flag", claude_bad_call, "-c", "broad-except", "--good", str(fix), "--name", "t"
    ).stdout
    assert f"checks on the known-good output (file {fix}):" in out
    verdicts = shown(cli, "t")["verdicts"]
    assert [v["passed"] for v in verdicts["output"]] == [False]
    assert [v["passed"] for v in verdicts["good_output"]] == [True]


def test_force_does_not_keep_a_task_whose_good_output_fails(
    claude_bad_call: str, cli: Cli, tmp_path: Path
) -> None:
    bad_fix = tmp_path / "also_bad.py"
    bad_fix.write_text(SWALLOWING)
    cli("flag", claude_bad_call, "-c", "broad-except", "--good", str(bad_fix), "--force", expect=1)
    assert tasks(cli) == []


def test_a_known_good_output_may_be_another_call(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(SWALLOWING)])
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(CAREFUL)], session="s-2")
    anthropic_proxy.flush()
    bad, good = call_ids(cli)
    cli("flag", bad, "-c", "broad-except", "--good", good, "--name", "t")
    task = shown(cli, "t")["task"]
    assert task["good_output"]["source"] == f"call {good}"
    assert task["good_output"]["message"] == cli.json("show", good)["response"]["message"]


def test_tool_call_keeps_only_that_call_as_the_bad_output(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(
        fake_anthropic,
        anthropic_proxy.url,
        [write_block(CAREFUL, "/repo/ok.py"), write_block(SWALLOWING, "/repo/bad.py")],
    )
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    cli("flag", call, "-c", "broad-except", "--tool-call", "1", expect=1)
    cli("flag", call, "-c", "broad-except", "--tool-call", "2", "--name", "second")
    task = shown(cli, "second")["task"]
    (part,) = task["output"]["message"]["parts"]
    assert json.loads(part["arguments"])["file_path"] == "/repo/bad.py"
    assert task["transcript"]["tool_call"] == 2
    cli("flag", call, "-c", "broad-except", "--tool-call", "3", expect=2)


def test_drop_last_cuts_the_transcript_earlier(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(
        fake_anthropic,
        anthropic_proxy.url,
        [fa.Text("Let me look.")],
        [write_block(SWALLOWING)],
    )
    anthropic_proxy.flush()
    _, second = call_ids(cli)
    full = len(cli.json("show", second)["request"]["messages"])
    cli("flag", second, "-c", "broad-except", "--drop-last", "2", "--name", "shorter")
    task = shown(cli, "shorter")["task"]
    assert len(task["request"]["messages"]) == full - 2
    assert task["transcript"]["drop_last"] == 2
    result = cli("flag", second, "-c", "broad-except", "--drop-last", str(full), expect=2)
    assert "a task needs at least one left" in result.stderr


def test_codex_apply_patch_through_its_shell_tool(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    codex_session(fake_responses, responses_proxy.url, fake_responses.api_key, SWALLOWING)
    responses_proxy.flush()
    (call,) = call_ids(cli)
    out = cli("flag", call, "-c", "broad-except", "--name", "codex").stdout
    assert "config.py:8" in out
    (task,) = tasks(cli)
    assert task["wire"] == "openai-responses"


def test_aider_search_replace_in_the_answer_text(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    aider_session(fake_openai, proxy.url, aider_reply(CAREFUL, SWALLOWING))
    proxy.flush()
    (call,) = call_ids(cli)
    out = cli("flag", call, "-c", "broad-except", "--name", "aider").stdout
    assert "saved task aider" in out
    assert tasks(cli)[0]["wire"] == "openai-chat"


def test_the_transcript_is_stored_by_reference(
    claude_bad_call: str, cli: Cli, db_path: Path
) -> None:
    from redline.transcripts import open_store

    def nodes() -> int:
        with open_store(db_path) as store:
            row = store.con.execute("SELECT count(*) FROM nodes").fetchone()
            assert row is not None
            return int(row[0])

    before = nodes()
    cli("flag", claude_bad_call, "-c", "broad-except", "--name", "t")
    assert nodes() == before  # the transcript's messages were all stored already
    with open_store(db_path) as store:
        row = store.con.execute("SELECT request_shell FROM tasks").fetchone()
    assert row is not None and "Add error handling" not in row[0]


# --- refused calls and bad input ----------------------------------------------------------------


def test_a_call_to_another_endpoint_is_not_a_task(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli, db_path: Path
) -> None:
    from redline.transcripts import open_store

    with openai.OpenAI(base_url=proxy.url + "/v1", api_key=fake_openai.api_key) as client:
        client.models.list()
    proxy.flush()
    with open_store(db_path) as store:
        row = store.con.execute("SELECT id FROM exchanges").fetchone()
    assert row is not None
    result = cli("flag", row[0], "-c", "broad-except", expect=2)
    assert "is GET /v1/models, not a call to a model" in result.stderr


def test_a_failed_call_is_not_a_task(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_openai.script.append(Answer(status=500, error_body={"error": {"message": "boom"}}))
    with (
        openai.OpenAI(base_url=proxy.url + "/v1", api_key=fake_openai.api_key, max_retries=0) as c,
        pytest.raises(openai.InternalServerError),
    ):
        c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    proxy.flush()
    (call,) = call_ids(cli)
    result = cli("flag", call, "-c", "broad-except", expect=2)
    assert "a task needs the model's whole answer" in result.stderr


def test_an_unparsed_request_is_not_a_task(proxy: ThreadedProxy, cli: Cli) -> None:
    import httpx2

    httpx2.post(proxy.url + "/v1/chat/completions", content=b"{not json")
    proxy.flush()
    (call,) = call_ids(cli)
    result = cli("flag", call, "-c", "broad-except", expect=2)
    assert "its request could not be parsed" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ZZZZZZZZ", "-c", "broad-except"], "no call matches 'ZZZZZZZZ'"),
        (["{call}", "-c", "no-such-check"], "unknown check 'no-such-check'"),
        (["{call}", "-c", "broad-except:allow-logging=maybe"], "allow-logging"),
        (["{call}", "-c", "broad-except", "--name", "Bad Name"], "is not valid"),
        (["{call}", "-c", "broad-except", "--good", "nowhere.py"], "no call matches 'nowhere.py'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_saves_nothing(
    claude_bad_call: str, cli: Cli, args: list[str], message: str
) -> None:
    result = cli("flag", *(a.format(call=claude_bad_call) for a in args), expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line
    assert tasks(cli) == []


def test_an_ambiguous_prefix_asks_for_more(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(SWALLOWING)])
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(SWALLOWING)], session="2")
    anthropic_proxy.flush()
    first, second = call_ids(cli)
    common = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    result = cli("flag", first[:common], "-c", "broad-except", expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert "matches several calls" in line and "give more characters" in line
    assert tasks(cli) == []


def test_a_name_that_exists_is_refused(claude_bad_call: str, cli: Cli) -> None:
    cli("flag", claude_bad_call, "-c", "broad-except", "--name", "t")
    result = cli("flag", claude_bad_call, "-c", "broad-except", "--name", "t", expect=2)
    assert "a task named 't' exists already" in result.stderr
    assert len(tasks(cli)) == 1


def test_the_same_call_flagged_again_with_the_same_checks_is_refused(
    claude_bad_call: str, cli: Cli
) -> None:
    cli("flag", claude_bad_call, "-c", "broad-except", "-c", "regex:pattern=except")
    (first,) = tasks(cli)
    # The same checks in another order, an option spelled as JSON: the same task.
    again = ["-c", 'regex:{"pattern": "except"}', "-c", "broad-except"]
    result = cli("flag", claude_bad_call, *again, expect=1)
    assert result.stdout.count("FAIL") == 2  # the verdicts are printed all the same
    (line,) = result.stderr.strip().splitlines()
    assert (
        f"a task already, cut at the same place and with the same checks: {first['name']}" in line
    )
    assert "--force" in line
    assert [t["name"] for t in tasks(cli)] == [first["name"]]


def test_force_makes_the_same_task_again(claude_bad_call: str, cli: Cli) -> None:
    cli("flag", claude_bad_call, "-c", "broad-except", "--name", "first")
    out = cli("flag", claude_bad_call, "-c", "broad-except", "--force").stdout
    assert "(forced: the same as first)" in out
    assert len(tasks(cli)) == 2


def test_another_cut_or_other_checks_make_another_task(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli
) -> None:
    claude_code_session(
        fake_anthropic, anthropic_proxy.url, [fa.Text("Let me look.")], [write_block(SWALLOWING)]
    )
    anthropic_proxy.flush()
    _, call = call_ids(cli)
    cli("flag", call, "-c", "broad-except", "--name", "whole")
    cli("flag", call, "-c", "broad-except", "--drop-last", "2", "--name", "shorter")
    cli("flag", call, "-c", "broad-except", "--tool-call", "1", "--name", "one-call")
    cli("flag", call, "-c", "broad-except", "-c", "regex:pattern=except", "--name", "two-checks")
    # A note or a known-good output does not make another task.
    result = cli("flag", call, "-c", "broad-except", "--note", "again", expect=1)
    assert "the same checks: whole;" in result.stderr
    assert [t["name"] for t in tasks(cli)] == ["whole", "shorter", "one-call", "two-checks"]


def test_flag_json_names_the_task_it_would_repeat(claude_bad_call: str, cli: Cli) -> None:
    cli("flag", claude_bad_call, "-c", "broad-except", "--name", "first")
    again = cli("flag", claude_bad_call, "-c", "broad-except", "--json", expect=1)
    assert json.loads(again.stdout)["duplicates"] == ["first"]
    assert json.loads(again.stdout)["saved"] is False


def test_a_check_that_raises_is_one_line(claude_bad_call: str, cli: Cli, tmp_path: Path) -> None:
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "from redline.analyzers import Verdict\n"
        "class Boom:\n"
        "    name = 'boom'\n    description = 'Raises.'\n    options = ()\n"
        "    def check(self, output, context):\n        raise ZeroDivisionError('oops')\n"
        "def register(add):\n    add(Boom())\n"
    )
    result = cli("flag", claude_bad_call, "-c", "boom", "--plugin", str(plugin), expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert "check 'boom' failed: ZeroDivisionError: oops" in line
    assert tasks(cli) == []


def test_task_rm_removes_exactly_the_named_task(claude_bad_call: str, cli: Cli) -> None:
    cli("flag", claude_bad_call, "-c", "broad-except", "--name", "first")
    cli("task", "rm", "fir", expect=2)
    cli("task", "rm", "first")
    assert tasks(cli) == []
    # The recording itself stays.
    assert cli.json("show", claude_bad_call)["id"] == claude_bad_call


# -- the library function the command, the web view and the demo call ---------------------------


def test_flag_keeps_a_task_whose_check_catches_it_and_saves_it_only_when_asked(
    claude_bad_call: str, db_path: Path
) -> None:
    from redline.analyzers import default_registry
    from redline.replay import flag, task_from_call
    from redline.transcripts import open_store

    registry = default_registry(entry_points=False)
    with open_store(db_path) as store:
        task = task_from_call(store, store.load_call(claude_bad_call), ["broad-except"])
        tried = flag(store, task, registry, save=False)
        assert (tried.kept, tried.saved, tried.refused) == (True, False, None)
        assert [j.verdict.passed for j in tried.validation.bad] == [False]
        assert store.task_names() == set()
        saved = flag(store, task, registry)
        assert saved.saved and store.task_names() == {task.name}


def test_flag_refuses_a_task_its_checks_do_not_catch_unless_forced(
    claude_bad_call: str, db_path: Path
) -> None:
    from redline.analyzers import default_registry
    from redline.replay import TaskRefused, flag, task_from_call
    from redline.transcripts import open_store

    registry = default_registry(entry_points=False)
    with open_store(db_path) as store:
        task = task_from_call(store, store.load_call(claude_bad_call), ["python-syntax"])
        refused = flag(store, task, registry)
        assert isinstance(refused.refused, TaskRefused) and not refused.kept
        assert store.task_names() == set()
        forced = flag(store, task, registry, force=True)
        assert forced.saved and forced.refused is not None


def test_a_known_good_output_must_write_code_the_checks_judge(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, tmp_path: Path
) -> None:
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(SWALLOWING)])
    claude_code_session(
        fake_anthropic, anthropic_proxy.url, [fa.Text("Done: the loader is written.")], session="2"
    )
    anthropic_proxy.flush()
    bad, no_code = call_ids(cli)
    refused = cli("flag", bad, "-c", "broad-except", "--good", no_code, expect=1)
    assert (
        f"the known-good output (call {no_code}) wrote no code the checks could judge"
        in refused.stderr
    )
    forced = cli("flag", bad, "-c", "broad-except", "--good", no_code, "--force", expect=1)
    assert "wrote no code the checks could judge" in forced.stderr
    assert tasks(cli) == []


def test_flag_refuses_a_task_kept_already_unless_forced(
    claude_bad_call: str, db_path: Path
) -> None:
    from redline.analyzers import default_registry
    from redline.replay import DuplicateTask, flag, task_from_call
    from redline.transcripts import open_store

    registry = default_registry(entry_points=False)
    with open_store(db_path) as store:
        call = store.load_call(claude_bad_call)
        kept = flag(store, task_from_call(store, call, ["broad-except"]), registry)
        again = task_from_call(store, call, ["broad-except"])
        refused = flag(store, again, registry)
        assert isinstance(refused.refused, DuplicateTask) and not refused.saved
        assert refused.duplicates == (kept.task.name,) == refused.refused.existing
        forced = flag(store, again, registry, force=True)
        assert forced.saved and store.task_names() == {kept.task.name, again.name}
