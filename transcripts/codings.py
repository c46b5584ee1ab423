"""Content codings (gzip, deflate, br, zstd): redline forwards bytes as they came and decodes
only its own copy, here."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable


def _inflate(body: bytes) -> bytes:
    try:
        return zlib.decompress(body)
    except zlib.error:  # servers send raw deflate as often as zlib-wrapped
        return zlib.decompress(body, -zlib.MAX_WBITS)


def _unbrotli(body: bytes) -> bytes:
    import brotli

    return bytes(brotli.decompress(body))


def _unzstd(body: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True).read()


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "x-gzip": gzip.decompress,
    "deflate": _inflate,
    "br": _unbrotli,
    "zstd": _unzstd,
    "identity": bytes,
}


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """Undo Content-Encoding (codings applied in order, so undone in reverse). Any failure is
    a ValueError naming the coding."""
    for coding in reversed([c.strip().lower() for c in (encoding or "").split(",") if c.strip()]):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise ValueError(f"cannot decode Content-Encoding {coding!r}")
        try:
            body = decoder(body)
        except Exception as exc:  # each library has its own error type; all mean "corrupt"
            raise ValueError(f"corrupt {coding} body: {exc}") from exc
    return body
