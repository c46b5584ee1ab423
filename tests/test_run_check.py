"""The `run` check: a command run on the answer's code in the sandbox (real bubblewrap), on a
fresh copy of the workspace with the answer's edits, or in an empty folder with its code blocks
and the task's own files; and what it makes of answers that cannot be run."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.analyzers import (
    Environment,
    Verdict,
    default_registry,
    judgement,
    parse_check,
    prepared,
    run_checks,
)
from redline.errors import RedlineError
from redline.transcripts import Message, OwnFile, Request, Text, agents, snapshot
from tests.run_repo import CAREFUL_NEW, COMMAND, SWALLOW_NEW, SWALLOW_OLD, make_repo
from tests.support import Cli, needs_sandbox

pytestmark = needs_sandbox

REGISTRY = default_registry(entry_points=False)
SUM = "import sys\nprint(sum(int(x) for x in open('input.txt').read().split()))\n"


def chat(text: str) -> Message:
    return Message("assistant", (Text(text),))


def fenced(code: str, tag: str = "python") -> str:
    return f"Here is the program.\n\n```{tag}\n{code}```\n"


def judge(spec: str, output: Message, environment: Environment | None = None) -> Verdict:
    (verdict,) = run_checks([parse_check(spec, REGISTRY)], output, environment=environment)
    return verdict


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Environment]:
    """The project of tests/run_repo.py as a task's workspace, prepared once."""
    make_repo(tmp_path / "repo")
    taken = snapshot(tmp_path / "repo")
    with prepared(taken.workspace, taken.blobs.__getitem__) as environment:
        yield environment


def test_the_bad_answer_fails_the_projects_real_test_and_the_good_one_passes(
    repo: Environment,
) -> None:
    bad = Message("assistant", (agents.edited("config.py", SWALLOW_OLD, SWALLOW_NEW),))
    good = Message("assistant", (agents.edited("config.py", SWALLOW_OLD, CAREFUL_NEW),))
    failed = judge(f"run:cmd={COMMAND}", bad, repo)
    assert not failed.passed and failed.judged == ("config.py",)
    (finding,) = failed.findings
    assert finding.message.startswith(f"`{COMMAND}` ended with exit 1, not exit 0 (after ")
    assert "AssertionError: FileNotFoundError not raised" in finding.snippet
    assert failed.ran is not None and failed.ran.sandboxed and failed.ran.seconds > 0
    passed = judge(f"run:cmd={COMMAND}", good, repo)
    assert passed.passed and passed.judged == ("config.py",)
    assert passed.ran is not None and passed.ran.exit_status == 0
    assert judgement([passed], good) == "pass"


def test_a_one_shot_answer_runs_beside_the_tasks_own_files() -> None:
    files = (OwnFile("input.txt", b"1 2 3\n"), OwnFile("expected.txt", b"6\n"))
    spec = "run:cmd=python3 answer.py | diff - expected.txt"
    with prepared(None, None, files) as environment:
        assert judge(spec, chat(fenced(SUM)), environment).passed
        wrong = judge(spec, chat(fenced(SUM.replace("sum(", "max("))), environment)
    assert not wrong.passed and "> 6" in wrong.findings[0].snippet


def test_unnamed_blocks_are_answer_py_answer_2_py_and_a_named_one_keeps_its_name() -> None:
    text = (
        "```python\nprint('one')\n```\n\n```python\nprint('two')\n```\n\n"
        "lib/helper.js\n```js\nconsole.log('three')\n```\n\n```bash\necho four\n```\n"
    )
    verdict = judge("run:cmd=ls -R && cat answer.py answer_2.py answer.sh", chat(text))
    assert verdict.passed and verdict.judged == (
        "answer.py",
        "answer_2.py",
        "lib/helper.js",
        "answer.sh",
    )
    assert verdict.ran is not None
    assert "print('one')\nprint('two')\necho four" in verdict.ran.output


def test_the_output_regex_must_match_and_expect_sets_the_passing_status() -> None:
    code = chat(fenced("import sys\nprint('total: 45')\nsys.exit(3)\n"))
    assert judge("run:cmd=python3 answer.py; expect=3; output=total: \\d+", code).passed
    wrong = judge("run:cmd=python3 answer.py; expect=3; output=total: 46", code)
    assert [f.message.split(" (")[0] for f in wrong.findings] == [
        "the output of `python3 answer.py` does not match /total: 46/"
    ]
    assert (
        "ended with exit 3, not exit 0"
        in judge("run:cmd=python3 answer.py", code).findings[0].message
    )


