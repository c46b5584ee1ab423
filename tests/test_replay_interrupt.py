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
            "-n",
            "6",
            "--concurrency",
            "1",
        ]
        env = {**os.environ, "REDLINE_DB": str(db_path)}
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
