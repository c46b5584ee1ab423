"""No secret is stored anywhere: canaries sent in every header, query and echoed-body form are
found in no file redline wrote and in nothing it printed (issue 13, defect 9: `X-Auth-Token`,
`client_secret`, `refresh_token`, `X-Amz-Signature`, `;key=` and keys echoed in error bodies
were stored as sent)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import pytest

from redline import config
from redline.proxy.headers import redacted, redacted_path, redacted_query
from tests.reliability.conftest import proxy_to
from tests.reliability.support import Upstream, chat_body, everything_written, request
from tests.support import Cli


def key() -> str:
    """A value shaped like an OpenAI project key (what `mask_text` knows by shape)."""
    return "sk-proj-" + secrets.token_hex(24)


def canary(name: str) -> str:
    return f"CANARY{name.upper()}{secrets.token_hex(6)}"


def every_row(db: Path) -> str:
    """Every value of every table, as text."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return "\n".join(repr(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
    finally:
        con.close()


def printed(cli: Cli) -> str:
    """What every reading command prints about everything recorded."""
    out = [cli("ls").output, cli.json("ls").__repr__()]
    for conv in cli.json("ls")["conversations"]:
        out.append(cli("ls", conv["id"]).output)
        for call in cli.json("ls", conv["id"])["calls"]:
            for flags in ((), ("--json",), ("--raw",)):
                out.append(cli("show", call["id"], *flags).output)
    return "\n".join(out)


def test_canaries_in_every_header_query_and_echoed_body_form_are_stored_and_printed_nowhere(
    upstream: Upstream, db_path: Path, cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bearer, echoed_gzip, echoed_ws, in_other_header = key(), key(), key(), key()
    named = {
        h: canary(h.replace("-", ""))
        for h in (
            "x-api-key",
            "api-key",
            "x-goog-api-key",
            "X-Auth-Token",
            "X-Client-Secret",
            "X-Refresh-Token",
            "X-Amz-Security-Token",
            "X-Upstream-Credential",
            "X-Db-Password",
            "X-Custom-Signature",
            "Private-Token",
        )
    }
    cookie, proxy_auth, url_password = canary("cookie"), canary("proxyauth"), canary("urlpass")
    params = {
        p: canary(p.replace("-", "").replace("_", ""))
        for p in (
            "client_secret",
            "refresh_token",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "access_token",
            "key",
            "sig",
            "password",
            "apikey",
        )
    }
    semicolon, path_param = canary("semicolon"), canary("pathparam")
    every = [
        bearer,
        echoed_gzip,
        echoed_ws,
        in_other_header,
        cookie,
        proxy_auth,
        url_password,
        semicolon,
        path_param,
        *named.values(),
        *params.values(),
    ]

    headers = {
        "Authorization": f"Bearer {bearer}",
        "Cookie": f"session={cookie}",
        "Proxy-Authorization": "Basic " + base64.b64encode(f"u:{proxy_auth}".encode()).decode(),
        "X-Debug": f"using {in_other_header} today",
        "Content-Type": "application/json",
        **named,
    }
    query = "&".join(f"{k}={v}" for k, v in params.items()) + f";key={semicolon}&limit=5"
    with_password = upstream.url.replace("http://", f"http://user:{url_password}@")
    with proxy_to(db_path, with_password) as proxy:
        ok = request(proxy.url, path=f"/v1/chat/completions?{query}", body=chat_body("hi"))
        echoed = request(
            proxy.url, body=chat_body("echo"), headers={**headers, "X-Behave": "echo-key"}
        )
        echoed_compressed = request(
            proxy.url,
            body=chat_body("echo gzip"),
            headers={"Authorization": f"Bearer {echoed_gzip}", "X-Behave": "echo-key-gzip"},
        )
        models = request(proxy.url, method="GET", path=f"/v1/models;key={path_param}")
        refused_ws = _refused_websocket(proxy.url, echoed_ws)
        proxy.flush()
        spooled = everything_written(config.spool_dir(db_path))
    assert (ok.status, echoed.status, echoed_compressed.status, models.status) == (
        200,
        401,
        401,
        200,
    )
    assert refused_ws == 401
    # The upstream got every credential as sent (and echoed the keys back).
    assert params["X-Amz-Signature"] in upstream.seen[0].query
    assert bearer.encode() in echoed.body

    output = printed(cli)
    stored = everything_written(db_path.parent) + spooled
    rows = every_row(db_path)
    leaks = {
        c for c in every if c.encode() in stored or c in rows or c in output or c in caplog.text
    }
    assert leaks == set()
    assert "[masked:credential]" in output  # the echoed keys were there, masked


def _refused_websocket(url: str, api_key: str) -> int:
    async def upgrade() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{url}/v1/responses",
                headers={
                    "Connection": "Upgrade",
                    "Upgrade": "websocket",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
                    "Authorization": f"Bearer {api_key}",
                    "X-Behave": "echo-key",
                },
            ) as r,
        ):
            await r.read()
            return r.status

    return asyncio.run(upgrade())