def test_the_output_regex_is_searched_after_a_command_slower_than_its_time_limit() -> None:
    # A pattern's search has a time limit; the seconds the command ran are not the search's.
    code = chat(fenced("import time\ntime.sleep(2.5)\nprint('total: 45')\n"))
    verdict = judge("run:cmd=python3 answer.py; output=total: \\d+", code)
    assert verdict.passed, verdict.findings
    assert verdict.ran is not None and verdict.ran.seconds > 2


def test_an_answer_with_no_code_is_never_run_and_is_no_attempt() -> None:
    question = chat("Before I write this: which format are the config files in?")
    verdict = judge("run:cmd=true", question)
    assert verdict.passed and verdict.judged == () and verdict.ran is None
    assert judgement([verdict], question) == "no_attempt"


def test_a_command_that_is_not_found_is_a_finding_that_says_so() -> None:
    (finding,) = judge("run:cmd=pytest-that-is-not-installed", chat(fenced(SUM))).findings
    assert "ended with exit 127: command not found, not exit 0" in finding.message
    assert "not found" in finding.snippet


def test_gigabytes_of_output_are_capped_and_the_run_killed() -> None:
    verdict = judge("run:cmd=yes 'a line of output'", chat(fenced(SUM)))
    (finding,) = verdict.findings
    assert "was killed: wrote more than 32 MiB of output" in finding.message
    assert verdict.ran is not None and verdict.ran.exit_status is None
    assert len(finding.snippet) <= 3000 and finding.snippet.count("\n") < 30


def test_a_command_that_never_ends_is_killed_at_its_timeout() -> None:
    verdict = judge("run:cmd=sleep 600; timeout=1", chat(fenced(SUM)))
    (finding,) = verdict.findings
    assert finding.message.startswith("`sleep 600` was killed: ran past the time limit of 1 s")
    assert verdict.ran is not None and 1 <= verdict.ran.seconds < 60


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A server on the host's loopback that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[object] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


def test_the_answers_code_cannot_reach_the_network(listener: tuple[int, list[object]]) -> None:
    port, accepted = listener
    probe = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
    verdict = judge("run:cmd=python3 answer.py", chat(fenced(probe)))
    assert not verdict.passed and "ConnectionRefusedError" in verdict.findings[0].snippet
    assert accepted == []


def test_the_answers_code_cannot_write_outside_its_copy(repo: Environment, tmp_path: Path) -> None:
    assert repo.workspace is not None
    outside = tmp_path / "escaped.txt"
    targets = [outside, repo.workspace / "config.py", Path.home() / "redline-run-escape"]
    writer = "".join(
        f"try:\n    open({str(t)!r}, 'w').write('x')\nexcept OSError as e:\n    print(e)\n"
        for t in targets
    )
    before = (repo.workspace / "config.py").read_text()
    answer = Message("assistant", (agents.written("escape.py", writer),))
    verdict = judge("run:cmd=python3 escape.py", answer, repo)
    assert verdict.passed and verdict.ran is not None
    assert not outside.exists() and not targets[2].exists()
    assert (repo.workspace / "config.py").read_text() == before


def test_an_edit_outside_the_workspace_is_refused_as_a_finding_and_nothing_runs(
    repo: Environment,
) -> None:
    escape = Message("assistant", (agents.written("../../escape.py", "print('out')\n"),))
    verdict = judge(f"run:cmd={COMMAND}", escape, repo)
    (finding,) = verdict.findings
    assert finding.message == (
        "the answer cannot be run as written: its edit of ../../escape.py does not apply "
        "(outside the folder)"
    )
    assert verdict.ran is None and verdict.judged == ("../../escape.py",)


def test_an_edit_of_a_file_that_is_not_there_says_the_task_has_no_workspace() -> None:
    edit = Message("assistant", (agents.edited("config.py", SWALLOW_OLD, SWALLOW_NEW),))
    (finding,) = judge(f"run:cmd={COMMAND}", edit).findings
    assert "(no such file; the task has no workspace: flag it with --workspace" in finding.message


def test_each_run_check_gets_a_fresh_copy(repo: Environment) -> None:
    edit = Message("assistant", (agents.edited("config.py", SWALLOW_OLD, CAREFUL_NEW),))
    checks = [
        parse_check("run:cmd=touch left-behind && rm config.py", REGISTRY),
        parse_check("run:cmd=test ! -e left-behind && test -e config.py", REGISTRY),
    ]
    assert [v.passed for v in run_checks(checks, edit, environment=repo)] == [True, True]


