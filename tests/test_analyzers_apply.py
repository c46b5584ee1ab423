"""Applying edits to a workspace's copy, and reading from a transcript the edits it made before
its cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redline.analyzers import Edit, apply_edits, transcript_edits
from redline.errors import RedlineError
from redline.transcripts import Message, Request, Text, ToolCall, ToolResult


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    (root / "src").mkdir(parents=True)
    (root / "src/app.py").write_text("def main():\n    return 1\n\n\nmain()\n")
    return root


def replace(path: str, before: str, after: str, **kw: object) -> Edit:
    return Edit(path, before, after, kind="replace", **kw)  # type: ignore[arg-type]


def test_a_replacement_changes_the_file(folder: Path) -> None:
    assert apply_edits([replace("src/app.py", "return 1", "return 2")], folder) == ()
    assert (folder / "src/app.py").read_text() == "def main():\n    return 2\n\n\nmain()\n"


def test_edits_apply_in_order_each_seeing_the_last(folder: Path) -> None:
    edits = [
        Edit("src/new.py", "", "x = 1\n", kind="write"),
        replace("src/new.py", "x = 1", "x = 2"),
        replace("src/new.py", "x = 2", "x = 3"),
    ]
    assert apply_edits(edits, folder) == ()
    assert (folder / "src/new.py").read_text() == "x = 3\n"


def test_text_not_found_is_reported_and_the_rest_still_apply(folder: Path) -> None:
    edits = [replace("src/app.py", "return 99", "return 0"), replace("src/app.py", "main()\n", "")]
    missed = apply_edits(edits, folder)
    assert [(m.path, m.reason) for m in missed] == [("src/app.py", "text not found")]
    assert "main()\n" not in (folder / "src/app.py").read_text().split("\n\n\n")[1]


def test_text_found_twice_is_reported_unless_all_are_replaced(folder: Path) -> None:
    (folder / "twice.py").write_text("a = 1\na = 1\n")
    missed = apply_edits([replace("twice.py", "a = 1", "a = 2")], folder)
    assert [m.reason for m in missed] == ["text found 2 times"]
    assert apply_edits([replace("twice.py", "a = 1", "a = 2", replace_all=True)], folder) == ()
    assert (folder / "twice.py").read_text() == "a = 2\na = 2\n"


def test_an_insertion_at_a_line(folder: Path) -> None:
    edit = Edit("src/app.py", "", "# start\n", kind="insert", start_line=1)
    assert apply_edits([edit], folder) == ()
    assert (folder / "src/app.py").read_text().startswith("# start\ndef main():")


def test_a_deletion_removes_the_file(folder: Path) -> None:
    assert apply_edits([Edit("src/app.py", "", "", kind="delete")], folder) == ()
    assert not (folder / "src/app.py").exists()
    missed = apply_edits([Edit("src/app.py", "", "", kind="delete")], folder)
    assert [m.reason for m in missed] == ["no such file"]


def test_a_lazy_edit_cannot_be_applied(folder: Path) -> None:
    lazy = Edit("src/app.py", "", "def main():\n    # ... existing code ...\n", kind="lazy")
    assert "lazy edit" in apply_edits([lazy], folder)[0].reason


def test_an_edit_cut_off_by_the_outputs_end_is_not_applied(folder: Path) -> None:
    cut = Edit("src/app.py", "", "def main(", kind="write", truncated=True)
    assert apply_edits([cut], folder)[0].reason == "the output was cut off inside this edit"
    assert "return 1" in (folder / "src/app.py").read_text()


def test_absolute_paths_are_placed_by_the_recorded_working_directory(folder: Path) -> None:
    edit = replace("/home/u/app/src/app.py", "return 1", "return 7")
    assert apply_edits([edit], folder, cwd="/home/u/app") == ()
    assert "return 7" in (folder / "src/app.py").read_text()


@pytest.mark.parametrize(
    ("path", "cwd", "reason"),
    [
        ("/etc/passwd", "/home/u/app", "outside the working directory /home/u/app"),
        ("/home/u/application/x.py", "/home/u/app", "outside the working directory /home/u/app"),
        ("/home/u/app/../secret.py", "/home/u/app", "outside the working directory /home/u/app"),
        ("../outside.py", None, "outside the folder"),
        ("src/../../outside.py", None, "outside the folder"),
        ("/home/u/app/x.py", None, "an absolute path, and no working directory to place it"),
    ],
)
def test_a_path_outside_the_folder_is_refused_not_written(
    folder: Path, path: str, cwd: str | None, reason: str
) -> None:
    missed = apply_edits([Edit(path, "", "owned\n", kind="write")], folder, cwd=cwd)
    assert [m.reason for m in missed] == [reason]
    assert not (folder.parent / "outside.py").exists()


def test_a_link_out_of_the_folder_is_not_followed(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "escape").symlink_to(outside)
    missed = apply_edits([Edit("escape/x.py", "", "owned\n", kind="write")], folder)
    assert [m.reason for m in missed] == ["outside the folder (through a link)"]
    assert list(outside.iterdir()) == []


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RedlineError, match="no folder at"):
        apply_edits([], tmp_path / "missing")


# --- the transcript's own edits -----------------------------------------------------------


def call(id_: str, name: str, **arguments: object) -> ToolCall:
    return ToolCall(id_, name, json.dumps(arguments))


def claude_code_transcript() -> Request:
    """A Claude Code session: a Write that succeeded, an Edit that failed, a MultiEdit that
    succeeded, then the user's request at the cut."""
    return Request(
        model="claude",
        messages=(
            Message("user", (Text("make a config loader"),)),
            Message(
                "assistant",
                (call("t1", "Write", file_path="/home/u/app/config.py", content="A = 1\nB = 2\n"),),
            ),
            Message("user", (ToolResult("t1", "File created successfully"),)),
            Message(
                "assistant",
                (
                    call(
                        "t2",
                        "Edit",
                        file_path="/home/u/app/config.py",
                        old_string="Z",
                        new_string="Y",
                    ),
                ),
            ),
            Message(
                "user",
                (
                    ToolResult(
                        "t2", "<tool_use_error>String to replace not found</tool_use_error>", True
                    ),
                ),
            ),
            Message(
                "assistant",
                (
                    call(
                        "t3",
                        "MultiEdit",
                        file_path="/home/u/app/config.py",
                        edits=[
                            {"old_string": "A = 1", "new_string": "A = 10"},
                            {"old_string": "B = 2", "new_string": "B = 20"},
                        ],
                    ),
                ),
            ),
            Message("user", (ToolResult("t3", "Applied 2 edits"),)),
            Message(
                "assistant", (call("t4", "Write", file_path="/home/u/app/never.py", content="x"),)
            ),
            Message("user", (Text("now handle a missing file"),)),
        ),
    )


