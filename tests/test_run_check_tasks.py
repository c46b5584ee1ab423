"""The `run` check in the loop: a one-shot chat task (Carlini style) with its own files, flagged
from a call recorded through the proxy, exported and imported, replayed to a model that writes
working code and one that does not (in parallel), cached, rechecked; and `scan -c run:...` over
a recorded Claude Code session on a project folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai
import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts import open_store
from tests.agents import CLAUDE_ENVIRONMENT, CLAUDE_REMINDER, CLAUDE_TOOLS, SWALLOWING, call_ids
from tests.fakes import anthropic as fa
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import claude_code_client, serving
from tests.fakes.flaky import FlakyModel
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.run_repo import COMMAND, make_repo
from tests.support import Cli, needs_sandbox

pytestmark = needs_sandbox

PROMPT = "Write a Python program that prints the sum of the numbers in input.txt."
RIGHT = "print(sum(int(x) for x in open('input.txt').read().split()))\n"
WRONG = "print(sum(int(x) for x in open('input.txt').read().split()[1:]))\n"
CHECK = "run:cmd=python3 answer.py | diff - expected.txt"


def fenced(code: str) -> str:
    return f"Here it is:\n\n```python\n{code}```\n"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-fake-key-0123456789")


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    """The task's own files: `--file input.txt --file expected.txt`."""
    (tmp_path / "input.txt").write_text("1 2 3 4\n")
    (tmp_path / "expected.txt").write_text("10\n")
    return ["--file", str(tmp_path / "input.txt"), "--file", str(tmp_path / "expected.txt")]


@pytest.fixture
def wrong_call(fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli) -> str:
    """A chat where the model's program skips the first number."""
    fake_openai.script.append(Answer(fenced(WRONG)))
    with openai.OpenAI(
        base_url=proxy.url + "/v1", api_key=fake_openai.api_key, max_retries=0
    ) as client:
        client.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": PROMPT}]
        )
    proxy.flush()
    (call,) = call_ids(cli)
    return call


@pytest.fixture
def task(wrong_call: str, inputs: list[str], cli: Cli, tmp_path: Path) -> str:
    good = tmp_path / "good.md"
    good.write_text(fenced(RIGHT))
    out = cli("flag", wrong_call, "-c", CHECK, *inputs, "--good", str(good), "--name", "sum").stdout
    assert "saved task sum" in out
    return "sum"


def models(tmp_path: Path, **urls: str) -> Path:
    config = tmp_path / "redline.toml"
    config.write_text(
        "".join(
            f'[models.{name}]\nbase_url = "{url}/v1"\nwire = "openai-chat"\nmodel = "{name}-1"\n'
            'api_key_env = "FAKE_KEY"\n'
            for name, url in urls.items()
        )
    )
    return config


def ran(db: Path, run: str | None = None) -> list[dict[str, Any]]:
    """The `ran` of every run verdict of a run (the latest by default), by sample."""
    with open_store(db) as store:
        run_id = store.runs.resolve(run)
        evaluation = store.runs.evaluation(run_id)["evaluation"]
        stored = store.runs.verdicts(run_id, evaluation)
    found = []
    for key in sorted(stored):
        for verdict in json.loads(stored[key]["verdicts"]):
            if "ran" in verdict:
                found.append({"sample": key, **verdict["ran"]})
    return found


# --- flag ----------------------------------------------------------------------------------


def test_flag_runs_the_check_on_both_answers_and_keeps_the_tasks_files(task: str, cli: Cli) -> None:
    shown = cli.json("task", "show", task)
    assert [f["path"] for f in shown["task"]["files"]] == ["expected.txt", "input.txt"]
    (bad,), (good,) = shown["verdicts"]["output"], shown["verdicts"]["good_output"]
    assert not bad["passed"] and "< 9" in bad["findings"][0]["snippet"]
    assert bad["judged"] == ["answer.py"]
    assert good["passed"] and good["ran"]["status"] == "exit 0"
    assert (
        "its own files: expected.txt (3 bytes), input.txt (8 bytes)"
        in cli("task", "show", task).stdout
    )


def test_flag_refuses_a_task_whose_run_passes_on_the_bad_answer(
    wrong_call: str, inputs: list[str], cli: Cli
) -> None:
    result = cli("flag", wrong_call, "-c", "run:cmd=python3 answer.py", *inputs, expect=1)
    assert "every check passes on the original output" in result.stderr
    assert cli.json("tasks")["tasks"] == []


def test_a_good_answer_that_fails_the_run_is_refused(
    wrong_call: str, inputs: list[str], cli: Cli, tmp_path: Path
) -> None:
    good = tmp_path / "good.md"
    good.write_text(fenced(WRONG.replace("[1:]", "[2:]")))
    result = cli("flag", wrong_call, "-c", CHECK, *inputs, "--good", str(good), expect=1)
    assert f"{CHECK} fails on the known-good output" in result.stderr


