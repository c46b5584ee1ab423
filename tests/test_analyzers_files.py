"""Files the transcript shows (read results, pasted files, earlier edits) place an output's
edits in their file: file line numbers, and fragments judged in context."""

from __future__ import annotations

import json

from redline.analyzers import Context, Edit
from redline.analyzers._files import Files, View, files_from_request
from redline.transcripts.model import Message, Request, Text, ToolCall, ToolResult
from tests.corpus import assistant, call

SOURCE = "import os\n\n\ndef rm(p):\n    os.remove(p)\n"


def transcript(*turns: tuple[ToolCall, str] | str, error: bool = False) -> Request:
    messages = [Message("user", (Text("fix it"),))]
    for n, turn in enumerate(turns):
        if isinstance(turn, str):
            messages.append(Message("user", (Text(turn),)))
            continue
        tool_call, result = turn
        tool_call = ToolCall(f"c{n}", tool_call.name, tool_call.arguments, tool_call.kind)
        messages.append(Message("assistant", (tool_call,)))
        messages.append(Message("user", (ToolResult(f"c{n}", result, error),)))
    return Request("m", tuple(messages))


def numbered(text: str, start: int = 1, sep: str = "→") -> str:
    return "\n".join(
        f"{n:>6}{sep}{line}" for n, line in enumerate(text.rstrip("\n").split("\n"), start)
    )


def test_claude_code_read_result_with_arrows() -> None:
    files = files_from_request(
        transcript((call("Read", {"file_path": "/r/a.py"}), numbered(SOURCE)))
    )
    assert files.get("/r/a.py") == View("/r/a.py", SOURCE, 1)


def test_codex_shell_reads_and_their_output_preamble() -> None:
    output = "Chunk ID: 1a2b\nWall time: 0.0 seconds\nProcess exited with code 0\nOriginal token count: 9\nOutput:\nb = 2\nc = 3\n"
    files = files_from_request(
        transcript(
            (call("exec_command", {"cmd": "sed -n '20,21p' src/m.py"}), output),
            (
                call("shell", {"command": ["bash", "-lc", "cat src/n.py"]}),
                json.dumps({"output": "n = 1\n", "metadata": {"exit_code": 0}}),
            ),
        )
    )
    assert files.get("src/m.py") == View("src/m.py", "b = 2\nc = 3\n", 20)
    assert files.get("src/n.py") == View("src/n.py", "n = 1\n", 1)


def test_a_failed_read_shows_nothing() -> None:
    files = files_from_request(
        transcript((call("Read", {"file_path": "/r/a.py"}), "File does not exist."), error=True)
    )
    assert files.get("/r/a.py") is None


def test_paths_match_by_suffix_when_unique() -> None:
    files = Files()
    files.put(View("/home/u/repo/src/a.py", "x\n"))
    assert files.get("src/a.py") is not None
    files.put(View("/other/src/a.py", "y\n"))
    assert files.get("src/a.py") is None, "ambiguous: two files end with src/a.py"


def test_aider_pasted_files_are_views() -> None:
    request = transcript("src/a.py\n```\ndef f():\n    return 1\n```\n")
    assert files_from_request(request).get("src/a.py") == View(
        "src/a.py", "def f():\n    return 1\n", 1, True
    )


def test_earlier_successful_edits_update_the_view() -> None:
    read = (call("Read", {"file_path": "/r/a.py"}), numbered(SOURCE))
    edit = (
        call(
            "Edit",
            {"file_path": "/r/a.py", "old_string": "os.remove(p)", "new_string": "os.unlink(p)"},
        ),
        "The file has been updated.",
    )
    view = files_from_request(transcript(read, edit)).get("/r/a.py")
    assert view is not None and "os.unlink(p)" in view.text


def test_an_edit_found_twice_is_not_placed() -> None:
    files = Files()
    files.put(View("a.py", "x = 1\nx = 1\n"))
    assert files.apply(Edit("a.py", "x = 1", "x = 2")) is None
    assert files.apply(Edit("a.py", "x = 1", "x = 2", replace_all=True)) is not None


def test_a_placed_edit_has_file_line_numbers() -> None:
    request = transcript((call("Read", {"file_path": "/r/a.py"}), numbered(SOURCE)))
    output = assistant(
        call(
            "Edit",
            {
                "file_path": "/r/a.py",
                "old_string": "    os.remove(p)",
                "new_string": "    os.unlink(p)",
            },
        )
    )
    (change,) = Context(request).changes(output)
    assert (change.first_line, change.file_before, change.added_lines()) == (
        5,
        SOURCE,
        [(5, "    os.unlink(p)")],
    )


def test_later_edits_of_one_output_see_the_earlier_ones() -> None:
    request = transcript((call("Read", {"file_path": "/r/a.py"}), numbered(SOURCE)))
    output = assistant(
        call(
            "Edit",
            {
                "file_path": "/r/a.py",
                "old_string": "import os",
                "new_string": "import os\nimport sys",
            },
        ),
        call(
            "Edit",
            {
                "file_path": "/r/a.py",
                "old_string": "    os.remove(p)",
                "new_string": "    sys.exit(p)",
            },
        ),
    )
    changes = Context(request).changes(output)
    assert [c.first_line for c in changes] == [1, 6]


def test_an_unplaced_fragment_counts_from_its_first_line() -> None:
    output = assistant(
        call("Edit", {"file_path": "/r/b.py", "old_string": "a", "new_string": "b\nc"})
    )
    (change,) = Context().changes(output)
    assert (change.first_line, change.file_after, change.added_lines()) == (
        1,
        None,
        [(1, "b"), (2, "c")],
    )


def test_a_diff_with_line_numbers_places_its_hunk() -> None:
    output = assistant("```diff\n--- a/x.py\n+++ b/x.py\n@@ -7,1 +7,1 @@\n-a = 1\n+a = 2\n```")
    (change,) = Context().changes(output)
    assert change.first_line == 7
