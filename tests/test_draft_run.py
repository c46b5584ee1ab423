"""`redline draft --workspace`: with a workspace (a real git repository with a real test) or files
of the task's own, the drafting model may propose a `run` check instead of a module; redline's
parser reads it and the run check itself proves it in the sandbox (it fails on the bad answer
and passes on every good one), or its reason goes back to the model. A check that holds is a
line, not a file: the output prints the `redline flag` command that uses it, and nothing is
written. The failure is a Claude Code call recorded through the proxy; the drafting models are
the fake Chat Completions upstream with scripted answers (`tests/fakes/drafting.py`)."""

from __future__ import annotations

import json
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from redline import config
from redline.proxy import ThreadedProxy
from redline.replay import StandInServer, standin_drafts
from redline.replay.draft_prompt import RUN_BLOCK
from redline.ui import UiServer
from tests.agents import CAREFUL, SWALLOWING, call_ids, careful_answer_file
from tests.fakes import drafting
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.run_repo import make_repo
from tests.support import Cli, needs_sandbox
from tests.test_docs import documented_json, key_paths
from tests.test_run_check_tasks import claude_code_wrote

pytestmark = needs_sandbox


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "repo"


@pytest.fixture
def bad_call(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> str:
    """Claude Code, in the repository at its first commit, asked to add error handling to the
    config loader, swallowed a missing file: the project's test that it raises fails."""
    head = make_repo(repo)
    claude_code_wrote(fake_anthropic, anthropic_proxy.url, head, SWALLOWING)
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    return call


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A known-good answer: the loader written whole, a missing file still raising."""
    return careful_answer_file(tmp_path / "good.json")


@pytest.fixture
def drafter(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The drafting model: answers are queued on `script`."""
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    return fake_openai


def model(fake: FakeOpenAI) -> str:
    return f"openai-chat:fake-drafter@{fake.url}/v1"  # type: ignore[attr-defined]


def draft(cli: Cli, call: str, fake: FakeOpenAI, *args: str, expect: int = 0) -> str:
    result = cli(
        "draft", call, "--note", drafting.RUN_NOTE, "--model", model(fake), *args, expect=expect
    )
    return str(result.output)


def flag_line(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("use it:  ")]
    return line.removeprefix("use it:  ")


def nothing_written() -> bool:
    return not config.checks_dir().exists()


def sent_messages(fake: FakeOpenAI, n: int) -> list[dict[str, Any]]:
    return list(json.loads(fake.received[n].body)["messages"])


# -- what a user does --------------------------------------------------------------------------


def test_a_run_check_that_holds_is_printed_in_the_flag_command_and_flag_uses_it(
    bad_call: str, drafter: FakeOpenAI, good: Path, repo: Path, cli: Cli
) -> None:
    drafter.script.append(drafting.run_answer(drafting.RUNS_THE_TESTS))
    out = draft(cli, bad_call, drafter, "--workspace", str(repo), "--good", str(good))
    assert f"workspace: commit {drafting_head(repo)} of {repo}" in out
    assert f"attempt 1: holds: {drafting.RUNS_THE_TESTS}" in out
    assert "it fails on the bad answer and passes on the 1 good answer" in out
    assert (
        "on the bad answer: `python3 -m unittest -q tests/test_config.py` ended with exit 1" in out
    )
    assert "FAILED (failures=1)" in out  # the end of the test's output
    assert "nothing to save" in out and "not run over the recorded history" in out
    flag = flag_line(out)
    assert flag == shlex.join(
        [
            "redline",
            "flag",
            bad_call,
            "-c",
            drafting.RUNS_THE_TESTS,
            "--note",
            drafting.RUN_NOTE,
            "--good",
            str(good),
            "--workspace",
            str(repo),
        ]
    )
    assert nothing_written()

    flagged = cli(*shlex.split(flag)[1:]).stdout
    assert "saved task" in flagged and "FAIL" in flagged


def drafting_head(repo: Path) -> str:
    from tests.run_repo import git

    return git(repo, "rev-parse", "HEAD")[:12]


def test_the_prompt_offers_a_run_check_and_lists_the_workspace(
    bad_call: str, drafter: FakeOpenAI, good: Path, repo: Path, cli: Cli
) -> None:
    drafter.script.append(drafting.run_answer(drafting.RUNS_THE_TESTS))
    draft(cli, bad_call, drafter, "--workspace", str(repo), "--good", str(good))
    system, user = sent_messages(drafter, 0)
    assert f"```{RUN_BLOCK}" in system["content"]
    assert "`cmd` (required)" in system["content"] and "at most 600" in system["content"]
    assert "## Where the code runs" in user["content"]
    assert "the command runs in its root, /repo:" in user["content"]
    assert "- tests/test_config.py" in user["content"] and "- config.py" in user["content"]


def test_without_a_workspace_the_prompt_asks_for_a_module_only(
    bad_call: str, drafter: FakeOpenAI, cli: Cli
) -> None:
    drafter.script.append(drafting.run_answer(drafting.RUNS_THE_TESTS))
    out = draft(cli, bad_call, drafter, "--attempts", "1", expect=1)
    system, user = sent_messages(drafter, 0)
    assert RUN_BLOCK not in system["content"] and "## Where the code runs" not in user["content"]
    assert "attempt 1: refused: your answer has no ```python block" in out


def test_json_carries_the_run_check_and_the_flag_command(
    bad_call: str, drafter: FakeOpenAI, good: Path, repo: Path, cli: Cli
) -> None:
    drafter.script.append(drafting.run_answer(drafting.RUNS_THE_TESTS))
    report = cli.json(
        "draft",
        bad_call,
        "--note",
        drafting.RUN_NOTE,
        "--model",
        model(drafter),
        "--workspace",
        str(repo),
        "--good",
        str(good),
    )
    assert report["check"] is None and report["history"] is None
    assert report["run"]["check"] == drafting.RUNS_THE_TESTS
    (finding,) = report["run"]["bad_findings"]
    assert finding["message"].startswith("`python3 -m unittest -q tests/test_config.py` ended")
    assert "FileNotFoundError not raised" in finding["snippet"]
    assert report["attempts"] == [
        {"number": 1, "held": True, "check": "run", "run": drafting.RUNS_THE_TESTS, "reason": None}
    ]
    assert f"--workspace {repo}" in report["flag"]
    assert key_paths(documented_json("draft-run")) == key_paths(report)  # docs/json.md
    assert nothing_written()


def test_a_run_check_right_on_the_second_attempt_was_told_why_the_first_was_refused(
    bad_call: str, drafter: FakeOpenAI, good: Path, repo: Path, cli: Cli
) -> None:
    drafter.script.extend(
        [
            drafting.run_answer(drafting.RUNS_A_TEST_IT_PASSES),
            drafting.run_answer(drafting.RUNS_THE_TESTS),
        ]
    )
    out = draft(cli, bad_call, drafter, "--workspace", str(repo), "--good", str(good))
    refused = f"attempt 1: refused: `{drafting.RUNS_A_TEST_IT_PASSES}`: it passes on the bad answer"
    assert refused in out
    assert "so it does not catch the failure the note describes: `python3" in out
    assert "test_it_reads_json` ended with exit 0; its output ends:" in out
    assert f"attempt 2: holds: {drafting.RUNS_THE_TESTS}" in out
    second = sent_messages(drafter, 1)
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert drafting.RUNS_A_TEST_IT_PASSES in second[2]["content"]
    told = second[3]["content"]
    assert told.startswith("Your run check was not kept: it passes on the bad answer (call ")
    assert told.endswith(f"or the run check in one ```{RUN_BLOCK} block.")
    assert nothing_written()


def test_a_run_check_that_passes_on_the_bad_answer_is_never_kept(
    bad_call: str, drafter: FakeOpenAI, good: Path, repo: Path, cli: Cli
) -> None:
    drafter.script.append(drafting.run_answer(drafting.RUNS_A_TEST_IT_PASSES))
    args = ("--workspace", str(repo), "--good", str(good), "--attempts", "1")
    out = draft(cli, bad_call, drafter, *args, expect=1)
    assert "it passes on the bad answer" in out
    assert "no draft held after 1 attempt; nothing was written" in out
    assert "use it:" not in out and nothing_written()


def test_a_run_check_that_fails_the_good_answer_is_never_kept(
    bad_call: str, drafter: FakeOpenAI, good: Path, repo: Path, cli: Cli
) -> None:
    drafter.script.append(drafting.run_answer(drafting.WANTS_OUTPUT_NOBODY_PRINTS))
    args = ("--workspace", str(repo), "--good", str(good), "--attempts", "1")
    out = draft(cli, bad_call, drafter, *args, expect=1)
    assert (
        f"it fails on the good answer ({good}), so it would fail a model that got it right: "
        "the output of `python3 -m unittest -q tests/test_config.py` does not match /42 tests/"
    ) in out
    assert nothing_written()


@pytest.mark.parametrize(
    ("check", "reason"),
    [
        ("run:timeout=5", "redline cannot read it: check 'run' needs option 'cmd'"),
        ("run:cmd=true; colour=red", "redline cannot read it: unknown option 'colour'"),
        ("run:cmd=true; venv=/usr", "it gives `venv`, a folder of this machine"),
        ("run:cmd=true; timeout=3600", "its timeout is 3600 s; a drafted run check may take"),
        ("regex:pattern=except", "starts with 'regex:pattern=except'"),
    ],
    ids=["no-cmd", "unknown-option", "venv", "long-timeout", "another-check"],
)
def test_a_run_check_redline_refuses_is_refused_with_its_reason(
    bad_call: str,
    drafter: FakeOpenAI,
    good: Path,
    repo: Path,
    cli: Cli,
    check: str,
    reason: str,
) -> None:
    drafter.script.append(drafting.run_answer(check))
    args = ("--workspace", str(repo), "--good", str(good), "--attempts", "1")
    out = draft(cli, bad_call, drafter, *args, expect=1)
    assert reason in out
    assert nothing_written()


def test_a_drafted_run_checks_command_cannot_reach_the_host(
    bad_call: str, drafter: FakeOpenAI, good: Path, repo: Path, cli: Cli, tmp_path: Path
) -> None:
    marker = tmp_path / "reached-the-host"
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        check = drafting.reaching_out(str(marker), listener.getsockname()[1])
        drafter.script.append(drafting.run_answer(check))
        out = draft(cli, bad_call, drafter, "--workspace", str(repo), "--good", str(good))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    assert "attempt 1: holds" in out  # the tests ran, and the bad answer failed them
    assert not marker.exists()
    assert nothing_written()


def test_a_one_shot_task_with_files_of_its_own_gets_a_run_check_too(
    fake_openai: FakeOpenAI,
    proxy: ThreadedProxy,
    drafter: FakeOpenAI,
    cli: Cli,
    tmp_path: Path,
) -> None:
    from tests.test_run_check_tasks import CHECK, PROMPT, RIGHT, WRONG, fenced

    fake_openai.script.append(Answer(fenced(WRONG)))
    with openai.OpenAI(
        base_url=proxy.url + "/v1", api_key=fake_openai.api_key, max_retries=0
    ) as client:
        client.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": PROMPT}]
        )
    proxy.flush()
    (call,) = call_ids(cli)
    (tmp_path / "input.txt").write_text("1 2 3 4\n")
    (tmp_path / "expected.txt").write_text("10\n")
    files = ["--file", str(tmp_path / "input.txt"), "--file", str(tmp_path / "expected.txt")]
    right = tmp_path / "right.md"
    right.write_text(fenced(RIGHT))
    drafter.script.append(drafting.run_answer(CHECK))
    out = draft(cli, call, drafter, *files, "--good", str(right))
    assert f"attempt 1: holds: {CHECK}" in out
    user = sent_messages(drafter, 1)[1]["content"]
    assert "No workspace: the command runs in a folder holding only the answer's code." in user
    assert "- input.txt (8 bytes)" in user
    flag = flag_line(out)
    assert flag.endswith(shlex.join(files))
    assert "saved task" in cli(*shlex.split(flag)[1:]).stdout