def test_the_transcripts_successful_edits_are_listed_in_order() -> None:
    edits = transcript_edits(claude_code_transcript())
    assert [(e.kind, e.before, e.after) for e in edits] == [
        ("write", "", "A = 1\nB = 2\n"),
        ("replace", "A = 1", "A = 10"),
        ("replace", "B = 2", "B = 20"),
    ]


def test_the_transcripts_edits_bring_the_copy_to_the_cut(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    edits = transcript_edits(claude_code_transcript())
    assert apply_edits(edits, copy, cwd="/home/u/app") == ()
    assert (copy / "config.py").read_text() == "A = 10\nB = 20\n"
    assert not (copy / "never.py").exists()


def test_a_codex_patch_that_succeeded_is_listed() -> None:
    patch = "*** Begin Patch\n*** Add File: app.py\n+print('hi')\n*** End Patch\n"
    request = Request(
        model="gpt",
        messages=(
            Message("user", (Text("add app.py"),)),
            Message("assistant", (ToolCall("c1", "apply_patch", patch, "custom"),)),
            Message("tool", (ToolResult("c1", "Success. Updated the following files:\nA app.py"),)),
        ),
    )
    edits = transcript_edits(request)
    assert [(e.path, e.kind, e.after) for e in edits] == [("app.py", "write", "print('hi')\n")]
