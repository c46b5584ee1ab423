"""`redline proxy --mode mitm`: real HTTPS on 127.0.0.1, through mitmproxy, recorded like reverse mode.

The upstreams are the usual fakes served over TLS with a certificate made here (tests/fakes/tls.py);
the proxy trusts that CA through `--upstream-ca` and records `localhost/v1/`; the real `openai` and
`anthropic` SDKs reach it through an HTTPS proxy, trusting redline's CA. The same call made through
the reverse proxy and through the mitm proxy must be stored the same.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import httpx2
import openai
import pytest
from aiohttp import web

from redline import config
from redline.errors import RedlineError
from redline.proxy import (
    DEFAULT_PATTERNS,
    ApiPattern,
    MitmRunner,
    ThreadedMitm,
    ensure_ca,
    mitm_addon,
    parse_pattern,
    run_mitm,
)
from redline.proxy.mitm import scrub
from tests.fakes import anthropic as fake_anthropic
from tests.fakes.fixtures import CODEX_TOOLS, recording_proxy, serving
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.openai_responses import FakeResponses
from tests.fakes.tls import Pki, TlsServerThread, make_pki
from tests.support import Cli

LOCALHOST_API = [parse_pattern("localhost/v1/")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The CA the fake upstreams' certificates come from; the proxy is told to trust it."""
    return make_pki(tmp_path_factory.mktemp("pki"), "upstream")


@pytest.fixture(scope="module")
def untrusted_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki-untrusted"), "untrusted")


@pytest.fixture(scope="module")
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config")


@pytest.fixture(autouse=True)
def redline_config(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """redline's config directory (where the CA lives) is the module's own: the CA is made once."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return config_home / "redline"


@contextmanager
def mitm_proxy(db: Path, pki: Pki, **kw: Any) -> Iterator[ThreadedMitm]:
    """The mitm proxy recording `localhost/v1/` into `db`'s spool, trusting the fakes' CA."""
    kw.setdefault("patterns", LOCALHOST_API)
    runner = MitmRunner(config.spool_dir(db), upstream_ca=pki.ca_pem, **kw)
    with ThreadedMitm(runner) as running:
        yield running


@pytest.fixture
def mitm(db_path: Path, pki: Pki) -> Iterator[ThreadedMitm]:
    with mitm_proxy(db_path, pki) as running:
        yield running


def through(proxy: ThreadedMitm, verify: ssl.SSLContext | None = None) -> httpx2.Client:
    """A client using the mitm proxy as its HTTPS proxy and trusting redline's CA."""
    if verify is None:
        verify = ssl.create_default_context(cafile=str(proxy.runner.ca.cert_pem))
    return httpx2.Client(proxy=proxy.url, verify=verify, timeout=10)


@contextmanager
def tls(app: web.Application, pki: Pki) -> Iterator[str]:
    with TlsServerThread(app, pki) as server:
        yield server.url


def recorded(cli: Cli, db: Path, ids: list[str]) -> list[dict[str, Any]]:
    """`show --json` of these calls in `db`, with `show --raw` as `raw_body`."""
    shown = []
    for call in ids:
        one = cli.json("show", call, "--db", str(db))
        one["raw_body"] = cli("show", call, "--raw", "--db", str(db)).stdout
        shown.append(one)
    return shown


def spooled(db: Path) -> list[dict[str, Any]]:
    """The spool lines waiting for `db` (read before any command ingests them)."""
    lines = []
    for segment in sorted(config.spool_dir(db).glob("*.jsonl")):
        lines += [json.loads(line) for line in segment.read_bytes().splitlines()]
    return lines


# What differs by nature between a call recorded in reverse mode and the same call through mitm.
DIFFERS = ("id", "conversation_id", "started_at", "timings", "upstream")


def assert_recorded_alike(cli: Cli, reverse_db: Path, mitm_db: Path) -> list[dict[str, Any]]:
    """Both ways, the same calls in the same order, spooled alike and shown alike (`show --json`
    and `show --raw`) but for ids, times and the upstream; what the mitm proxy recorded."""
    reverse_ids, mitm_ids = assert_spooled_alike(reverse_db, mitm_db)
    reverse, through_mitm = recorded(cli, reverse_db, reverse_ids), recorded(cli, mitm_db, mitm_ids)
    for r, m in zip(reverse, through_mitm, strict=True):
        assert m["upstream"].startswith("https://localhost:")
        assert {k: v for k, v in m.items() if k not in DIFFERS} == {
            k: v for k, v in r.items() if k not in DIFFERS
        }
    return through_mitm


def assert_spooled_alike(reverse_db: Path, mitm_db: Path) -> tuple[list[str], list[str]]:
    """The spool lines have the same shape and the same requests, byte for byte; their ids."""
    reverse, through_mitm = spooled(reverse_db), spooled(mitm_db)
    assert len(reverse) == len(through_mitm) >= 1
    for r, m in zip(reverse, through_mitm, strict=True):
        assert m.keys() == r.keys()
        assert m["extra"] == {**r["extra"], "mode": "mitm"}
        for key in ("method", "path", "query", "request_body", "status", "outcome", "error"):
            assert m[key] == r[key], key
    return [x["id"] for x in reverse], [x["id"] for x in through_mitm]


# --- recorded exactly as in reverse mode ---------------------------------------------------------


TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file from the workspace.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    }
]
MESSAGES: list[Any] = [
    {"role": "developer", "content": "You are a careful coding agent. Never swallow exceptions."},
    {"role": "user", "content": "Add error handling to the config loader."},
]