# -- the stand-in model -------------------------------------------------------------------------


def test_the_stand_in_proposes_the_projects_tests_as_a_run_check_that_holds(
    bad_call: str, good: Path, repo: Path, cli: Cli
) -> None:
    with StandInServer() as standin:
        stand_in = f"openai-chat:redline-stand-in@{standin.url}"
        out = cli(
            "draft",
            bad_call,
            "--note",
            drafting.RUN_NOTE,
            "--model",
            stand_in,
            "--workspace",
            str(repo),
            "--good",
            str(good),
        ).stdout
    assert "attempt 1: holds: run:cmd=python3 -m unittest -q tests/test_config.py" in out
    assert "saved task" in cli(*shlex.split(flag_line(out))[1:]).stdout
    assert nothing_written()


def test_the_stand_in_proposes_a_run_check_only_when_one_is_offered() -> None:
    listing = "## Where the code runs (for a `run` check)\n\n- app.py\n- tests/test_app.py\n"
    note = "## The user's note: what was wrong\n\nthe tests fail\n\n"
    assert "run:cmd=python3 -m unittest -q tests/test_app.py" in standin_drafts.answer(
        note + listing
    )
    assert RUN_BLOCK not in standin_drafts.answer(note)


# -- bad input: one line, exit 2, nothing asked ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "REPO"], "give one too (--good FILE_OR_CALL)"),
        (["--rev", "HEAD"], "--rev and --include choose what --workspace DIR takes"),
        (["--workspace", "MISSING", "--good", "GOOD"], "MISSING"),
    ],
    ids=["no-good-answer", "rev-alone", "no-such-folder"],
)
def test_bad_workspace_options_are_one_line_exit_2_and_nothing_is_asked(
    bad_call: str,
    drafter: FakeOpenAI,
    good: Path,
    repo: Path,
    tmp_path: Path,
    cli: Cli,
    args: list[str],
    message: str,
) -> None:
    named = {"REPO": str(repo), "GOOD": str(good), "MISSING": str(tmp_path / "missing")}
    given = [named.get(a, a) for a in args]
    result = draft(cli, bad_call, drafter, *given, expect=2)
    assert named.get(message, message) in result and result.count("\n") == 1
    assert drafter.received == [] and nothing_written()


