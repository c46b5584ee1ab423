"""Recording never holds traffic up: 200 clients at once with the disk's fsync stalled all get
their answers, each call written once; a full disk loses records loudly, counts them, and says
how many were lost when space returns (issue 13, defect 7)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from pathlib import Path

import aiohttp
import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts import spool
from tests.reliability.support import Upstream, chat_body, request, spooled

CLIENTS = 200


def test_200_clients_at_once_with_fsync_stalled_all_get_answers_and_every_call_is_written_once(
    upstream: Upstream, proxy: ThreadedProxy, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The disk takes forever to make anything durable: fsync blocks until the test says so.
    released = threading.Event()
    real_fsync = os.fsync

    def stalled_fsync(fd: int) -> None:
        released.wait(60)
        real_fsync(fd)

    monkeypatch.setattr(spool.os, "fsync", stalled_fsync)

    async def clients() -> list[int]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one(i: int) -> int:
                kind = ("json", "chunked", "stream")[i % 3]
                async with session.post(
                    f"{proxy.url}/v1/chat/completions",
                    data=chat_body(f"client {i}", stream=kind == "stream"),
                    headers={"X-Behave": kind, "Content-Type": "application/json"},
                ) as r:
                    await r.read()
                    return r.status

            return await asyncio.gather(*(one(i) for i in range(CLIENTS)))

    try:
        statuses = asyncio.run(clients())
        # Every answer is out while no fsync has finished, and every record was written first.
        written = spooled(db_path)
    finally:
        released.set()
    assert statuses == [200] * CLIENTS
    contents = sorted(x.request_body for x in written)
    assert contents == sorted(chat_body(f"client {i}", stream=i % 3 == 2) for i in range(CLIENTS))
    proxy.flush()
    assert proxy.runner.recorder is not None
    assert proxy.runner.recorder.synced == proxy.runner.recorder.written == CLIENTS


def test_a_full_disk_keeps_traffic_flowing_reports_each_lost_record_and_counts_them(
    upstream: Upstream,
    proxy: ThreadedProxy,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    full = True
    real_write = spool.SpoolWriter.write_records

    def write_records(self: spool.SpoolWriter, records: list[bytes], *, sync: bool = True) -> None:
        if full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, records, sync=sync)

    monkeypatch.setattr(spool.SpoolWriter, "write_records", write_records)
    caplog.set_level(logging.WARNING, logger="redline.proxy")
    statuses = [request(proxy.url, body=chat_body(f"lost {i}")).status for i in range(3)]
    assert statuses == [200, 200, 200]
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lost) == 3
    assert all("No space left on device" in m and "POST /v1/chat/completions" in m for m in lost)
    assert lost[-1].endswith("(3 lost since the spool stopped taking records)")
    assert proxy.runner.recorder is not None and proxy.runner.recorder.failed == 3

    full = False
    assert request(proxy.url, body=chat_body("kept")).status == 200
    proxy.flush()
    back = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert back == [
        "the spool takes records again: 3 record(s) were lost while it could not be written"
    ]
    assert [x.request_body for x in spooled(db_path)] == [chat_body("kept")]
