"""Workspaces, the `run` check and `redline draft` on a lake, as on a file: a Claude Code call
recorded through the proxy into the lake (a real PostgreSQL catalog), flagged with a real git
repository as its workspace and the project's real test as its check (real bubblewrap); `task
show`, `replay` (reads answered from the stored workspace, answers judged by running the test,
the verdicts kept in `check_runs` and reused), `recheck`, `export` and `import` into another
lake, and a drafted `run` check."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redline import config
from redline.proxy import ProxyRunner, Route, ThreadedProxy
from redline.transcripts import open_store
from tests.agents import CAREFUL, SWALLOWING, call_ids, careful_answer_file
from tests.fakes import drafting
from tests.fakes.agentic import CLAUDE_CODE, AgenticAnthropic, Seen
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import serving
from tests.fakes.openai_chat import FakeOpenAI
from tests.postgres import LakeSetup, Postgres
from tests.run_repo import COMMAND, LOADER, make_repo
from tests.support import Cli, needs_sandbox
from tests.test_run_check_tasks import claude_code_wrote

pytestmark = needs_sandbox

KEY = "sk-test-fake-key-0123456789"
# The project's test, after a stamp that differs on every run: a verdict whose output is
# unchanged was not run again.
CHECK = f"run:cmd=date +%s%N && {COMMAND}"
TASK = "loader"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", KEY)


@pytest.fixture
def lake_proxy(lake: LakeSetup, fake_anthropic: FakeAnthropic) -> Iterator[ThreadedProxy]:
    """A proxy spooling for the lake (this machine's spool of it)."""
    spool = config.spool_dir(config.location(lake.url))
    runner = ProxyRunner([Route.parse("", fake_anthropic.url)], spool, "127.0.0.1", 0)
    with ThreadedProxy(runner) as running:
        yield running


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "repo"


@pytest.fixture
def bad_call(fake_anthropic: FakeAnthropic, lake_proxy: ThreadedProxy, cli: Cli, repo: Path) -> str:
    """Claude Code, in the repository at its first commit, wrote a loader that swallows a
    missing file: recorded into the lake."""
    head = make_repo(repo)
    claude_code_wrote(fake_anthropic, lake_proxy.url, head, SWALLOWING)
    lake_proxy.flush()
    (call,) = call_ids(cli)
    return call


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A known-good answer: the loader written whole, a missing file still raising."""
    return careful_answer_file(tmp_path / "good.json")


@pytest.fixture
def task(bad_call: str, good: Path, repo: Path, cli: Cli) -> str:
    """The call flagged on the lake with the repository as its workspace and the project's
    test as its check, proven on the good answer."""
    flagged = cli.json(
        "flag", bad_call, "-c", CHECK, "--workspace", str(repo), "--good", str(good),
        "--name", TASK,
    )  # fmt: skip
    assert flagged["saved"] and flagged["workspace"]["files"] == 3
    (bad,), (fine,) = flagged["verdicts"]["output"], flagged["verdicts"]["good_output"]
    assert not bad["passed"] and "FileNotFoundError not raised" in bad["findings"][0]["snippet"]
    assert fine["passed"] and fine["ran"]["sandboxed"]
    return TASK


def models(tmp_path: Path, **fakes: AgenticAnthropic) -> Path:
    path = tmp_path / "redline.toml"
    path.write_text(
        "".join(
            f'[models.{name}]\nbase_url = "{fake.url}"\nwire = "anthropic-messages"\n'
            f'model = "{name}-1"\napi_key_env = "FAKE_KEY"\n'
            for name, fake in fakes.items()
        )
    )
    return path


def reads_then_writes(code: str, read: list[tuple[str, bool]]) -> AgenticAnthropic:
    """A model that reads config.py first (what it got back is appended to `read`), then
    writes `code` over it."""
    look = CLAUDE_CODE.read("config.py")

    def policy(seen: Seen) -> list[Any]:
        if seen.called(look):
            read.extend(seen.results)
            return [CLAUDE_CODE.write("config.py", code)]
        return [look]

    fake = AgenticAnthropic(policy)
    fake.api_key = KEY
    return fake


def replay(cli: Cli, config_file: Path, *names: str) -> Any:
    model_args = [a for name in names for a in ("-m", name)]
    args = ("replay", TASK, "--config", str(config_file), *model_args, "-n", "1", "--json")
    return json.loads(cli(*args).stdout)


def ran(run: str) -> dict[str, dict[str, Any]]:
    """The `ran` of the run check's verdict of each sample of the run's latest evaluation."""
    with open_store(ingest=False) as store:
        evaluation = store.runs.evaluation(run)["evaluation"]
        stored = store.runs.verdicts(run, evaluation)
    return {
        key: verdict["ran"]
        for key in stored
        for verdict in json.loads(stored[key]["verdicts"])
        if "ran" in verdict
    }


def kept_verdicts() -> list[tuple[Any, ...]]:
    """The run checks' verdict cache in the lake."""
    with open_store(ingest=False) as store:
        return store.con.execute("SELECT key, judged_at FROM check_runs ORDER BY key").fetchall()


# --- flag, task show ----------------------------------------------------------------------


def test_a_task_flagged_on_a_lake_keeps_its_workspace_there(
    task: str, cli: Cli, repo: Path
) -> None:
    shown = cli.json("task", "show", task)
    assert shown["workspace"]["files"] == 3
    (bad,), (fine,) = shown["verdicts"]["output"], shown["verdicts"]["good_output"]
    assert (bad["passed"], fine["passed"]) == (False, True)
    with open_store(ingest=False) as store:
        assert isinstance(store.location, config.Lake)
        workspace = store.workspace(task)
        assert workspace is not None
        loader = next(f for f in workspace.files if f.path == "config.py")
        (content,) = store.workspace_files([loader.sha256]).values()
    assert content.decode() == LOADER == (repo / "config.py").read_text()


# --- replay, recheck ------------------------------------------------------------------------


def test_replay_on_a_lake_answers_reads_from_the_workspace_and_runs_the_projects_test(
    task: str, cli: Cli, tmp_path: Path
) -> None:
    right_read: list[tuple[str, bool]] = []
    wrong_read: list[tuple[str, bool]] = []
    with (
        serving(reads_then_writes(CAREFUL, right_read)) as right,
        serving(reads_then_writes(SWALLOWING, wrong_read)) as wrong,
    ):
        report = replay(cli, models(tmp_path, right=right, wrong=wrong), "right", "wrong")
    rates = {r["model"]: (r["passes"], r["samples"]) for r in report["summary"]}
    assert rates == {"right": (1, 1), "wrong": (0, 1)}
    numbered = "\n".join(f"{n:6}→{line}" for n, line in enumerate(LOADER.splitlines(), 1))
    assert right_read == wrong_read == [(numbered, False)]
    for sample in report["samples"]:
        assert sample["steps"][0]["calls"][0]["source"] == "workspace"
        (run_check,) = sample["ran"]
        assert run_check["sandboxed"] and run_check["check"] == CHECK
        assert run_check["status"] == ("exit 0" if sample["model"] == "right" else "exit 1")


def test_a_second_replay_on_a_lake_reuses_the_run_checks_verdicts(
    task: str, cli: Cli, tmp_path: Path
) -> None:
    read: list[tuple[str, bool]] = []
    with serving(reads_then_writes(CAREFUL, read)) as right:
        config_file = models(tmp_path, right=right)
        flagged = kept_verdicts()  # the bad and the good answer, judged by flag
        first = replay(cli, config_file, "right")
        kept = kept_verdicts()
        second = replay(cli, config_file, "right")
    assert len(flagged) == 2 and len(kept) == 3  # the replayed answer's verdict was kept
    assert first["run"]["id"] != second["run"]["id"]
    assert [s["outcome"] for s in second["samples"]] == ["pass"]
    assert list(ran(second["run"]["id"]).values()) == list(ran(first["run"]["id"]).values())
    assert kept_verdicts() == kept  # nothing judged anew, nothing written


def test_recheck_on_a_lake_runs_the_test_again_only_when_told(
    task: str, cli: Cli, tmp_path: Path
) -> None:
    with serving(reads_then_writes(CAREFUL, [])) as right:
        run = replay(cli, models(tmp_path, right=right), "right")["run"]["id"]
    replayed = ran(run)
    again = cli.json("recheck", run)
    assert again["run"]["evaluation"] == 1 and ran(run) == replayed
    anew = cli.json("recheck", run, "--no-cache")
    assert anew["run"]["evaluation"] == 2
    assert [s["outcome"] for s in anew["samples"]] == ["pass"]
    (rerun,) = ran(run).values()
    (before,) = replayed.values()
    assert rerun["status"] == "exit 0" and rerun["output"] != before["output"]


# --- export, import ---------------------------------------------------------------------------


def test_a_task_exported_from_a_lake_brings_its_workspace_into_another(
    task: str, cli: Cli, tmp_path: Path, postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "bench"
    cli("export", task, "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == [f"{task}.json", f"{task}.workspace.tar.zst"]
    database = f"lake{os.getpid()}_imported"
    data = tmp_path / "other-lake-data"
    postgres.create_lake(database, data)
    other = postgres.url(database)
    monkeypatch.setenv("REDLINE_LAKE_DATA", str(data))
    try:
        cli("import", str(out), "--db", other)
        shown = cli.json("task", "show", task, "--db", other)
    finally:
        postgres.sql(f'DROP DATABASE "{database}" WITH (FORCE)')
    assert shown["workspace"]["files"] == 3
    (bad,), (fine,) = shown["verdicts"]["output"], shown["verdicts"]["good_output"]
    assert not bad["passed"] and "FileNotFoundError not raised" in bad["findings"][0]["snippet"]
    assert fine["passed"]


# --- store push ------------------------------------------------------------------------------


def test_a_task_pushed_from_a_file_brings_its_workspace_and_its_run_verdicts(
    fake_anthropic: FakeAnthropic,
    anthropic_proxy: ThreadedProxy,
    db_path: Path,
    lake: LakeSetup,
    cli: Cli,
    good: Path,
    repo: Path,
) -> None:
    """Flagged in a personal store (a file), then pushed: the lake's `task show` finds the
    workspace and the verdicts of the project's test, which it does not run again."""
    head = make_repo(repo)
    claude_code_wrote(fake_anthropic, anthropic_proxy.url, head, SWALLOWING)
    anthropic_proxy.flush()
    personal = ("--db", str(db_path))
    (conversation,) = cli.json("ls", *personal)["conversations"]
    (call,) = cli.json("ls", conversation["id"], *personal)["calls"]
    flag = ("flag", call["id"], "-c", CHECK, "--workspace", str(repo), "--good", str(good))
    cli(*flag, "--name", TASK, *personal)
    here = cli.json("task", "show", TASK, *personal)
    cli("store", "push", *personal, "--to", lake.url)
    there = cli.json("task", "show", TASK)
    assert there["workspace"] == here["workspace"] and there["workspace"]["files"] == 3
    assert there["verdicts"] == here["verdicts"]  # the same stamps: not run again
    assert len(kept_verdicts()) == 2


# --- draft ----------------------------------------------------------------------------------


def test_draft_on_a_lake_proves_a_run_check_in_the_workspace_and_flag_uses_it(
    bad_call: str,
    good: Path,
    repo: Path,
    lake: LakeSetup,
    fake_openai: FakeOpenAI,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    fake_openai.script.append(drafting.run_answer(drafting.RUNS_THE_TESTS))
    drafter = f"openai-chat:fake-drafter@{fake_openai.url}/v1"  # type: ignore[attr-defined]
    out = cli(
        "draft", bad_call, "--note", drafting.RUN_NOTE, "--model", drafter,
        "--workspace", str(repo), "--good", str(good), "--db", lake.url,
    ).output  # fmt: skip
    assert f"attempt 1: holds: {drafting.RUNS_THE_TESTS}" in out
    agents = {c["user_agent"].split("/")[0] for c in cli.json("ls")["conversations"]}
    assert agents == {"claude-cli", "redline-draft"}  # the drafting call recorded into the lake
    (line,) = [line for line in out.splitlines() if line.startswith("use it:  ")]
    flag = shlex.split(line.removeprefix("use it:  "))
    assert flag[:3] == ["redline", "flag", bad_call]
    flagged = cli.json(*flag[1:], "--name", "drafted", "--db", lake.url)
    assert flagged["saved"] and flagged["workspace"]["files"] == 3
    assert [t["name"] for t in cli.json("tasks")["tasks"]] == ["drafted"]