def test_without_its_files_the_task_cannot_be_run_as_asked(wrong_call: str, cli: Cli) -> None:
    out = cli("flag", wrong_call, "-c", CHECK, "--name", "bare").stdout
    assert "FileNotFoundError" in out and "saved task bare" in out


def test_the_tasks_files_travel_with_it_and_secrets_in_them_are_masked(
    wrong_call: str, cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "input.txt").write_text("1 2 3 4\n")
    (tmp_path / "expected.txt").write_text("10\n")
    (tmp_path / "env.txt").write_text("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx0123456789\n")
    files = [f"--file={tmp_path / n}" for n in ("input.txt", "expected.txt", "env.txt")]
    cli("flag", wrong_call, "-c", CHECK, *files, "--name", "sum")
    out = tmp_path / "out"
    assert "masked 1 secret" in cli("export", "sum", "--out", str(out)).stdout
    document = json.loads((out / "sum.json").read_text())
    listed = {f["path"]: f["text"] for f in document["files"]}
    assert listed["input.txt"] == "1 2 3 4\n" and "[masked:" in listed["env.txt"]
    cli("task", "rm", "sum")
    cli("import", str(out))
    (bad,) = cli.json("task", "show", "sum")["verdicts"]["output"]
    assert not bad["passed"] and "< 9" in bad["findings"][0]["snippet"]


def test_a_task_file_with_a_file_outside_its_folder_is_refused(
    task: str, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cli("export", task, "--out", str(out))
    document = json.loads((out / f"{task}.json").read_text())
    document["files"][0]["path"] = "../../.bashrc"
    (out / f"{task}.json").write_text(json.dumps(document))
    cli("task", "rm", task)
    result = cli("import", str(out), expect=2)
    assert "is not a plain relative path" in result.stderr
    assert cli.json("tasks")["tasks"] == []


# --- replay and recheck --------------------------------------------------------------------


def test_replay_separates_the_model_that_writes_working_code(
    task: str, cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    with serving(FlakyModel(fenced(RIGHT))) as right, serving(FlakyModel(fenced(WRONG))) as wrong:
        config = models(tmp_path, right=right.url, wrong=wrong.url)
        report = json.loads(
            cli(
                "replay",
                task,
                "--config",
                str(config),
                "-m",
                "right",
                "-m",
                "wrong",
                "-n",
                "2",
                "--json",
            ).stdout
        )
    rates = {row["model"]: (row["passes"], row["samples"]) for row in report["summary"]}
    assert rates == {"right": (2, 2), "wrong": (0, 2)}
    timed = {s["model"]: s["ran"] for s in report["samples"]}
    assert timed["wrong"][0]["check"] == CHECK and timed["wrong"][0]["status"] == "exit 1"
    assert set(timed["wrong"][0]) == {
        "check",
        "command",
        "status",
        "exit_status",
        "seconds",
        "sandboxed",
    }
    assert all(r[0]["seconds"] > 0 and r[0]["sandboxed"] for r in timed.values())
    assert len(ran(db_path)) == 4


def overlapping(spans: list[tuple[float, float]]) -> bool:
    """Every run had started before the first one ended."""
    return max(s for s, _ in spans) < min(e for _, e in spans)


def test_the_runs_of_one_replay_go_on_at_once(
    wrong_call: str, inputs: list[str], cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    timed = f"run:cmd=date +%s.%N && sleep 1 && date +%s.%N && {CHECK.removeprefix('run:cmd=')}"
    cli("flag", wrong_call, "-c", timed, *inputs, "--name", "timed")
    with serving(FlakyModel(fenced(RIGHT))) as right:
        config = models(tmp_path, right=right.url)
        cli("replay", "timed", "--config", str(config), "-m", "right", "-n", "3", "-j", "3")
    replayed = [tuple(map(float, r["output"].split()[:2])) for r in ran(db_path)]
    assert len(replayed) == 3 and overlapping(replayed)
    run = cli.json("runs")["runs"][0]["id"]
    cli("recheck", run, "--no-cache", "-j", "3")
    rechecked = [tuple(map(float, r["output"].split()[:2])) for r in ran(db_path)]
    assert len(rechecked) == 3 and overlapping(rechecked) and rechecked != replayed


def test_a_verdict_is_cached_by_the_answer_the_command_and_the_workspace(
    task: str, cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    stamped = "run:cmd=date +%s%N && python3 answer.py | diff - expected.txt"
    with serving(FlakyModel(fenced(RIGHT))) as right:
        config = models(tmp_path, right=right.url)
        args = ("replay", task, "--config", str(config), "-m", "right", "-n", "1")
        cli(*args)
        run = cli.json("runs")["runs"][0]["id"]
        cli("recheck", run, "-c", stamped)
        first = [r["output"] for r in ran(db_path, run)]
        cli("recheck", run, "-c", stamped)
        assert [r["output"] for r in ran(db_path, run)] == first  # nothing ran again
        cli("recheck", run, "-c", stamped, "--no-cache")
        assert [r["output"] for r in ran(db_path, run)] != first
        cli(*args, "--no-cache")  # the task's own check, its answers sent again
    assert len(right.requests) == 2


def test_recheck_judges_a_run_with_a_run_check_it_did_not_have(
    task: str, cli: Cli, tmp_path: Path
) -> None:
    with serving(FlakyModel(fenced(RIGHT))) as right:
        config = models(tmp_path, right=right.url)
        cli("replay", task, "--config", str(config), "-m", "right", "-n", "1")
    run = cli.json("runs")["runs"][0]["id"]
    again = json.loads(
        cli("recheck", run, "-c", "run:cmd=python3 answer.py | grep -q 11", "--json").stdout
    )
    assert {s["outcome"] for s in again["samples"]} == {"fail"}


# --- scan ----------------------------------------------------------------------------------


def claude_code_wrote(fake: FakeAnthropic, proxy_url: str, head: str, code: str) -> None:
    """A Claude Code session in /repo (its environment and git status in the system prompt)
    whose answer writes config.py whole."""
    status = (
        "# gitStatus\nThis is the git status at the start of the conversation.\n\n"
        f"Current branch: main\n\nStatus:\n\nRecent commits:\n{head} init"
    )
    fake.script.append(
        fa.Answer([fa.ToolUse("Write", {"file_path": "/repo/config.py", "content": code})])
    )
    with claude_code_client(proxy_url, fake.api_key, "run-scan") as client:
        client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=4096,
            system=[
                {"type": "text", "text": "You are Claude Code, a coding agent."},
                {"type": "text", "text": f"{CLAUDE_ENVIRONMENT}\n\n{status}"},
            ],
            tools=CLAUDE_TOOLS,  # type: ignore[arg-type]
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": CLAUDE_REMINDER},
                        {"type": "text", "text": "Add error handling to the config loader."},
                    ],
                }
            ],
        )


