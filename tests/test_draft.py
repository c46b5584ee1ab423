"""`redline draft`: a model drafts a check from a failure; the sandbox proves it before it is
kept. The drafting models are the fake Chat Completions upstream with scripted answers
(`tests/fakes/drafting.py`); the failure is a Claude Code call recorded through the proxy."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redline import config
from redline.analyzers import sandbox
from redline.proxy import ThreadedProxy
from redline.replay import StandInServer, standin_drafts
from tests.agents import call_ids, claude_code_session, write_block
from tests.fakes import drafting
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.support import Cli, needs_sandbox
from tests.test_docs import documented_json, key_paths

pytestmark = needs_sandbox


@pytest.fixture
def bad_call(fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli) -> str:
    """Claude Code, asked to raise on a missing port, swallowed the KeyError."""
    claude_code_session(
        fake_anthropic,
        anthropic_proxy.url,
        [write_block(drafting.SWALLOWED, "/repo/settings.py")],
        ask=drafting.ASKED,
    )
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    return call


@pytest.fixture
def drafter(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The drafting model: answers are queued on `script`."""
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    return fake_openai


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.py"
    path.write_text(drafting.RAISES)
    return path


def model(fake: FakeOpenAI) -> str:
    return f"openai-chat:fake-drafter@{fake.url}/v1"  # type: ignore[attr-defined]


def draft(cli: Cli, call: str, fake: FakeOpenAI, *args: str, expect: int = 0) -> str:
    result = cli(
        "draft", call, "--note", drafting.NOTE, "--model", model(fake), *args, expect=expect
    )
    return str(result.output)


def saved_checks() -> list[str]:
    folder = config.checks_dir()
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def sent_messages(fake: FakeOpenAI, n: int) -> list[dict[str, Any]]:
    return list(json.loads(fake.received[n].body)["messages"])


# -- what a user does --------------------------------------------------------------------------


def test_a_drafted_check_catches_what_no_built_in_names_and_flag_uses_it(
    bad_call: str, drafter: FakeOpenAI, good_file: Path, cli: Cli
) -> None:
    cli("check", "-c", "broad-except", "--call", bad_call)  # exit 0: no built-in check names it
    drafter.script.append(drafting.answer(drafting.GOOD_CHECK))
    out = draft(cli, bad_call, drafter, "--good", str(good_file))
    assert "attempt 1: holds: no-silent-fallback loads" in out
    assert "on the bad answer: /repo/settings.py:4  falls back instead of raising" in out
    path = config.checks_dir() / "no_silent_fallback.py"
    assert f"saved check no-silent-fallback to {path}" in out
    assert path.read_text().endswith(drafting.GOOD_CHECK)
    assert path.read_text().startswith("# Drafted by `redline draft` with openai-chat:fake-drafter")

    flagged = cli("flag", bad_call, "-c", "no-silent-fallback", "--good", str(good_file)).stdout
    assert "no-silent-fallback  FAIL  1 finding" in flagged
    assert "saved task" in flagged
    listed = cli.json("analyzers")
    origin = {a["name"]: a["origin"] for a in listed["analyzers"]}["no-silent-fallback"]
    assert origin == f"plugin file {path}"
    assert listed["checks_folder"] == str(config.checks_dir())


def test_the_prompt_carries_the_request_the_code_the_note_and_the_good_answer(
    bad_call: str, drafter: FakeOpenAI, good_file: Path, cli: Cli
) -> None:
    drafter.script.append(drafting.answer(drafting.GOOD_CHECK))
    draft(cli, bad_call, drafter, "--good", str(good_file))
    system, user = sent_messages(drafter, 0)
    assert system["role"] == "system" and "from redline.analyzers import" in system["content"]
    assert "class Regex:" in system["content"]  # the built-in rule shown as an example
    assert drafting.ASKED in user["content"] and "CLAUDE.md" not in user["content"]
    assert drafting.SWALLOWED in user["content"] and drafting.RAISES in user["content"]
    assert drafting.NOTE in user["content"]
    assert "broad-except" in user["content"]  # a name taken


