"""Cline and Roo Code: XML tool tags in text (classic Cline), the same tools as native calls,
and Roo's `apply_diff` blocks with `:start_line:` (docs/wire-formats.md §2.4, §2.5)."""

from __future__ import annotations

from redline.analyzers import extract
from tests.corpus import assistant, call

CLINE_TEXT = """I'll update the configuration loader and add a test.

<replace_in_file>
<path>src/config.py</path>
<diff>
------- SEARCH
def load(path):
    return json.load(open(path))
=======
def load(path):
    with open(path) as fh:
        return json.load(fh)
+++++++ REPLACE
------- SEARCH
DEFAULTS = {}
=======
DEFAULTS = {"debug": False}
+++++++ REPLACE
</diff>
<task_progress>
- [x] fix loader
</task_progress>
</replace_in_file>

<write_to_file>
<path>tests/test_config.py</path>
<content>
from src.config import load


def test_load(tmp_path):
    (tmp_path / "c.json").write_text("{}")
    assert load(tmp_path / "c.json") == {}
</content>
</write_to_file>
"""


def test_classic_cline_xml_in_text() -> None:
    found = extract(assistant(CLINE_TEXT))
    assert [(e.path, e.kind, e.origin) for e in found.edits] == [
        ("src/config.py", "replace", "replace_in_file"),
        ("src/config.py", "replace", "replace_in_file"),
        ("tests/test_config.py", "write", "write_to_file"),
    ]
    assert found.edits[0].before == "def load(path):\n    return json.load(open(path))"
    assert found.edits[1].after == 'DEFAULTS = {"debug": False}'
    assert found.edits[2].after.startswith("from src.config import load\n")
    assert found.blocks == () and found.unparsed == ()


def test_legacy_markers_in_replace_in_file() -> None:
    diff = "<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE"
    (edit,) = extract(assistant(call("replace_in_file", {"path": "x.py", "diff": diff}))).edits
    assert (edit.before, edit.after) == ("a = 1", "a = 2")


def test_cline_native_write_to_file() -> None:
    (edit,) = extract(
        assistant(
            call(
                "write_to_file", {"path": "a.py", "content": "a = 1\n", "task_progress": "- [ ] x"}
            )
        )
    ).edits
    assert (edit.kind, edit.after) == ("write", "a = 1\n")


def test_cline_sdk_editor_tool() -> None:
    found = extract(
        assistant(
            call("editor", {"path": "a.py", "old_text": "a = 1", "new_text": "a = 2"}),
            call("editor", {"path": "b.py", "new_text": "b = 1\n"}),
            call("editor", {"path": "c.py", "new_text": "c = 1\n", "insert_line": 4}),
        )
    ).edits
    assert [(e.path, e.kind, e.start_line) for e in found] == [
        ("a.py", "replace", None),
        ("b.py", "write", None),
        ("c.py", "insert", 5),
    ]


def test_roo_apply_diff_with_start_line() -> None:
    diff = (
        "<<<<<<< SEARCH\n:start_line:12\n-------\n    return a\n=======\n    return a + b\n>>>>>>> REPLACE\n\n"
        "<<<<<<< SEARCH\n:start_line:30\n:end_line:31\n-------\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE"
    )
    found = extract(assistant(call("apply_diff", {"path": "src/calc.py", "diff": diff}))).edits
    assert [(e.before, e.after, e.start_line) for e in found] == [
        ("    return a", "    return a + b", 12),
        ("X = 1", "X = 2", 30),
    ]


def test_roo_search_replace_and_edit_tools() -> None:
    found = extract(
        assistant(
            call("search_replace", {"file_path": "a.py", "old_string": "x", "new_string": "y"}),
            call(
                "edit_file",
                {
                    "file_path": "a.py",
                    "old_string": "y",
                    "new_string": "z",
                    "expected_replacements": 2,
                },
            ),
        )
    ).edits
    assert [(e.before, e.after, e.replace_all) for e in found] == [
        ("x", "y", False),
        ("y", "z", True),
    ]


def test_unclosed_xml_tag_is_unparsed() -> None:
    found = extract(assistant("<write_to_file>\n<path>a.py</path>\n<content>\nx = 1\n"))
    assert found.edits == ()
    assert found.unparsed[0].reason == "<write_to_file> without its closing tag"


def test_diff_without_blocks_is_unparsed() -> None:
    found = extract(
        assistant(call("replace_in_file", {"path": "a.py", "diff": "just change a to b"}))
    )
    assert found.edits == () and found.unparsed[0].path == "a.py"


def test_search_block_missing_its_divider_is_unparsed() -> None:
    diff = "------- SEARCH\na = 1\n+++++++ REPLACE"
    found = extract(assistant(call("replace_in_file", {"path": "a.py", "diff": diff})))
    assert found.edits == () and "divider" in found.unparsed[0].reason
