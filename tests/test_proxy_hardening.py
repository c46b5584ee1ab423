"""Inputs that once broke recording or leaked: odd bytes, credentials in URLs, protocol corners."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from redline import config
from redline.proxy import ThreadedProxy
from redline.transcripts.spool import Record, SpoolWriter, read_records
from redline.transcripts.store import open_store
from tests.fakes import http
from tests.fakes.openai_chat import FakeOpenAI
from tests.support import Cli


def raw_request(url: str, head: bytes, body: bytes = b"", *, status_only: bool = False) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head + body)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
            if status_only and b"\r\n\r\n" in reply:
                break
    return reply


def test_a_header_that_is_not_utf8_does_not_stop_the_recording(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    reply = raw_request(
        proxy.url,
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\nConnection: close\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 200")
    http.request("GET", f"{proxy.url}/v1/models")
    proxy.flush()
    assert proxy.runner.recorder is not None and proxy.runner.recorder.failed == 0
    with open_store() as store:
        assert store.con.execute("SELECT count(*) FROM exchanges").fetchone() == (2,)


def test_a_body_with_a_lone_surrogate_is_stored_and_every_command_still_works(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    body = b'{"model": "gpt-test", "messages": [{"role": "user", "content": "half an emoji \\ud83d here"}]}'
    http.request(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        body,
        {"Authorization": f"Bearer {fake_openai.api_key}", "Content-Type": "application/json"},
    )
    proxy.flush()
    convs = cli.json("ls")["conversations"]
    assert len(convs) == 1
    call = cli.json("ls", convs[0]["id"])["calls"][0]
    shown = cli.json("show", call["id"])
    assert "stored raw" in shown["parse_error"]
    with open_store() as store:
        raw = store.con.execute("SELECT request_raw FROM exchanges").fetchone()
    assert raw == (body,)


def test_credentials_in_the_query_string_are_never_stored(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, db_path: Path
) -> None:
    http.request("GET", f"{proxy.url}/v1/models?key=AIzaSECRET123&limit=5")
    assert fake_openai.received[-1].query == "key=AIzaSECRET123&limit=5"
    proxy.flush()
    spooled = b"".join(p.read_bytes() for p in config.spool_dir(db_path).glob("*.jsonl"))
    assert b"AIzaSECRET123" not in spooled
    with open_store() as store:
        assert store.con.execute("SELECT query FROM exchanges").fetchone() == (
            "key=[redacted]&limit=5",
        )


def test_the_proxy_adds_no_header_the_client_did_not_send(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    raw_request(
        proxy.url,
        b"POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n",
        b"{}",
    )
    received = fake_openai.received[-1].headers
    assert "content-type" not in received
    assert "user-agent" not in received
    assert "accept-encoding" not in received


def test_expect_100_continue_does_not_stall_the_request(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    async def post() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{proxy.url}/v1/chat/completions",
                expect100=True,
                timeout=aiohttp.ClientTimeout(total=5),
                json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {fake_openai.api_key}"},
            ) as r,
        ):
            await r.read()
            return r.status

    assert asyncio.run(post()) == 200
    assert "expect" not in fake_openai.received[-1].headers


def test_a_failed_spool_write_is_cut_back_so_the_next_exchange_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from redline.transcripts import spool

    writer = SpoolWriter(tmp_path)
    real_fsync = os.fsync
    calls: list[int] = []

    def failing_once(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(spool.os, "fsync", failing_once)
    with pytest.raises(OSError):
        writer.write_records([spool.to_record(_exchange("01JHALF0000000000000000000"))])
    good = spool.to_record(_exchange("01JGOOD0000000000000000000"))
    writer.write_records([good])
    writer.close()
    found = list(read_records(writer.path, 0, final=True))
    assert all(isinstance(r, Record) for r in found)
    assert [r.id for r in found if isinstance(r, Record)] == ["01JGOOD0000000000000000000"]


def _exchange(ident: str) -> Any:
    from datetime import UTC, datetime

    from redline.transcripts.spool import RawExchange

    return RawExchange(
        ident,
        datetime.now(UTC),
        "GET",
        "/v1/models",
        "",
        "http://u",
        [],
        b"",
        200,
        [],
        b"{}",
        1.0,
        1.0,
        "complete",
    )


def test_a_segment_is_never_visible_to_ingest_before_its_writer_holds_it(tmp_path: Path) -> None:
    from redline.transcripts.spool import segment_is_live, segments

    writer = SpoolWriter(tmp_path)
    assert segments(tmp_path) == [writer.path]
    assert segment_is_live(writer.path)
    writer.close()
    assert not segment_is_live(writer.path)


def test_a_malformed_websocket_upgrade_is_refused_without_touching_the_upstream(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    reply = raw_request(
        proxy.url,
        b"GET /v1/responses HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        status_only=True,
    )
    assert reply.startswith(b"HTTP/1.1 400")
    assert fake_openai.received == []


def test_a_websocket_close_code_reaches_the_other_side(db_path: Path) -> None:
    from aiohttp import web

    from redline.proxy import ProxyRunner, Route
    from tests.fakes.server import ServerThread

    async def failing(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        await ws.close(code=aiohttp.WSCloseCode.INTERNAL_ERROR, message=b"boom")
        return ws

    app = web.Application()
    app.router.add_get("/v1/responses", failing)
    with ServerThread(app) as upstream:
        runner = ProxyRunner(
            [Route.parse("", upstream.url)], config.spool_dir(db_path), "127.0.0.1", 0
        )
        with ThreadedProxy(runner) as proxy:

            async def talk() -> int | None:
                async with (
                    aiohttp.ClientSession() as session,
                    session.ws_connect(f"{proxy.url}/v1/responses") as ws,
                ):
                    await ws.send_str(
                        json.dumps({"type": "response.create", "model": "m", "input": "hi"})
                    )
                    await ws.receive()
                    return ws.close_code

            assert asyncio.run(talk()) == aiohttp.WSCloseCode.INTERNAL_ERROR