def test_the_drafting_call_is_recorded_like_any_other_call(
    bad_call: str, drafter: FakeOpenAI, cli: Cli
) -> None:
    drafter.script.append(drafting.answer(drafting.GOOD_CHECK))
    draft(cli, bad_call, drafter)
    drafting_call = next(c for c in call_ids(cli) if c != bad_call)
    shown = cli.json("show", drafting_call)
    assert shown["model"] == "fake-drafter"
    assert shown["client"]["user_agent"].startswith("redline-draft/")
    assert drafting.NOTE in json.dumps(shown)
    assert drafter.api_key not in json.dumps(shown)  # the key went upstream, and nowhere else


def test_a_draft_right_on_the_second_attempt_was_told_why_the_first_was_refused(
    bad_call: str, drafter: FakeOpenAI, cli: Cli
) -> None:
    drafter.script.extend(
        [drafting.answer(drafting.WRONG_REGION), drafting.answer(drafting.GOOD_CHECK)]
    )
    out = draft(cli, bad_call, drafter)
    assert "attempt 1: refused: its INVALID example no-silent-fallback-invalid-1 passes" in out
    assert "attempt 2: holds" in out
    second = sent_messages(drafter, 1)
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert drafting.WRONG_REGION in second[2]["content"]
    assert second[3]["content"].startswith(
        "Your module was not kept: its INVALID example no-silent-fallback-invalid-1 passes"
    )
    assert saved_checks() == ["no_silent_fallback.py"]


def test_the_report_says_how_many_other_recorded_answers_the_check_flags(
    fake_anthropic: FakeAnthropic,
    anthropic_proxy: ThreadedProxy,
    bad_call: str,
    drafter: FakeOpenAI,
    cli: Cli,
) -> None:
    for session, code in (("s-2", drafting.SWALLOWED_ELSEWHERE), ("s-3", drafting.PLAIN)):
        claude_code_session(
            fake_anthropic, anthropic_proxy.url, [write_block(code)], session=session
        )
    anthropic_proxy.flush()
    drafter.script.append(drafting.answer(drafting.GOOD_CHECK))
    report = cli.json("draft", bad_call, "--note", drafting.NOTE, "--model", model(drafter))
    elsewhere = call_ids(cli)[1]
    assert report["history"]["scanned"] == 2  # neither the bad call nor the drafting call
    assert report["history"]["flagged"] == 1
    (example,) = report["history"]["examples"]
    assert example["id"] == elsewhere
    assert example["finding"]["message"] == "falls back instead of raising"
    assert report["check"]["name"] == "no-silent-fallback"
    assert report["flag"].startswith(f"redline flag {bad_call} -c no-silent-fallback")
    assert key_paths(documented_json("draft")) == key_paths(report)  # docs/json.md


def test_out_writes_a_new_file_and_the_flag_command_names_it(
    bad_call: str, drafter: FakeOpenAI, tmp_path: Path, cli: Cli
) -> None:
    out = tmp_path / "mine.py"
    drafter.script.append(drafting.answer(drafting.GOOD_CHECK))
    printed = draft(cli, bad_call, drafter, "--out", str(out))
    assert f"--plugin {out}" in printed
    assert out.read_text().endswith(drafting.GOOD_CHECK)
    assert saved_checks() == []


def test_a_file_of_that_name_in_the_checks_folder_is_never_overwritten(
    bad_call: str, drafter: FakeOpenAI, cli: Cli
) -> None:
    folder = config.checks_dir()
    folder.mkdir(parents=True)
    (folder / "no_silent_fallback.py").write_text("# mine, unfinished\n")
    drafter.script.append(drafting.answer(drafting.GOOD_CHECK))
    out = draft(cli, bad_call, drafter)
    assert "warning: plugin file" in out  # the unfinished file loads no check: said, skipped
    assert (folder / "no_silent_fallback.py").read_text() == "# mine, unfinished\n"
    assert (folder / "no_silent_fallback_2.py").read_text().endswith(drafting.GOOD_CHECK)


# -- drafts that are never kept ------------------------------------------------------------------


def test_a_check_that_never_fires_is_never_kept(
    bad_call: str, drafter: FakeOpenAI, cli: Cli
) -> None:
    drafter.script.append(drafting.answer(drafting.NEVER_FIRES))
    out = draft(cli, bad_call, drafter, "--attempts", "1", expect=1)
    assert "attempt 1: refused: its INVALID example never-fires-invalid-1 passes" in out
    assert "no draft held after 1 attempt; nothing was written" in out
    assert saved_checks() == []


