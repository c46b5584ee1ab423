"""Replay's answers from a task's workspace: reads, listings, searches, commands in the sandbox
and edits, each on a private copy of the files as they were at the cut, in the agent's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.proxy import ThreadedProxy
from redline.replay import workspace_answers
from redline.replay.workspace_answers import Served, WorkspaceCopies, WorkspaceSource
from redline.transcripts import ToolCall, agents, open_store, snapshot
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

CWD = "/home/dev/app"
APP = "def main():\n    return load()\n\n\ndef load():\n    return {}\n"


@pytest.fixture
def copies(tmp_path: Path) -> Iterator[WorkspaceCopies]:
    repo = make_repo(
        tmp_path / "app",
        {"src/app.py": APP, "src/util.py": "X = 1\n", "README.md": "the app\n", "logo.png": b"\0"},
    )
    taken = snapshot(repo)
    with WorkspaceCopies(taken.workspace, taken.blobs.__getitem__) as made:
        yield made


def source_of(copies: WorkspaceCopies, agent: str = "claude-code", **kw: object) -> WorkspaceSource:
    return WorkspaceSource(copies.copy(), agents.get(agent), CWD, **kw)  # type: ignore[arg-type]


def ask(source: WorkspaceSource, tool: str, **arguments: object) -> Served:
    call = ToolCall("c1", tool, json.dumps(arguments))
    served = source.answer(call, agents.tool_use(call))
    assert served is not None and served.source == "workspace"
    return served


def text(served: Served) -> str:
    assert isinstance(served.content, str)
    return served.content


# --- reads ------------------------------------------------------------------------------------


def test_a_read_gets_the_file_as_claude_codes_read_shows_it(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "Read", file_path=f"{CWD}/src/app.py")
    assert not served.is_error
    assert text(served).split("\n")[:2] == ["     1→def main():", "     2→    return load()"]


def test_a_read_from_an_offset_for_a_number_of_lines(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "Read", file_path=f"{CWD}/src/app.py", offset=5, limit=2)
    assert text(served) == "     5→def load():\n     6→    return {}"


def test_a_relative_path_is_read_from_the_working_directory(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies, "chat"), "read_file", path="src/util.py")
    assert text(served) == "X = 1\n"


def test_a_missing_file_is_an_error_in_the_agents_words(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "Read", file_path=f"{CWD}/src/nope.py")
    assert served.is_error
    assert (
        text(served) == f"<tool_use_error>File does not exist: {CWD}/src/nope.py</tool_use_error>"
    )


@pytest.mark.parametrize("path", ["/etc/passwd", f"{CWD}/../../../etc/passwd", "../secret.py"])
def test_a_path_outside_the_workspace_is_refused_never_read(
    copies: WorkspaceCopies, path: str
) -> None:
    served = ask(source_of(copies), "Read", file_path=path)
    assert served.is_error and "cannot be read: outside" in text(served)
    assert "root:" not in text(served)


def test_a_link_out_of_the_copy_is_not_followed(copies: WorkspaceCopies, tmp_path: Path) -> None:
    source = source_of(copies)
    (tmp_path / "outside.txt").write_text("host secret\n")
    (source.root / "escape.txt").symlink_to(tmp_path / "outside.txt")
    served = ask(source, "Read", file_path=f"{CWD}/escape.txt")
    assert served.is_error and "through a link" in text(served)


def test_a_binary_file_or_a_folder_is_not_read_as_text(copies: WorkspaceCopies) -> None:
    source = source_of(copies)
    assert "is a binary file" in text(ask(source, "Read", file_path=f"{CWD}/logo.png"))
    assert "is a folder" in text(ask(source, "Read", file_path=f"{CWD}/src"))


# --- listings and searches ----------------------------------------------------------------------


def test_a_glob_lists_matching_files_under_the_working_directory(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "Glob", pattern="**/*.py")
    assert text(served) == f"{CWD}/src/app.py\n{CWD}/src/util.py\n"
    top = ask(source_of(copies), "Glob", pattern="*.md")
    assert text(top) == f"{CWD}/README.md\n"


def test_a_listing_of_a_folder_names_its_files(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "LS", path=f"{CWD}/src")
    assert text(served) == f"{CWD}/src/app.py\n{CWD}/src/util.py\n"


def test_a_search_gives_each_matching_line_with_its_number(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "Grep", pattern=r"return \w+\(", path=f"{CWD}/src")
    assert text(served) == f"{CWD}/src/app.py:2:    return load()\n"
    assert text(ask(source_of(copies), "Grep", pattern="nowhere")) == "No matches found"


def test_a_bad_regex_is_an_error(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "Grep", pattern="(unclosed")
    assert served.is_error and "not a regular expression" in text(served)


def test_a_pattern_that_backtracks_forever_is_stopped_at_its_time_limit(
    copies: WorkspaceCopies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_answers, "SEARCH_SECONDS", 0.2)
    source = source_of(copies)
    (source.root / "as.txt").write_text("a" * 40 + "\n")
    served = ask(source, "Grep", pattern="(?:(?:a|a)+)+b")
    assert served.is_error and "took longer than 0.2 s" in text(served)


def test_a_search_gives_at_most_its_cap_of_lines(copies: WorkspaceCopies) -> None:
    source = source_of(copies)
    (source.root / "many.txt").write_text("hit\n" * (workspace_answers.MAX_MATCHES + 50))
    lines = text(ask(source, "Grep", pattern="hit")).splitlines()
    assert len(lines) == workspace_answers.MAX_MATCHES + 1
    assert lines[-1].startswith("[redline: more than")


# --- commands in the sandbox ----------------------------------------------------------------------


def test_a_command_runs_in_the_sandbox_at_the_recorded_working_directory(
    copies: WorkspaceCopies,
) -> None:
    served = ask(source_of(copies), "Bash", command="pwd && head -n 1 src/app.py")
    assert text(served) == f"{CWD}\ndef main():\n"
    assert not served.is_error and served.note == "exit 0"


def test_a_failing_command_says_its_exit_status_in_codexs_shape(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies, "codex"), "exec_command", cmd="echo no; exit 3", workdir=CWD)
    assert text(served) == "Process exited with code 3\nOutput:\nno\n"
    assert served.is_error


def test_what_a_command_writes_the_next_read_sees(copies: WorkspaceCopies) -> None:
    source = source_of(copies)
    ask(source, "Bash", command="echo 'Y = 2' > src/util.py")
    assert text(ask(source, "Read", file_path=f"{CWD}/src/util.py")) == "     1→Y = 2"


def test_a_command_reaches_nothing_outside_the_copy(copies: WorkspaceCopies) -> None:
    served = ask(source_of(copies), "Bash", command="ls /root /work 2>&1; echo x > /etc/owned")
    assert "No such file or directory" in text(served)
    assert not Path("/etc/owned").exists()


def test_a_command_past_its_time_limit_is_killed_and_says_so(copies: WorkspaceCopies) -> None:
    from redline.analyzers.sandbox import Limits

    source = source_of(copies, limits=Limits(seconds=0.5))
    served = ask(source, "Bash", command="sleep 30")
    assert served.is_error and "killed: ran past the time limit of 0.5 s" in text(served)


def test_without_the_sandbox_a_command_still_runs_and_its_note_says_so(
    copies: WorkspaceCopies,
) -> None:
    served = ask(source_of(copies, sandboxed=False), "Bash", command="head -n 1 src/app.py")
    assert text(served) == "def main():\n"
    assert served.note == "exit 0 (not sandboxed): commands are not sandboxed"


def test_a_read_through_a_shell_command_is_the_commands_own_output(
    copies: WorkspaceCopies,
) -> None:
    served = ask(source_of(copies, "codex"), "exec_command", cmd="nl -ba src/util.py", workdir=CWD)
    assert text(served) == "Process exited with code 0\nOutput:\n     1\tX = 1\n"


# --- edits --------------------------------------------------------------------------------------


def test_an_edit_changes_the_copy_and_the_next_read_sees_it(copies: WorkspaceCopies) -> None:
    source = source_of(copies)
    path = f"{CWD}/src/util.py"
    served = ask(source, "Edit", file_path=path, old_string="X = 1", new_string="X = 2")
    assert text(served) == f"The file {path} has been updated successfully."
    assert text(ask(source, "Read", file_path=path)) == "     1→X = 2"


def test_a_write_of_a_new_file_says_it_was_created(copies: WorkspaceCopies) -> None:
    source = source_of(copies)
    served = ask(source, "Write", file_path=f"{CWD}/new.py", content="N = 0\n")
    assert text(served) == f"File created successfully at: {CWD}/new.py"
    assert (source.root / "new.py").read_text() == "N = 0\n"


def test_an_edit_that_does_not_apply_is_an_error_result_and_changes_nothing(
    copies: WorkspaceCopies,
) -> None:
    source = source_of(copies)
    path = f"{CWD}/src/util.py"
    served = ask(source, "Edit", file_path=path, old_string="Z = 9", new_string="Z = 0")
    assert served.is_error
    assert text(served) == (
        f"<tool_use_error>the edit was not applied ({path}: text not found)</tool_use_error>"
    )
    assert (source.root / "src/util.py").read_text() == "X = 1\n"


def test_a_call_whose_second_edit_fails_applies_none(copies: WorkspaceCopies) -> None:
    source = source_of(copies)
    edits = [
        {"old_string": "X = 1", "new_string": "X = 2"},
        {"old_string": "missing", "new_string": "y"},
    ]
    served = ask(source, "MultiEdit", file_path=f"{CWD}/src/util.py", edits=edits)
    assert served.is_error
    assert (source.root / "src/util.py").read_text() == "X = 1\n"


def test_codexs_patch_through_its_shell_is_applied_and_answered_as_codex_does(
    copies: WorkspaceCopies,
) -> None:
    source = source_of(copies, "codex")
    patch = (
        "*** Begin Patch\n*** Update File: src/util.py\n@@\n-X = 1\n+X = 3\n"
        "*** Add File: src/new.py\n+N = 1\n*** End Patch"
    )
    served = ask(source, "exec_command", cmd=f"apply_patch <<'EOF'\n{patch}\nEOF\n", workdir=CWD)
    assert text(served) == (
        "Process exited with code 0\nOutput:\n"
        "Success. Updated the following files:\nM src/util.py\nA src/new.py\n"
    )
    assert (source.root / "src/util.py").read_text() == "X = 3\n"


def test_an_edit_outside_the_workspace_is_refused(copies: WorkspaceCopies, tmp_path: Path) -> None:
    served = ask(source_of(copies), "Write", file_path="/etc/owned.py", content="x")
    assert served.is_error and "outside the working directory" in text(served)
    assert not Path("/etc/owned.py").exists()


# --- copies, and what the source leaves to others --------------------------------------------------


def test_each_sample_has_its_own_copy(copies: WorkspaceCopies) -> None:
    first, second = source_of(copies), source_of(copies)
    ask(first, "Write", file_path=f"{CWD}/src/util.py", content="X = 100\n")
    assert text(ask(second, "Read", file_path=f"{CWD}/src/util.py")) == "     1→X = 1"


def test_closing_removes_every_copy(tmp_path: Path) -> None:
    taken = snapshot(make_repo(tmp_path / "app", {"a.py": "1\n"}))
    with WorkspaceCopies(taken.workspace, taken.blobs.__getitem__) as made:
        copy = made.copy()
    assert not copy.exists()


def test_a_call_the_workspace_cannot_answer_is_left_to_the_next_source(
    copies: WorkspaceCopies,
) -> None:
    call = ToolCall("c1", "WebFetch", json.dumps({"url": "https://example.com"}))
    assert source_of(copies).answer(call, agents.tool_use(call)) is None


# --- a task flagged with its workspace, through the real proxy ------------------------------------


def test_a_flagged_tasks_reads_are_answered_from_the_repo_as_it_was_at_the_cut(
    fake_anthropic: FakeAnthropic,
    anthropic_proxy: ThreadedProxy,
    cli: Cli,
    tmp_path: Path,
) -> None:
    """Claude Code read and edited config.py, then went wrong; after the session the repository
    moved on. A replay reading config.py gets it as the model saw it at the cut."""
    repo = make_repo(tmp_path / "app", {"config.py": "PATH = 'config.json'\n"})
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
    call = call_ids(cli)[-1]
    cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", cwd)
    commit(repo, {"config.py": "PATH = 'changed later'\n"}, "after the session")
    with open_store() as store:
        task = store.task("t")
        workspace = store.workspace("t")
        assert workspace is not None
        contents = store.workspace_files([f.sha256 for f in workspace.files])
    start = agents.session_start(task.request)
    assert start is not None and start.cwd == cwd
    with WorkspaceCopies(workspace, contents.__getitem__) as made:
        source = WorkspaceSource(made.copy(), agents.identify(task.request), start.cwd)
        read = ask(source, "Read", file_path=f"{cwd}/config.py")
        ran = ask(source, "Bash", command="cat config.py; ls")
    assert text(read) == "     1→PATH = 'settings.json'"
    assert text(ran) == "PATH = 'settings.json'\nconfig.py\n"