# The rule, one case at a time (docs/recording.md, "What redline never stores").


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "X-Auth-Token",
        "x-api-key",
        "Private-Token",
        "X-Client-Secret",
        "X-Amz-Signature",
        "X-Db-Password",
        "X-Vault-Credential",
        "Cookie",
        "Set-Cookie",
    ],
)
def test_a_header_named_like_a_credential_is_redacted(name: str) -> None:
    assert redacted([(name, "hunter2")]) == [(name, "[redacted]")]


@pytest.mark.parametrize(
    "name",
    [
        "x-ratelimit-remaining-tokens",
        "anthropic-ratelimit-input-tokens-limit",
        "Content-Type",
        "x-claude-code-session-id",
    ],
)
def test_a_header_of_another_name_is_kept(name: str) -> None:
    assert redacted([(name, "1234")]) == [(name, "1234")]


def test_a_credential_scheme_is_redacted_whatever_the_header_is_called() -> None:
    assert redacted([("X-Forwarded-Auth-Thing", "Bearer abc")])[0][1] == "[redacted]"
    assert redacted([("X-Upstream", "Basic dTpw")]) == [("X-Upstream", "[redacted]")]


def test_a_key_shaped_value_is_masked_in_any_header() -> None:
    [(_, value)] = redacted([("X-Debug", f"key {key()} here")])
    assert value == "key [masked:openai-key] here"


def test_a_redirect_to_a_signed_url_keeps_the_url_but_not_its_signature() -> None:
    location = "https://bucket.example/o?X-Amz-Credential=AKIA/x&X-Amz-Signature=abc&v=1"
    assert redacted([("Location", location)]) == [
        (
            "Location",
            "https://bucket.example/o?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&v=1",
        )
    ]


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("client_secret=s&a=1", "client_secret=[redacted]&a=1"),
        ("a=1;key=s", "a=1;key=[redacted]"),
        ("refresh_token=s", "refresh_token=[redacted]"),
        ("X-Amz-Signature=s&X-Amz-Date=20250101", "X-Amz-Signature=[redacted]&X-Amz-Date=20250101"),
        ("max_tokens=5&beta=true", "max_tokens=5&beta=true"),
    ],
)
def test_query_parameters_named_like_credentials_are_redacted(query: str, stored: str) -> None:
    assert redacted_query(query) == stored


def test_a_path_parameter_named_like_a_credential_is_redacted() -> None:
    assert redacted_path("/v1/models;key=s;v=2") == "/v1/models;key=[redacted];v=2"