def test_scan_runs_the_check_over_recorded_answers_in_a_project_folder(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, tmp_path: Path
) -> None:
    head = make_repo(tmp_path / "repo")
    claude_code_wrote(fake_anthropic, anthropic_proxy.url, head, SWALLOWING)
    anthropic_proxy.flush()
    spec = f"run:cmd={COMMAND}"
    args = ("scan", "-c", spec, "--workspace", str(tmp_path / "repo"), "--jobs", "1")
    found = cli.json(*args)
    (hit,) = found["calls"]
    (verdict,) = hit["verdicts"]
    assert "FileNotFoundError not raised" in verdict["findings"][0]["snippet"]
    assert verdict["judged"] == ["/repo/config.py"]
    assert (found["judged"], found["cached"]) == (1, 0)
    again = cli.json(*args)
    assert (again["judged"], again["cached"]) == (0, 1)
    (tmp_path / "repo" / "tests" / "test_config.py").write_text("")  # another workspace
    (tmp_path / "repo" / "tests" / "test_more.py").write_text("")
    from tests.run_repo import git

    git(tmp_path / "repo", "add", "-A")
    git(tmp_path / "repo", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "x")
    other = cli.json(*args)
    assert (other["judged"], other["cached"], other["calls"]) == (1, 0, [])
    assert re.search(r"environment [0-9a-f]{64}", other["checks"][0]["version"])


def running(marker: str) -> bool:
    """Whether a process on this machine has `marker` in its command line."""
    import os

    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:  # it ended meanwhile
            continue
    return False


def test_a_recheck_running_the_answers_leaves_the_database_free_meanwhile(
    task: str, cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    import os
    import subprocess
    import sys
    import time
    import uuid

    from redline.transcripts.store.db import connect

    with serving(FlakyModel(fenced(RIGHT))) as right:
        config = models(tmp_path, right=right.url)
        cli("replay", task, "--config", str(config), "-m", "right", "-n", "1")
    run = cli.json("runs")["runs"][0]["id"]
    marker = uuid.uuid4().hex
    slow = f"run:cmd=sleep 3 && echo {marker}"
    child = subprocess.Popen(
        [sys.executable, "-m", "redline", "recheck", run, "-c", slow, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "REDLINE_DB": str(db_path)},
    )
    try:
        for _ in range(600):  # until the sandbox runs the command
            if running(marker):
                break
            time.sleep(0.05)
        assert running(marker) and child.poll() is None
        connect(db_path, wait=0.5).close()  # not locked by the recheck
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    assert json.loads(out)["run"]["evaluation"] == 1
