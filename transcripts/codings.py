"""Content codings (gzip, deflate, br, zstd): redline forwards bytes as they came and decodes
only its own copy, here.

Every decoding is bounded: a small body can inflate to gigabytes (a "zip bomb"), so decoding
stops as soon as the output would pass `limit` bytes and says so, having held at most about
`limit` bytes. The default bound is the proxy's body cap, `DECODED_LIMIT`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

# The most a decoded body may hold: the proxy accepts request bodies up to this size too.
DECODED_LIMIT = 256 * 1024 * 1024
# Input is fed to the decompressors in pieces of this size, so that no single step can produce
# much more than the bound allows before it is checked.
_STEP = 64 * 1024


class TooLarge(ValueError):
    """The decoded body would pass the bound."""

    def __init__(self, coding: str, limit: int) -> None:
        super().__init__(f"{coding} body decodes to more than {limit:,} bytes; not decoded")
        self.coding, self.limit = coding, limit


def _zlib(body: bytes, limit: int, wbits: int, coding: str) -> bytes:
    """Inflate a zlib, gzip or raw deflate stream; gzip allows several members, one after
    another. The input is fed a piece at a time and each step's output is capped, so neither
    the output nor any copy of the input grows much past the bound."""
    out = bytearray()
    view = memoryview(body)
    pos = 0
    while True:
        d = zlib.decompressobj(wbits)
        piece: bytes | memoryview = b""
        while not d.eof:
            if not piece:
                if pos >= len(view):
                    # All input is in; take any output the cap held back, then stop.
                    more = d.decompress(b"", min(limit - len(out) + 1, _STEP * 16))
                    if not more:
                        break
                    out += more
                    if len(out) > limit:
                        raise TooLarge(coding, limit)
                    continue
                piece = view[pos : pos + _STEP]
                pos += len(piece)
            out += d.decompress(piece, min(limit - len(out) + 1, _STEP * 16))
            if len(out) > limit:
                raise TooLarge(coding, limit)
            piece = d.unconsumed_tail
        if not d.eof:
            raise zlib.error("the compressed data ends too soon")
        pos -= len(d.unused_data)
        # Only gzip has members; zero bytes after the last one are padding.
        if wbits != 16 + zlib.MAX_WBITS or not bytes(view[pos:]).strip(b"\x00"):
            return bytes(out)


def _gunzip(body: bytes, limit: int) -> bytes:
    return _zlib(body, limit, 16 + zlib.MAX_WBITS, "gzip")


def _inflate(body: bytes, limit: int) -> bytes:
    try:
        return _zlib(body, limit, zlib.MAX_WBITS, "deflate")
    except zlib.error:  # servers send raw deflate as often as zlib-wrapped
        return _zlib(body, limit, -zlib.MAX_WBITS, "deflate")


def _unbrotli(body: bytes, limit: int) -> bytes:
    import brotli

    d = brotli.Decompressor()
    out = bytearray()
    view = memoryview(body)
    for start in range(0, len(view), _STEP):
        out += d.process(bytes(view[start : start + _STEP]), output_buffer_limit=_STEP)
        # Output held back by the buffer limit is taken with empty input before more goes in.
        while not d.can_accept_more_data() and len(out) <= limit:
            out += d.process(b"", output_buffer_limit=_STEP)
        if len(out) > limit:
            raise TooLarge("br", limit)
    while not d.is_finished() and (more := d.process(b"", output_buffer_limit=_STEP)):
        out += more
        if len(out) > limit:
            raise TooLarge("br", limit)
    if not d.is_finished():
        raise ValueError("the compressed data ends too soon")
    return bytes(out)


def _unzstd(body: bytes, limit: int) -> bytes:
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True)
    out = bytearray()
    while chunk := reader.read(_STEP * 16):
        out += chunk
        if len(out) > limit:
            raise TooLarge("zstd", limit)
    return bytes(out)


def _identity(body: bytes, limit: int) -> bytes:
    return body


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _inflate,
    "br": _unbrotli,
    "zstd": _unzstd,
    "identity": _identity,
}


def decode_body(body: bytes, encoding: str | None, limit: int | None = DECODED_LIMIT) -> bytes:
    """Undo Content-Encoding (codings applied in order, so undone in reverse). Any failure is
    a ValueError naming the coding; a body that would decode to more than `limit` bytes is a
    `TooLarge` (a ValueError too). `limit=None` decodes without a bound."""
    if not body:
        return body
    bound = limit if limit is not None else 1 << 62
    for coding in reversed([c.strip().lower() for c in (encoding or "").split(",") if c.strip()]):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise ValueError(f"cannot decode Content-Encoding {coding!r}")
        try:
            body = decoder(body, bound)
        except TooLarge:
            raise
        except Exception as exc:  # each library has its own error type; all mean "corrupt"
            raise ValueError(f"corrupt {coding} body: {exc}") from exc
    return body
