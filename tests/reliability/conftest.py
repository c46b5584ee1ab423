"""Fixtures of the reliability suite: the misbehaving upstream, a listener that must hear
nothing, a proxy in front (in this process), and proxy processes to kill (tests/reliability/
zygote.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from redline import config
from redline.proxy import ProxyRunner, Route, ThreadedProxy
from tests.reliability.support import Listener, Serving, Upstream

# Hypothesis keeps its example database and caches outside the repository.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "redline-hypothesis")
)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    fake = Upstream()
    with Serving(fake.app()) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def listener() -> Iterator[Listener]:
    fake = Listener()
    with Serving(fake.app()) as server:
        fake.url = server.url
        yield fake


@contextmanager
def proxy_to(db_path: Path, upstream_url: str, **options: Any) -> Iterator[ThreadedProxy]:
    runner = ProxyRunner(
        [Route.parse("", upstream_url)], config.spool_dir(db_path), "127.0.0.1", 0, **options
    )
    with ThreadedProxy(runner) as running:
        yield running


@pytest.fixture
def proxy(upstream: Upstream, db_path: Path) -> Iterator[ThreadedProxy]:
    with proxy_to(db_path, upstream.url) as running:
        yield running


@dataclass
class Forked:
    pid: int
    url: str
    log: Path


class Zygote:
    """Forks proxy processes on request (see zygote.py)."""

    def __init__(self) -> None:
        self.forked: list[int] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("zygote.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return reply

    def fork(self, upstream: str, db_path: Path, **options: Any) -> Forked:
        log = db_path.with_name("proxy.log")
        spec = {"upstream": upstream, "spool": str(config.spool_dir(db_path)), "log": str(log)}
        reply = self._ask({"fork": {**spec, **options}})
        self.forked.append(reply["pid"])
        assert reply["port"], log.read_text() if log.exists() else "the proxy did not start"
        return Forked(reply["pid"], f"http://127.0.0.1:{reply['port']}", log)

    def kill_all(self) -> None:
        """End every proxy forked so far that a test left running."""
        for pid in self.forked:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                self.wait(pid, 10)
        self.forked.clear()

    def wait(self, pid: int, timeout: float) -> int | None:
        code: int | None = self._ask({"wait": pid, "timeout": timeout})["code"]
        return code

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture(scope="session")
def _zygote_process() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


@pytest.fixture
def zygote(_zygote_process: Zygote) -> Iterator[Zygote]:
    """The zygote; the proxies a test forks end with the test."""
    yield _zygote_process
    _zygote_process.kill_all()
