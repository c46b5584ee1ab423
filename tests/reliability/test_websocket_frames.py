"""WebSocket frames have the same cap as HTTP bodies: a frame larger than the proxy's body cap
is never read whole, either way, and the WebSocket is closed with 1009 (message too big) on both
sides, the turn under way recorded as cut, saying why; memory stays where it was (issue 22, item
4: one 400 MB frame took the proxy to 2.1 GB and its ingest child to 2.9 GB).
`bench/bench_memory.py` sends the 400 MB frame."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from redline.transcripts import RawExchange
from tests.reliability.conftest import Zygote, proxy_to
from tests.reliability.support import Upstream, rss_mb, spooled

MB = 1024 * 1024
CAP = 8 * MB
TOO_BIG = 1009


# What a client sees when the proxy hangs up while it is still sending its frame.
LOST = -1


def _turn(url: str, frame_size: int, *, answer_size: int = 8) -> tuple[int | None, list[str]]:
    """One WebSocket turn with a first frame of `frame_size` bytes; the close code the client
    saw (None: still open after the turn; LOST: the connection went while it was sending) and
    the frames it got."""

    async def run() -> tuple[int | None, list[str]]:
        got: list[str] = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"{url}/v1/responses",
                headers={"X-Behave": "ws-frames", "X-Size": str(answer_size)},
                max_msg_size=0,
            ) as ws,
        ):
            head = '{"type": "response.create", "model": "gpt-test", "input": "'
            try:
                await ws.send_str(head + "y" * max(0, frame_size - len(head) - 2) + '"}')
            except ConnectionError:
                return LOST, got
            async for msg in ws:
                got.append(msg.data)
                if json.loads(msg.data)["type"] == "response.completed":
                    return None, got
            return ws.close_code, got

    return asyncio.run(run())


def turns(db_path: Path) -> list[RawExchange]:
    return [x for x in spooled(db_path) if x.method == "WEBSOCKET"]


def test_a_frame_under_the_cap_goes_through_both_ways(upstream: Upstream, db_path: Path) -> None:
    with proxy_to(db_path, upstream.url, max_body=CAP) as proxy:
        code, got = _turn(proxy.url, CAP // 2, answer_size=CAP // 2)
        proxy.flush()
    assert code is None and len(got[0]) == CAP // 2
    assert upstream.ws_frames == [CAP // 2]
    (turn,) = turns(db_path)
    assert turn.outcome == "complete"


def test_a_client_frame_over_the_cap_closes_the_websocket_and_never_reaches_the_upstream(
    upstream: Upstream, db_path: Path
) -> None:
    with proxy_to(db_path, upstream.url, max_body=CAP) as proxy:
        code, got = _turn(proxy.url, CAP + MB)
        proxy.flush()
    # Closed with 1009, or cut while the client was still sending what is never read.
    assert code in (TOO_BIG, LOST) and got == []
    assert upstream.ws_frames == []
    assert turns(db_path) == []  # no turn began: the frame was never read


def test_an_upstream_frame_over_the_cap_closes_the_websocket_and_the_turn_says_why(
    upstream: Upstream, db_path: Path
) -> None:
    with proxy_to(db_path, upstream.url, max_body=CAP) as proxy:
        code, got = _turn(proxy.url, 100, answer_size=CAP + MB)
        proxy.flush()
    assert code == TOO_BIG and got == []
    (turn,) = turns(db_path)
    assert turn.outcome == "incomplete"
    assert turn.error == (
        "the upstream sent a WebSocket frame larger than the 8 MB cap: "
        "the WebSocket was closed (1009, message too big)"
    )


def test_resident_memory_stays_put_after_frames_over_the_cap(
    zygote: Zygote, upstream: Upstream, db_path: Path
) -> None:
    cap = 48 * MB
    proxy = zygote.fork(upstream.url, db_path, max_body=cap)
    _turn(proxy.url, 100)
    baseline = rss_mb(proxy.pid)
    for _ in range(2):
        assert _turn(proxy.url, cap + 8 * MB)[0] in (TOO_BIG, LOST)
        assert _turn(proxy.url, 100, answer_size=cap + 8 * MB)[0] == TOO_BIG
    assert rss_mb(proxy.pid) - baseline < 16, (baseline, rss_mb(proxy.pid))
