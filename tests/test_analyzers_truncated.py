"""Outputs cut off before the model finished (a length limit, a stream that stopped, arguments
that end mid-string, a fence or SEARCH/REPLACE block left open) never pass silently: the code
written before the cut is judged where that is sound, and the rest is listed as not judged.

The inputs are those of an adversarial review (x16, x17, x21, m18, x12, x13, x20)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redline.analyzers import Verdict, extract, parse_check, run_checks
from redline.analyzers._inputs import load_file
from redline.analyzers.extract._json import partial
from tests.corpus import assistant, call

HANDLER = "try:\n    x()\nexcept Exception:\n    pass\n"
MORE = "def g():\n    return 1\n" * 4


def verdicts(path: Path, *specs: str) -> list[Verdict]:
    output = load_file(path)
    checks = [parse_check(s) for s in specs]
    return run_checks(checks, output.message, output.request, cut_off=output.cut_off)


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def chat(arguments: str, finish: str = "length") -> dict[str, Any]:
    tool_call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "write_file", "arguments": arguments},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": "gpt-5",
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
    }


def anthropic(content: list[dict[str, Any]], stop: str = "max_tokens") -> dict[str, Any]:
    return {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": content,
        "stop_reason": stop,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def cut_json(args: dict[str, str], keep: int) -> str:
    """`args` as JSON, cut `keep` characters before its end."""
    return json.dumps(args)[:-keep]


# --- tool-call arguments cut mid-string -----------------------------------------------------------


def test_chat_arguments_cut_late_are_judged_up_to_the_cut(tmp_path: Path) -> None:
    """x16: the handler is followed by more code, so it is complete and it swallows."""
    args = cut_json({"path": "a.py", "content": HANDLER + MORE}, 12)
    broad, syntax = verdicts(
        write(tmp_path, "x16.json", chat(args)), "broad-except", "python-syntax"
    )
    assert [(f.path, f.line) for f in broad.findings] == [("a.py", 3)]
    assert "cut off" in broad.unparsed[-1].reason
    assert syntax.passed and "cut off" in syntax.unparsed[0].reason


def test_chat_arguments_cut_inside_the_handler_leave_it_unjudged(tmp_path: Path) -> None:
    """x13: the cut falls in the handler's header: nothing complete is judged, and it says so."""
    args = json.dumps({"path": "a.py", "content": HANDLER})[:60]
    (broad,) = verdicts(write(tmp_path, "x13.json", chat(args)), "broad-except")
    assert broad.passed and broad.unparsed and "cut off" in broad.unparsed[0].reason


def test_a_handler_open_at_the_cut_is_not_judged(tmp_path: Path) -> None:
    args = cut_json({"path": "a.py", "content": "x = 1\n" + HANDLER}, 2)
    (broad,) = verdicts(write(tmp_path, "open.json", chat(args)), "broad-except")
    assert broad.passed and "cut off" in broad.unparsed[0].reason


def test_anthropic_stream_cut_mid_arguments(tmp_path: Path) -> None:
    """x17: a stream that stops inside a tool_use's input, with no stop event."""
    encoded = json.dumps({"file_path": "/r/a.py", "content": HANDLER + MORE})[:-20]
    events = [
        ("message_start", {"type": "message_start", "message": anthropic([], "")}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "t1", "name": "Write", "input": {}},
            },
        ),
        *(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": encoded[i : i + 40]},
                },
            )
            for i in range(0, len(encoded), 40)
        ),
    ]
    text = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events)
    path = write(tmp_path, "x17.sse", text)
    assert load_file(path).cut_off
    (broad,) = verdicts(path, "broad-except")
    assert [(f.path, f.line) for f in broad.findings] == [("/r/a.py", 3)]


def test_a_complete_write_in_an_output_stopped_at_max_tokens(tmp_path: Path) -> None:
    """x12: the JSON is whole but the output hit max_tokens inside the file: the handler is
    followed by a line at its own indentation, so it is complete."""
    content = (
        "def f():\n    try:\n        x()\n    except Exception:\n        pass\n    return f(a,\n"
    )
    body = anthropic(
        [
            {
                "type": "tool_use",
                "id": "t",
                "name": "Write",
                "input": {"file_path": "a.py", "content": content},
            }
        ]
    )
    broad, syntax = verdicts(write(tmp_path, "x12.json", body), "broad-except", "python-syntax")
    assert [f.line for f in broad.findings] == [4]
    assert syntax.passed and syntax.unparsed, "cut-off code is not a syntax error of the model's"


def test_the_same_write_finished_normally_is_a_syntax_error(tmp_path: Path) -> None:
    content = "def f():\n    return f(a,\n"
    body = anthropic(
        [
            {
                "type": "tool_use",
                "id": "t",
                "name": "Write",
                "input": {"file_path": "a.py", "content": content},
            }
        ],
        "tool_use",
    )
    (syntax,) = verdicts(write(tmp_path, "ok.json", body), "python-syntax")
    assert not syntax.passed


def test_a_cut_in_the_path_or_old_text_yields_no_edit_but_a_note() -> None:
    in_path = '{"file_path": "/repo/te'
    in_old = '{"file_path": "t.py", "old_string": "def test_a():\\n    assert f'
    for raw in (in_path, in_old):
        found = extract(assistant(call("Edit", raw)))
        assert found.edits == () and "cut off" in found.unparsed[0].reason, raw