def test_an_echoed_key_in_an_error_body_is_masked_and_the_rest_kept() -> None:
    from redline.proxy import Capture

    leaked = key()
    capture = Capture("POST", "/v1/chat/completions", "", "http://u", [])
    capture.status = 401
    body: dict[str, Any] = {"error": {"message": f"Incorrect API key provided: {leaked}."}}
    capture.received(json.dumps(body).encode())
    raw = capture.to_raw()
    assert json.loads(raw.response_body) == {
        "error": {"message": "Incorrect API key provided: [masked:openai-key]."}
    }
    assert raw.extra["error_body"] == "1 secret(s) masked"


# Exact values (issue 22, item 2): a credential with no shape masking could know (a plain hex
# key, Azure's, a gateway's, a cookie) echoed by the upstream was stored as sent.


def plain() -> str:
    """A credential no shape names: 40 hex digits."""
    return secrets.token_hex(20)


def test_credentials_the_upstream_echoes_are_stored_and_printed_nowhere(
    upstream: Upstream, db_path: Path, cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent = {
        name: plain()
        for name in (
            "bearer",
            "x-api-key",
            "api-key",
            "cookie",
            "query",
            "url-password",
            "bearer-stream",
            "bearer-header",
            "bearer-ws",
        )
    }
    with_password = upstream.url.replace("http://", f"http://user:{sent['url-password']}@")
    with proxy_to(db_path, with_password) as proxy:
        refused = request(
            proxy.url,
            path=f"/v1/chat/completions?key={sent['query']}",
            body=chat_body("echo"),
            headers={
                "Authorization": f"Bearer {sent['bearer']}",
                "x-api-key": sent["x-api-key"],
                "api-key": sent["api-key"],
                "Cookie": f"session={sent['cookie']}",
                "X-Behave": "echo-all",
            },
        )
        # No Authorization of the client's: the route's user:password goes as Basic.
        refused_gzip = request(
            proxy.url, body=chat_body("echo gzip"), headers={"X-Behave": "echo-all-gzip"}
        )
        streamed = request(
            proxy.url,
            body=chat_body("echo stream", stream=True),
            headers={"Authorization": f"Bearer {sent['bearer-stream']}", "X-Behave": "echo-stream"},
        )
        in_headers = request(
            proxy.url,
            body=chat_body("echo headers"),
            headers={"Authorization": f"Bearer {sent['bearer-header']}", "X-Behave": "echo-header"},
        )
        frames = _websocket_turn(proxy.url, sent["bearer-ws"])
        proxy.flush()
        spool = everything_written(config.spool_dir(db_path))
    # The client got every echo exactly as the upstream sent it.
    for key in ("bearer", "x-api-key", "api-key", "cookie", "query"):
        assert sent[key].encode() in refused.body
    assert sent["url-password"].encode() in gzip.decompress(refused_gzip.body)
    assert refused_gzip.headers["content-encoding"] == "gzip"
    assert sent["bearer-stream"].encode() in streamed.body
    assert sent["bearer-header"] in in_headers.headers["x-seen-0"]
    assert any(sent["bearer-ws"] in frame for frame in frames)

    output = printed(cli)
    stored = everything_written(db_path.parent) + spool
    rows = every_row(db_path)
    leaks = {
        name
        for name, value in sent.items()
        if value.encode() in stored or value in rows or value in output or value in caplog.text
    }
    assert leaks == set()
    assert "[masked:credential]" in output


def _websocket_turn(url: str, api_key: str) -> list[str]:
    """One Responses turn over a WebSocket the upstream accepts; the frames it answered."""

    async def turn() -> list[str]:
        frames: list[str] = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"{url}/v1/responses",
                headers={"Authorization": f"Bearer {api_key}", "X-Behave": "echo-ws"},
            ) as ws,
        ):
            await ws.send_str(json.dumps({"type": "response.create", "model": "gpt-test"}))
            async for msg in ws:
                frames.append(msg.data)
                if json.loads(msg.data)["type"] == "response.completed":
                    break
        return frames

    return asyncio.run(turn())