def both_ways(
    tmp_path: Path, pki: Pki, fake: Any, call: Callable[[str, httpx2.Client | None], None]
) -> tuple[Path, Path]:
    """`call(base_url, http_client)` through the reverse proxy (plain HTTP upstream) and through
    the mitm proxy (the same fake over TLS), each recording into a database of its own."""
    reverse_db, mitm_db = tmp_path / "reverse.duckdb", tmp_path / "mitm.duckdb"
    with serving(fake), recording_proxy(reverse_db, ("", fake.url)) as reverse:
        call(reverse.url, None)
        reverse.flush()
    with tls(fake.app(), pki) as url, mitm_proxy(mitm_db, pki) as proxy, through(proxy) as http:
        call(url, http)
        proxy.flush()
    return reverse_db, mitm_db


def test_openai_calls_are_recorded_as_the_reverse_proxy_records_them(
    tmp_path: Path, pki: Pki, cli: Cli
) -> None:
    fake = FakeOpenAI()

    def calls(base: str, http: httpx2.Client | None) -> None:
        with openai.OpenAI(
            base_url=f"{base}/v1", api_key=fake.api_key, http_client=http, max_retries=0
        ) as client:
            client.chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS)
            chunks = client.chat.completions.create(
                model="gpt-test",
                messages=[*MESSAGES, {"role": "user", "content": "Stream it."}],
                tools=TOOLS,
                stream=True,
                stream_options={"include_usage": True},
            )
            assert any(c.choices and c.choices[0].delta.tool_calls for c in list(chunks))

    whole, streamed = assert_recorded_alike(cli, *both_ways(tmp_path, pki, fake, calls))
    for shown, stream in ((whole, False), (streamed, True)):
        assert (shown["wire"], shown["status"], shown["stream"]) == (
            "openai-chat",
            "complete",
            stream,
        )
        assert shown["response"]["message"]["parts"][0]["name"] == "read_file"


def test_anthropic_calls_are_recorded_as_the_reverse_proxy_records_them(
    tmp_path: Path, pki: Pki, cli: Cli
) -> None:
    fake = fake_anthropic.FakeAnthropic()
    answer = fake_anthropic.Answer(
        [
            fake_anthropic.Thinking("The loader reads YAML; look at it first."),
            fake_anthropic.Text("Let me read the loader."),
            fake_anthropic.ToolUse("read_file", {"path": "config/loader.py"}),
        ]
    )
    ask: dict[str, Any] = {
        "model": fake_anthropic.MODEL,
        "max_tokens": 1024,
        "system": "You are a careful coding agent.",
        "tools": [{"name": "read_file", "input_schema": {"type": "object"}}],
    }

    def calls(base: str, http: httpx2.Client | None) -> None:
        fake.script.extend([answer, answer])
        with anthropic.Anthropic(
            base_url=base, api_key=fake.api_key, http_client=http, max_retries=0
        ) as client:
            first = [{"role": "user", "content": "Add error handling to the loader."}]
            final = client.messages.create(**ask, messages=first)
            assert final.stop_reason == "tool_use"
            second = [{"role": "user", "content": "Stream it."}]
            with client.messages.stream(**ask, messages=second) as events:
                assert events.get_final_message().stop_reason == "tool_use"

    whole, streamed = assert_recorded_alike(cli, *both_ways(tmp_path, pki, fake, calls))
    for shown, stream in ((whole, False), (streamed, True)):
        assert (shown["wire"], shown["status"], shown["stream"]) == (
            "anthropic-messages",
            "complete",
            stream,
        )
        parts = shown["response"]["message"]["parts"]
        assert [p["type"] for p in parts] == ["thinking", "text", "tool_call"]


