"""Claude Code's file tools (docs/wire-formats.md §2.1), read from real-shaped Anthropic responses."""

from __future__ import annotations

import json

from redline.analyzers import Edit, extract
from redline.transcripts import wire
from redline.transcripts.model import Message
from redline.transcripts.sse import parse_sse
from tests.corpus import assistant, call


def anthropic_response(*content: dict[str, object]) -> Message:
    body = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": list(content),
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 2095, "cache_read_input_tokens": 14000, "output_tokens": 503},
    }
    return wire.get("anthropic-messages").parse_response(body).message


def tool_use(name: str, **input_: object) -> dict[str, object]:
    return {
        "type": "tool_use",
        "id": "toolu_01A09q90qw90lq917835lq9",
        "name": name,
        "input": input_,
    }


def test_edit_is_a_replacement_with_its_path_and_language() -> None:
    message = anthropic_response(
        {"type": "text", "text": "I'll make the timeout configurable."},
        tool_use(
            "Edit",
            file_path="/home/u/proj/src/client.py",
            old_string="    resp = requests.get(url)",
            new_string="    resp = requests.get(url, timeout=timeout)",
        ),
    )
    assert extract(message).edits == (
        Edit(
            "/home/u/proj/src/client.py",
            "    resp = requests.get(url)",
            "    resp = requests.get(url, timeout=timeout)",
            "python",
            origin="Edit",
        ),
    )


def test_edit_with_replace_all_says_so() -> None:
    message = anthropic_response(
        tool_use("Edit", file_path="/p/a.py", old_string="foo", new_string="bar", replace_all=True)
    )
    (edit,) = extract(message).edits
    assert edit.replace_all and edit.kind == "replace"


def test_write_is_a_whole_file() -> None:
    content = 'def main():\n    print("hi")\n\n\nif __name__ == "__main__":\n    main()\n'
    message = anthropic_response(tool_use("Write", file_path="/tmp/work/hello.py", content=content))
    (edit,) = extract(message).edits
    assert (edit.path, edit.before, edit.after, edit.kind) == (
        "/tmp/work/hello.py",
        "",
        content,
        "write",
    )


def test_multiedit_gives_one_edit_per_entry_in_order() -> None:
    message = anthropic_response(
        tool_use(
            "MultiEdit",
            file_path="/repo/app.py",
            edits=[
                {"old_string": "import os", "new_string": "import os\nimport sys"},
                {"old_string": "exit(1)", "new_string": "sys.exit(1)", "replace_all": True},
            ],
        )
    )
    edits = extract(message).edits
    assert [(e.before, e.after, e.replace_all) for e in edits] == [
        ("import os", "import os\nimport sys", False),
        ("exit(1)", "sys.exit(1)", True),
    ]


def test_multiedit_entry_without_strings_is_unparsed_not_guessed() -> None:
    message = assistant(call("MultiEdit", {"file_path": "/r/a.py", "edits": [{"old": 1}, "x"]}))
    found = extract(message)
    assert found.edits == ()
    assert len(found.unparsed) == 2 and all(u.path == "/r/a.py" for u in found.unparsed)


def test_notebook_edit_is_a_python_cell() -> None:
    message = assistant(
        call(
            "NotebookEdit",
            {
                "notebook_path": "/r/n.ipynb",
                "cell_id": "c1",
                "new_source": "x = 1\n",
                "edit_mode": "replace",
            },
        )
    )
    (edit,) = extract(message).edits
    assert (edit.path, edit.after, edit.language) == ("/r/n.ipynb", "x = 1\n", "python")


def test_bash_heredoc_writing_a_file_is_a_write() -> None:
    script = "mkdir -p scripts && cat > scripts/run.py << 'EOF'\nimport sys\nprint(sys.argv)\nEOF\npython scripts/run.py"
    message = anthropic_response(tool_use("Bash", command=script, description="Create script"))
    (edit,) = extract(message).edits
    assert (edit.path, edit.after, edit.kind) == (
        "scripts/run.py",
        "import sys\nprint(sys.argv)\n",
        "write",
    )


def test_bash_python_heredoc_is_a_code_block() -> None:
    script = "python3 - <<'PY'\nimport json\nprint(json.dumps({}))\nPY"
    (block,) = extract(assistant(call("Bash", {"command": script}))).blocks
    assert (block.language, block.code, block.path) == (
        "python",
        "import json\nprint(json.dumps({}))\n",
        None,
    )


def test_read_and_other_tools_write_nothing() -> None:
    message = anthropic_response(
        tool_use("Read", file_path="/r/a.py"),
        tool_use("Grep", pattern="except", path="/r"),
        tool_use("TodoWrite", todos=[{"content": "x", "status": "pending"}]),
        tool_use("Bash", command="pytest -q"),
    )
    found = extract(message)
    assert found.edits == () and found.blocks == () and found.unparsed == ()


def test_a_streamed_claude_code_answer_extracts_the_same_edit() -> None:
    args = {"file_path": "/r/a.py", "old_string": "a = 1", "new_string": "a = 2"}
    encoded = json.dumps(args)
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "claude-x",
                    "stop_reason": None,
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Edit", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": encoded[:20]},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": encoded[20:]},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 30},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    text = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    message = wire.get("anthropic-messages").reassemble(parse_sse(text)).response.message
    (edit,) = extract(message).edits
    assert (edit.path, edit.before, edit.after) == ("/r/a.py", "a = 1", "a = 2")
