"""The spool keeps each body as it came and reads each record once; a spool written by an earlier
release (bodies inside the JSON line) still ingests."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, new_id
from redline.transcripts.spool import read_exchanges, to_record
from tests.support import Cli

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def chat(text: str, response_body: bytes = b"", **headers: str) -> RawExchange:
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": text}]}
    answer = {
        "id": f"chatcmpl-{text}",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
    }
    return RawExchange(
        id=new_id(WHEN),
        started_at=WHEN,
        method="POST",
        path="/v1/chat/completions",
        query="",
        upstream="http://127.0.0.1:1",
        request_headers=[("content-type", "application/json"), *headers.items()],
        request_body=json.dumps(body).encode(),
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=response_body or json.dumps(answer).encode(),
        ttfb_ms=1.0,
        duration_ms=2.0,
        outcome="complete",
    )


def format_1(x: RawExchange) -> bytes:
    """A record as redline 0.1.0 wrote it: one JSON line, bodies as text (or base64) inside."""
    return (
        json.dumps(
            {
                "v": 1,
                "id": x.id,
                "started_at": x.started_at.isoformat(),
                "method": x.method,
                "path": x.path,
                "query": x.query,
                "upstream": x.upstream,
                "request_headers": x.request_headers,
                "request_body": {"text": x.request_body.decode()},
                "status": x.status,
                "response_headers": x.response_headers,
                "response_body": {"b64": base64.b64encode(x.response_body).decode()},
                "ttfb_ms": x.ttfb_ms,
                "duration_ms": x.duration_ms,
                "outcome": x.outcome,
                "error": x.error,
                "client": x.client,
                "extra": x.extra,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )


def test_bodies_are_spooled_byte_for_byte(db_path: Path) -> None:
    odd = bytes(range(256)) + b"\n\n{not json\n"  # binary, newlines, invalid UTF-8
    x = chat("binary answer", response_body=odd)
    writer = SpoolWriter(config.spool_dir(db_path))
    writer.append([x])
    writer.close()
    (back,) = read_exchanges(config.spool_dir(db_path))
    assert back == x
    assert odd in writer.path.read_bytes()  # as it came: not escaped, not encoded


def test_a_spool_written_by_an_earlier_release_still_ingests(db_path: Path, cli: Cli) -> None:
    spool = config.spool_dir(db_path)
    spool.mkdir(parents=True)
    (spool / "20261130T090000-OLD.jsonl").write_bytes(
        format_1(chat("first old question")) + format_1(chat("second old question"))
    )
    titles = sorted(c["title"] for c in cli.json("ls")["conversations"])
    assert titles == ["first old question", "second old question"]
    assert not (spool / "20261130T090000-OLD.jsonl").exists()  # read to its end: removed


def test_a_segment_holding_both_formats_ingests_both(db_path: Path, cli: Cli) -> None:
    spool = config.spool_dir(db_path)
    spool.mkdir(parents=True)
    (spool / "20261130T090000-MIXED.jsonl").write_bytes(
        format_1(chat("written before the upgrade")) + to_record(chat("written after it"))
    )
    titles = sorted(c["title"] for c in cli.json("ls")["conversations"])
    assert titles == ["written after it", "written before the upgrade"]


def test_a_record_from_a_newer_release_stops_with_a_clear_error_and_loses_nothing(
    db_path: Path, cli: Cli
) -> None:
    spool = config.spool_dir(db_path)
    spool.mkdir(parents=True)
    newer = b'{"v":99,"id":"x","started_at":"2026-11-30T09:00:00+00:00"}\n'
    segment = spool / "20261130T090000-NEWER.jsonl"
    segment.write_bytes(to_record(chat("before the newer record")) + newer)
    result = cli("ls", expect=2)
    assert "format 99" in result.output and "upgrade redline" in result.output
    assert segment.read_bytes().endswith(newer)  # kept for a redline that reads it
