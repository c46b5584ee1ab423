"""Streams through `redline proxy --mode mitm`: each event reaches the client as the upstream
sends it, the record is written before the end does, and a stream still under way when the proxy
stops is let finish, or cut and recorded as cut."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import httpx2
import pytest
from aiohttp import web

from redline.proxy import ThreadedMitm
from tests.fakes.tls import Pki
from tests.mitm.support import (
    in_the_foreground,
    mitm_proxy,
    mitm_runner,
    spooled,
    through,
    tls,
    via,
)


class Gate:
    """An upstream that streams `first`, then waits for `release` before `rest` and the end of
    the body."""

    def __init__(
        self,
        first: bytes = b'data: {"n": 1}\n\n',
        rest: bytes = b'data: {"n": 2}\n\ndata: [DONE]\n\n',
    ) -> None:
        self.first, self.rest = first, rest
        self.release = threading.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(self.first)
        if await asyncio.to_thread(self.release.wait, 10):
            await response.write(self.rest)
            await response.write_eof()
        return response


def test_a_streamed_event_reaches_the_client_before_the_upstream_sends_the_next(
    mitm: ThreadedMitm, pki: Pki, db_path: Path
) -> None:
    gate = Gate()
    with (
        tls(gate.app(), pki) as url,
        through(mitm) as http,
        http.stream("POST", f"{url}/v1/chat/completions", json={"stream": True}) as response,
    ):
        events = response.iter_lines()
        first = next(e for e in events if e)
        gate.release.set()  # only now does the upstream send the rest
        rest = [e for e in events if e]
    assert first == 'data: {"n": 1}' and rest == ['data: {"n": 2}', "data: [DONE]"]
    mitm.flush()
    (line,) = spooled(db_path)
    assert line.outcome == "complete"
    assert line.response_body.decode() == 'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: [DONE]\n\n'


def test_the_record_is_written_before_the_end_event_reaches_the_client(
    mitm: ThreadedMitm, pki: Pki, db_path: Path
) -> None:
    """As in reverse mode: once the client has the answer's end, a crash cannot lose the call."""
    gate = Gate(first=b'data: {"n": 1}\n\ndata: [DONE]\n\n', rest=b"")
    with (
        tls(gate.app(), pki) as url,
        through(mitm) as http,
        http.stream("POST", f"{url}/v1/chat/completions", json={"stream": True}) as response,
    ):
        events = response.iter_lines()
        assert [next(events), next(events), next(events)] == ['data: {"n": 1}', "", "data: [DONE]"]
        (line,) = spooled(db_path)  # the body has not ended: the upstream waits for `release`
        gate.release.set()
        assert [e for e in events if e] == []
    assert line.outcome == "complete"
    assert line.response_body.decode() == 'data: {"n": 1}\n\ndata: [DONE]\n\n'


# --- when the proxy stops -------------------------------------------------------------------


def test_stopping_records_an_exchange_in_flight_as_incomplete(pki: Pki, db_path: Path) -> None:
    gate = Gate()
    with tls(gate.app(), pki) as url:
        with (
            mitm_proxy(db_path, pki) as proxy,
            through(proxy) as http,
            pytest.raises(httpx2.RemoteProtocolError),
            http.stream("POST", f"{url}/v1/chat/completions", json={}) as response,
        ):
            for line in response.iter_lines():
                if line:
                    proxy.runner.stop()  # mid-stream
        gate.release.set()
        (line,) = spooled(db_path)  # on disk once the proxy has stopped
    assert line.outcome == "incomplete" and line.status == 200
    assert line.error == "redline proxy shut down while the call was under way"


def test_a_call_under_way_at_sigterm_is_let_finish(pki: Pki, db_path: Path) -> None:
    gate = Gate()
    runner = mitm_runner(db_path, pki)

    def stream_through_a_sigterm(url: str) -> None:
        with (
            via(url, runner.ca.cert_pem) as http,
            http.stream("POST", f"{upstream}/v1/chat/completions", json={}) as response,
        ):
            events = response.iter_lines()
            assert next(events) == 'data: {"n": 1}'
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # the proxy is draining now; the upstream goes on
            gate.release.set()
            assert [e for e in events if e] == ['data: {"n": 2}', "data: [DONE]"]

    with tls(gate.app(), pki) as upstream:
        in_the_foreground(runner, stream_through_a_sigterm)
    (line,) = spooled(db_path)
    assert (line.outcome, line.error) == ("complete", None)


@pytest.mark.parametrize(
    ("drain", "signals", "why"),
    [
        (0.2, 1, "the drain bound (0.2 s) was reached"),
        (30, 2, "the proxy was stopped a second time"),
    ],
    ids=["drain-bound", "second-signal"],
)
def test_a_call_still_under_way_is_cut_and_recorded_as_cut_at_the(
    drain: float, signals: int, why: str, pki: Pki, db_path: Path
) -> None:
    gate = Gate()
    runner = mitm_runner(db_path, pki, drain=drain)

    def stream_through_signals(url: str) -> None:
        with (
            via(url, runner.ca.cert_pem) as http,
            http.stream("POST", f"{upstream}/v1/chat/completions", json={}) as response,
            pytest.raises(httpx2.RemoteProtocolError),  # broken off, never ended cleanly
        ):
            for event in response.iter_lines():
                if event:
                    for _ in range(signals):
                        os.kill(os.getpid(), signal.SIGTERM)
                        time.sleep(0.05)

    with tls(gate.app(), pki) as upstream:
        in_the_foreground(runner, stream_through_signals)
        gate.release.set()
    (line,) = spooled(db_path)
    assert (line.outcome, line.status) == ("incomplete", 200)
    assert line.error == f"redline proxy shut down while the call was under way: {why}"
