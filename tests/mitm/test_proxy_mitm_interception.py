"""What `redline proxy --mode mitm` decrypts and records, and what it passes through: only hosts
that match a pattern are intercepted, and only the API paths on them recorded."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx2
import pytest

from redline.errors import RedlineError
from redline.proxy import DEFAULT_PATTERNS, ApiPattern, ThreadedMitm, mitm_addon, parse_pattern
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.tls import Pki
from tests.mitm.support import spooled, through, tls


def test_another_path_on_an_api_host_passes_through_unrecorded(
    mitm: ThreadedMitm, pki: Pki, db_path: Path
) -> None:
    fake = FakeOpenAI()
    with tls(fake.app(), pki) as url, through(mitm) as http:
        answer = http.get(f"{url}/health")
    assert answer.status_code == 404 and "Invalid URL (GET /health)" in answer.text
    assert [r.path for r in fake.received] == ["/health"]
    mitm.flush()
    assert spooled(db_path) == []


def test_a_host_that_matches_no_pattern_is_not_even_decrypted(
    mitm: ThreadedMitm, pki: Pki, db_path: Path
) -> None:
    fake = FakeOpenAI()
    with tls(fake.app(), pki) as url:
        other = url.replace("localhost", "127.0.0.1")  # the same server, a host not matched
        # Trusting the upstream's CA only, the client sees the upstream's own certificate...
        with through(mitm, pki.ca_pem) as http:
            answer = http.post(f"{other}/v1/chat/completions", json={"messages": []})
        assert answer.status_code == 401
        # ...and trusting redline's CA only, it does not: nothing was intercepted.
        with through(mitm) as http, pytest.raises(httpx2.ConnectError):
            http.post(f"{other}/v1/chat/completions", json={"messages": []})
    mitm.flush()
    assert spooled(db_path) == []


def test_a_request_larger_than_a_record_keeps_passes_through_unrecorded(
    mitm: ThreadedMitm,
    pki: Pki,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(mitm_addon, "MAX_RECORDED_REQUEST", 1000)
    fake = FakeOpenAI()
    with tls(fake.app(), pki) as url, through(mitm) as http:
        answer = http.post(f"{url}/v1/chat/completions", content=b"x" * 1001)
    assert answer.status_code == 401 and fake.received[-1].body == b"x" * 1001
    mitm.flush()
    assert spooled(db_path) == []
    assert "a 1001-byte request is passed on unrecorded" in caplog.text


def test_an_unreachable_upstream_is_recorded_as_an_error(mitm: ThreadedMitm, db_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens there once closed
    with through(mitm) as http:
        answer = http.post(f"https://localhost:{dead}/v1/chat/completions", json={})
    assert answer.status_code == 502
    mitm.flush()
    (line,) = spooled(db_path)
    assert (line.outcome, line.status, line.path) == (
        "error",
        None,
        "/v1/chat/completions",
    )


# --- host patterns --------------------------------------------------------------------------


def test_a_wildcard_pattern_matches_subdomains_only() -> None:
    azure = next(p for p in DEFAULT_PATTERNS if p.host == "*.openai.azure.com")
    assert azure.matches("my-res.openai.azure.com", "/openai/deployments/d/chat/completions")
    assert not azure.matches("openai.azure.com", "/openai/x")
    assert not azure.matches("evilopenai.azure.com", "/openai/x")
    assert not azure.matches("my-res.openai.azure.com", "/other")
    assert re.search(azure.allow_hosts_regex(), "my-res.openai.azure.com:443")
    assert not re.search(azure.allow_hosts_regex(), "openai.azure.com.evil.example:443")


def test_host_match_takes_a_host_and_an_optional_path_prefix() -> None:
    assert parse_pattern("LLM.corp.example/v1/") == ApiPattern("llm.corp.example", ("/v1/",))
    assert parse_pattern("*.corp.example") == ApiPattern("*.corp.example", ("/",))
    with pytest.raises(RedlineError, match="not a host pattern"):
        parse_pattern("https://llm.corp.example")
