"""Every command behaves the same way: it takes --db, and a mistake is one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
import typer
from typer.testing import CliRunner

from redline.cli import app
from redline.proxy import ThreadedProxy
from tests.fakes.openai_chat import Answer, FakeOpenAI

# For each command: arguments that make it run to a known end without the network, and the exit
# code it ends with. `{call}` is the id of a call recorded in the database given with --db.
RUNS: dict[str, tuple[list[str], int]] = {
    "ls": ([], 0),
    "show": (["{call}"], 0),
    "check": (["-c", "broad-except", "--call", "{call}"], 0),
    "analyzers": ([], 0),
    "proxy": (["--upstream", "not a url"], 2),
    "flag": (["{call}", "-c", "broad-except"], 1),  # refused: the answer swallows nothing
    # refused before anything is sent: the answer wrote no code to draft a check from
    "draft": (["{call}", "--note", "x", "-m", "openai-chat:m@http://127.0.0.1:9/v1"], 2),
    "tasks": ([], 0),
    "task": (["show", "no-such-task"], 2),
    "export": (["--out", "{tmp}/out"], 2),  # no tasks to export
    "import": (["--examples"], 0),
    "replay": (["-m", "openai-chat:m@http://127.0.0.1:9/v1", "--dry-run"], 2),  # no tasks
    "runs": ([], 0),
    "report": ([], 2),  # no runs
    "recheck": (["NONE"], 2),
    "scan": (["-c", "broad-except", "--corrections"], 0),
    "store": (["rebuild"], 0),
}


def commands() -> list[str]:
    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_the_table_covers_every_command() -> None:
    # `demo` takes --db too, but as the new file to keep its data in (tests/test_demo.py).
    # `ui` serves until stopped: tests/test_ui.py starts it with --port 0 --db in a subprocess.
    assert sorted([*RUNS, "demo", "ui"]) == commands()


@pytest.fixture
def other_db(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_openai: FakeOpenAI,
    proxy: ThreadedProxy,
    db_path: Path,
) -> tuple[Path, str]:
    """A database that only --db names: one call recorded into it, then $REDLINE_DB pointed at
    an empty one elsewhere, so a command that ignored --db would not find the call."""
    fake_openai.script.append(Answer("Done."))
    with openai.OpenAI(
        base_url=proxy.url + "/v1", api_key=fake_openai.api_key, max_retries=0
    ) as client:
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Say done."}]
        )
    proxy.flush()
    call = _only_call()
    monkeypatch.setenv("REDLINE_DB", str(tmp_path / "elsewhere" / "empty.duckdb"))
    return db_path, call


def _only_call() -> str:
    listed = CliRunner().invoke(app, ["ls", "--json"], catch_exceptions=False)
    (conversation,) = json.loads(listed.stdout)["conversations"]
    calls = CliRunner().invoke(app, ["ls", conversation["id"], "--json"], catch_exceptions=False)
    (call,) = json.loads(calls.stdout)["calls"]
    return str(call["id"])


@pytest.mark.parametrize("command", sorted(RUNS))
def test_every_command_takes_db(command: str, other_db: tuple[Path, str], tmp_path: Path) -> None:
    db, call = other_db
    args, code = RUNS[command]
    result = CliRunner().invoke(
        app, [command, *(a.format(call=call, tmp=tmp_path) for a in args), "--db", str(db)]
    )
    assert "No such option" not in result.output
    assert result.exit_code == code, result.output


def test_a_usage_error_from_click_is_one_line_and_exit_code_2() -> None:
    result = CliRunner().invoke(app, ["ls", "--limit", "-1"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "--limit" in lines[0] and "redline ls --help" in lines[0]


def test_an_unknown_option_is_one_line_and_exit_code_2() -> None:
    result = CliRunner().invoke(app, ["show", "--colour"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--colour" in line


def test_an_unknown_id_says_what_to_do() -> None:
    result = CliRunner().invoke(app, ["show", "ZZZZZZ"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "error: no call matches 'ZZZZZZ'; `redline ls` lists conversations, "
        "`redline ls CONVERSATION` their calls"
    )
