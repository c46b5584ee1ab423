"""WebSocket turns through `redline proxy --mode mitm`: Codex's Responses API over a WebSocket is
recorded turn by turn, and a refused upgrade as a call, exactly as the reverse relay records them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import httpx2

from tests.fakes.fixtures import recording_proxy, serving
from tests.fakes.openai_responses import FakeResponses
from tests.fakes.tls import Pki
from tests.mitm.support import assert_recorded_alike, mitm_proxy, spooled, through, tls, trusting
from tests.support import Cli
from tests.test_proxy_websocket import TERMINAL, create, user


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
                    if json.loads(msg.data)["type"] in TERMINAL:
                        break
        # A TLS connection is closed by sending close_notify and waiting for the peer's; let the
        # loop run until that is done, or the socket outlives the loop (aiohttp issue 1925).
        for _ in range(200):
            if sock is None or sock.fileno() == -1:
                break
            await asyncio.sleep(0.005)

    asyncio.run(run())


def test_websocket_turns_are_recorded_as_the_reverse_proxy_records_them(
    tmp_path: Path, pki: Pki, cli: Cli
) -> None:
    """Codex's Responses API over a WebSocket: each turn is a call, as the reverse relay has it."""
    fake = FakeResponses()
    frames = [create(input=[user("List the files.")]), create(input=[user("Count the tests.")])]
    reverse_db, mitm_db = tmp_path / "reverse.duckdb", tmp_path / "mitm.duckdb"
    with serving(fake), recording_proxy(reverse_db, ("", fake.url)) as reverse:
        converse(f"{reverse.url}/v1/responses", fake.api_key, frames)
        reverse.flush()
    with tls(fake.app(), pki) as url, mitm_proxy(mitm_db, pki) as proxy:
        trust = trusting(proxy.runner.ca.cert_pem)
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
    assert (line.status, line.outcome) == (405, "complete")
    assert line.error == "the upstream refused the WebSocket upgrade with 405"
    assert_recorded_alike(cli, reverse_db, mitm_db)


def test_a_frame_over_the_cap_closes_the_websocket_with_1009_and_the_turn_says_why(
    tmp_path: Path, pki: Pki
) -> None:
    from tests.reliability.support import Upstream

    cap = 4 * 1024 * 1024
    upstream = Upstream()
    db = tmp_path / "mitm.duckdb"

    async def turn(url: str, proxy: str, trust: Any, answer: int, frame: int) -> int | None:
        code: int | None = None
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"{url}/v1/responses",
                headers={"X-Behave": "ws-frames", "X-Size": str(answer)},
                proxy=proxy,
                ssl=trust,
                max_msg_size=0,
            ) as ws,
        ):
            sock = ws.get_extra_info("socket")
            try:
                await ws.send_str(json.dumps({"type": "response.create", "input": "y" * frame}))
                async for msg in ws:
                    if json.loads(msg.data)["type"] == "response.completed":
                        break
                else:
                    code = ws.close_code
            except ConnectionError:
                code = -1
        for _ in range(200):  # as in `converse`: let TLS finish closing
            if sock is None or sock.fileno() == -1:
                break
            await asyncio.sleep(0.005)
        return code

    with tls(upstream.app(), pki) as url, mitm_proxy(db, pki, max_body=cap) as proxy:
        trust = trusting(proxy.runner.ca.cert_pem)
        from_upstream = asyncio.run(turn(url, proxy.url, trust, cap + 1024 * 1024, 100))
        from_client = asyncio.run(turn(url, proxy.url, trust, 8, cap + 1024 * 1024))
        proxy.flush()
    assert from_upstream == 1009
    assert from_client in (1009, -1)
    assert upstream.ws_frames == [len(json.dumps({"type": "response.create", "input": "y" * 100}))]
    turns = [record for record in spooled(db) if record.method == "WEBSOCKET"]
    assert [(t.outcome, t.error) for t in turns] == [
        (
            "incomplete",
            "the upstream sent a WebSocket frame larger than the 4 MB cap: "
            "the WebSocket was closed (1009, message too big)",
        )
    ]
