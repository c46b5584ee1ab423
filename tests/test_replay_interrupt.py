"""Ctrl-C in the middle of a replay keeps every finished sample, and the same command resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.fixtures import serving
from tests.fakes.flaky import Behaviour, FlakyModel
from tests.support import Cli


def test_ctrl_c_keeps_finished_samples_and_the_next_run_resumes(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    cli("import", "--examples")
    with serving(FlakyModel()) as fake:
        fake.script.extend([Behaviour("hang", seconds=0.3)] * 12)
        command, env = _replay_command(fake, tmp_path, db_path, "-n", "6", "--concurrency", "1")
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while len(fake.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr
        assert "interrupted:" in stderr and "run the same command again to resume" in stderr
        (run,) = cli.json("runs")["runs"]
        assert run["status"] == "interrupted"
        kept = run["results"]
        assert 2 <= kept < 6
        sent_before = len(fake.requests)
        again = subprocess.run(
            [*command, "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
    (c,) = report["cells"]
    assert c["samples"] == 6 and c["from_cache"] == kept
    assert len(fake.requests) - sent_before == 6 - kept


def _replay_command(
    fake: FlakyModel, tmp_path: Path, db_path: Path, *extra: str
) -> tuple[list[str], dict[str, str]]:
    """`redline replay` of the aider example to `fake` as a command line, and its environment."""
    config = tmp_path / "redline.toml"
    config.write_text(
        f'[models.slow]\nbase_url = "{fake.url}/v1"\nwire = "openai-chat"\n'
        'model = "slow-1"\napi_key_env = ""\n'
    )
    command = [
        sys.executable,
        "-m",
        "redline",
        "replay",
        "aider-swallows-config-errors",
        "--config",
        str(config),
        "-m",
        "slow",
        *extra,
    ]
    return command, {**os.environ, "REDLINE_DB": str(db_path)}


def _replay_process(
    fake: FlakyModel, tmp_path: Path, db_path: Path, *extra: str
) -> subprocess.Popen[str]:
    command, env = _replay_command(fake, tmp_path, db_path, "-n", "1", *extra)
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_sigterm_while_waiting_for_retry_after_marks_the_run_interrupted_and_says_why(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    cli("import", "--examples")
    with serving(FlakyModel()) as fake:
        fake.script.append(Behaviour("status", 429, {"Retry-After": "100"}))
        proc = _replay_process(fake, tmp_path, db_path)
        deadline = time.monotonic() + 30
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # it is waiting now
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 143, stderr
    assert "waiting 100 s before retrying slow: upstream answered 429 (Retry-After: 100)" in stderr
    assert "terminated: " in stderr and "run the same command again to resume" in stderr
    (run,) = cli.json("runs")["runs"]
    assert run["status"] == "interrupted"


def test_a_retry_after_past_max_wait_is_an_error_sample_without_waiting(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    cli("import", "--examples")
    with serving(FlakyModel()) as fake:
        fake.script.append(Behaviour("status", 429, {"Retry-After": "3600"}))
        proc = _replay_process(fake, tmp_path, db_path, "--max-wait", "60", "--json")
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    (cell,) = json.loads(stdout)["cells"]
    assert cell["errors"] == 1
    (run,) = cli.json("runs")["runs"]
    assert run["status"] == "finished"