def test_a_cut_before_the_new_text_is_no_deletion() -> None:
    raw = '{"file_path": "tests/test_a.py", "old_string": "def test_a():\\n    assert f()\\n", '
    (verdict,) = run_checks([parse_check("test-tampering")], assistant(call("Edit", raw)))
    assert verdict.passed and verdict.unparsed


def test_a_cut_multiedit_keeps_the_edits_before_the_cut() -> None:
    first = {"old_string": "a = 1", "new_string": "a = 2"}
    raw = json.dumps(
        {"file_path": "a.py", "edits": [first, {"old_string": "b", "new_string": "c"}]}
    )
    found = extract(assistant(call("MultiEdit", raw[:-4])))
    assert [(e.before, e.after, e.truncated) for e in found.edits] == [
        ("a = 1", "a = 2", False),
        ("b", "c", True),
    ]
    found = extract(assistant(call("MultiEdit", raw[:-10])))  # cut in the key "new_string"
    assert [e.after for e in found.edits] == ["a = 2"] and "#2" in found.unparsed[0].reason


# --- text: fences, SEARCH/REPLACE blocks, diffs -------------------------------------------------


def test_an_unclosed_fence_is_judged_up_to_the_cut(tmp_path: Path) -> None:
    """x21 and x20: a fence never closed (the second ends in a line that cannot parse)."""
    for name, tail in (("x21", ""), ("x20", "def h(:\n")):
        text = "Here is the file:\n\n```python\n" + HANDLER + MORE + tail
        body = anthropic([{"type": "text", "text": text}])
        (broad,) = verdicts(write(tmp_path, f"{name}.json", body), "broad-except")
        assert [(f.path, f.line) for f in broad.findings] == [("<block 1>", 3)], name
        assert broad.unparsed, name


def test_an_aider_block_without_replace_is_not_judged_silently(tmp_path: Path) -> None:
    """m18: the text ends inside the REPLACE half; its handler is the last thing written."""
    text = "a.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\n" + HANDLER.replace(
        "except Exception", "except"
    )
    broad, placeholder, regex = verdicts(
        write(tmp_path, "m18.md", text), "broad-except", "placeholder", "regex:pattern=except:"
    )
    assert broad.passed and "cut off" in broad.unparsed[0].reason
    assert placeholder.unparsed and not regex.passed


def test_a_codex_patch_without_end_marks_its_last_section() -> None:
    added = "".join(f"+{line}\n" for line in HANDLER.splitlines())
    patch = "*** Begin Patch\n*** Add File: a.py\n+x = 1\n*** Add File: b.py\n" + added
    found = extract(assistant(call("apply_patch", patch, "custom")))
    assert [(e.path, e.truncated) for e in found.edits] == [("a.py", False), ("b.py", True)]


def test_a_diff_at_the_end_of_a_cut_off_text() -> None:
    text = "--- a/a.py\n+++ b/a.py\n@@\n-x = 1\n+try:\n+    x()\n+except:\n+    pass\n"
    assert not extract(assistant(text)).edits[0].truncated
    assert extract(assistant(text), cut_off=True).edits[0].truncated


def test_only_the_last_part_of_a_cut_off_output_is_truncated() -> None:
    first = call("Write", {"file_path": "a.py", "content": HANDLER}, id_="1")
    last = call("Write", {"file_path": "b.py", "content": HANDLER}, id_="2")
    found = extract(assistant(first, last), cut_off=True)
    assert [e.truncated for e in found.edits] == [False, True]
    (broad,) = run_checks([parse_check("broad-except")], assistant(first, last), cut_off=True)
    assert [f.path for f in broad.findings] == ["a.py"] and broad.unparsed


@pytest.mark.parametrize(
    ("body", "cut"),
    [
        (
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "x"},
                        "finish_reason": "length",
                    }
                ]
            },
            True,
        ),
        (
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "x"},
                        "finish_reason": "stop",
                    }
                ]
            },
            False,
        ),
        ({"message": {"role": "assistant", "parts": []}, "finish_reason": "max_tokens"}, True),
        (
            {
                "object": "response",
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
                "output": [],
            },
            True,
        ),
    ],
    ids=["chat-length", "chat-stop", "canonical-max-tokens", "responses-incomplete"],
)
def test_finish_reasons_that_mean_cut_off(tmp_path: Path, body: dict[str, Any], cut: bool) -> None:
    assert load_file(write(tmp_path, "r.json", body)).cut_off is cut


# --- partial JSON -------------------------------------------------------------------------------


def test_partial_json_keeps_what_was_completed_and_the_string_at_the_cut() -> None:
    cut = partial('{"a": "x", "b": [1, {"c": "de\\n')
    assert cut is not None and cut.value == {"a": "x", "b": [1, {"c": "de\n"}]}
    assert cut.cut == ("b", 1, "c")
    escape = partial('{"a": "x\\u00')
    assert escape is not None and escape.value == {"a": "x"} and escape.cut == ("a",)
    number = partial('{"a": "x", "n": 12')
    assert number is not None and number.value == {"a": "x"} and number.cut is None


@pytest.mark.parametrize("raw", ['{"a": 1} junk', '{"a" 1', "[1, 2", '"str', '{"a": tru}'])
def test_partial_json_refuses_what_is_malformed_otherwise(raw: str) -> None:
    assert partial(raw) is None