def codex_frame(text: str) -> str:
    """A `response.create` frame as Codex sends it over its WebSocket."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return json.dumps(
        {
            "type": "response.create",
            "model": "gpt-5-codex",
            "instructions": "You are Codex, a coding agent.",
            "tools": CODEX_TOOLS,
            "store": False,
            "input": [item],
        }
    )


def converse(url: str, api_key: str, frames: list[str], **connect: Any) -> None:
    """Each frame on one WebSocket to `url`, waiting for its turn to end."""

    async def run() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                url, headers={"Authorization": f"Bearer {api_key}"}, **connect
            ) as ws,
        ):
            sock = ws.get_extra_info("socket")
            for frame in frames:
                await ws.send_str(frame)
                async for msg in ws:
                    if json.loads(msg.data)["type"] in RESPONSES_TERMINAL:
                        break
        # A TLS connection is closed by sending close_notify and waiting for the peer's; let the
        # loop run until that is done, or the socket outlives the loop (aiohttp issue 1925).
        for _ in range(200):
            if sock is None or sock.fileno() == -1:
                break
            await asyncio.sleep(0.005)

    asyncio.run(run())


RESPONSES_TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}


def test_websocket_turns_are_recorded_as_the_reverse_proxy_records_them(
    tmp_path: Path, pki: Pki, cli: Cli
) -> None:
    """Codex's Responses API over a WebSocket: each turn is a call, as the reverse relay has it."""
    fake = FakeResponses()
    frames = [codex_frame("List the files."), codex_frame("Count the tests.")]
    reverse_db, mitm_db = tmp_path / "reverse.duckdb", tmp_path / "mitm.duckdb"
    with serving(fake), recording_proxy(reverse_db, ("", fake.url)) as reverse:
        converse(f"{reverse.url}/v1/responses", fake.api_key, frames)
        reverse.flush()
    with tls(fake.app(), pki) as url, mitm_proxy(mitm_db, pki) as proxy:
        trust = ssl.create_default_context(cafile=str(proxy.runner.ca.cert_pem))
        converse(f"{url}/v1/responses", fake.api_key, frames, proxy=proxy.url, ssl=trust)
        proxy.flush()
    shown = assert_recorded_alike(cli, reverse_db, mitm_db)
    assert [(s["method"], s["wire"], s["status"]) for s in shown] == [
        ("WEBSOCKET", "openai-responses", "complete")
    ] * 2
    assert fake.frames == frames * 2


