"""Running `redline proxy --mode mitm`: in a process (started and stopped repeatedly, one at a
time, the store kept current meanwhile), in the foreground until a signal, and as the command,
which says what to export and which options it takes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from redline import config
from redline.errors import RedlineError
from redline.proxy import MitmRunner, ThreadedMitm
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.tls import Pki
from tests.mitm.support import (
    in_the_foreground,
    mitm_proxy,
    mitm_runner,
    openai_client,
    tls,
    via,
)
from tests.support import Cli
from tests.test_proxy_chat import MESSAGES


def test_start_and_stop_repeatedly_in_one_process(db_path: Path, pki: Pki) -> None:
    for _ in range(3):
        with mitm_proxy(db_path, pki) as proxy:
            port = proxy.port
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_with_a_database_the_store_is_kept_current_in_the_background(
    pki: Pki, db_path: Path
) -> None:
    """As in reverse mode (tests/test_proxy_background_ingest.py has the ingest itself)."""
    with mitm_proxy(db_path, pki, ingest_into=db_path) as proxy:
        assert proxy.runner.background is not None
        assert "redline-ingest" in {t.name for t in threading.enumerate()}
    assert proxy.runner.background is None
    assert "redline-ingest" not in {t.name for t in threading.enumerate()}


def test_one_mitm_proxy_runs_in_a_process_at_a_time(mitm: ThreadedMitm, tmp_path: Path) -> None:
    second = MitmRunner(tmp_path / "spool")
    with pytest.raises(RedlineError, match="a mitm proxy is running in this process already"):
        ThreadedMitm(second).__enter__()


def test_a_port_in_use_is_a_one_line_error(db_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        runner = MitmRunner(config.spool_dir(db_path), "127.0.0.1", port)
        with (
            pytest.raises(RedlineError, match=f"^127.0.0.1:{port} is already in use"),
            ThreadedMitm(runner),
        ):
            pass


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_in_the_foreground_it_stops_on(
    sig: signal.Signals, pki: Pki, db_path: Path, cli: Cli
) -> None:
    fake = FakeOpenAI()
    runner = mitm_runner(db_path, pki)

    def call_then_signal(url: str) -> None:
        with (
            via(url, runner.ca.cert_pem) as http,
            openai_client(upstream, fake.api_key, http) as client,
        ):
            client.chat.completions.create(model="gpt-test", messages=MESSAGES)
        os.kill(os.getpid(), sig)

    with tls(fake.app(), pki) as upstream:
        in_the_foreground(runner, call_then_signal)
    (conversation,) = cli.json("ls")["conversations"]
    assert conversation["title"] == "Add error handling to the config loader."


# --- the command --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--mode", "mitm", "--upstream", "https://api.openai.com"],
            "error: --upstream is for the reverse mode",
        ),
        (
            ["--mode", "mitm", "--route", "/a=https://api.openai.com"],
            "error: --route is for the reverse mode",
        ),
        (
            ["--upstream", "https://api.openai.com", "--host-match", "x.example"],
            "error: --host-match is for --mode mitm",
        ),
        (["--upstream-ca", "ca.pem"], "error: --upstream-ca is for --mode mitm"),
        (["--print-ca"], "error: --print-ca is for --mode mitm"),
        (
            ["--mode", "mitm", "--host-match", "a b"],
            "error: --host-match 'a b' is not a host pattern",
        ),
    ],
)
def test_a_wrong_combination_of_options_is_one_line_and_exit_code_2(
    cli: Cli, args: list[str], message: str
) -> None:
    result = cli("proxy", *args, expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(message), line


def test_the_command_line_imports_mitmproxy_only_in_mitm_mode() -> None:
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom redline.cli import app\n"
        "CliRunner().invoke(app, ['proxy', '--upstream', 'not a url'])\n"
        "assert not [m for m in sys.modules if m.startswith('mitmproxy')]\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=60)


class MitmProcess:
    """`redline proxy --mode mitm --port 0` as a real process; `banner` is what it printed up to
    its last `export` line."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-W", "error", "-m", "redline", "proxy", "--mode", "mitm"]
        self.proc = subprocess.Popen(
            [*command, "--port", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        self.banner: list[str] = []
        while len(self.banner) < 20:
            line = self.proc.stderr.readline()
            self.banner.append(line)
            if not line or line.startswith("  export REQUESTS_CA_BUNDLE="):
                break
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", self.banner[0])
        if not found:
            self.stop(signal.SIGKILL)
            pytest.fail("".join(self.banner))
        self.url = found.group(1)

    def stop(self, sig: int) -> tuple[int, str]:
        """Send `sig`; the exit code and the rest of stderr."""
        assert self.proc.stderr is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(10)
        rest = self.proc.stderr.read()
        self.proc.stderr.close()
        return code, rest


def test_the_command_prints_what_to_export_records_and_stops_on_sigterm(
    pki: Pki, cli: Cli, redline_config: Path
) -> None:
    running = MitmProcess("--host-match", "localhost/v1/", "--upstream-ca", str(pki.ca_pem))
    ca = redline_config / "mitm"
    fake = FakeOpenAI()
    try:
        exports = dict(
            line.split()[1].split("=", 1) for line in running.banner if line.startswith("  export ")
        )
        assert exports == {
            "HTTPS_PROXY": running.url,
            "NODE_EXTRA_CA_CERTS": str(ca / "ca.pem"),
            "CODEX_CA_CERTIFICATE": str(ca / "ca.pem"),
            "SSL_CERT_FILE": str(ca / "client-trust.pem"),
            "REQUESTS_CA_BUNDLE": str(ca / "client-trust.pem"),
        }
        with (
            tls(fake.app(), pki) as upstream,
            via(exports["HTTPS_PROXY"], exports["NODE_EXTRA_CA_CERTS"]) as http,
            openai_client(upstream, fake.api_key, http) as client,
        ):
            client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    finally:
        assert running.stop(signal.SIGTERM) == (0, "")
    (conversation,) = cli.json("ls")["conversations"]
    assert conversation["title"] == "Add error handling to the config loader."
