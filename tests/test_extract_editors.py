"""Editor-command tools: Anthropic's `str_replace_based_edit_tool`, OpenHands
`str_replace_editor` / `file_editor` (also spelled out in text), and the other agents' named
edit tools (docs/wire-formats.md §2.5-2.10)."""

from __future__ import annotations

from redline.analyzers import Edit, extract
from redline.transcripts.model import Part
from tests.corpus import assistant, call


def edits(*parts: Part | str) -> list[Edit]:
    return list(extract(assistant(*parts)).edits)


def test_str_replace_based_edit_tool_create_str_replace_insert() -> None:
    name = "str_replace_based_edit_tool"
    found = edits(
        call(name, {"command": "create", "path": "/repo/m.py", "file_text": "A = 1\n"}),
        call(
            name,
            {
                "command": "str_replace",
                "path": "/repo/m.py",
                "old_str": "A = 1",
                "new_str": "A = 2",
            },
        ),
        call(
            name,
            {"command": "insert", "path": "/repo/m.py", "insert_line": 3, "new_str": "B = 3\n"},
        ),
        call(name, {"command": "view", "path": "/repo/m.py"}),
    )
    assert [(e.kind, e.before, e.after, e.start_line) for e in found] == [
        ("write", "", "A = 1\n", None),
        ("replace", "A = 1", "A = 2", None),
        ("insert", "", "B = 3\n", 4),
    ]


def test_str_replace_without_new_str_deletes_the_text() -> None:
    (edit,) = edits(
        call(
            "str_replace_editor",
            {
                "command": "str_replace",
                "path": "/w/a.py",
                "old_str": "x = 1\n",
                "security_risk": "LOW",
            },
        )
    )
    assert (edit.before, edit.after) == ("x = 1\n", "")


def test_editor_command_missing_its_text_is_unparsed() -> None:
    found = extract(assistant(call("str_replace_editor", {"command": "create", "path": "/w/a.py"})))
    assert (
        found.edits == ()
        and found.unparsed[0].reason == "str_replace_editor create without file_text"
    )


def test_openhands_function_block_in_text() -> None:
    text = (
        "I'll create the file.\n\n<function=str_replace_editor>\n<parameter=command>create</parameter>\n"
        "<parameter=path>/workspace/app.py</parameter>\n<parameter=file_text>\nprint('hi')\n</parameter>\n"
        "</function>\n"
    )
    (edit,) = edits(text)
    assert (edit.path, edit.after, edit.kind) == ("/workspace/app.py", "print('hi')", "write")


def test_openhands_insert_line_from_text_is_a_number() -> None:
    text = (
        "<function=file_editor>\n<parameter=command>insert</parameter>\n<parameter=path>/w/a.py</parameter>\n"
        "<parameter=insert_line>10</parameter>\n<parameter=new_str>y = 2</parameter>\n</function>"
    )
    (edit,) = edits(text)
    assert (edit.kind, edit.start_line) == ("insert", 11)


def test_openhands_edit_file_with_line_range() -> None:
    (edit,) = edits(
        call("edit_file", {"path": "/w/a.py", "content": "z = 3\n", "start": 5, "end": 6})
    )
    assert (edit.kind, edit.start_line, edit.after) == ("replace", 5, "z = 3\n")


def test_opencode_edit_and_write_camel_case() -> None:
    found = edits(
        call(
            "edit",
            {
                "filePath": "/r/a.ts",
                "oldString": "let a = 1",
                "newString": "const a = 1",
                "replaceAll": True,
            },
        ),
        call("edit", {"filePath": "/r/new.ts", "oldString": "", "newString": "export {}\n"}),
        call("write", {"filePath": "/r/b.py", "content": "pass\n"}),
    )
    assert [(e.path, e.kind, e.language, e.replace_all) for e in found] == [
        ("/r/a.ts", "replace", "typescript", True),
        ("/r/new.ts", "write", "typescript", False),
        ("/r/b.py", "write", "python", False),
    ]


def test_gemini_cli_replace_and_write_file() -> None:
    found = edits(
        call(
            "replace",
            {
                "file_path": "/g/a.py",
                "instruction": "fix",
                "old_string": "a",
                "new_string": "b",
                "allow_multiple": True,
            },
        ),
        call("write_file", {"file_path": "/g/b.py", "content": "b = 1\n"}),
    )
    assert [(e.kind, e.replace_all) for e in found] == [("replace", True), ("write", False)]


def test_continue_tools() -> None:
    found = edits(
        call("create_new_file", {"filepath": "src/a.py", "contents": "a = 1\n"}),
        call(
            "single_find_and_replace",
            {"filepath": "src/a.py", "old_string": "a = 1", "new_string": "a = 2"},
        ),
        call(
            "multi_edit",
            {"filepath": "src/a.py", "edits": [{"old_string": "a", "new_string": "b"}]},
        ),
        call(
            "edit_existing_file",
            {"filepath": "src/a.py", "changes": "# ... existing code ...\nb = 2\n"},
        ),
    )
    assert [e.kind for e in found] == ["write", "replace", "replace", "lazy"]


def test_continue_tool_block_in_text() -> None:
    text = "```tool\nTOOL_NAME: create_new_file\nBEGIN_ARG: filepath\nsrc/b.py\nEND_ARG\nBEGIN_ARG: contents\nx = 1\ny = 2\nEND_ARG\n```\n"
    (edit,) = edits(text)
    assert (edit.path, edit.after, edit.kind) == ("src/b.py", "x = 1\ny = 2", "write")
    assert extract(assistant(text)).blocks == ()


def test_unknown_tool_with_path_and_content_is_read_generically() -> None:
    (edit,) = edits(call("save_source", {"target_file": "lib/c.py", "code": "c = 3\n"}))
    assert (edit.path, edit.kind, edit.after) == ("lib/c.py", "write", "c = 3\n")


def test_unknown_tool_without_a_path_is_ignored() -> None:
    found = extract(assistant(call("web_search", {"query": "python except", "content": "x"})))
    assert found.edits == () and found.unparsed == ()
