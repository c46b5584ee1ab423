"""The code an answer wrote, as the report and the web view show it (`code_of`): an edit sits at
its line in the file, where the checks' findings point, so the finding's line can be marked."""

from __future__ import annotations

from redline.analyzers import Context
from redline.replay import code_of
from tests.corpus import assistant, call
from tests.test_analyzers_files import numbered, transcript

SOURCE = (
    "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n"
)
EDIT = call(
    "Edit",
    {
        "file_path": "/repo/config.py",
        "old_string": "        return json.load(f)",
        "new_string": "        try:\n            return json.load(f)\n        except Exception:\n            return {}",
    },
)


def test_an_edit_of_a_file_the_agent_read_starts_at_its_line_in_that_file() -> None:
    request = transcript((call("Read", {"file_path": "/repo/config.py"}), numbered(SOURCE)))
    (code,) = code_of(assistant(EDIT), Context(request))
    assert (code["path"], code["first_line"], code["kind"]) == ("/repo/config.py", 6, "replace")
    assert code["code"].startswith("        try:\n")


def test_without_the_request_an_edit_is_shown_from_line_one() -> None:
    (code,) = code_of(assistant(EDIT))
    assert code["first_line"] == 1


def test_a_fenced_block_keeps_its_own_path_or_none() -> None:
    (code,) = code_of(assistant("Here:\n```python\nx = 1\n```\n"))
    assert (code["path"], code["first_line"], code["kind"], code["code"]) == (
        None,
        1,
        "block",
        "x = 1\n",
    )