def test_an_absolute_path_lands_in_the_recorded_working_directory(repo: Environment) -> None:
    request = Request(
        model="claude-sonnet-4-5",
        messages=(Message("user", (Text("Fix the loader."),)),),
        system=(Text("You are Claude Code.\n - Primary working directory: /home/u/app\n"),),
        wire="anthropic-messages",
    )
    edit = Message("assistant", (agents.edited("/home/u/app/config.py", SWALLOW_OLD, CAREFUL_NEW),))
    (verdict,) = run_checks(
        [parse_check(f"run:cmd=pwd && {COMMAND}", REGISTRY)], edit, request, environment=repo
    )
    assert verdict.passed and verdict.ran is not None
    assert verdict.ran.output.startswith("/home/u/app\n")


def test_a_prepared_virtualenv_is_mounted_read_only_with_its_bin_first(tmp_path: Path) -> None:
    import sys

    venv = Path(sys.prefix)  # the environment these tests run in: it has pytest
    spec = f"run:cmd=python -m pytest -q test_answer.py; venv={venv}"
    test = "from answer import double\n\ndef test_double():\n    assert double(2) == 4\n"
    answer = Message(
        "assistant",
        (
            agents.written("answer.py", "def double(x):\n    return 2 * x\n", "a"),
            agents.written("test_answer.py", test, "b"),
        ),
    )
    verdict = judge(spec, answer)
    assert verdict.passed, verdict.findings
    assert verdict.ran is not None and "1 passed" in verdict.ran.output
    with pytest.raises(RedlineError, match="is no virtualenv"):
        judge(f"run:cmd=true; venv={tmp_path}", answer)


# --- options and the command line ---------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("run", "check 'run' needs option 'cmd'"),
        ("run:timeout=5", "check 'run' needs option 'cmd'"),
        ("run:cmd=true;timeout=0", "option 'timeout' of check 'run' is at least 1, not 0"),
        ("run:cmd=true;expect=256", "option 'expect' of check 'run' is at most 255, not 256"),
        ("run:cmd=true;output=(", "option 'output' of check 'run' is not a valid regular"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    cli: Cli, tmp_path: Path, spec: str, says: str
) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text(fenced(SUM))
    result = cli("check", "-c", spec, str(answer), expect=2)
    assert result.stderr.startswith(f"error: {says}") and result.stderr.count("\n") == 1


def test_check_takes_the_tasks_files_and_says_what_ran(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "input.txt").write_text("1 2 3\n")
    (tmp_path / "expected.txt").write_text("6\n")
    answer = tmp_path / "answer.md"
    answer.write_text(fenced(SUM))
    spec = "run:cmd=python3 answer.py | diff - expected.txt"
    files = ["--file", str(tmp_path / "input.txt"), "--file", str(tmp_path / "expected.txt")]
    out = cli("check", "-c", spec, *files, str(answer)).stdout
    assert out.startswith(f"{spec}  pass  (exit 0 in ")
    (verdict,) = cli.json("check", "-c", spec, *files, str(answer))["verdicts"]
    assert verdict["ran"]["status"] == "exit 0" and verdict["ran"]["sandboxed"] is True
    missing = cli("check", "-c", spec, "--file", str(tmp_path / "input.txt"), str(answer), expect=1)
    assert "diff: expected.txt: No such file or directory" in missing.stdout


def test_no_sandbox_is_said_each_time_and_in_the_verdict(cli: Cli, tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text(fenced("print('hi')\n"))
    result = cli("check", "-c", "run:cmd=python3 answer.py", "--no-sandbox", str(answer), "--json")
    assert "warning: --no-sandbox: the answer's code runs on this machine as you" in result.stderr
    ran = result.stdout[result.stdout.index("{") :]
    assert '"status": "exit 0 (not sandboxed)"' in ran and '"sandboxed": false' in ran


def test_check_runs_the_answer_in_a_project_folder(cli: Cli, tmp_path: Path) -> None:
    make_repo(tmp_path / "repo")
    answer = tmp_path / "answer.json"
    edit = agents.edited("config.py", SWALLOW_OLD, SWALLOW_NEW)
    call = {"type": "tool_call", "id": "e", "name": "Edit", "arguments": edit.arguments}
    answer.write_text(json.dumps({"role": "assistant", "parts": [call]}))
    spec = f"run:cmd={COMMAND}"
    out = cli("check", "-c", spec, "--workspace", str(tmp_path / "repo"), str(answer), expect=1)
    assert "FileNotFoundError not raised" in out.stdout
