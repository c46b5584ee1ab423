"""aider's text edit formats: SEARCH/REPLACE (`diff`, `diff-fenced`), `whole` and `udiff`
(docs/wire-formats.md §2.3)."""

from __future__ import annotations

from redline.analyzers import extract
from tests.corpus import assistant

DIFF_FORMAT = """To make this change we need to modify `mathweb/flask/app.py` to:

1. Import the math package.
2. Remove the existing factorial() function.

Here are the *SEARCH/REPLACE* blocks:

mathweb/flask/app.py
```python
<<<<<<< SEARCH
from flask import Flask
=======
import math
from flask import Flask
>>>>>>> REPLACE
```

mathweb/flask/app.py
```python
<<<<<<< SEARCH
def factorial(n):
    "compute factorial"

    if n == 0:
        return 1
    else:
        return n * factorial(n-1)

=======
>>>>>>> REPLACE
```

hello.py
```python
<<<<<<< SEARCH
=======
def hello():
    "print a greeting"

    print("hello")
>>>>>>> REPLACE
```
"""


def test_search_replace_blocks_with_the_path_before_the_fence() -> None:
    found = extract(assistant(DIFF_FORMAT))
    assert [(e.path, e.kind, e.origin) for e in found.edits] == [
        ("mathweb/flask/app.py", "replace", "aider"),
        ("mathweb/flask/app.py", "replace", "aider"),
        ("hello.py", "insert", "aider"),
    ]
    assert found.edits[0].after == "import math\nfrom flask import Flask"
    assert found.edits[1].after == ""
    assert found.blocks == (), "the fences around blocks are not standalone code"


def test_diff_fenced_puts_the_path_inside_the_fence() -> None:
    text = "```\nsrc/util.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n"
    (edit,) = extract(assistant(text)).edits
    assert (edit.path, edit.before, edit.after) == ("src/util.py", "x = 1", "x = 2")


def test_several_blocks_in_one_fence_share_the_path() -> None:
    text = (
        "a/b.py\n```python\n<<<<<<< SEARCH\none\n=======\n1\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\ntwo\n=======\n2\n>>>>>>> REPLACE\n```\n"
    )
    assert [(e.path, e.after) for e in extract(assistant(text)).edits] == [
        ("a/b.py", "1"),
        ("a/b.py", "2"),
    ]


def test_a_block_cut_short_in_its_new_code_is_a_truncated_edit() -> None:
    text = "a.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
    (edit,) = extract(assistant(text)).edits
    assert (edit.path, edit.before, edit.after, edit.truncated) == (
        "a.py",
        "x = 1",
        "x = 2\n",
        True,
    )


def test_a_block_cut_short_in_its_search_text_is_unparsed() -> None:
    found = extract(assistant("a.py\n```python\n<<<<<<< SEARCH\nx = 1\n"))
    assert found.edits == () and found.unparsed[0].path == "a.py"
    assert "divider" in found.unparsed[0].reason


def test_a_block_without_replace_marker_before_more_text_is_unparsed() -> None:
    text = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n<<<<<<< SEARCH\ny\n=======\nz\n"
    found = extract(assistant(text))
    assert [e.after for e in found.edits] == ["z\n"] and "REPLACE" in found.unparsed[0].reason


def test_whole_format_names_the_file_before_its_fence() -> None:
    text = "Here is the updated file:\n\nshow_greeting.py\n```\nimport sys\n\ndef greeting(name):\n    print(f'Hey {name}')\n```\n"
    (block,) = extract(assistant(text)).blocks
    assert (block.path, block.language, block.index) == ("show_greeting.py", "python", 1)


def test_udiff_format() -> None:
    text = (
        "```diff\n--- mathweb/flask/app.py\n+++ mathweb/flask/app.py\n@@ ... @@\n-class MathWeb:\n"
        "+import sympy\n+\n+class MathWeb:\n```\n"
    )
    (edit,) = extract(assistant(text)).edits
    assert (edit.path, edit.before, edit.after, edit.start_line) == (
        "mathweb/flask/app.py",
        "class MathWeb:",
        "import sympy\n\nclass MathWeb:",
        None,
    )


def test_patch_format_uses_the_codex_envelope() -> None:
    text = "*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n"
    (edit,) = extract(assistant(text)).edits
    assert (edit.path, edit.after) == ("a.py", "x = 2")
