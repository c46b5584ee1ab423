"""Credentials going through `redline proxy --mode mitm` reach the upstream, and are never stored
in a record nor written to a log, redline's or mitmproxy's."""

from __future__ import annotations

import asyncio
import secrets
import socket
from pathlib import Path

import pytest
from aiohttp import web

from redline import config
from redline.proxy import ThreadedMitm
from redline.proxy.mitm import scrub
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.tls import Pki
from tests.mitm.support import openai_client, spooled, through, tls
from tests.test_proxy_chat import MESSAGES


def test_credentials_are_never_stored(mitm: ThreadedMitm, pki: Pki, db_path: Path) -> None:
    fake = FakeOpenAI()
    with (
        tls(fake.app(), pki) as url,
        through(mitm) as http,
        openai_client(url, fake.api_key, http) as client,
    ):
        client.chat.completions.create(
            model="gpt-test", messages=MESSAGES, extra_query={"key": "sk-in-the-query"}
        )
    mitm.flush()
    (line,) = spooled(db_path)
    spool = b"".join(p.read_bytes() for p in config.spool_dir(db_path).iterdir())
    assert fake.api_key.encode() not in spool and b"sk-in-the-query" not in spool
    assert ("authorization", "[redacted]") in [(k.lower(), v) for k, v in line.request_headers]
    assert line.query == "key=[redacted]"
    assert fake.received[-1].headers["authorization"] == f"Bearer {fake.api_key}"


def test_mitmproxy_never_logs_a_credential(
    mitm: ThreadedMitm, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("DEBUG")
    secret = "sk-secret-never-logged"
    # Cut short, and malformed: mitmproxy describes both, quoting what the client sent.
    with socket.create_connection(("127.0.0.1", mitm.port)) as s:
        s.sendall(
            f"POST http://localhost:9/v1/x HTTP/1.1\r\nAuthorization: Bearer {secret}\r\n".encode()
        )
    with socket.create_connection(("127.0.0.1", mitm.port)) as s:
        s.sendall(f"BAD /v1/x?key={secret} HTTP/1.1\r\nx-api-key: {secret}\r\n\r\n".encode())
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    mitm.flush()
    out, err = capfd.readouterr()
    assert secret not in out + err + caplog.text
    assert all(secret not in message for _, message in mitm.runner.log_sink.records)


def test_scrub_removes_credentials_from_a_log_message() -> None:
    message = "b'POST /v1/x?key=abc&n=1 HTTP/1.1\\r\\nAuthorization: Bearer sk-1\\r\\nx-api-key: sk-2\\r\\n'"
    scrubbed = scrub(message)
    assert "abc" not in scrubbed and "sk-1" not in scrubbed and "sk-2" not in scrubbed
    assert "key=[redacted]&n=1" in scrubbed


def _echoing_app() -> web.Application:
    """An API that quotes the key it was sent: refused in a 401, or in a stream (200) whose
    event is cut in two in the middle of the key."""

    async def chat(request: web.Request) -> web.StreamResponse:
        key = request.headers["x-api-key"]
        if request.query.get("refuse"):
            message = {"error": {"message": f"Incorrect API key provided: {key}."}}
            return web.json_response(message, status=401)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        event = f'data: {{"choices": [{{"delta": {{"content": "you sent {key}"}}}}]}}\n\n'
        cut = event.index(key) + len(key) // 2
        await response.write(event[:cut].encode())
        await asyncio.sleep(0.01)
        await response.write(event[cut:].encode() + b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def test_a_credential_the_upstream_echoes_is_masked_in_the_record(
    mitm: ThreadedMitm, pki: Pki, db_path: Path
) -> None:
    keys = [secrets.token_hex(20), secrets.token_hex(20)]  # no provider's shape
    with tls(_echoing_app(), pki) as url, through(mitm) as http:
        refused = http.post(
            f"{url}/v1/chat/completions?refuse=1", json={}, headers={"x-api-key": keys[0]}
        )
        streamed = http.post(f"{url}/v1/chat/completions", json={}, headers={"x-api-key": keys[1]})
    assert refused.status_code == 401 and keys[0] in refused.text
    assert keys[1] in streamed.text
    mitm.flush()
    assert len(spooled(db_path)) == 2
    stored = b"".join(p.read_bytes() for p in config.spool_dir(db_path).iterdir())
    assert keys[0].encode() not in stored and keys[1].encode() not in stored
    assert stored.count(b"[masked:credential]") == 2
