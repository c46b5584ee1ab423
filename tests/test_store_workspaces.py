"""Workspaces in a real DuckDB store: contents stored once and shared, manifests per task."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.errors import NotFound, RedlineError
from redline.transcripts import example_files, materialize, read_task_file, snapshot
from redline.transcripts.store import open_store
from tests.test_workspace_snapshot import commit, make_repo


@pytest.fixture
def tasks(db_path: Path) -> list[str]:
    """Two stored tasks (from the examples redline ships)."""
    loaded = [read_task_file(path) for path in example_files()[:2]]
    with open_store() as store:
        store.save_tasks(loaded)
    return [task.name for task in loaded]


def stored_contents(db_path: Path) -> int:
    with open_store() as store:
        row = store.con.execute("SELECT count(*) FROM workspace_files").fetchone()
    return int(row[0]) if row else 0


def test_a_workspace_put_is_read_back_whole(tasks: list[str], tmp_path: Path) -> None:
    taken = snapshot(make_repo(tmp_path / "app", {"a.py": "x = 1\n", "pkg/b.py": "y = 2\n"}))
    with open_store() as store:
        assert store.put_workspace(tasks[0], taken.workspace, taken.blobs) == 2
    with open_store() as store:
        workspace = store.workspace(tasks[0])
        assert workspace == taken.workspace
        materialize(workspace, store.workspace_file, tmp_path / "out")
    assert (tmp_path / "out/pkg/b.py").read_text() == "y = 2\n"


def test_a_file_two_tasks_hold_is_stored_once(
    tasks: list[str], tmp_path: Path, db_path: Path
) -> None:
    repo = make_repo(tmp_path / "app", {"shared.py": "same\n", "one.py": "1\n"})
    first = snapshot(repo)
    commit(repo, {"one.py": "changed\n"}, "second")
    second = snapshot(repo)
    with open_store() as store:
        assert store.put_workspace(tasks[0], first.workspace, first.blobs) == 2
        assert store.put_workspace(tasks[1], second.workspace, second.blobs) == 1
    assert stored_contents(db_path) == 3


def test_putting_a_workspace_again_replaces_the_tasks_manifest(
    tasks: list[str], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app", {"a.py": "1\n"})
    first = snapshot(repo)
    commit(repo, {"b.py": "2\n"}, "more")
    second = snapshot(repo)
    with open_store() as store:
        store.put_workspace(tasks[0], first.workspace, first.blobs)
        store.put_workspace(tasks[0], second.workspace, second.blobs)
        workspace = store.workspace(tasks[0])
    assert workspace is not None and [f.path for f in workspace.files] == ["a.py", "b.py"]


def test_a_task_without_a_workspace_has_none(tasks: list[str]) -> None:
    with open_store() as store:
        assert store.workspace(tasks[0]) is None


def test_a_workspace_for_a_task_that_is_not_stored_is_refused(
    db_path: Path, tmp_path: Path
) -> None:
    taken = snapshot(make_repo(tmp_path / "app", {"a.py": "1\n"}))
    with open_store() as store, pytest.raises(NotFound):
        store.put_workspace("no-such-task", taken.workspace, taken.blobs)


def test_contents_that_do_not_match_their_hash_are_refused_and_nothing_stored(
    tasks: list[str], tmp_path: Path, db_path: Path
) -> None:
    taken = snapshot(make_repo(tmp_path / "app", {"a.py": "1\n", "b.py": "2\n"}))
    forged = {sha: b"forged" for sha in taken.blobs}
    with open_store() as store, pytest.raises(RedlineError, match="does not match its hash"):
        store.put_workspace(tasks[0], taken.workspace, forged)
    with open_store() as store:
        assert store.workspace(tasks[0]) is None
    assert stored_contents(db_path) == 0


def test_a_missing_content_is_named(tasks: list[str]) -> None:
    with open_store() as store, pytest.raises(NotFound, match="workspace file"):
        store.workspace_file("0" * 64)


def test_deleting_a_task_deletes_its_manifest_and_keeps_the_contents(
    tasks: list[str], tmp_path: Path, db_path: Path
) -> None:
    taken = snapshot(make_repo(tmp_path / "app", {"a.py": "1\n"}))
    with open_store() as store:
        store.put_workspace(tasks[0], taken.workspace, taken.blobs)
        store.delete_task(tasks[0])
        row = store.con.execute("SELECT count(*) FROM task_workspaces").fetchone()
    assert row == (0,)
    assert stored_contents(db_path) == 1
