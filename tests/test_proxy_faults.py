"""Bad input and faults: the client sees what happened, and the recording keeps what there was."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from redline import config
from redline.proxy import ProxyRunner, Route, ThreadedProxy
from redline.transcripts.spool import read_records
from tests.fakes import http
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.support import Cli

MESSAGES: list[Any] = [{"role": "user", "content": "Write a retry loop for the uploader."}]


def only_call(cli: Cli) -> dict[str, Any]:
    conv = cli.json("ls")["conversations"]
    if conv:
        calls = cli.json("ls", conv[0]["id"])["calls"]
        return cli.json("show", calls[-1]["id"])
    raise AssertionError("nothing recorded")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_malformed_json_is_forwarded_and_recorded_raw_with_a_parse_error(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, db_path: Path
) -> None:
    garbage = b'{"model": "gpt-test", "messages": [ {"role": "user", '
    response = http.request(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        garbage,
        {"Authorization": f"Bearer {fake_openai.api_key}", "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert "could not parse the JSON body" in json.loads(response.body)["error"]["message"]
    assert fake_openai.received[-1].body == garbage
    proxy.flush()

    from redline.transcripts.store import open_store

    with open_store() as store:
        row = store.con.execute(
            "SELECT id, parse_error, request_raw, status_code FROM exchanges"
        ).fetchone()
    assert row is not None
    assert row[1].startswith("request:")
    assert row[2] == garbage and row[3] == 400


def test_unreachable_upstream_gives_502_naming_it_and_is_recorded_as_an_error(
    db_path: Path, cli: Cli
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    runner = ProxyRunner([Route.parse("", dead)], config.spool_dir(db_path), "127.0.0.1", 0)
    with ThreadedProxy(runner) as proxy:
        c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="sk-x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            c.chat.completions.create(model="gpt-test", messages=MESSAGES)
        proxy.flush()
    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict) and dead in body["message"]
    shown = only_call(cli)
    assert shown["status"] == "error" and dead in shown["error"]


def test_an_anthropic_client_reads_the_proxys_own_error_in_anthropics_shape(
    db_path: Path,
) -> None:
    import anthropic

    dead = f"http://127.0.0.1:{free_port()}"
    runner = ProxyRunner([Route.parse("", dead)], config.spool_dir(db_path), "127.0.0.1", 0)
    with ThreadedProxy(runner) as proxy:
        c = anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-x", max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as caught:
            c.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "upstream_unreachable" and dead in body["error"]["message"]
    assert dead in caught.value.message


def test_upstream_dropping_mid_stream_fails_the_client_and_keeps_the_partial_answer(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_openai.script.append(
        Answer(text="First I will read the uploader module and then", drop_after_events=4)
    )
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in c.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    proxy.flush()
    shown = only_call(cli)
    assert shown["status"] == "incomplete"
    assert "upstream stopped" in shown["error"]
    assert shown["response"]["message"]["parts"] == [{"type": "text", "text": "".join(received)}]
    assert "".join(received) == "First I will read the"  # three 7-character chunks arrived


def test_client_dropping_mid_stream_is_recorded_incomplete_with_the_partial_answer(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_openai.script.append(Answer(text="word " * 4000))
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    with c.chat.completions.with_streaming_response.create(
        model="gpt-test", messages=MESSAGES, stream=True
    ) as resp:
        first = next(resp.iter_bytes())
    assert first.startswith(b"data: ")
    proxy.flush()
    shown = only_call(cli)
    assert shown["status"] == "incomplete"
    # However far the stream got before the client left, what was relayed is kept, and no more.
    parts = shown["response"]["message"]["parts"] if shown["response"] else []
    text = "".join(p["text"] for p in parts if p["type"] == "text")
    assert len(text) < len("word " * 4000)


def test_an_error_event_inside_a_200_stream_records_the_call_as_failed(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_openai.script.append(
        Answer(text="Partial answer before the failure.", error_after_events=3)
    )
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    with pytest.raises(openai.APIError):
        list(c.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True))
    proxy.flush()
    shown = only_call(cli)
    assert shown["status"] == "error"
    assert "server had an error" in shown["error"]
    assert shown["response"]["message"]["parts"][0]["text"] == "Partial answer"


def test_an_absolute_url_for_another_host_is_refused(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy
) -> None:
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n"
        )
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"forbidden_host" in reply
    assert fake_openai.received == []


def test_credentials_are_forwarded_but_never_stored(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, db_path: Path, cli: Cli
) -> None:
    http.request(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json.dumps({"model": "gpt-test", "messages": MESSAGES}).encode(),
        {
            "Authorization": f"Bearer {fake_openai.api_key}",
            "x-api-key": "sk-ant-secret-1",
            "api-key": "azure-secret-2",
            "Cookie": "session=cookie-secret-3",
            "Content-Type": "application/json",
        },
    )
    assert fake_openai.received[-1].headers["x-api-key"] == "sk-ant-secret-1"
    proxy.flush()
    spooled = b"".join(p.read_bytes() for p in config.spool_dir(db_path).glob("*.jsonl"))
    for secret in (fake_openai.api_key, "sk-ant-secret-1", "azure-secret-2", "cookie-secret-3"):
        assert secret.encode() not in spooled
    cli("ls")  # ingest
    stored = db_path.read_bytes()
    for secret in (fake_openai.api_key, "sk-ant-secret-1", "azure-secret-2", "cookie-secret-3"):
        assert secret.encode() not in stored


def test_a_spool_line_cut_short_is_skipped_and_reported_and_the_rest_ingested(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, db_path: Path, cli: Cli
) -> None:
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    c.chat.completions.create(model="gpt-test", messages=MESSAGES)
    c.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "another task"}]
    )
    proxy.flush()
    # A dead writer's segment: two good records, then one cut short by a crash. (The proxy
    # writes two segments in turn: the two records may be in either.)
    segments = sorted(config.spool_dir(db_path).glob("*.jsonl"))
    records = [
        s.read_bytes()[r.offset : r.end] for s in segments for r in read_records(s, 0, final=False)
    ]
    assert len(records) == 2
    dead = segments[0].with_name("20200101T000000-DEAD.jsonl")
    dead.write_bytes(records[0] + records[1][: len(records[1]) // 2])
    segments[0].write_bytes(records[1])
    for other in segments[1:]:
        other.write_bytes(b"")

    result = cli("ls", "--json")
    assert "record cut short" in result.stderr
    assert len(json.loads(result.stdout)["conversations"]) == 2
    assert not dead.exists()  # ingested and not written to any more: removed


def test_ingesting_twice_records_each_exchange_once(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, db_path: Path, cli: Cli
) -> None:
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    c.chat.completions.create(model="gpt-test", messages=MESSAGES)
    proxy.flush()
    cli("ls")
    from redline.transcripts.store import open_store

    with open_store() as store:
        store.con.execute("DELETE FROM spool_progress")  # as if the progress had been lost
        report = store.ingest()
        count = store.con.execute("SELECT count(*) FROM exchanges").fetchone()
    assert report.ingested == 0 and report.skipped == 1
    assert count == (1,)


def test_unknown_and_ambiguous_ids_give_one_line_and_exit_code_2(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    result = cli("show", "ZZZZ", expect=2)
    assert result.output.strip().count("\n") == 0
    assert "no call matches 'ZZZZ'" in result.output
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    c.chat.completions.create(model="gpt-test", messages=MESSAGES)
    c.chat.completions.create(model="gpt-test", messages=MESSAGES)
    proxy.flush()
    calls = cli.json("ls", cli.json("ls")["conversations"][0]["id"])["calls"]
    common = ""
    while calls[0]["id"].startswith(common + calls[0]["id"][len(common)]) and calls[1][
        "id"
    ].startswith(common + calls[0]["id"][len(common)]):
        common += calls[0]["id"][len(common)]
    result = cli("show", common, expect=2)
    assert "matches several calls" in result.output
    unique = calls[0]["id"][: len(common) + 1].lower()
    assert cli.json("show", unique)["id"] == calls[0]["id"]


def test_waiting_for_a_locked_database_ends_with_a_clear_message(db_path: Path) -> None:
    # Within one process DuckDB shares the file, so the lock is taken by a child process.
    import subprocess
    import sys

    from redline.errors import StoreLocked
    from redline.transcripts.store.db import connect

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(db_path)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ok"
        started = time.monotonic()
        with pytest.raises(StoreLocked, match=rf"locked by .*PID {child.pid}"):
            connect(db_path, wait=0.5)
        assert time.monotonic() - started >= 0.5
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
