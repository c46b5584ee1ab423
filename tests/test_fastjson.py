"""Bodies are parsed with a fast parser where that is exact, and give what the standard library
gives everywhere: what the fast parser cannot represent exactly falls back to it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, new_id, open_store
from redline.transcripts.fastjson import LazyList, loads, loads_object

BEYOND_64_BITS = 2**64 + 1


@pytest.mark.parametrize(
    "text",
    [
        '{"seed": 18446744073709551617}',  # past 64 bits: orjson refuses it
        '{"n": -9223372036854775809}',
        '{"n": 9007199254740993, "m": 18446744073709551615}',
        '{"x": [0.1, 1e308, 5e-324, 2.2250738585072011e-308, 1.7976931348623157e308, -0.0]}',
        '{"s": "\\ud83d\\ude00 and a lone \\ud800"}',  # a lone surrogate escape
        '{"a": 1, "a": 2}',
        '"\\u2028"',
    ],
)
def test_a_body_parses_exactly_as_the_standard_library_parses_it(text: str) -> None:
    assert loads(text.encode()) == json.loads(text)
    assert repr(loads(text.encode())) == repr(json.loads(text))  # -0.0 stays -0.0


def test_nan_and_infinity_parse_as_the_standard_library_parses_them() -> None:
    parsed = loads(b"[NaN, Infinity, -Infinity]")
    assert math.isnan(parsed[0]) and parsed[1:] == [math.inf, -math.inf]


def test_an_integer_past_64_bits_in_a_recorded_request_is_stored_exactly(db_path: Path) -> None:
    body = {
        "model": "gpt-x",
        "seed": BEYOND_64_BITS,
        "messages": [{"role": "user", "content": "hi"}],
    }
    when = datetime(2026, 11, 30, 9, tzinfo=UTC)
    writer = SpoolWriter(config.spool_dir(db_path))
    writer.append(
        [
            RawExchange(
                id=new_id(when),
                started_at=when,
                method="POST",
                path="/v1/chat/completions",
                query="",
                upstream="http://127.0.0.1:1",
                request_headers=[("content-type", "application/json")],
                request_body=json.dumps(body).encode(),
                status=200,
                response_headers=[("content-type", "application/json")],
                response_body=b'{"id": "c", "object": "chat.completion", "choices": []}',
                ttfb_ms=1.0,
                duration_ms=1.0,
                outcome="complete",
            )
        ]
    )
    writer.close()
    with open_store(db_path):
        pass
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        (meta,) = con.execute("SELECT request_meta FROM exchanges").fetchone() or ("",)
    finally:
        con.close()
    assert json.loads(meta)["seed"] == BEYOND_64_BITS


def test_a_history_is_read_as_bytes_and_each_item_decoded_only_when_looked_at() -> None:
    body = loads_object(
        b'{"model": "m", "messages": [{"a": 1}, {"b": [2, 3]}], "n": 7}', "messages"
    )
    items = body["messages"]
    assert isinstance(items, LazyList) and len(items) == 2
    assert bytes(items.raw[1]) == b'{"b": [2, 3]}'  # as it came
    assert items[1] == {"b": [2, 3]} and items == [{"a": 1}, {"b": [2, 3]}]
    assert body == {"model": "m", "messages": items, "n": 7}


def test_a_body_the_fast_reader_refuses_is_read_whole_as_the_standard_library_reads_it() -> None:
    text = '{"messages": [{"a": NaN}], "n": 18446744073709551617}'
    body = loads_object(text.encode(), "messages")
    assert not isinstance(body["messages"], LazyList)
    assert repr(body) == repr(json.loads(text))
