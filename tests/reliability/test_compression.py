"""Compressed bodies cross the proxy byte for byte, both ways, and redline decodes only its own
copy (issue 13, defect 3: aiohttp's server inflated request bodies and the upstream got them
still labelled compressed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redline.proxy import ThreadedProxy
from redline.transcripts import parse_exchange
from tests.reliability.support import Upstream, chat_body, completion, compress, request, spooled

CODINGS = ("gzip", "deflate", "zstd", "br")


@pytest.mark.parametrize("coding", CODINGS)
def test_a_compressed_request_body_reaches_the_upstream_as_sent_and_is_recorded_readable(
    coding: str, upstream: Upstream, proxy: ThreadedProxy, db_path: Path
) -> None:
    plain = chat_body(f"compressed with {coding}")
    sent = compress(plain, coding)
    reply = request(
        proxy.url,
        body=sent,
        headers={"Content-Encoding": coding, "Content-Type": "application/json"},
    )
    assert reply.status == 200
    [seen] = upstream.seen
    assert seen.body == sent
    assert seen.headers["content-encoding"] == coding
    proxy.flush()
    [record] = spooled(db_path)
    assert record.request_body == sent
    parsed = parse_exchange(record)
    assert parsed.problems == ()
    assert parsed.title == f"compressed with {coding}"


@pytest.mark.parametrize("coding", CODINGS)
def test_a_compressed_response_reaches_the_client_as_sent_and_is_recorded_readable(
    coding: str, upstream: Upstream, proxy: ThreadedProxy, db_path: Path
) -> None:
    reply = request(proxy.url, body=chat_body("hi"), headers={"X-Behave": coding})
    assert reply.headers["content-encoding"] == coding
    assert reply.body == compress(completion(), coding)
    proxy.flush()
    [record] = spooled(db_path)
    parsed = parse_exchange(record)
    assert parsed.problems == ()
    assert json.loads(parsed.response_body) == json.loads(completion())
