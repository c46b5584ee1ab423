"""What answers a replayed model's tool call: the transcript before the cut (the same call, or a
file it showed or wrote, as its edits left it), else a plain "not available" tool error; never
a made-up file, never a stale answer, never more than 256 KB."""

from __future__ import annotations

import json

from redline.replay.tool_answers import MAX_RESULT, answerer
from redline.transcripts import (
    Message,
    Request,
    Task,
    TaskOutput,
    Text,
    Tool,
    ToolCall,
    ToolResult,
)

SYSTEM = "You are Claude Code.\n - Primary working directory: /repo\n"
FILE = "".join(f"line {n}\n" for n in range(1, 41))


def read(ident: str, path: str, **window: int) -> ToolCall:
    return ToolCall(ident, "Read", json.dumps({"file_path": path, **window}))


def numbered(text: str, first: int = 1) -> str:
    lines = text.rstrip("\n").split("\n")
    return "\n".join(f"{n:>6}→{line}" for n, line in enumerate(lines, first))


def task(*turns: tuple[ToolCall, str] | tuple[ToolCall, str, bool]) -> Task:
    """A Claude Code transcript in /repo whose model made these calls, each answered so."""
    messages = [Message("user", (Text("Fix the loader."),))]
    for call, result, *error in turns:
        messages.append(Message("assistant", (call,)))
        messages.append(Message("user", (ToolResult(call.id, result, bool(error and error[0])),)))
    request = Request(
        "claude-sonnet-4-5",
        tuple(messages),
        system=(Text(SYSTEM),),
        tools=tuple(Tool(name) for name in ("Read", "Write", "Edit", "Bash")),
        wire="anthropic-messages",
    )
    return Task("t", request, TaskOutput(Message("assistant", (Text("x"),))), ("broad-except",))


def test_the_same_call_with_a_relative_path_gets_the_recorded_answer() -> None:
    chain = answerer(task((read("r1", "/repo/src/a.py"), numbered(FILE))))
    served = chain.answer(read("new", "src/a.py"))
    assert (served.source, served.note, served.is_error) == ("transcript", "the same call", False)
    assert served.content == numbered(FILE)


def test_a_file_edited_after_it_was_read_is_served_as_the_edit_left_it() -> None:
    edit = ToolCall(
        "e1",
        "Edit",
        json.dumps({"file_path": "/repo/a.py", "old_string": "line 2\n", "new_string": "TWO\n"}),
    )
    chain = answerer(task((read("r1", "/repo/a.py"), numbered(FILE)), (edit, "Edited.")))
    served = chain.answer(read("again", "/repo/a.py"))
    assert served.note == "the file as the transcript's edits left it"
    assert str(served.content).split("\n")[:3] == ["     1→line 1", "     2→TWO", "     3→line 3"]


def test_a_read_of_lines_inside_what_the_transcript_showed_gets_those_lines() -> None:
    shown = "".join(f"line {n}\n" for n in range(10, 30))
    chain = answerer(task((read("r1", "/repo/a.py", offset=10, limit=20), numbered(shown, 10))))
    served = chain.answer(read("part", "/repo/a.py", offset=12, limit=3))
    assert served.source == "transcript"
    assert served.content == "    12→line 12\n    13→line 13\n    14→line 14"


def test_a_whole_read_of_a_file_the_transcript_showed_in_part_is_not_made_up() -> None:
    shown = "".join(f"line {n}\n" for n in range(10, 30))
    chain = answerer(task((read("r1", "/repo/a.py", offset=10, limit=20), numbered(shown, 10))))
    served = chain.answer(read("whole", "/repo/a.py"))
    assert (served.source, served.is_error) == ("unavailable", True)
    assert served.content == (
        "<tool_use_error>/repo/a.py cannot be read in this replay: redline answers a tool call "
        "only with what the recorded session showed before this point, and it did not show "
        "this. Go on without it.</tool_use_error>"
    )


def test_a_command_answered_before_a_later_edit_is_not_served_stale() -> None:
    tests = ToolCall("b1", "Bash", json.dumps({"command": "pytest -q"}))
    write = ToolCall("w1", "Write", json.dumps({"file_path": "/repo/a.py", "content": "x = 1\n"}))
    before = answerer(task((tests, "3 passed")))
    assert before.answer(tests).content == "3 passed"
    after = answerer(task((tests, "3 passed"), (write, "File written.")))
    assert after.answer(tests).source == "unavailable"


def test_a_recorded_error_is_served_as_the_error_it_was() -> None:
    chain = answerer(task((read("r1", "/repo/gone.py"), "File does not exist.", True)))
    served = chain.answer(read("again", "/repo/gone.py"))
    assert (served.source, served.is_error, served.content) == (
        "transcript",
        True,
        "File does not exist.",
    )


def test_a_huge_recorded_result_is_cut_to_256_kb_with_a_note() -> None:
    huge = "x" * (MAX_RESULT + 10_000)
    chain = answerer(task((ToolCall("b1", "Bash", json.dumps({"command": "cat big.log"})), huge)))
    served = chain.answer(ToolCall("b2", "Bash", json.dumps({"command": "cat big.log"})))
    assert isinstance(served.content, str)
    assert served.content.startswith("x" * 1000) and served.size < MAX_RESULT + 200
    assert served.content.endswith(
        "[redline: the rest of this result (10,000 more bytes) is cut; a replayed tool result "
        "carries at most 256 KB]"
    )
    assert served.note == "the same call; cut to 256 KB"


def test_arguments_that_are_not_json_are_a_tool_error_and_nothing_is_looked_up() -> None:
    chain = answerer(task((read("r1", "/repo/a.py"), numbered(FILE))))
    served = chain.answer(ToolCall("bad", "Read", '{"file_path": "/repo/a.py"'))
    assert (served.source, served.is_error) == ("invalid", True)
    assert "The arguments of this Read call are not valid JSON" in str(served.content)


def test_a_tool_no_agent_knows_is_not_available() -> None:
    chain = answerer(task((read("r1", "/repo/a.py"), numbered(FILE))))
    served = chain.answer(ToolCall("d", "Deploy", json.dumps({"target": "production"})))
    assert (served.source, served.is_error) == ("unavailable", True)
    assert "Deploy is not available in this replay" in str(served.content)