def test_a_check_that_fires_on_everything_is_never_kept(
    bad_call: str, drafter: FakeOpenAI, cli: Cli
) -> None:
    drafter.script.append(drafting.answer(drafting.FIRES_ON_EVERYTHING))
    out = draft(cli, bad_call, drafter, "--attempts", "1", expect=1)
    assert "its VALID example fires-on-everything-valid-1 is flagged" in out
    assert saved_checks() == []


def test_a_check_that_fails_the_good_answer_is_never_kept(
    bad_call: str, drafter: FakeOpenAI, good_file: Path, cli: Cli
) -> None:
    drafter.script.append(drafting.answer(drafting.ANY_HANDLER))
    out = draft(cli, bad_call, drafter, "--good", str(good_file), "--attempts", "1", expect=1)
    assert (
        f"it fails on the good answer ({good_file}), so it would fail a model that got it right"
        in out
    )
    assert saved_checks() == []


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A listener on the host's loopback: (its port, the connections it heard)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    heard: list[object] = []
    stopped = threading.Event()

    def listen() -> None:
        while not stopped.is_set():
            try:
                heard.append(server.accept())
            except TimeoutError:
                continue

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    yield server.getsockname()[1], heard
    stopped.set()
    thread.join(5)
    server.close()


@pytest.mark.parametrize(
    ("tries", "refused"),
    [
        ("write", "when imported, it tried to write files"),
        ("connect", "when imported, it tried to use the network (socket."),
        ("write in check", "on example no-silent-fallback-valid-1, it tried to write files"),
    ],
)
def test_a_malicious_check_gets_nowhere_and_nothing_escapes_the_sandbox(
    bad_call: str,
    drafter: FakeOpenAI,
    tmp_path: Path,
    cli: Cli,
    listener: tuple[int, list[object]],
    tries: str,
    refused: str,
) -> None:
    port, heard = listener
    escaped = tmp_path / "escaped.txt"
    module = {
        "write": drafting.malicious_on_import(drafting.write_payload(str(escaped))),
        "connect": drafting.malicious_on_import(drafting.connect_payload(port)),
        # It swallows the refusal itself: what it tried is refused all the same.
        "write in check": drafting.malicious_in_check(drafting.write_payload(str(escaped))),
    }[tries]
    drafter.script.append(drafting.answer(module))
    out = draft(cli, bad_call, drafter, "--attempts", "1", expect=1)
    assert f"attempt 1: refused: {refused}" in out
    assert "a check is pure: no I/O at all" in out
    assert heard == [] and not escaped.exists()
    assert saved_checks() == []


def test_keep_failed_keeps_each_refused_draft_with_its_reason(
    bad_call: str, drafter: FakeOpenAI, tmp_path: Path, cli: Cli
) -> None:
    drafter.script.extend(
        [drafting.answer(drafting.NEVER_FIRES), Answer(text="I would rather not write code.")]
    )
    kept = tmp_path / "drafts"
    out = draft(cli, bad_call, drafter, "--attempts", "2", "--keep-failed", str(kept), expect=1)
    first, second = sorted(kept.iterdir())
    assert f"the drafts are in {kept}" in out
    assert first.read_text().startswith(f"# redline draft, attempt 1 for call {bad_call}: refused:")
    assert first.read_text().endswith(drafting.NEVER_FIRES)
    assert "# I would rather not write code." in second.read_text()
    assert saved_checks() == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(text="A check would read the handlers."), "your answer has no ```python block"),
        (
            Answer(text=f"```python\n{drafting.GOOD_CHECK}```\n```python\nx = 1\n```\n"),
            "your answer has 2 ```python blocks; answer with exactly one module",
        ),
        (
            drafting.answer("BOOM = 1 / 0\n" + drafting.GOOD_CHECK),
            'when imported, it raised:\n      File "/workspace/draft.py", line 1',
        ),
        (
            drafting.answer("import socket\n" + drafting.GOOD_CHECK),
            "it may not be loaded: line 1: it imports socket",
        ),
        (
            drafting.answer(drafting.RAISES_ON_THE_BAD_ANSWER),
            "on the bad answer (call",
        ),
        (
            drafting.answer(drafting.GOOD_CHECK.replace('"no-silent-fallback"', '"broad-except"')),
            "its name 'broad-except' is taken (built-in); choose another name",
        ),
        (
            drafting.answer(drafting.JUDGES_NOTHING),
            "its VALID example no-silent-fallback-valid-1 passes only because the check judged "
            "none of its code",
        ),
    ],
    ids=[
        "no-code-block",
        "two-modules",
        "raises-on-import",
        "network",
        "raises-on-bad",
        "clash",
        "judges-nothing",
    ],
)
def test_a_bad_draft_is_refused_with_its_reason_and_nothing_is_written(
    bad_call: str, drafter: FakeOpenAI, cli: Cli, answer: Answer, reason: str
) -> None:
    drafter.script.append(answer)
    out = draft(cli, bad_call, drafter, "--attempts", "1", expect=1)
    assert reason in out
    assert saved_checks() == []