def _capture(headers: list[tuple[str, str]], status: int = 200) -> Any:
    from redline.proxy import Capture

    capture = Capture("POST", "/v1/chat/completions", "", "http://u", headers)
    capture.status = status
    return capture


def test_a_credential_cut_across_chunks_is_masked_in_the_assembled_record() -> None:
    key = plain()
    capture = _capture([("api-key", key)])
    event = f'data: {{"delta": "you sent {key}"}}\n\n'.encode()
    capture.received(event[:30])
    capture.received(event[30:])
    raw = capture.to_raw()
    assert key.encode() not in raw.response_body
    assert raw.response_body == b'data: {"delta": "you sent [masked:credential]"}\n\n'
    assert raw.extra["response_body"] == "1 credential of the request masked"


def test_a_compressed_answer_echoing_a_credential_is_kept_decoded_and_masked() -> None:
    key = plain()
    capture = _capture([("X-Gateway-Key", key)], status=200)
    body = gzip.compress(json.dumps({"note": f"key {key} seen"}).encode())
    capture.response_headers = [
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", str(len(body))),
    ]
    capture.received(body)
    raw = capture.to_raw()
    assert json.loads(raw.response_body) == {"note": "key [masked:credential] seen"}
    assert [k.lower() for k, _ in raw.response_headers] == ["content-type"]
    assert raw.extra["response_body"] == "1 credential of the request masked, decoded from gzip"


def test_a_compressed_answer_without_the_credential_is_kept_as_it_came() -> None:
    capture = _capture([("Authorization", f"Bearer {plain()}")])
    body = gzip.compress(b'{"ok": true}')
    capture.response_headers = [("Content-Encoding", "gzip")]
    capture.received(body)
    raw = capture.to_raw()
    assert raw.response_body == body
    assert raw.response_headers == [("Content-Encoding", "gzip")]
    assert "response_body" not in raw.extra


def test_a_compressed_answer_that_cannot_be_read_for_credentials_is_not_kept() -> None:
    capture = _capture([("Authorization", f"Bearer {plain()}")])
    capture.response_headers = [("Content-Encoding", "gzip")]
    capture.received(b"not gzip at all")
    raw = capture.to_raw()
    assert raw.response_body == b""
    assert raw.extra["response_body"].startswith(
        "not kept: it could not be read to look for the request's credentials"
    )


def test_a_short_credential_is_not_searched_for_elsewhere() -> None:
    # Shorter than 8 characters a value matches ordinary text (`ollama`, `test`): it is
    # redacted where it was sent, and the rest of the record is kept as it came.
    capture = _capture([("Authorization", "Bearer ollama")])
    capture.received(b'{"model": "ollama/llama3"}')
    assert capture.to_raw().response_body == b'{"model": "ollama/llama3"}'


def test_the_key_replay_reads_from_api_key_env_is_printed_and_stored_nowhere(
    cli: Cli, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.fixtures import serving
    from tests.fakes.flaky import Behaviour, FlakyModel

    key = plain()
    monkeypatch.setenv("GATEWAY_KEY", key)
    cli("import", "--examples")
    with serving(FlakyModel()) as fake:
        fake.script.extend([Behaviour("echo-key", code=401), Behaviour("echo-answer")])
        config_file = tmp_path / "redline.toml"
        config_file.write_text(
            f'[models.gw]\nbase_url = "{fake.url}/v1"\nwire = "openai-chat"\n'
            'model = "gw-1"\napi_key_env = "GATEWAY_KEY"\n'
        )
        result = cli(
            "replay",
            "aider-swallows-config-errors",
            "--config",
            str(config_file),
            "-m",
            "gw",
            "-n",
            "2",
            "--concurrency",
            "1",
        )
        report = cli.json("report")
    assert len(fake.requests) == 2  # both reached the upstream, with the key
    output = result.output + json.dumps(report)
    assert key not in output
    assert key not in every_row(db_path)
    assert key.encode() not in everything_written(db_path.parent)
    assert "[masked:credential]" in every_row(db_path)
