"""A task's workspace travels with its task file: `redline export` writes the archive beside it
(secrets in text files masked, the count reported), `redline import` checks it whole, and a
refused archive means nothing is imported."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts import materialize, open_store
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
from tests.test_workspace_archive import OPENAI_KEY, archive_of, manifest_of
from tests.test_workspace_snapshot import git, make_repo

CONFIG = "def path():\n    return 'config.json'\n"


@pytest.fixture
def flagged(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, tmp_path: Path
) -> Path:
    """A task `t` whose workspace holds text, a binary file, an executable and a link, with a
    transcript edit applied; returns the repository."""
    repo = make_repo(
        tmp_path / "app",
        {"config.py": CONFIG, "img.png": b"\x89PNG\0\1\2", "bin/run": "#!/bin/sh\necho hi\n"},
    )
    (repo / "bin/run").chmod(0o755)
    os.symlink("config.py", repo / "main.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "more")
    claude_code_turns(
        fake_anthropic,
        anthropic_proxy.url,
        (
            [edit_block("config.json", "settings.json", f"{repo}/config.py")],
            tool_results("The file has been updated."),
        ),
        ([write_block(SWALLOWING, f"{repo}/loader.py")], tool_results()),
        system=claude_code_system(str(repo), git(repo, "rev-parse", "HEAD")),
    )
    anthropic_proxy.flush()
    call = call_ids(cli)[-1]
    cli("flag", call, "-c", "broad-except", "--name", "t", "--workspace", str(repo))
    return repo


def files_of(name: str, db: Path, out: Path) -> dict[str, bytes]:
    """The task's stored workspace written out, as {path: bytes} (links as their target)."""
    with open_store(db) as store:
        workspace = store.workspace(name)
        assert workspace is not None
        materialize(workspace, store.workspace_file, out)
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_symlink():
            found[path.relative_to(out).as_posix()] = os.readlink(path).encode()
        elif path.is_file():
            found[path.relative_to(out).as_posix()] = path.read_bytes()
    return found


def test_export_writes_the_archive_beside_the_task_file_with_its_hash(
    flagged: Path, cli: Cli, tmp_path: Path
) -> None:
    out = cli("export", "--out", str(tmp_path / "bench")).stdout
    assert "wrote 1 task file and 1 workspace archive to" in out
    archive = tmp_path / "bench/t.workspace.tar.zst"
    document = json.loads((tmp_path / "bench/t.json").read_text())
    assert document["workspace"] == {
        "archive": "t.workspace.tar.zst",
        "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
    }


