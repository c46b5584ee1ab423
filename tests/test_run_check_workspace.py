"""The run check's promise, end to end: a task flagged from a Claude Code session recorded
through the proxy, with `-c run:cmd=...` and `--workspace` (a real git repository with a real
test), fails on the recorded answer, passes on a known-good one, and in replay separates the
rules variant that writes working code from the baseline that does not; the code never reaches
the network or the host."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from redline.proxy import ThreadedProxy
from tests.agents import CAREFUL, SWALLOWING, call_ids, careful_answer_file
from tests.fakes.agentic import CLAUDE_CODE, AgenticAnthropic, Seen
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import serving
from tests.run_repo import COMMAND, make_repo
from tests.support import Cli, needs_sandbox
from tests.test_run_check_tasks import claude_code_wrote

pytestmark = needs_sandbox

KEY = "sk-test-fake-key-0123456789"
RULE = "STRICT: let a missing config file raise"
CHECK = f"run:cmd={COMMAND}"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", KEY)


def escaping(code: str, marker: Path, port: int) -> str:
    """`code` that first tries to reach the host: write `marker`, connect to `port`."""
    reach = (
        "import socket\n"
        f"try:\n    open({str(marker)!r}, 'w').write('escaped')\nexcept OSError:\n    pass\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        f"    open({str(marker)!r}, 'w').write('connected')\nexcept OSError:\n    pass\n"
    )
    return reach + code


@pytest.fixture
def task(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, tmp_path: Path
) -> str:
    """Claude Code, in a repository at its first commit, wrote a loader that swallows a missing
    file; the task is that call, with the repository as its workspace and the project's test as
    its check, proven on a known-good answer."""
    head = make_repo(tmp_path / "repo")
    claude_code_wrote(fake_anthropic, anthropic_proxy.url, head, SWALLOWING)
    anthropic_proxy.flush()
    (call,) = call_ids(cli)
    good = careful_answer_file(tmp_path / "good.json")
    workspace = str(tmp_path / "repo")
    flagged = cli.json(
        "flag", call, "-c", CHECK, "--workspace", workspace, "--good", str(good), "--name", "loader"
    )
    assert flagged["saved"] and flagged["workspace"]["revision"].startswith(head)
    (bad,), (fine,) = flagged["verdicts"]["output"], flagged["verdicts"]["good_output"]
    assert not bad["passed"] and "FileNotFoundError not raised" in bad["findings"][0]["snippet"]
    assert fine["passed"] and fine["ran"]["status"] == "exit 0" and fine["ran"]["sandboxed"]
    return "loader"


def test_the_recorded_answer_fails_the_projects_test_and_a_good_one_passes(
    task: str, cli: Cli
) -> None:
    shown = cli.json("task", "show", task)
    assert shown["workspace"]["files"] == 3
    (bad,), (good,) = shown["verdicts"]["output"], shown["verdicts"]["good_output"]
    assert (bad["passed"], good["passed"]) == (False, True)


def test_replay_separates_the_rules_variant_that_writes_working_code(
    task: str, cli: Cli, tmp_path: Path
) -> None:
    marker = tmp_path / "reached-the-host"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.settimeout(0.1)

    def policy(seen: Seen) -> list[Any]:
        careful = RULE in seen.body
        code = CAREFUL if careful else escaping(SWALLOWING, marker, port)
        return [CLAUDE_CODE.write("config.py", code)]

    rules = tmp_path / "CLAUDE.md"
    rules.write_text(RULE + ".\n")
    with serving(AgenticAnthropic(policy)) as fake:
        fake.api_key = KEY
        config = tmp_path / "redline.toml"
        config.write_text(
            f'[models.m]\nbase_url = "{fake.url}"\nwire = "anthropic-messages"\n'
            'model = "m-1"\napi_key_env = "FAKE_KEY"\n'
        )
        out = cli(
            "replay",
            task,
            "--config",
            str(config),
            "-m",
            "m",
            "-n",
            "2",
            "-p",
            f"strict={rules}:rules",
            "--json",
        )
    report = json.loads(out.stdout)
    rows = {r["variant"]: (r["passes"], r["samples"]) for r in report["summary"]}
    assert rows == {"baseline": (0, 2), "strict": (2, 2)}
    for sample in report["samples"]:
        (ran,) = sample["ran"]
        assert ran["sandboxed"] and ran["seconds"] > 0
        assert ran["status"] == ("exit 0" if sample["variant"] == "strict" else "exit 1")
    assert not marker.exists()
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing connected
    listener.close()


def test_a_replay_writes_a_tasks_workspace_once_for_tool_calls_and_checks_alike(
    task: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redline.analyzers import _environment
    from redline.replay import workspace_answers

    written: list[Path] = []

    def counted(workspace: Any, read_blob: Any, dest: Path) -> None:
        written.append(dest)
        materialize(workspace, read_blob, dest)

    materialize = workspace_answers.materialize
    monkeypatch.setattr(workspace_answers, "materialize", counted)
    monkeypatch.setattr(_environment, "materialize", counted)
    with serving(AgenticAnthropic(lambda seen: [CLAUDE_CODE.write("config.py", CAREFUL)])) as fake:
        fake.api_key = KEY
        config = tmp_path / "redline.toml"
        config.write_text(
            f'[models.m]\nbase_url = "{fake.url}"\nwire = "anthropic-messages"\n'
            'model = "m-1"\napi_key_env = "FAKE_KEY"\n'
        )
        report = cli.json("replay", task, "--config", str(config), "-m", "m", "-n", "2")
    assert [(r["passes"], r["samples"]) for r in report["summary"]] == [(2, 2)]
    assert len(written) == 1  # 3,000 files take seconds to write: once per run, not per use
