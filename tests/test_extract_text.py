"""Fenced code blocks and unified diffs in an output's text."""

from __future__ import annotations

from redline.analyzers import extract
from redline.transcripts.model import Thinking
from tests.corpus import assistant


def test_fence_tag_gives_the_language() -> None:
    text = "Try this:\n\n```py\nprint(1)\n```\n\nand in JS:\n\n~~~javascript\nconsole.log(1)\n~~~\n"
    blocks = extract(assistant(text)).blocks
    assert [(b.language, b.code, b.index) for b in blocks] == [
        ("python", "print(1)\n", 1),
        ("javascript", "console.log(1)\n", 2),
    ]


def test_info_string_with_a_path() -> None:
    text = '```python:src/a.py\nx = 1\n```\n```py title="src/b.py"\ny = 2\n```\n```src/c.py\nz = 3\n```\n'
    blocks = extract(assistant(text)).blocks
    assert [(b.path, b.language) for b in blocks] == [
        ("src/a.py", "python"),
        ("src/b.py", "python"),
        ("src/c.py", "python"),
    ]


def test_untagged_python_is_guessed_and_prose_is_not() -> None:
    text = "```\ndef f(x):\n    return x * 2\n```\n\n```\nhello world, this is output\n```\n"
    blocks = extract(assistant(text)).blocks
    assert [b.language for b in blocks] == ["python", None]


def test_a_longer_fence_holds_a_shorter_one() -> None:
    text = "````markdown\nUse:\n```python\nx = 1\n```\n````\n"
    (block,) = extract(assistant(text)).blocks
    assert block.language == "markdown" and "```python" in block.code


def test_indented_fence_in_a_list_item() -> None:
    text = "1. Add this:\n\n    ```python\n    def g():\n        return 1\n    ```\n"
    (block,) = extract(assistant(text)).blocks
    assert block.code == "def g():\n    return 1\n"


def test_unclosed_fence_is_a_truncated_block() -> None:
    found = extract(assistant("```python\ndef f():\n    return 1\n"))
    (block,) = found.blocks
    assert block.truncated and block.language == "python" and found.unparsed == ()


def test_unclosed_untagged_fence_is_guessed_from_the_start_that_parses() -> None:
    (block,) = extract(assistant("```\nimport os\n\ndef f(:\n")).blocks
    assert block.truncated and block.language == "python"


def test_git_diff_in_a_fence_with_line_numbers() -> None:
    text = (
        "```diff\ndiff --git a/src/x.py b/src/x.py\nindex 3b18e51..a1b2c3d 100644\n--- a/src/x.py\n+++ b/src/x.py\n"
        "@@ -10,4 +10,5 @@ class X:\n     def f(self):\n-        return 1\n+        value = 2\n+        return value\n"
        "     def g(self):\n@@ -40,2 +41,2 @@\n-A = 1\n+A = 2\n B = 3\n```\n"
    )
    edits = extract(assistant(text)).edits
    assert [(e.path, e.start_line, e.before, e.after) for e in edits] == [
        (
            "src/x.py",
            10,
            "    def f(self):\n        return 1\n    def g(self):",
            "    def f(self):\n        value = 2\n        return value\n    def g(self):",
        ),
        ("src/x.py", 41, "A = 1\nB = 3", "A = 2\nB = 3"),
    ]


def test_new_and_deleted_files_in_a_diff() -> None:
    text = (
        "```diff\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
        "--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n```\n"
    )
    edits = extract(assistant(text)).edits
    assert [(e.path, e.kind, e.after) for e in edits] == [
        ("new.py", "write", "a = 1\nb = 2\n"),
        ("gone.py", "delete", ""),
    ]


def test_a_diff_outside_any_fence() -> None:
    text = "Apply this:\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-old = 1\n+new = 1\n"
    (edit,) = extract(assistant(text)).edits
    assert (edit.before, edit.after) == ("old = 1", "new = 1")


def test_reasoning_is_not_output() -> None:
    message = assistant(Thinking("```python\nx = 1\n```"), "done")
    found = extract(message)
    assert found.edits == () and found.blocks == ()


def test_inline_code_is_not_a_block() -> None:
    assert extract(assistant("Use `except ValueError:` here.")).blocks == ()