def test_a_refused_websocket_upgrade_is_recorded_as_the_reverse_proxy_records_it(
    tmp_path: Path, pki: Pki, cli: Cli
) -> None:
    fake = FakeResponses(websocket=False)  # answers the upgrade with 405, as the API may
    upgrade = {
        "Authorization": f"Bearer {fake.api_key}",
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    reverse_db, mitm_db = tmp_path / "reverse.duckdb", tmp_path / "mitm.duckdb"
    with (
        serving(fake),
        recording_proxy(reverse_db, ("", fake.url)) as reverse,
        httpx2.Client(timeout=10) as http,
    ):
        assert http.get(f"{reverse.url}/v1/responses", headers=upgrade).status_code == 405
        reverse.flush()
    with tls(fake.app(), pki) as url, mitm_proxy(mitm_db, pki) as proxy, through(proxy) as http:
        assert http.get(f"{url}/v1/responses", headers=upgrade).status_code == 405
        proxy.flush()
    (line,) = spooled(mitm_db)
    assert (line["status"], line["outcome"]) == (405, "complete")
    assert line["error"] == "the upstream refused the WebSocket upgrade with 405"
    assert_recorded_alike(cli, reverse_db, mitm_db)


def test_credentials_are_never_stored(
    mitm: ThreadedMitm, pki: Pki, db_path: Path, cli: Cli
) -> None:
    fake = FakeOpenAI()
    with (
        tls(fake.app(), pki) as url,
        through(mitm) as http,
        openai.OpenAI(
            base_url=f"{url}/v1", api_key=fake.api_key, http_client=http, max_retries=0
        ) as client,
    ):
        client.chat.completions.create(
            model="gpt-test", messages=MESSAGES, extra_query={"key": "sk-in-the-query"}
        )
    mitm.flush()
    (line,) = spooled(db_path)
    text = json.dumps(line)
    assert fake.api_key not in text and "sk-in-the-query" not in text
    assert ("authorization", "[redacted]") in [(k.lower(), v) for k, v in line["request_headers"]]
    assert line["query"] == "key=[redacted]"
    assert fake.received[-1].headers["authorization"] == f"Bearer {fake.api_key}"


# --- streaming ------------------------------------------------------------------------------


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
    assert line["outcome"] == "complete"
    assert line["response_body"]["text"] == 'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: [DONE]\n\n'


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
    assert line["outcome"] == "complete"
    assert line["response_body"]["text"] == 'data: {"n": 1}\n\ndata: [DONE]\n\n'


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
    assert line["outcome"] == "incomplete" and line["status"] == 200
    assert line["error"] == "redline proxy shut down while the call was under way"


# --- what is not recorded --------------------------------------------------------------------


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
        with through(mitm, verify=pki.client_context()) as http:
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


def test_an_untrusted_upstream_certificate_is_an_error_for_the_client_and_the_record(
    mitm: ThreadedMitm, untrusted_pki: Pki, db_path: Path
) -> None:
    fake = FakeOpenAI()
    with (
        tls(fake.app(), untrusted_pki) as url,
        through(mitm) as http,
        openai.OpenAI(
            base_url=f"{url}/v1", api_key=fake.api_key, http_client=http, max_retries=0
        ) as client,
        pytest.raises(openai.APIStatusError) as refused,
    ):
        client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert refused.value.status_code == 502
    assert "certificate" in refused.value.response.text.lower()
    assert fake.received == []  # nothing reached the server
    mitm.flush()
    (line,) = spooled(db_path)
    assert line["outcome"] == "error" and line["status"] is None
    assert line["error"].startswith(f"cannot reach upstream {url}: ")
    assert "certificate" in line["error"].lower()
    assert json.loads(line["request_body"]["text"])["messages"] == MESSAGES


def test_an_unreachable_upstream_is_recorded_as_an_error(mitm: ThreadedMitm, db_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens there once closed
    with through(mitm) as http:
        answer = http.post(f"https://localhost:{dead}/v1/chat/completions", json={})
    assert answer.status_code == 502
    mitm.flush()
    (line,) = spooled(db_path)
    assert (line["outcome"], line["status"], line["path"]) == (
        "error",
        None,
        "/v1/chat/completions",
    )


# --- running it -----------------------------------------------------------------------------


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


# --- the CA ------------------------------------------------------------------------------


def test_the_ca_is_made_once_in_the_config_directory_for_the_owner_only(
    redline_config: Path,
) -> None:
    ca = ensure_ca()
    assert ca.confdir == redline_config / "mitm"
    assert stat.S_IMODE(ca.confdir.stat().st_mode) == 0o700
    assert stat.S_IMODE(ca.key_pem.stat().st_mode) == 0o600
    assert stat.S_IMODE((ca.confdir / "mitmproxy-ca.p12").stat().st_mode) == 0o600
    cert = ca.cert_pem.read_bytes()
    assert cert.startswith(b"-----BEGIN CERTIFICATE") and b"PRIVATE KEY" not in cert
    bundle = ca.client_bundle.read_bytes()
    assert bundle.endswith(cert) and bundle.count(b"BEGIN CERTIFICATE") > 100
    assert b"PRIVATE KEY" not in bundle
    assert ensure_ca().key_pem.read_bytes() == ca.key_pem.read_bytes()  # not made again


def test_an_upstream_ca_that_is_not_a_certificate_is_refused(tmp_path: Path, db_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(RedlineError, match="is not a PEM certificate"):
        MitmRunner(config.spool_dir(db_path), upstream_ca=bad)


# --- the command --------------------------------------------------------------------------


def test_print_ca_prints_the_ca_certificate_path(cli: Cli, redline_config: Path) -> None:
    printed = cli("proxy", "--mode", "mitm", "--print-ca").stdout
    assert printed == f"{redline_config / 'mitm' / 'ca.pem'}\n"


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
        verify = ssl.create_default_context(cafile=exports["NODE_EXTRA_CA_CERTS"])
        with (
            tls(fake.app(), pki) as upstream,
            httpx2.Client(proxy=exports["HTTPS_PROXY"], verify=verify) as http,
            openai.OpenAI(
                base_url=f"{upstream}/v1", api_key=fake.api_key, http_client=http, max_retries=0
            ) as client,
        ):
            client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    finally:
        assert running.stop(signal.SIGTERM) == (0, "")
    (conversation,) = cli.json("ls")["conversations"]
    assert conversation["title"] == "Add error handling to the config loader."


def in_the_foreground(runner: MitmRunner, work: Callable[[str], None]) -> None:
    """`run_mitm(runner)` on this (the main) thread, as the command runs it; `work(proxy_url)`
    on another once it listens (it sends the signals, to this process). Raises what `work` did."""
    failures: list[BaseException] = []
    workers: list[threading.Thread] = []

    def guarded(url: str) -> None:
        try:
            work(url)
        except BaseException as exc:
            failures.append(exc)
            runner.stop()

    def ready(port: int) -> None:
        workers.append(threading.Thread(target=guarded, args=(f"http://127.0.0.1:{port}",)))
        workers[0].start()

    run_mitm(runner, ready)
    workers[0].join(10)
    if failures:
        raise failures[0]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_in_the_foreground_it_stops_on(
    sig: signal.Signals, pki: Pki, db_path: Path, cli: Cli
) -> None:
    fake = FakeOpenAI()
    runner = MitmRunner(config.spool_dir(db_path), patterns=LOCALHOST_API, upstream_ca=pki.ca_pem)

    def call_then_signal(url: str) -> None:
        verify = ssl.create_default_context(cafile=str(runner.ca.cert_pem))
        with (
            httpx2.Client(proxy=url, verify=verify) as http,
            openai.OpenAI(
                base_url=f"{upstream}/v1", api_key=fake.api_key, http_client=http, max_retries=0
            ) as client,
        ):
            client.chat.completions.create(model="gpt-test", messages=MESSAGES)
        os.kill(os.getpid(), sig)

    with tls(fake.app(), pki) as upstream:
        in_the_foreground(runner, call_then_signal)
    (conversation,) = cli.json("ls")["conversations"]
    assert conversation["title"] == "Add error handling to the config loader."


def test_a_call_under_way_at_sigterm_is_let_finish(pki: Pki, db_path: Path) -> None:
    gate = Gate()
    runner = MitmRunner(config.spool_dir(db_path), patterns=LOCALHOST_API, upstream_ca=pki.ca_pem)

    def stream_through_a_sigterm(url: str) -> None:
        verify = ssl.create_default_context(cafile=str(runner.ca.cert_pem))
        with (
            httpx2.Client(proxy=url, verify=verify) as http,
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
    assert (line["outcome"], line["error"]) == ("complete", None)


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
    runner = MitmRunner(
        config.spool_dir(db_path), patterns=LOCALHOST_API, upstream_ca=pki.ca_pem, drain=drain
    )

    def stream_through_signals(url: str) -> None:
        verify = ssl.create_default_context(cafile=str(runner.ca.cert_pem))
        with (
            httpx2.Client(proxy=url, verify=verify) as http,
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
    assert (line["outcome"], line["status"]) == ("incomplete", 200)
    assert line["error"] == f"redline proxy shut down while the call was under way: {why}"