def test_a_name_an_existing_plugin_has_is_refused(
    bad_call: str, drafter: FakeOpenAI, cli: Cli
) -> None:
    folder = config.checks_dir()
    folder.mkdir(parents=True)
    (folder / "mine.py").write_text(drafting.GOOD_CHECK)
    drafter.script.append(drafting.answer(drafting.GOOD_CHECK))
    out = draft(cli, bad_call, drafter, "--attempts", "1", expect=1)
    assert f"its name 'no-silent-fallback' is taken (plugin file {folder / 'mine.py'})" in out
    assert saved_checks() == ["mine.py"]


# -- the stand-in model -------------------------------------------------------------------------


def test_the_stand_in_drafts_a_check_for_a_swallowed_error_that_holds(
    bad_call: str, cli: Cli
) -> None:
    with StandInServer() as standin:
        stand_in = f"openai-chat:redline-stand-in@{standin.url}"
        out = cli("draft", bad_call, "--note", drafting.NOTE, "--model", stand_in).stdout
    assert "attempt 1: holds: no-silent-fallback loads" in out
    saved = (config.checks_dir() / "no_silent_fallback.py").read_text()
    assert "Drafted by the redline stand-in model, not a real model" in saved
    assert repr(drafting.SWALLOWED) in saved  # the bad answer's code among its INVALID examples


def test_the_stand_in_drafts_nothing_for_a_failure_it_does_not_know(
    bad_call: str, cli: Cli
) -> None:
    with StandInServer() as standin:
        stand_in = f"openai-chat:redline-stand-in@{standin.url}"
        out = cli(
            "draft",
            bad_call,
            "--note",
            "the port should be read from the environment",
            "--model",
            stand_in,
            "--attempts",
            "1",
            expect=1,
        ).stdout
    assert "attempt 1: refused: your answer has no ```python block" in out
    assert saved_checks() == []


def test_the_stand_in_names_its_check_after_the_names_taken() -> None:
    prompt = (
        "## The user's note: what was wrong\n\nswallowed the error\n\n"
        "## Check names already taken\n\nbroad-except, no-silent-fallback, no-silent-fallback-2"
    )
    assert "name = 'no-silent-fallback-3'" in standin_drafts.answer(prompt)


# -- bad input -------------------------------------------------------------------------------------


def test_an_unreachable_model_is_one_line_exit_2_and_nothing_is_written(
    bad_call: str, cli: Cli
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = cli(
        "draft",
        bad_call,
        "--note",
        drafting.NOTE,
        "--model",
        f"openai-chat:m@http://127.0.0.1:{port}/v1",
        expect=2,
    )
    assert "error: the drafting model openai-chat:m@" in result.stderr
    # Through the proxy that records it: the proxy's own answer for an unreachable upstream.
    assert "could not be asked: upstream answered 502" in result.stderr
    assert "upstream_unreachable" in result.stderr and result.stderr.count("\n") == 1
    assert saved_checks() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attempts", "0"], "--attempts"),
        (["--note", " "], "give --note: what the model did wrong"),
    ],
)
def test_bad_options_are_one_line_exit_2(
    bad_call: str, drafter: FakeOpenAI, cli: Cli, args: list[str], message: str
) -> None:
    result = cli(
        "draft", bad_call, "--note", drafting.NOTE, "--model", model(drafter), *args, expect=2
    )
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert drafter.received == []


