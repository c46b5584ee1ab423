"""`redline proxy` as a real process: the flow a user runs by hand, crashes included."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.fakes.openai_chat import FakeOpenAI

REDLINE = [sys.executable, "-m", "redline"]


class ProxyProcess:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*REDLINE, "proxy", "--port", "0", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        found = re.search(r"listening on (http://[\d.]+:\d+)", first)
        assert found, first + self.proc.stderr.read()
        self.url = found.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@pytest.fixture
def proxy_process(fake_openai: FakeOpenAI) -> Iterator[ProxyProcess]:
    running = ProxyProcess("--upstream", fake_openai.url)  # type: ignore[attr-defined]
    yield running
    running.stop()


def redline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REDLINE, *args], capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )


def test_the_proxy_binds_127_0_0_1_by_default(proxy_process: ProxyProcess) -> None:
    assert proxy_process.url.startswith("http://127.0.0.1:")


def test_the_proxy_says_how_to_point_claude_code_and_openai_clients_at_it(
    proxy_process: ProxyProcess,
) -> None:
    assert proxy_process.proc.stderr is not None
    # Read the start-up lines up to the hint; a proxy that never prints one is killed.
    stop = threading.Timer(10, proxy_process.proc.kill)
    stop.start()
    lines = []
    for line in proxy_process.proc.stderr:
        lines.append(line)
        if "BASE_URL" in line:
            break
    stop.cancel()
    said = "".join(lines)
    url = proxy_process.url
    assert f"ANTHROPIC_BASE_URL={url} (Claude Code)" in said
    assert f"OPENAI_BASE_URL={url}/v1" in said


def test_redline_commands_work_while_the_proxy_runs(
    fake_openai: FakeOpenAI, proxy_process: ProxyProcess
) -> None:
    c = openai.OpenAI(
        base_url=f"{proxy_process.url}/v1", api_key=fake_openai.api_key, max_retries=0
    )
    c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "one"}])
    first = redline("ls", "--json")
    c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "two"}])
    second = redline("ls", "--json")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert {conv["title"] for conv in json.loads(second.stdout)["conversations"]} == {"one", "two"}


def test_kill_9_loses_no_finished_exchange(fake_openai: FakeOpenAI, db_path: Path) -> None:
    running = ProxyProcess("--upstream", fake_openai.url)  # type: ignore[attr-defined]
    c = openai.OpenAI(base_url=f"{running.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    for i in range(5):
        c.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": f"task {i}"}]
        )
    # Each record is written before its answer's last bytes: killed the moment the client has
    # its last answer, the proxy has lost none of them.
    running.stop(signal.SIGKILL)
    listed = redline("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["conversations"]) == 5


def test_a_bad_upstream_is_one_line_and_exit_code_2() -> None:
    result = redline("proxy", "--upstream", "api.openai.com")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: upstream 'api.openai.com' is not an http(s) URL; give e.g. https://api.openai.com"
    )


def test_a_port_in_use_is_one_line_and_exit_code_2(proxy_process: ProxyProcess) -> None:
    port = proxy_process.url.rsplit(":", 1)[1]
    result = redline("proxy", "--upstream", "http://127.0.0.1:9", "--port", port)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: 127.0.0.1:{port} is already in use; choose another with --port"
    )
