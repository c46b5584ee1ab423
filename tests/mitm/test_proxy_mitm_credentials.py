"""Credentials going through `redline proxy --mode mitm` reach the upstream, and are never stored
in a record nor written to a log, redline's or mitmproxy's."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

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