def test_a_round_trip_gives_back_every_file_byte_for_byte(
    flagged: Path, cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    cli("export", "--out", str(tmp_path / "bench"))
    other = tmp_path / "other.duckdb"
    out = cli("import", str(tmp_path / "bench"), "--db", str(other)).stdout
    assert out.strip() == "imported 1 task (1 with a workspace)"
    before = files_of("t", db_path, tmp_path / "before")
    after = files_of("t", other, tmp_path / "after")
    assert after == before
    assert after["config.py"] == CONFIG.replace("config.json", "settings.json").encode()
    assert after["img.png"] == b"\x89PNG\0\1\2" and after["main.py"] == b"config.py"
    assert os.access(tmp_path / "after/bin/run", os.X_OK)
    with open_store(other) as store:
        imported, original = store.workspace("t"), None
    with open_store(db_path) as store:
        original = store.workspace("t")
    assert imported == original


def test_importing_the_same_export_again_changes_nothing(
    flagged: Path, cli: Cli, tmp_path: Path
) -> None:
    cli("export", "--out", str(tmp_path / "bench"))
    out = cli("import", str(tmp_path / "bench")).stdout
    assert out.strip() == "imported 0 tasks; 1 already present, unchanged"


def test_secrets_in_workspace_files_are_masked_on_export_and_counted(
    fake_anthropic: FakeAnthropic,
    anthropic_proxy: ThreadedProxy,
    cli: Cli,
    tmp_path: Path,
) -> None:
    repo = make_repo(
        tmp_path / "app",
        {"settings.py": f"OPENAI_API_KEY = '{OPENAI_KEY}'\n", "config.py": CONFIG},
    )
    claude_code_turns(
        fake_anthropic,
        anthropic_proxy.url,
        ([write_block(SWALLOWING, f"{repo}/loader.py")], tool_results()),
        system=claude_code_system(str(repo), git(repo, "rev-parse", "HEAD")),
    )
    anthropic_proxy.flush()
    cli("flag", call_ids(cli)[-1], "-c", "broad-except", "--name", "t", "--workspace", str(repo))
    out = cli("export", "--out", str(tmp_path / "bench")).stdout
    assert "masked 1 secret in workspace files: settings.py" in out
    other = tmp_path / "other.duckdb"
    cli("import", str(tmp_path / "bench"), "--db", str(other))
    files = files_of("t", other, tmp_path / "after")
    assert OPENAI_KEY not in files["settings.py"].decode()
    assert "[masked:" in files["settings.py"].decode()
    assert files["config.py"] == CONFIG.encode()


def test_task_files_without_a_workspace_still_import(cli: Cli) -> None:
    assert "imported 3 tasks" in cli("import", "--examples").stdout
    assert cli.json("task", "show", cli.json("tasks")["tasks"][0]["name"])["workspace"] is None


# --- refused: one line, exit 2, nothing imported ------------------------------------------------


@pytest.fixture
def exported(flagged: Path, cli: Cli, tmp_path: Path) -> Path:
    """Two exported tasks, `t` with a workspace and `u` without; then a fresh store."""
    cli("flag", call_ids(cli)[-1], "-c", "broad-except", "--name", "u", "--drop-last", "2")
    bench = tmp_path / "bench"
    cli("export", "--out", str(bench))
    cli("task", "rm", "t")
    cli("task", "rm", "u")
    return bench


def refused(cli: Cli, bench: Path) -> str:
    result = cli("import", str(bench), expect=2)
    assert cli.json("tasks")["tasks"] == []
    (line,) = result.stderr.strip().splitlines()
    return str(line)


def task_file(bench: Path) -> dict[str, Any]:
    return dict(json.loads((bench / "t.json").read_text()))


def rewrite(bench: Path, archive: bytes, name: str = "t.workspace.tar.zst") -> None:
    """Put `archive` beside the task file, listed with its own hash (a consistent forgery)."""
    (bench / name).write_bytes(archive)
    document = task_file(bench)
    document["workspace"] = {"archive": name, "sha256": hashlib.sha256(archive).hexdigest()}
    (bench / "t.json").write_text(json.dumps(document))


def test_an_archive_whose_hash_is_not_the_listed_one_is_refused(cli: Cli, exported: Path) -> None:
    archive = exported / "t.workspace.tar.zst"
    archive.write_bytes(archive.read_bytes()[:-1] + b"\0")
    assert "its hash is" in refused(cli, exported)


def test_a_truncated_archive_is_refused(cli: Cli, exported: Path) -> None:
    data = (exported / "t.workspace.tar.zst").read_bytes()
    rewrite(exported, data[: len(data) // 2])
    assert "it is truncated" in refused(cli, exported)


def test_an_archive_with_a_path_that_climbs_out_is_refused(cli: Cli, exported: Path) -> None:
    evil = archive_of([("files/../../evil.py", b"owned")], manifest_of({}))
    rewrite(exported, evil)
    assert "escapes the archive" in refused(cli, exported)
    assert not (exported.parent / "evil.py").exists()


def test_an_archive_with_an_absolute_path_is_refused(cli: Cli, exported: Path) -> None:
    rewrite(exported, archive_of([("/tmp/evil.py", b"owned")], manifest_of({})))
    assert "escapes the archive" in refused(cli, exported)


def test_an_archive_with_a_link_out_of_the_tree_is_refused(cli: Cli, exported: Path) -> None:
    import tarfile

    link = tarfile.TarInfo("files/home")
    link.type, link.linkname = tarfile.SYMTYPE, "../../.."
    manifest = manifest_of({})
    manifest["files"] = [
        {"path": "home", "sha256": hashlib.sha256(b"../../..").hexdigest(), "size": 8, "link": True}
    ]
    rewrite(exported, archive_of([link], manifest))
    assert "the link home points out of the workspace" in refused(cli, exported)


def test_a_missing_archive_is_refused(cli: Cli, exported: Path) -> None:
    (exported / "t.workspace.tar.zst").unlink()
    line = refused(cli, exported)
    assert "lists the workspace archive 't.workspace.tar.zst', which is not a file beside it" in (
        line
    )


@pytest.mark.parametrize("name", ["../t.workspace.tar.zst", "/etc/passwd", ".hidden"])
def test_a_task_file_naming_an_archive_elsewhere_is_refused(
    cli: Cli, exported: Path, name: str
) -> None:
    document = task_file(exported)
    document["workspace"]["archive"] = name
    (exported / "t.json").write_text(json.dumps(document))
    assert "workspace.archive" in refused(cli, exported)


def test_an_archive_larger_than_any_workspace_is_refused_unread(
    cli: Cli, exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redline.transcripts import workspace_archive

    monkeypatch.setattr(workspace_archive, "UNPACKED_CAP", 100)
    assert "larger" in refused(cli, exported)