def test_an_out_file_that_exists_is_refused_before_anything_is_asked(
    bad_call: str, drafter: FakeOpenAI, tmp_path: Path, cli: Cli
) -> None:
    out = tmp_path / "taken.py"
    out.write_text("# mine\n")
    result = cli(
        "draft",
        bad_call,
        "--note",
        drafting.NOTE,
        "--model",
        model(drafter),
        "--out",
        str(out),
        expect=2,
    )
    assert "exists; give --out a new file" in result.stderr
    assert out.read_text() == "# mine\n" and drafter.received == []


def test_a_call_whose_answer_wrote_no_code_is_refused(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, drafter: FakeOpenAI, cli: Cli
) -> None:
    from tests.fakes import anthropic as fa

    claude_code_session(fake_anthropic, anthropic_proxy.url, [fa.Text("Done.")])
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    result = cli("draft", call, "--note", drafting.NOTE, "--model", model(drafter), expect=2)
    assert "the bad answer (call" in result.stderr and "wrote no code" in result.stderr
    assert drafter.received == []


# -- the library: a draft that loops on import ----------------------------------------------------


def test_a_module_that_loops_on_import_is_stopped_at_the_time_limit(
    bad_call: str, drafter: FakeOpenAI, db_path: Path
) -> None:
    from redline.analyzers import default_registry
    from redline.replay import case_from_call, one_off
    from redline.replay import draft as draft_check
    from redline.transcripts import open_store

    with open_store(db_path) as store:
        case = case_from_call(
            store, bad_call, drafting.NOTE, [], default_registry(entry_points=False)
        )
    drafter.script.append(drafting.answer("FOREVER = any(iter(int, 1))\n" + drafting.GOOD_CHECK))
    drafted = draft_check(
        case, one_off(model(drafter)), attempts=1, limits=sandbox.Limits(seconds=4)
    )
    (attempt,) = drafted.attempts
    assert attempt.reason == "when imported, it did not finish within 4 s (a loop?)"
    assert drafted.kept is None


def test_a_scan_of_the_history_past_its_time_limit_says_it_stopped(
    fake_anthropic: FakeAnthropic,
    anthropic_proxy: ThreadedProxy,
    bad_call: str,
    drafter: FakeOpenAI,
    db_path: Path,
) -> None:
    from redline.analyzers import default_registry
    from redline.replay import case_from_call, history_of, one_off
    from redline.replay import draft as draft_check
    from redline.transcripts import open_store

    claude_code_session(
        fake_anthropic, anthropic_proxy.url, [write_block(drafting.PLAIN)], session="s-2"
    )
    anthropic_proxy.flush()
    with open_store(db_path) as store:
        case = case_from_call(
            store, bad_call, drafting.NOTE, [], default_registry(entry_points=False)
        )
        history = history_of(store, case)
    # Holds on its examples and the bad answer; loops on any other file.
    looping = drafting.GOOD_CHECK.replace(
        "        for unit in code.units:\n",
        "        for unit in code.units:\n"
        "            while not unit.change.path.endswith(('example.py', 'settings.py')):\n"
        "                pass\n",
    )
    drafter.script.append(drafting.answer(looping))
    drafted = draft_check(
        case,
        one_off(model(drafter)),
        attempts=1,
        history=history,
        scan_limits=sandbox.Limits(seconds=4),
    )
    assert drafted.kept is not None and drafted.scanned is not None
    assert drafted.scanned.stopped == (
        "on the recorded answers, the scan did not finish within 4 s (a loop?)"
    )
    assert drafted.scanned.scanned == 0


@pytest.fixture(autouse=True)
def no_leftover_sandboxes() -> Iterator[None]:
    """Every sandbox a draft starts has ended when its test does. Only this run's are counted
    (their command line binds a folder under its temporary directory): another suite running on
    the machine has sandboxes of its own."""
    yield
    from tests.test_sandbox import processes_with

    assert processes_with("redline.replay.draft_judge", tempfile.gettempdir()) == []
