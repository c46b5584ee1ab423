"""Taking a workspace: a real git repository's tree at a commit, or a plain folder as it is."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from redline.errors import RedlineError
from redline.transcripts import Workspace, snapshot
from redline.transcripts import workspace_snapshot as taking


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, str | bytes]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "Test")
    commit(path, files, "first")
    return path


def commit(repo: Path, files: dict[str, str | bytes], message: str) -> str:
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def paths(workspace: Workspace) -> list[str]:
    return [f.path for f in workspace.files]


def left_out(workspace: Workspace) -> dict[str, str]:
    return {o.path: o.reason for o in workspace.left_out}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "app",
        {"src/app.py": "print('v1')\n", "run.sh": "#!/bin/sh\necho run\n", "README.md": "app\n"},
    )


# --- a git repository ---------------------------------------------------------------------


def test_a_repository_gives_its_head_commits_tree(repo: Path) -> None:
    taken = snapshot(repo)
    workspace = taken.workspace
    assert workspace.kind == "git"
    assert workspace.revision == git(repo, "rev-parse", "HEAD")
    assert paths(workspace) == ["README.md", "run.sh", "src/app.py"]
    app = workspace.file("src/app.py")
    assert app is not None
    assert taken.blobs[app.sha256] == b"print('v1')\n"
    assert app.sha256 == hashlib.sha256(b"print('v1')\n").hexdigest()
    assert workspace.warnings == ()


def test_the_executable_bit_is_kept(repo: Path) -> None:
    (repo / "run.sh").chmod(0o755)
    git(repo, "commit", "-q", "-am", "executable")
    workspace = snapshot(repo).workspace
    assert [f.path for f in workspace.files if f.executable] == ["run.sh"]


def test_an_earlier_revision_gives_that_commits_files(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, {"src/app.py": "print('v2')\n", "new.py": "x = 1\n"}, "second")
    taken = snapshot(repo, rev=first)
    assert taken.workspace.revision == first
    assert "new.py" not in paths(taken.workspace)
    app = taken.workspace.file("src/app.py")
    assert app is not None and taken.blobs[app.sha256] == b"print('v1')\n"


def test_uncommitted_and_untracked_changes_are_not_taken_and_not_touched(repo: Path) -> None:
    (repo / "src/app.py").write_text("print('edited, not committed')\n")
    (repo / "untracked.py").write_text("y = 2\n")
    status = git(repo, "status", "--porcelain")
    index = (repo / ".git/index").stat().st_mtime_ns
    taken = snapshot(repo)
    assert "untracked.py" not in paths(taken.workspace)
    app = taken.workspace.file("src/app.py")
    assert app is not None and taken.blobs[app.sha256] == b"print('v1')\n"
    assert (repo / ".git/index").stat().st_mtime_ns == index
    assert git(repo, "status", "--porcelain") == status
    assert (repo / "src/app.py").read_text() == "print('edited, not committed')\n"


def test_what_gitignore_ignores_is_not_in_the_tree(repo: Path) -> None:
    commit(repo, {".gitignore": "*.log\nbuild/\n"}, "ignore")
    (repo / "debug.log").write_text("noise")
    (repo / "build").mkdir()
    (repo / "build/out.bin").write_bytes(b"\0\1")
    assert paths(snapshot(repo).workspace) == [".gitignore", "README.md", "run.sh", "src/app.py"]


def test_secrets_by_name_are_left_out_with_the_reason(tmp_path: Path) -> None:
    names = [".env", ".env.local", "config/id_rsa", "certs/server.pem", ".npmrc", "tls.key"]
    repo = make_repo(tmp_path / "r", {**dict.fromkeys(names, "secret\n"), "app.py": "x = 1\n"})
    workspace = snapshot(repo).workspace
    assert paths(workspace) == ["app.py"]
    assert set(left_out(workspace)) == set(names)
    assert left_out(workspace)[".env"] == "may hold secrets (by its name)"


def test_include_takes_back_what_a_rule_left_out(tmp_path: Path) -> None:
    big = "x" * (taking.FILE_CAP + 1)
    repo = make_repo(
        tmp_path / "r", {".env.example": "KEY=\n", "data/big.txt": big, "app.py": "x = 1\n"}
    )
    assert paths(snapshot(repo).workspace) == ["app.py"]
    included = snapshot(repo, include=[".env.example", "data/*.txt"]).workspace
    assert paths(included) == [".env.example", "app.py", "data/big.txt"]
    assert included.left_out == ()


def test_a_file_over_the_cap_is_named(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"huge.json": "1" * (taking.FILE_CAP + 1), "a.py": ""})
    assert left_out(snapshot(repo).workspace) == {"huge.json": "larger than 1 MB"}


def test_files_past_the_total_are_left_out_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(taking, "TOTAL_CAP", 25)
    repo = make_repo(tmp_path / "r", {"a.txt": "1" * 10, "b.txt": "2" * 10, "c.txt": "3" * 10})
    workspace = snapshot(repo).workspace
    assert paths(workspace) == ["a.txt", "b.txt"]
    assert list(left_out(workspace)) == ["c.txt"]
    assert left_out(workspace)["c.txt"].startswith("beyond")


def test_links_inside_the_tree_are_kept_and_links_out_are_left_out(repo: Path) -> None:
    os.symlink("src/app.py", repo / "main.py")
    os.symlink("../../etc/passwd", repo / "src/passwd")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    taken = snapshot(repo)
    main = taken.workspace.file("main.py")
    assert main is not None and main.link and taken.blobs[main.sha256] == b"src/app.py"
    assert left_out(taken.workspace) == {"src/passwd": "a link that points out of the workspace"}


def test_a_subfolder_of_a_repository_gives_its_own_files(repo: Path) -> None:
    assert paths(snapshot(repo / "src").workspace) == ["app.py"]


# --- a plain folder -----------------------------------------------------------------------


def test_a_plain_folder_gives_its_files_now_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg/mod.py").write_text("x = 1\n")
    (folder / ".gitignore").write_text("*.tmp\n")
    (folder / "scratch.tmp").write_text("ignored")
    (folder / "pkg/.gitignore").write_text("generated.py\n")
    (folder / "pkg/generated.py").write_text("ignored")
    (folder / "node_modules/left").mkdir(parents=True)
    (folder / "node_modules/left/index.js").write_text("")
    workspace = snapshot(folder).workspace
    assert workspace.kind == "folder" and workspace.revision is None
    assert paths(workspace) == [".gitignore", "pkg/.gitignore", "pkg/mod.py"]
    assert left_out(workspace) == {"node_modules/": "a dependency, cache or git folder"}
    assert "not a git repository" in workspace.warnings[0]
    assert "not as they were at the cut" in workspace.warnings[0]


def test_a_plain_folder_leaves_out_secrets_too(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p/.env").write_text("OPENAI_API_KEY=sk-x\n")
    (tmp_path / "p/a.py").write_text("")
    assert left_out(snapshot(tmp_path / "p").workspace) == {
        ".env": "may hold secrets (by its name)"
    }


# --- bad input ----------------------------------------------------------------------------


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RedlineError, match=r"no folder at .*missing"):
        snapshot(tmp_path / "missing")


def test_a_file_is_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("")
    with pytest.raises(RedlineError, match="no folder at"):
        snapshot(tmp_path / "f.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "closed"
    folder.mkdir(mode=0)
    try:
        with pytest.raises(RedlineError, match="cannot read the folder"):
            snapshot(folder)
    finally:
        folder.chmod(0o700)


def test_an_unknown_revision_is_one_clear_error(repo: Path) -> None:
    with pytest.raises(RedlineError, match="has no commit 'deadbeef'"):
        snapshot(repo, rev="deadbeef")


def test_a_revision_that_looks_like_an_option_is_refused(repo: Path) -> None:
    with pytest.raises(RedlineError, match="not a revision"):
        snapshot(repo, rev="--output=/tmp/x")


def test_a_revision_of_a_plain_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RedlineError, match="not a git repository"):
        snapshot(tmp_path, rev="HEAD")


def test_an_empty_repository_has_no_commit_to_take(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(RedlineError, match="has no commit 'HEAD'"):
        snapshot(tmp_path)


def test_a_plain_folders_links_are_kept_as_links_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not taken")
    folder = tmp_path / "plain"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib/a.py").write_text("x = 1\n")
    (folder / "current").symlink_to("lib")
    (folder / "escape").symlink_to(outside)
    taken = snapshot(folder)
    current = taken.workspace.file("current")
    assert current is not None and current.link and taken.blobs[current.sha256] == b"lib"
    assert paths(taken.workspace) == ["current", "lib/a.py"]
    assert left_out(taken.workspace) == {"escape": "a link that points out of the workspace"}
