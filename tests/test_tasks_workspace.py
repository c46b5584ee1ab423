"""`redline flag --workspace`: a task keeps the files its model saw at the cut (the repository
at the session's commit, then the transcript's own edits), and `task show` says what it holds.

Sessions are Claude Code-shaped, recorded through the real proxy; the repositories are real git
repositories made here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts import open_store
from tests.agents import (
    SWALLOWING,
    call_ids,
    claude_code_system,
    claude_code_turns,
    edit_block,
    tool_results,
    write_block,
)
from tests.fakes.anthropic import FakeAnthropic
from tests.support import Cli
from tests.test_workspace_snapshot import commit, git, make_repo

CONFIG = "import json\n\n\ndef path():\n    return 'config.json'\n"
EDITED = "import json\n\n\ndef path():\n    return 'settings.json'\n"
LATER = "import json\n\n\ndef path():\n    return 'later.json'\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "app", {"config.py": CONFIG, "README.md": "the app\n"})


def session(
    fake: FakeAnthropic,
    proxy: ThreadedProxy,
    cli: Cli,
    repo: Path,
    *,
    head: str | None = None,
    edit: tuple[str, str] = ("config.json", "settings.json"),
    status: tuple[str, ...] = (),
) -> str:
    """Claude Code in `repo` (started at `head`, default HEAD): it edits config.py (the edit
    succeeds), then writes a loader that swallows every error: the call returned."""
    cwd = str(repo)
    started = head or git(repo, "rev-parse", "HEAD")
    claude_code_turns(
        fake,
        proxy.url,
        ([edit_block(*edit, path=f"{cwd}/config.py")], tool_results("The file has been updated.")),
        ([write_block(SWALLOWING, f"{cwd}/loader.py")], tool_results()),
        system=claude_code_system(cwd, started, status),
    )
    proxy.flush()
    return call_ids(cli)[-1]


def stored(name: str) -> tuple[Any, dict[str, bytes]]:
    """A task's stored workspace, and its files' contents by path."""
    with open_store() as store:
        workspace = store.workspace(name)
        assert workspace is not None
        contents = store.workspace_files([f.sha256 for f in workspace.files])
    return workspace, {f.path: contents[f.sha256] for f in workspace.files}


def test_the_workspace_is_the_sessions_commit_with_the_transcripts_edits(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    commit(repo, {"config.py": LATER, "new.py": "x = 1\n"}, "after the session")
    out = cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo)).stdout
    assert (
        f"workspace: commit {first[:12]} of {repo} (the commit the session started at); 2 files"
        in out
    )
    assert "with 1 edit the transcript made" in out
    workspace, files = stored("t")
    assert workspace.kind == "git" and workspace.revision == first and workspace.edits == 1
    assert files == {"README.md": b"the app\n", "config.py": EDITED.encode()}


def test_the_known_bad_answer_is_not_in_the_workspace(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo))
    _, files = stored("t")
    assert "loader.py" not in files  # what the model wrote at the cut is the answer judged


def test_rev_takes_the_commit_asked_for(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    second = commit(repo, {"config.py": CONFIG + "# two\n"}, "second")
    call = session(fake_anthropic, anthropic_proxy, cli, repo, head=second)
    cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo), "--rev", first)
    workspace, files = stored("t")
    assert workspace.revision == first
    assert files["config.py"] == EDITED.encode()


def test_a_commit_the_repository_lacks_falls_back_to_head_with_a_warning(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo, head="abcdef1")
    result = cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo))
    assert "(HEAD)" in result.stdout
    assert "session started at commit abcdef1, which this repository does not have" in (
        result.stderr
    )
    workspace, _ = stored("t")
    assert workspace.revision == git(repo, "rev-parse", "HEAD")


def test_uncommitted_changes_at_the_start_are_named(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo, status=("M README.md",))
    result = cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo))
    assert "the session started with uncommitted changes (M README.md)" in result.stderr


def test_an_edit_that_does_not_apply_is_named_and_the_task_still_made(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo, edit=("not there", "x"))
    result = cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo))
    assert "saved task t" in result.stdout
    assert f"an edit the transcript made to {repo}/config.py did not apply (text not found)" in (
        result.stderr
    )
    workspace, files = stored("t")
    assert workspace.edits == 0 and files["config.py"] == CONFIG.encode()
    assert any("did not apply" in w for w in workspace.warnings)


def test_a_folder_that_is_no_repository_is_taken_as_it_is_with_a_warning(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "config.py").write_text(CONFIG)
    call = session(fake_anthropic, anthropic_proxy, cli, folder, head="abcdef1")
    result = cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(folder))
    assert f"workspace: the folder {folder} as it was when taken" in result.stdout
    assert "not a git repository: its files are as they are now" in result.stderr
    workspace, files = stored("t")
    assert workspace.kind == "folder" and files == {"config.py": EDITED.encode()}


def test_files_left_out_are_named_and_include_takes_them_back(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    commit(repo, {".env.example": "TOKEN=\n", "data.bin": b"\0" * (1 << 20 | 1)}, "more")
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    out = cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo)).stdout
    assert "left out: .env.example (may hold secrets (by its name)), data.bin (larger than" in out
    assert "`--include PATTERN` takes a file back" in out
    shown = cli.json("task", "show", "t")["workspace"]
    assert [o["path"] for o in shown["left_out"]] == [".env.example", "data.bin"]
    cli("task", "rm", "t")
    cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo),
        "--include", ".env.example")  # fmt: skip
    _, files = stored("t")
    assert files[".env.example"] == b"TOKEN=\n" and "data.bin" not in files


def test_task_show_says_where_the_workspace_came_from(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo))
    out = cli("task", "show", "t").stdout
    assert f"workspace: commit {first[:12]} of {repo}; 2 files, " in out
    shown = cli.json("task", "show", "t")["workspace"]
    assert shown["source"] == str(repo) and shown["kind"] == "git"
    assert shown["revision"] == first and shown["files"] == 2 and shown["edits"] == 1
    assert shown["size"] == len("the app\n") + len(EDITED)


def test_a_task_without_a_workspace_shows_none(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    cli("flag", call, "-c", "broad-except", "--name", "t")
    assert cli.json("task", "show", "t")["workspace"] is None
    assert "workspace:" not in cli("task", "show", "t").stdout


def test_flag_json_describes_the_workspace(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    flagged = cli.json("flag", call, "-c", "broad-except", "--workspace", str(repo))
    assert flagged["saved"] is True
    assert flagged["workspace"]["revision"] == git(repo, "rev-parse", "HEAD")


# --- bad input: one line, exit 2, no task ---------------------------------------------------------


def refused(cli: Cli, call: str, *args: str) -> str:
    result = cli("flag", call, "-c", "broad-except", "--name", "t", *args, expect=2)
    assert cli.json("tasks")["tasks"] == []
    (line,) = result.stderr.strip().splitlines()
    return str(line)


def test_a_workspace_that_does_not_exist_is_refused(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    line = refused(cli, call, "--workspace", str(repo / "missing"))
    assert line == f"error: no folder at {repo / 'missing'}"


def test_a_file_is_not_a_workspace(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    assert "no folder at" in refused(cli, call, "--workspace", str(repo / "config.py"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_workspace_is_refused(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    repo.chmod(0)
    try:
        assert "cannot read the folder" in refused(cli, call, "--workspace", str(repo))
    finally:
        repo.chmod(0o755)


def test_an_unknown_rev_is_refused(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    line = refused(cli, call, "--workspace", str(repo), "--rev", "no-such-branch")
    assert line == f"error: {repo} has no commit 'no-such-branch'"


def test_rev_and_include_need_a_workspace(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, repo: Path
) -> None:
    call = session(fake_anthropic, anthropic_proxy, cli, repo)
    assert "give --workspace" in refused(cli, call, "--rev", "HEAD")
    assert "give --workspace" in refused(cli, call, "--include", "*.env")
