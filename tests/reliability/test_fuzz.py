"""Hypothesis against the parsers that read what crossed the wire: content decoding (bounded,
ValueError only), stream reassembly (the end of a stream is found whatever the chunking, and
never inside a message's text), exchange parsing (never raises), redaction (a credential's name
always wins)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.proxy.headers import redacted, redacted_query
from redline.proxy.server import EndMarker
from redline.transcripts import RawExchange, parse_exchange, parse_sse, wire
from redline.transcripts.codings import TooLarge, decode_body
from tests.reliability.support import compress

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CODINGS = ("gzip", "deflate", "br", "zstd", "identity")
PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/models")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(
    body=st.binary(max_size=2000),
    codings=st.lists(st.sampled_from([*CODINGS, "compress", "x-gzip"]), max_size=3),
    limit=st.integers(min_value=0, max_value=5000),
)
def test_decoding_any_bytes_raises_only_value_errors_and_never_passes_its_bound(
    body: bytes, codings: list[str], limit: int
) -> None:
    try:
        out = decode_body(body, ", ".join(codings), limit=limit)
    except ValueError:
        return
    if any(c != "identity" for c in codings):
        assert len(out) <= limit


@FUZZ
@given(data=st.binary(max_size=5000), coding=st.sampled_from(CODINGS[:4]))
def test_decoding_gives_back_what_was_encoded_within_the_bound_and_refuses_past_it(
    data: bytes, coding: str
) -> None:
    packed = compress(data, coding)
    assert decode_body(packed, coding, limit=len(data)) == data
    if data:
        with pytest.raises(TooLarge):
            decode_body(packed, coding, limit=len(data) - 1)


def chat_stream(texts: list[str], done: bool) -> bytes:
    events = [
        b"data: "
        + json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}).encode()
        + b"\n\n"
        for t in texts
    ]
    return b"".join(events) + (b"data: [DONE]\n\n" if done else b"")


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


# Texts that look like the end of a stream, inside a message: JSON escapes their newlines.
tricky_text = st.text() | st.sampled_from(
    ["data: [DONE]", "\ndata: [DONE]\n\n", "event: message_stop\n\n", "[DONE]"]
)


@FUZZ
@given(
    texts=st.lists(tricky_text, max_size=6),
    done=st.booleans(),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_the_end_of_a_stream_is_seen_exactly_when_its_end_event_is_whole(
    texts: list[str], done: bool, cuts: list[int]
) -> None:
    stream = chat_stream(texts, done)
    end = EndMarker(wire.detect("/v1/chat/completions"))
    seen = b""
    for chunk in chunked(stream, cuts):
        seen += chunk
        if end.done(chunk):
            break
    else:
        assert not done or not stream  # no end event, never "done"
        return
    assert done and seen == stream  # done only once the whole end event is in
    result = wire.detect("/v1/chat/completions").reassemble(parse_sse(seen.decode()))  # type: ignore[union-attr]
    assert result.complete and result.response.message.text == "".join(texts)


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    request=json_values,
    response=json_values | st.text(),
    stream=st.booleans(),
    status=st.sampled_from([200, 400, 500, None]),
)
def test_parsing_an_exchange_of_any_shape_never_raises(
    path: str, request: Any, response: Any, stream: bool, status: int | None
) -> None:
    body = response.encode() if isinstance(response, str) else json.dumps(response).encode()
    kind = "text/event-stream" if stream else "application/json"
    x = RawExchange(
        "01J0000000000000000000FUZZ",
        __import__("datetime").datetime(2026, 1, 1),
        "POST",
        path,
        "",
        "http://u",
        [("Content-Type", "application/json")],
        json.dumps(request).encode(),
        status,
        [("Content-Type", kind)],
        body,
        None,
        1.0,
        "complete",
    )
    parsed = parse_exchange(x)
    assert parsed.outcome in ("complete", "incomplete", "error")


secret_words = st.sampled_from(
    ["key", "token", "secret", "signature", "auth", "password", "credential"]
)
name_chars = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", max_size=8)


@FUZZ
@given(before=name_chars, word=secret_words, after=name_chars, value=st.text(max_size=40))
def test_a_header_whose_name_holds_a_credential_word_is_always_redacted(
    before: str, word: str, after: str, value: str
) -> None:
    name = f"{before}{word.upper() if len(before) % 2 else word}{after}"
    if word == "token" and after.startswith("s") and not after[1:2].isalpha():
        return  # "tokens" counts model tokens (the rate-limit headers)
    assert redacted([(name, value)]) == [(name, "[redacted]")]


@FUZZ
@given(
    params=st.lists(
        st.tuples(name_chars.filter(bool), st.text(alphabet="abcdefXYZ0123456789%+.", max_size=12)),
        max_size=5,
    ),
    secret=st.tuples(name_chars, secret_words, name_chars),
    value=st.text(alphabet="abcdefXYZ0123456789", min_size=1, max_size=12),
    separator=st.sampled_from(["&", ";"]),
)
def test_a_query_parameter_named_like_a_credential_never_keeps_its_value(
    params: list[tuple[str, str]],
    secret: tuple[str, str, str],
    value: str,
    separator: str,
) -> None:
    name = "".join(secret)
    if secret[1] == "token" and secret[2].startswith("s") and not secret[2][1:2].isalpha():
        return
    query = "&".join(f"{k}={v}" for k, v in params) + f"{separator if params else ''}{name}={value}"
    stored = redacted_query(query)
    assert stored.endswith(f"{name}=[redacted]")
