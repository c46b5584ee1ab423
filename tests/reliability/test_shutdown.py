"""Stopping the proxy: SIGTERM lets calls under way finish for at most the drain bound
(`redline proxy --drain`), then cuts the rest, records each as cut by the shutdown and exits
at once (issue 13, defect 8: a stream longer than 60 s made the proxy take 122 s to exit, and
its record said the client went away)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.reliability.conftest import Zygote
from tests.reliability.support import DONE, Upstream, chat_body, spooled
from tests.support import Cli


class Stream:
    """A streamed call (chunked, as the proxy sends it) whose first event has arrived."""

    def __init__(self, url: str, behave: str, **headers: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        body = chat_body(behave, stream=True)
        head = {"X-Behave": behave, "Content-Length": str(len(body)), **headers}
        self.sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + b"".join(f"{k}: {v}\r\n".encode() for k, v in head.items())
            + b"\r\n"
            + body
        )
        self.got = b""
        while b"data: " not in self.got:
            self.got += self.sock.recv(65536)

    def rest(self) -> tuple[bytes, bool]:
        """Everything until the proxy closes, and whether the chunked body was ended (its
        last-chunk sent) rather than cut off."""
        with self.sock:
            while chunk := self.sock.recv(65536):
                self.got += chunk
        return self.got, self.got.endswith(b"0\r\n\r\n")


def test_sigterm_cuts_a_stream_longer_than_the_drain_records_it_as_cut_and_exits(
    zygote: Zygote, upstream: Upstream, db_path: Path
) -> None:
    proxy = zygote.fork(upstream.url, db_path, signals=True, drain=1.0)
    stream = Stream(proxy.url, "forever")
    os.kill(proxy.pid, signal.SIGTERM)
    started = time.monotonic()
    _, clean = stream.rest()
    assert not clean  # cut, never ended cleanly: the client knows it is not whole
    assert zygote.wait(proxy.pid, 20) == 0
    assert time.monotonic() - started < 15  # the bound is 1 s; 122 s before the fix
    [record] = spooled(db_path)
    assert record.outcome == "incomplete"
    assert record.error is not None and "shut down" in record.error
    assert "drain bound (1 s)" in record.error
    assert b"more" in record.response_body  # the partial answer is kept
    assert "cut 1 call(s)" in proxy.log.read_text()


def test_sigterm_lets_a_stream_that_ends_within_the_drain_finish(
    zygote: Zygote, upstream: Upstream, db_path: Path
) -> None:
    proxy = zygote.fork(upstream.url, db_path, signals=True, drain=10.0)
    stream = Stream(proxy.url, "slow-stream", **{"X-Delay": "0.2", "X-Events": "4"})
    os.kill(proxy.pid, signal.SIGTERM)
    rest, clean = stream.rest()
    assert clean and DONE in rest
    assert zygote.wait(proxy.pid, 20) == 0
    [record] = spooled(db_path)
    assert (record.outcome, record.error) == ("complete", None)


def test_a_second_signal_cuts_at_once(zygote: Zygote, upstream: Upstream, db_path: Path) -> None:
    proxy = zygote.fork(upstream.url, db_path, signals=True, drain=60.0)
    stream = Stream(proxy.url, "forever")
    os.kill(proxy.pid, signal.SIGTERM)
    time.sleep(0.2)
    os.kill(proxy.pid, signal.SIGINT)
    assert zygote.wait(proxy.pid, 20) == 0
    assert stream.rest()[1] is False
    [record] = spooled(db_path)
    assert record.error is not None and "stopped a second time" in record.error


def test_the_drain_bound_is_an_option_of_redline_proxy(cli: Cli) -> None:
    assert "--drain" in cli("proxy", "--help").output
    cli("proxy", "--upstream", "http://127.0.0.1:9", "--drain", "-1", expect=2)
