"""`redline check` and `redline analyzers`, mounted on a bare typer app through `register`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from redline.analyzers import default_registry
from redline.analyzers.testing import check_examples
from redline.commands.checks import register
from redline.transcripts import open_store
from tests.corpus import CORPUS

BROAD = "import os\n\n\ndef rm(p):\n    try:\n        os.remove(p)\n    except Exception:\n        pass\n"
CLEAN = "def add(a, b):\n    return a + b\n"
PLUGIN = CORPUS / "plugins" / "no_print.py"


def run(*args: str | Path, expect: int) -> Result:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# --- files -------------------------------------------------------------------------------------


def test_a_python_file_is_wholly_introduced_code(tmp_path: Path) -> None:
    path = write(tmp_path, "rm.py", BROAD)
    out = run("check", "--check", "broad-except", path, expect=1).stdout
    assert "broad-except  FAIL  1 finding" in out
    assert f"{path}:7  `except Exception:` catches every error and swallows it" in out


def test_a_clean_file_passes_with_exit_0(tmp_path: Path) -> None:
    out = run(
        "check",
        "-c",
        "broad-except",
        "-c",
        "python-syntax",
        write(tmp_path, "ok.py", CLEAN),
        expect=0,
    ).stdout
    assert out.splitlines() == ["broad-except   pass", "python-syntax  pass"]


def test_a_check_with_no_code_to_judge_says_so_rather_than_pass(tmp_path: Path) -> None:
    question = write(tmp_path, "answer.md", "Which format are the config files in?\n")
    out = run("check", "-c", "broad-except", question, expect=0).stdout
    assert out.splitlines() == ["broad-except  nothing to judge: no code this check reads"]


def test_json_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "rm.py", BROAD)
    out = run(
        "check",
        "--check",
        "broad-except",
        "--check",
        "regex:pattern=nothing here",
        "--json",
        path,
        expect=1,
    ).stdout
    assert json.loads(out) == {
        "verdicts": [
            {
                "check": "broad-except",
                "passed": False,
                "judged": [str(path)],
                "findings": [
                    {
                        "path": str(path),
                        "line": 7,
                        "message": "`except Exception:` catches every error and swallows it: the handler neither re-raises nor exits",
                        "snippet": "except Exception:\n    pass",
                    }
                ],
            },
            {
                "check": "regex:pattern=nothing here",
                "passed": True,
                "judged": [str(path)],
                "findings": [],
            },
        ]
    }


def test_several_files_name_their_input(tmp_path: Path) -> None:
    a, b = write(tmp_path, "a.py", BROAD), write(tmp_path, "b.py", CLEAN)
    verdicts = json.loads(run("check", "-c", "broad-except", "--json", a, b, expect=1).stdout)[
        "verdicts"
    ]
    assert [(v["input"], v["passed"]) for v in verdicts] == [(str(a), False), (str(b), True)]


def test_unjudged_code_is_listed_and_does_not_fail_the_check(tmp_path: Path) -> None:
    body = {
        "role": "assistant",
        "parts": [
            {
                "type": "tool_call",
                "id": "1",
                "name": "Edit",
                "arguments": json.dumps(
                    {"file_path": "a.py", "old_string": "x", "new_string": '    "k": 1,\n}'}
                ),
            }
        ],
    }
    out = run("check", "-c", "broad-except", write(tmp_path, "m.json", body), expect=0).stdout
    assert "not judged: a.py: the new code does not parse on its own" in out
    verdict = json.loads(
        run(
            "check", "-c", "broad-except", "--json", write(tmp_path, "m.json", body), expect=0
        ).stdout
    )
    assert verdict["verdicts"][0]["unparsed"][0]["path"] == "a.py"


# --- response bodies in each wire format -------------------------------------------------------

WRITE_ARGS = {"file_path": "/repo/rm.py", "content": BROAD}


def chat_body() -> dict[str, Any]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "Write", "arguments": json.dumps(WRITE_ARGS)},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-x",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }


def anthropic_body() -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "Write", "input": WRITE_ARGS}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def responses_body() -> dict[str, Any]:
    patch = (
        "*** Begin Patch\n*** Add File: rm.py\n"
        + "".join(f"+{line}\n" for line in BROAD.splitlines())
        + "*** End Patch\n"
    )
    item = {
        "type": "custom_tool_call",
        "id": "ctc_1",
        "call_id": "call_1",
        "name": "apply_patch",
        "input": patch,
        "status": "completed",
    }
    return {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-5-codex",
        "output": [item],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    }


@pytest.mark.parametrize(
    "body",
    [chat_body(), anthropic_body(), responses_body()],
    ids=["openai-chat", "anthropic-messages", "openai-responses"],
)
def test_a_response_body_in_any_wire_format(tmp_path: Path, body: dict[str, Any]) -> None:
    out = json.loads(
        run(
            "check", "-c", "broad-except", "--json", write(tmp_path, "r.json", body), expect=1
        ).stdout
    )
    (finding,) = out["verdicts"][0]["findings"]
    assert finding["path"].endswith("rm.py") and finding["line"] == 7


def test_a_streamed_response_file(tmp_path: Path) -> None:
    args = json.dumps(WRITE_ARGS)
    chunks = [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "Write", "arguments": args[:30]},
                            }
                        ],
                    },
                    "finish_reason": None,
                }
            ],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[30:]}}]},
                    "finish_reason": "tool_calls",
                }
            ],
        },
    ]
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    run("check", "-c", "broad-except", write(tmp_path, "stream.sse", text), expect=1)


def sse(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def test_a_streamed_anthropic_response_file(tmp_path: Path) -> None:
    encoded = json.dumps(WRITE_ARGS)
    text = sse(
        [
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
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Write",
                        "input": {},
                    },
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": encoded},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use"},
                    "usage": {"output_tokens": 9},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    )
    run("check", "-c", "broad-except", write(tmp_path, "claude.txt", text), expect=1)


def test_a_streamed_responses_file(tmp_path: Path) -> None:
    item = responses_body()["output"][0]
    text = sse(
        [
            (
                "response.created",
                {
                    "type": "response.created",
                    "sequence_number": 0,
                    "response": {
                        "id": "resp_1",
                        "object": "response",
                        "status": "in_progress",
                        "output": [],
                    },
                },
            ),
            (
                "response.output_item.done",
                {
                    "type": "response.output_item.done",
                    "sequence_number": 1,
                    "output_index": 0,
                    "item": item,
                },
            ),
            (
                "response.completed",
                {
                    "type": "response.completed",
                    "sequence_number": 2,
                    "response": {
                        "id": "resp_1",
                        "object": "response",
                        "status": "completed",
                        "output": [],
                        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
                    },
                },
            ),
        ]
    )
    run("check", "-c", "broad-except", write(tmp_path, "codex.sse", text), expect=1)


def test_canonical_json_with_its_request_gives_context(tmp_path: Path) -> None:
    read_call = {
        "type": "tool_call",
        "id": "r1",
        "name": "Read",
        "arguments": json.dumps({"file_path": "/repo/rm.py"}),
    }
    numbered = "\n".join(f"{n:>6}→{line}" for n, line in enumerate(BROAD.splitlines(), 1))
    request = {
        "model": "m",
        "messages": [
            {"role": "assistant", "parts": [read_call]},
            {
                "role": "user",
                "parts": [{"type": "tool_result", "call_id": "r1", "content": numbered}],
            },
        ],
    }
    edit = {"file_path": "/repo/rm.py", "old_string": "def rm(p):", "new_string": "def remove(p):"}
    response = {
        "message": {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "e1", "name": "Edit", "arguments": json.dumps(edit)}
            ],
        }
    }
    path = write(tmp_path, "exchange.json", {"request": request, "response": response})
    run("check", "-c", "broad-except", "-c", "python-syntax", path, expect=0)


def test_an_aider_answer_as_text(tmp_path: Path) -> None:
    text = "rm.py\n```python\n<<<<<<< SEARCH\n    os.remove(p)\n=======\n    try:\n        os.remove(p)\n    except:\n        pass\n>>>>>>> REPLACE\n```\n"
    run("check", "-c", "broad-except", write(tmp_path, "answer.md", text), expect=1)


def test_a_plugin_check(tmp_path: Path) -> None:
    path = write(tmp_path, "p.py", "print('x')\n")
    out = run("check", "--plugin", PLUGIN, "-c", "no-print", path, expect=1).stdout
    assert f"{path}:1  print() call" in out


# --- usage errors: one line on stderr, exit 2 --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "nope", "{py}"], "error: unknown check 'nope'; known checks: broad-except"),
        (
            ["-c", "regex:pattern=(", "{py}"],
            "error: option 'pattern' of check 'regex' is not a valid regular expression",
        ),
        (["-c", "broad-except:loud", "{py}"], "error: unknown option 'loud'"),
        (["{py}"], "error: give at least one --check"),
        (["-c", "broad-except"], "error: nothing to check"),
        (["-c", "broad-except", "--call", "abc", "{py}"], "error: give either --call ID or files"),
        (["-c", "broad-except", "{missing}"], "error: cannot read"),
        (["-c", "broad-except", "{dir}"], "error: cannot read"),
        (["-c", "broad-except", "{bin}"], "error: do not know how to read"),
        (["-c", "broad-except", "{badjson}"], "is not valid JSON"),
        (
            ["-c", "broad-except", "{notresponse}"],
            "is not a response body in any known wire format",
        ),
        (["-c", "broad-except", "{list}"], "holds JSON list, not a response object"),
        (["-c", "broad-except", "{deep}"], "its JSON is nested too deeply"),
        (["-c", "broad-except", "{garbage}"], "is not a stream in any known wire format"),
        (["-c", "broad-except", "{badcoding}"], "error: cannot read"),
        (["-c", "broad-except", "{latin1}"], "is not UTF-8 text"),
        (["-c", "regex:pattern=a;pattern=b", "{py}"], "is given twice"),
        (["-c", "x", "--plugin", "{missing}", "{py}"], "error: plugin file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    names = {
        "py": write(tmp_path, "a.py", CLEAN),
        "missing": tmp_path / "missing.py",
        "dir": tmp_path,
        "bin": write(tmp_path, "a.bin", "x"),
        "badjson": write(tmp_path, "b.json", "{"),
        "notresponse": write(tmp_path, "c.json", {"hello": "world"}),
        "list": write(tmp_path, "d.json", [1]),
        "deep": write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000),
        "garbage": write(tmp_path, "g.sse", "data: {not json\n\ndata: [DONE]\n\n"),
        "badcoding": write(tmp_path, "bad.py", "# -*- coding: no-such-codec -*-\nx = 1\n"),
        "latin1": tmp_path / "notes.md",
    }
    names["latin1"].write_bytes("caf\u00e9\n".encode("latin-1"))
    result = run("check", *(a.format(**names) for a in args), expect=2)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_a_file_with_a_byte_order_mark_is_judged(tmp_path: Path) -> None:
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + BROAD.encode())
    out = run("check", "-c", "broad-except", "-c", "python-syntax", path, expect=1).stdout
    assert f"{path}:7  `except Exception:`" in out and "python-syntax  pass" in out


def test_code_written_with_a_byte_order_mark_is_judged(tmp_path: Path) -> None:
    body = anthropic_body()
    body["content"][0]["input"] = {"file_path": "/r/a.py", "content": "\ufeff" + BROAD}
    out = run(
        "check",
        "-c",
        "python-syntax",
        "-c",
        "broad-except",
        write(tmp_path, "b.json", body),
        expect=1,
    )
    assert "python-syntax  pass" in out.stdout and "/r/a.py:7" in out.stdout


def test_python_in_the_encoding_its_coding_line_declares(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes(("# -*- coding: latin-1 -*-\ns = 'caf\u00e9'\n" + BROAD).encode("latin-1"))
    out = run("check", "-c", "broad-except", path, expect=1).stdout
    assert f"{path}:9  `except Exception:`" in out


def test_a_cut_off_output_lists_what_it_did_not_judge(tmp_path: Path) -> None:
    body = chat_body()
    body["choices"][0]["finish_reason"] = "length"
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = json.dumps(
        {"file_path": "/repo/rm.py", "content": BROAD + "\n\ndef other():\n    return 1\n"}
    )[:-12]
    out = run(
        "check",
        "-c",
        "broad-except",
        "-c",
        "python-syntax",
        write(tmp_path, "cut.json", body),
        expect=1,
    ).stdout
    assert "/repo/rm.py:7  `except Exception:`" in out
    assert out.count("not judged: /repo/rm.py: the output was cut off inside this code") == 2


# --- recorded calls ----------------------------------------------------------------------------


def test_a_recorded_call(fake_openai: Any, proxy: Any) -> None:
    import openai

    from tests.fakes.openai_chat import Answer

    fake_openai.script.append(Answer(tool_calls=[("Write", json.dumps(WRITE_ARGS))]))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "write rm.py"}]
    )
    proxy.flush()
    with open_store() as s:
        (conversation,) = s.conversations()
        (summary,) = s.calls(conversation.id)
    out = run("check", "-c", "broad-except", "--call", summary.id[:12], expect=1).stdout
    assert "/repo/rm.py:7" in out
    result = run("check", "-c", "broad-except", "--call", "zzzzzz", expect=2)
    assert result.stderr.startswith("error: ")


# --- redline analyzers -------------------------------------------------------------------------


def test_analyzers_lists_every_check_with_options() -> None:
    out = run("analyzers", expect=0).stdout
    for name in ("broad-except", "regex", "python-syntax", "placeholder", "test-tampering", "tool"):
        assert any(line.startswith(name) for line in out.splitlines()), name
    assert "allow-logging (bool, default false)" in out
    assert "pattern (regex, required)" in out


def test_analyzers_json_and_plugins() -> None:
    listing = json.loads(run("analyzers", "--json", "--plugin", PLUGIN, expect=0).stdout)[
        "analyzers"
    ]
    by_name = {a["name"]: a for a in listing}
    assert by_name["broad-except"]["options"] == [
        {
            "name": "allow-logging",
            "type": "bool",
            "help": "accept a broad handler whose body logs the error",
            "default": False,
            "choices": [],
            "required": False,
        }
    ]
    assert by_name["regex"]["options"][0]["required"] is True
    assert by_name["regex"]["options"][1]["choices"] == ["forbid", "require"]
    assert by_name["no-print"]["origin"] == f"plugin file {PLUGIN}"


# --- the docs stay true (docs/checks.md, writing-checks.md, json.md) ---------------------------

SECTION = "\n".join(
    p.read_text() for p in sorted((Path(__file__).parent.parent / "docs").glob("*.md"))
)


def documented_json(name: str) -> Any:
    found = re.search(rf"<!-- json: {re.escape(name)} -->\s*```json\n(.*?)```", SECTION, re.S)
    assert found, f"docs/ has no JSON example marked {name}"
    return json.loads(found.group(1))


def key_paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {prefix + k for k in value} | {
            p for k, v in value.items() for p in key_paths(v, f"{prefix}{k}.")
        }
    if isinstance(value, list):
        return {p for item in value for p in key_paths(item, prefix + "[].")}
    return set()


def test_the_documented_json_has_the_keys_the_commands_print(tmp_path: Path) -> None:
    checked = json.loads(
        run(
            "check", "-c", "broad-except", "--json", write(tmp_path, "rm.py", BROAD), expect=1
        ).stdout
    )
    listed = json.loads(run("analyzers", "--json", expect=0).stdout)
    assert key_paths(documented_json("check")) == key_paths(checked)
    assert key_paths(documented_json("analyzers")) == key_paths(listed)
    assert documented_json("analyzers")["analyzers"][0] == listed["analyzers"][0]


def test_every_check_and_option_is_documented() -> None:
    for analyzer in default_registry(entry_points=False):
        assert f"### `{analyzer.name}`" in SECTION, analyzer.name
        for option in analyzer.options:
            assert f"`{option.name}`" in SECTION, f"{analyzer.name} option {option.name}"


def test_the_documented_examples_are_commands() -> None:
    for command in ("check", "analyzers"):
        assert f"## `redline {command}`" in SECTION
        assert re.search(rf"^redline {command}\b", SECTION, re.M)


def test_the_documented_plugin_runs(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n# my_checks.py\n(.*?)```", SECTION, re.S)
    plugin = write(tmp_path, "my_checks.py", code)
    analyzer = default_registry([plugin], entry_points=False).get("no-print")
    check_examples(analyzer)
    out = run(
        "check",
        "--plugin",
        plugin,
        "-c",
        "no-print",
        write(tmp_path, "p.py", "print(1)\n"),
        expect=1,
    ).stdout
    assert "p.py:1  print() call" in out
