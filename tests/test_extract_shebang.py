"""A file with no known extension is Python when its first line is a Python shebang: written
whole, or edited where the transcript showed its first line."""

from __future__ import annotations

import pytest

from redline.analyzers import Context
from redline.analyzers.extract._language import from_shebang
from redline.transcripts import Message, Request, ToolResult
from tests.corpus import assistant, call


@pytest.mark.parametrize(
    "line",
    [
        "#!/usr/bin/env python3",
        "#!/usr/bin/python3",
        "#!/usr/bin/python3.12 -u",
        "#!/usr/bin/env -S python3 -X utf8",
        "#! /usr/local/bin/python",
        "#!/usr/bin/env pypy3",
    ],
)
def test_a_python_shebang(line: str) -> None:
    assert from_shebang(line + "\nprint(1)\n") == "python"


@pytest.mark.parametrize(
    "text",
    [
        "#!/usr/bin/env node\n",
        "#!/bin/sh\n",
        "#!/usr/bin/env pythonista-runner\n",
        "print(1)\n#!/usr/bin/env python3\n",
        "",
    ],
)
def test_not_a_python_shebang(text: str) -> None:
    assert from_shebang(text) is None


def languages(output: Message, request: Request | None = None) -> list[str | None]:
    return [c.language for c in Context(request).changes(output)]


def test_a_script_written_whole_is_python_by_its_shebang() -> None:
    output = assistant(call("Write", {"file_path": "bin/tool", "content": "#!/usr/bin/python3\n"}))
    assert languages(output) == ["python"]


def test_an_edit_of_a_script_the_transcript_read_is_python_by_its_first_line() -> None:
    body = "#!/usr/bin/env python3\nimport sys\nrun()\n"
    numbered = "\n".join(f"{n:>6}→{line}" for n, line in enumerate(body.splitlines(), 1))
    request = Request(
        "m",
        (
            assistant(call("Read", {"file_path": "bin/tool"}, id_="r1")),
            Message("user", (ToolResult("r1", numbered),)),
        ),
    )
    edit = {"file_path": "bin/tool", "old_string": "run()", "new_string": "run(sys.argv)"}
    assert languages(assistant(call("Edit", edit)), request) == ["python"]


def test_an_edit_of_a_script_the_transcript_did_not_show_has_no_language() -> None:
    edit = {"file_path": "bin/tool", "old_string": "run()", "new_string": "run(1)"}
    assert languages(assistant(call("Edit", edit))) == [None]


def test_a_py_name_wins_over_another_shebang() -> None:
    write = {"file_path": "a.py", "content": "#!/usr/bin/env node\n"}
    assert languages(assistant(call("Write", write))) == ["python"]
