"""Garbage in: extraction and every built-in check return, never raise."""

from __future__ import annotations

import json
import random

import pytest

from redline.analyzers import Context, default_registry, extract, parse_check, run_checks
from redline.transcripts.model import Message, Opaque, Text, Thinking, ToolCall
from tests.corpus import assistant, call

ALL_CHECKS = [
    "broad-except",
    "broad-except:allow-logging",
    "regex:pattern=except",
    "regex:pattern=x;in=all;mode=require",
    "python-syntax:blocks",
    "placeholder",
    "test-tampering",
    "tool:pattern=rm",
]

PIECES = [
    "```",
    "```python\n",
    "~~~",
    "<<<<<<< SEARCH\n",
    "=======\n",
    ">>>>>>> REPLACE\n",
    "------- SEARCH\n",
    "+++++++ REPLACE\n",
    "*** Begin Patch\n",
    "*** End Patch\n",
    "*** Add File: a.py\n",
    "*** Update File: \n",
    "*** Delete File: x\n",
    "@@\n",
    "@@ -1,2 +3 @@\n",
    "--- a/x.py\n",
    "+++ b/x.py\n",
    "+",
    "-",
    " ",
    "\n",
    "try:\n",
    "except Exception:\n",
    "    pass\n",
    "except* (",
    "    ",
    "\t",
    "def f(",
    "):\n",
    '"""',
    "'",
    "<write_to_file>",
    "</write_to_file>",
    "<path>",
    "</path>",
    "<content>",
    "</content>",
    "<function=x>",
    "<parameter=path>",
    "</parameter>",
    "</function>",
    "\\",
    "\x00",
    "é",
    "🙂",
    "{",
    "}",
    "[",
    "]",
    "#",
    "\r",
    "\r\n",
    "\x0c",
    "\u2028",
    "\x1c",
    "with suppress(Exception):\n",
    "class A:\n",
    "@pytest.mark.skip\n",
    "assert True\n",
    ":start_line:",
]


def garbage(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 60)))


def run_all(message: Message) -> None:
    registry = default_registry(entry_points=False)
    checks = [parse_check(spec, registry) for spec in ALL_CHECKS]
    extract(message)
    for verdict in run_checks(checks, message):
        assert verdict.passed == (not verdict.findings)


@pytest.mark.parametrize("seed", range(40))
def test_random_text_and_tool_arguments(seed: int) -> None:
    rng = random.Random(seed)
    text = garbage(rng)
    run_all(
        assistant(
            text,
            call("apply_patch", garbage(rng), kind="custom"),
            call(
                "Edit",
                {"file_path": "a.py", "old_string": garbage(rng), "new_string": garbage(rng)},
            ),
            call("Write", {"file_path": "t/test_a.py", "content": garbage(rng)}),
            call("exec_command", {"cmd": garbage(rng)}),
            call("replace_in_file", {"path": "b.py", "diff": garbage(rng)}),
        )
    )


@pytest.mark.parametrize(
    "arguments",
    [
        "",
        "{",
        "null",
        "[]",
        "[1, 2]",
        '"just a string"',
        "12",
        '{"file_path": 3, "content": []}',
        '{"command": ["a", 1]}',
        '{"command": {"x": 1}}',
        '{"path": "a.py", "edits": "nope"}',
        '{"path": "a.py", "edits": [null, 1, {"old_string": 2}]}',
        '{"operation": {"type": "update_file", "path": 1}}',
        '{"operation": {"type": "create_file", "path": "a.py", "diff": 5}}',
        '{"file_path": "a.py", "old_string": "x", "new_string": 5}',
        '{"path": "a.py", "command": "insert", "insert_line": "x", "new_str": null}',
        json.dumps({"cmd": ["bash", "-lc"]}),
        '{"file_path": "a.py", "content": "\\u0000\\ud800"}',
    ],
)
def test_malformed_arguments(arguments: str) -> None:
    run_all(
        assistant(
            ToolCall("c", "Edit", arguments), ToolCall("c", "apply_patch", arguments, "custom")
        )
    )


def test_odd_parts_and_empty_messages() -> None:
    run_all(Message("assistant", ()))
    run_all(
        Message(
            "assistant",
            (Thinking("x"), Opaque({"type": "apply_patch_call", "operation": "x"}), Text("")),
        )
    )
    run_all(
        Message("assistant", (Opaque({"type": "shell_call", "action": {"commands": [1, None]}}),))
    )


def test_deeply_nested_code_is_unparsed_not_a_crash() -> None:
    code = "x = " + "(" * 5000 + ")" * 5000 + "\n"
    message = assistant(call("Write", {"file_path": "a.py", "content": code}))
    check = parse_check("broad-except")
    check.analyzer.check(message, Context(options=check.options))