def test_a_good_answer_that_cannot_run_in_the_workspace_is_refused_before_anything_is_asked(
    bad_call: str, drafter: FakeOpenAI, repo: Path, tmp_path: Path, cli: Cli
) -> None:
    elsewhere = tmp_path / "loader.py"  # a code file: written where it is, outside the project
    elsewhere.write_text(CAREFUL)
    result = draft(
        cli, bad_call, drafter, "--workspace", str(repo), "--good", str(elsewhere), expect=2
    )
    assert f"a good answer ({elsewhere}) cannot be run in the workspace" in result
    assert drafter.received == [] and nothing_written()


# -- the web view's Draft a check ------------------------------------------------------------------


@pytest.fixture
def served(bad_call: str, db_path: Path) -> Iterator[UiServer]:
    with UiServer(db_path) as server:
        yield server


def test_the_draft_api_takes_a_workspace_and_answers_the_run_check_that_holds(
    served: UiServer, bad_call: str, repo: Path
) -> None:
    from tests.test_ui import Client

    ui = Client(served)
    with StandInServer() as standin:
        body = {
            "note": drafting.RUN_NOTE,
            "model": f"openai-chat:redline-stand-in@{standin.url}",
            "good": {"code": CAREFUL, "path": "/repo/config.py"},
            "workspace": {"folder": str(repo)},
        }
        drafted = ui.json(f"/api/calls/{bad_call}/draft", body, expect=200)
    assert drafted["saved"] is False and drafted["check"] is None
    assert drafted["run"]["check"] == "run:cmd=python3 -m unittest -q tests/test_config.py"
    assert drafted["flag"].endswith(f"--workspace {repo}")
    assert nothing_written()


def test_the_draft_api_refuses_a_workspace_without_a_good_answer(
    served: UiServer, bad_call: str, repo: Path
) -> None:
    from tests.test_ui import Client

    ui = Client(served)
    body = {"note": "x", "model": "openai-chat:m@http://127.0.0.1:9/v1"}
    answer = ui.json(
        f"/api/calls/{bad_call}/draft", {**body, "workspace": {"folder": str(repo)}}, expect=400
    )
    assert "give one too (--good FILE_OR_CALL)" in answer["error"]
