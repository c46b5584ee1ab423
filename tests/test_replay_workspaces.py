"""A replay's tasks with workspaces: a Claude Code task's replayed reads, listings, searches and
commands answered from the repository as it was at the cut; its files written once per run, a
copy per sample that writes; the run records whether commands ran sandboxed; `--no-sandbox`
says what it means."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redline.proxy import ThreadedProxy
from redline.replay import WorkspaceCopies
from redline.replay.workspace_answers import TaskWorkspaces
from redline.transcripts import (
    ToolCall,
    agents,
    example_files,
    open_store,
    read_task_file,
    snapshot,
)
from tests.agents import (
    SWALLOWING,
    call_ids,
    claude_code_system,
    claude_code_turns,
    edit_block,
    tool_results,
    write_block,
)
from tests.fakes.agentic import AgenticAnthropic, Call, Say, Seen, seen_anthropic
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import serving
from tests.fakes.flaky import RuleAwareModel
from tests.support import Cli
from tests.test_workspace_snapshot import commit, git, make_repo

TASK = "claude-code-swallows-config-errors"


@pytest.fixture
def with_workspace(cli: Cli, tmp_path: Path) -> str:
    """The example tasks, one of them given a workspace."""
    cli("import", "--examples")
    taken = snapshot(make_repo(tmp_path / "app", {"config.py": "PATH = 'config.json'\n"}))
    with open_store() as store:
        store.put_workspace(TASK, taken.workspace, taken.blobs)
    return TASK


@pytest.fixture
def model_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FAKE_KEY", "sk-test-fake-key-0123456789")
    with serving(RuleAwareModel()) as fake:
        config = tmp_path / "redline.toml"
        config.write_text(
            f'[models.m]\nbase_url = "{fake.url}/v1"\nwire = "openai-chat"\nmodel = "m"\n'
            'api_key_env = "FAKE_KEY"\n'
        )
        yield config


def run_tasks(report: dict[str, Any]) -> dict[str, Any]:
    return {t["name"]: t["workspace"] for t in report["tasks"]}


def test_the_run_records_each_tasks_workspace_and_that_its_commands_are_sandboxed(
    cli: Cli, with_workspace: str, model_config: Path
) -> None:
    result = cli("replay", "--config", str(model_config), "-m", "m", "-n", "1", "--json")
    assert "--no-sandbox" not in result.stderr
    with open_store() as store:
        workspace = store.workspace(with_workspace)
    recorded = run_tasks(json.loads(result.stdout))
    assert workspace is not None
    assert recorded[with_workspace] == {"id": workspace.id, "sandboxed": True}
    assert recorded["aider-swallows-config-errors"] is None


def test_no_sandbox_says_what_it_means_and_the_run_records_it(
    cli: Cli, with_workspace: str, model_config: Path
) -> None:
    args = ("replay", "--config", str(model_config), "-m", "m", "-n", "1", "--no-sandbox")
    result = cli(*args, "--json")
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "warning: --no-sandbox: the commands replayed models ask for, and the code checks run, "
        "run on this machine as you"
    )
    assert "with your files, your network and your credentials within reach" in line
    assert run_tasks(json.loads(result.stdout))[with_workspace]["sandboxed"] is False


def test_where_the_sandbox_cannot_start_a_replay_of_a_workspace_is_refused(
    cli: Cli, with_workspace: str, model_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redline.analyzers import _sandbox_bwrap

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(_sandbox_bwrap, "_wheel", lambda: None)
    _sandbox_bwrap.locate.cache_clear()
    try:
        args = ("replay", "--config", str(model_config), "-m", "m", "-n", "1")
        result = cli(*args, expect=2)
        assert "--no-sandbox" in result.stderr and "bubblewrap" in result.stderr
        assert cli.json("runs")["runs"] == []
        cli(*args, "--no-sandbox")
    finally:
        _sandbox_bwrap.locate.cache_clear()


# --- the run's workspaces, per sample -------------------------------------------------------------


def read(source: Any, path: str) -> str:
    call = ToolCall("r", "Read", json.dumps({"file_path": path}))
    served = source.answer(call, agents.tool_use(call))
    assert served is not None and isinstance(served.content, str)
    return served.content


def edit(source: Any, path: str) -> None:
    call = ToolCall("e", "Write", json.dumps({"file_path": path, "content": "changed\n"}))
    served = source.answer(call, agents.tool_use(call))
    assert served is not None and not served.is_error, served


def test_a_sample_reads_the_shared_files_until_it_writes_then_works_on_its_own_copy(
    with_workspace: str,
) -> None:
    task = read_task_file(next(p for p in example_files() if p.stem == TASK))
    start = agents.session_start(task.request)
    path = f"{start.cwd}/config.py" if start and start.cwd else "config.py"
    with open_store() as store:
        workspaces = TaskWorkspaces.load(store, [task])
    with workspaces:
        first, second = workspaces.source(task), workspaces.source(task)
        assert first is not None and second is not None
        shared = first.root
        assert second.root == shared and first.copied is None  # reads need no copy
        edit(first, path)
        assert first.copied is not None and first.root == first.copied != shared
        assert read(first, path) == "     1→changed"
        assert read(second, path) == "     1→PATH = 'config.json'"  # the shared files untouched
        workspaces.release(first)
        assert not first.copied.exists() and shared.exists()
    assert not shared.exists()


def test_a_task_without_a_workspace_gets_no_source(cli: Cli, with_workspace: str) -> None:
    other = read_task_file(next(p for p in example_files() if p.stem != TASK))
    with open_store() as store, TaskWorkspaces.load(store, [other]) as workspaces:
        assert workspaces.source(other) is None and other.name not in workspaces


def test_copies_are_checked_against_their_hashes(tmp_path: Path) -> None:
    from redline.errors import RedlineError

    taken = snapshot(make_repo(tmp_path / "app", {"a.py": "1\n"}))
    with pytest.raises(RedlineError, match="does not match its hash"):
        WorkspaceCopies(taken.workspace, lambda sha: b"forged")


def test_a_copy_a_command_made_hard_to_remove_is_removed(with_workspace: str) -> None:
    task = read_task_file(next(p for p in example_files() if p.stem == TASK))
    with open_store() as store, TaskWorkspaces.load(store, [task]) as workspaces:
        source = workspaces.source(task)
        assert source is not None
        call = ToolCall(
            "c",
            "Bash",
            json.dumps(
                {"command": "mkdir -p locked/in && touch locked/in/f && chmod 0 locked/in locked"}
            ),
        )
        served = source.answer(call, agents.tool_use(call))
        assert served is not None and not served.is_error, served
        assert source.copied is not None and (source.copied / "locked").is_dir()
        workspaces.release(source)
        assert not source.copied.exists()


# --- done when: a Claude Code task flagged with its workspace replays against it -------------------


def test_a_claude_code_task_replays_with_its_reads_answered_from_the_repo_at_the_cut(
    fake_anthropic: FakeAnthropic,
    anthropic_proxy: ThreadedProxy,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claude Code edited config.py, then wrote a loader that swallows errors: flagged with the
    repository. The repository moves on after the session. A replayed model reads config.py,
    lists and searches the files and runs a command before it writes: every answer is the repo
    as it was at the cut (the session's commit and the transcript's edit), not as it is now."""
    monkeypatch.setenv("FAKE_KEY", "sk-test-fake-key-0123456789")
    repo = make_repo(
        tmp_path / "app", {"config.py": "PATH = 'config.json'\n", "util.py": "U = 1\n"}
    )
    cwd = str(repo)
    claude_code_turns(
        fake_anthropic,
        anthropic_proxy.url,
        (
            [edit_block("config.json", "settings.json", f"{cwd}/config.py")],
            tool_results("The file has been updated."),
        ),
        ([write_block(SWALLOWING, f"{cwd}/loader.py")], tool_results()),
        system=claude_code_system(cwd, git(repo, "rev-parse", "HEAD")),
    )
    anthropic_proxy.flush()
    cli("flag", call_ids(cli)[-1], "-c", "broad-except", "--name", "t", "--workspace", cwd)
    commit(repo, {"config.py": "PATH = 'changed later'\n", "new.py": "N = 1\n"}, "moved on")
    looks = [
        Call("Read", {"file_path": f"{cwd}/config.py"}),
        Call("Glob", {"pattern": "*.py"}),
        Call("Grep", {"pattern": "json"}),
        Call("Bash", {"command": "cat config.py && ls"}),
    ]

    def policy(seen: Seen) -> list[Any]:
        if seen.calls == [(c.name, c.arguments) for c in looks]:
            return [
                Say("Now the loader."),
                Call("Write", {"file_path": f"{cwd}/loader.py", "content": SWALLOWING}),
            ]
        return [Say("Let me look first."), *looks]

    with serving(AgenticAnthropic(policy)) as fake:
        fake.api_key = "sk-test-fake-key-0123456789"
        config = tmp_path / "redline.toml"
        config.write_text(
            f'[models.m]\nbase_url = "{fake.url}"\nwire = "anthropic-messages"\nmodel = "m-1"\n'
            'api_key_env = "FAKE_KEY"\n'
        )
        report = json.loads(
            cli("replay", "t", "--config", str(config), "-m", "m", "-n", "1", "--json").stdout
        )
        seen = seen_anthropic(json.loads(fake.received[1].body))
    (sample,) = report["samples"]
    assert sample["outcome"] == "fail" and len(sample["steps"]) == 2
    assert [c["source"] for c in sample["steps"][0]["calls"]] == ["workspace"] * 4
    (read, listed, searched, ran) = seen.results
    assert read == ("     1→PATH = 'settings.json'", False)
    assert listed == (f"{cwd}/config.py\n{cwd}/util.py\n", False)
    assert searched == (f"{cwd}/config.py:1:PATH = 'settings.json'\n", False)
    assert ran == ("PATH = 'settings.json'\nconfig.py\nutil.py\n", False)
