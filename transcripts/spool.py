"""The spool: an append-only, fsync'd JSONL log of finished exchanges, the store's write-ahead log.

The proxy never opens DuckDB (its file lock would shut out every `redline` command). It appends
each finished exchange here as one line, and the store ingests pending lines later. A writer
holds an exclusive `flock` on its segment for as long as it lives, which is how ingest tells a
segment still being written from one whose writer is gone (and so may be deleted once ingested).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from redline.errors import RedlineError
from redline.transcripts.exchange import RawExchange, new_id

SEGMENT_BYTES = 64 * 1024 * 1024
# The version of the line format written by `to_line`; a reader refuses lines of another.
LINE_VERSION = 1


class SpoolVersionError(RedlineError):
    """A spool line in a format this redline does not know (written by a newer one). Ingest
    stops rather than skip it: skipping would advance past records that a newer redline can
    still read."""

    def __init__(self, version: object) -> None:
        super().__init__(
            f"the spool holds a record in format {version!r}, and this redline reads format "
            f"{LINE_VERSION}; upgrade redline to read it"
        )
        self.version = version


def _encode_body(body: bytes) -> dict[str, str]:
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(body).decode("ascii")}


def _decode_body(d: dict[str, str]) -> bytes:
    if "b64" in d:
        return base64.b64decode(d["b64"])
    return d.get("text", "").encode("utf-8")


def to_line(x: RawExchange) -> bytes:
    d = {
        "v": LINE_VERSION,
        "id": x.id,
        "started_at": x.started_at.isoformat(),
        "method": x.method,
        "path": x.path,
        "query": x.query,
        "upstream": x.upstream,
        "request_headers": x.request_headers,
        "request_body": _encode_body(x.request_body),
        "status": x.status,
        "response_headers": x.response_headers,
        "response_body": _encode_body(x.response_body),
        "ttfb_ms": x.ttfb_ms,
        "duration_ms": x.duration_ms,
        "outcome": x.outcome,
        "error": x.error,
        "client": x.client,
        "extra": x.extra,
    }
    try:
        # The proxy writes each line before it releases an answer's last bytes: orjson writes
        # the same compact UTF-8 JSON as json.dumps(ensure_ascii=False) some 40 times faster.
        return orjson.dumps(d) + b"\n"
    except TypeError:  # orjson refuses lone surrogates (and integers past 64 bits)
        pass
    # "replace": a header byte that was not UTF-8 reaches us as a lone surrogate; it becomes "?"
    # rather than making the exchange unwritable.
    text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "replace") + b"\n"


def from_line(line: bytes) -> RawExchange:
    d = json.loads(line)
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    if d.get("v") != LINE_VERSION:
        raise SpoolVersionError(d.get("v"))
    return RawExchange(
        id=d["id"],
        started_at=datetime.fromisoformat(d["started_at"]),
        method=d["method"],
        path=d["path"],
        query=d.get("query", ""),
        upstream=d["upstream"],
        request_headers=[(k, v) for k, v in d["request_headers"]],
        request_body=_decode_body(d["request_body"]),
        status=d["status"],
        response_headers=[(k, v) for k, v in d["response_headers"]],
        response_body=_decode_body(d["response_body"]),
        ttfb_ms=d["ttfb_ms"],
        duration_ms=d["duration_ms"],
        outcome=d["outcome"],
        error=d.get("error"),
        client=d.get("client"),
        extra=d.get("extra") or {},
    )


class SpoolWriter:
    """Appends exchanges to a segment of its own; not thread-safe (the recorder owns one)."""

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = None
        self._size = 0
        self._path = directory
        self._open_segment()

    @property
    def path(self) -> Path:
        return self._path

    def _open_segment(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{new_id()}.jsonl"
        # Locked under a name ingest does not look at, then renamed: ingest never sees the
        # segment unlocked, so it can never take it for a dead writer's and delete it.
        pending = path.with_suffix(".jsonl.new")
        # Unbuffered: a write that fails leaves nothing behind in a buffer to come out later.
        f = open(pending, "ab", buffering=0)  # noqa: SIM115 (held open for the writer's life)
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        pending.rename(path)
        self._file, self._size, self._path = f, 0, path
        _fsync_dir(self.directory)

    def append(self, exchanges: list[RawExchange]) -> None:
        """Write and fsync: when this returns, the exchanges survive a crash."""
        self.write_lines([to_line(x) for x in exchanges])

    def write_lines(self, lines: list[bytes], *, sync: bool = True) -> None:
        """Append serialized exchanges. A write that fails is cut back off the file, so a
        half-written line can never swallow the next, successful one.

        With `sync=False` the lines are written (a process kill no longer loses them: the
        kernel holds them) but not fsync'd, and no new segment is started: the owner calls
        `sync()` soon after, from one thread, and `rotate()` there. Neither is thread-safe
        against a write; the owner serializes writes and rotation (proxy/recorder.py)."""
        assert self._file is not None
        if sync:
            self.rotate()
        data = b"".join(lines)
        try:
            view = memoryview(data)
            while view:
                view = view[self._file.write(view) or 0 :]
            if sync:
                os.fsync(self._file.fileno())
        except OSError:
            self._file.truncate(self._size)
            raise
        self._size += len(data)

    def sync(self) -> None:
        """fsync what `write_lines(..., sync=False)` wrote. Safe to call while another thread
        writes; not while one rotates or closes."""
        if self._file is not None:
            os.fsync(self._file.fileno())

    @property
    def full(self) -> bool:
        return self._size >= self.segment_bytes

    def rotate(self) -> None:
        """Start the next segment once this one is full."""
        if self.full:
            self.close()
            self._open_segment()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # lines written with sync=False
                os.fsync(self._file.fileno())
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _fsync_dir(directory: Path) -> None:
    """Make a new or renamed file's name itself durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segment_is_live(path: Path) -> bool:
    """True while a writer holds the segment."""
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def segments(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.jsonl"))


@dataclass(frozen=True, slots=True)
class SpoolLine:
    """A line read from a segment: an exchange, or the reason it could not be read."""

    end_offset: int
    exchange: RawExchange | None
    problem: str | None = None


def read_from(path: Path, offset: int, *, final: bool) -> Iterator[SpoolLine]:
    """Lines after `offset`. An unterminated last line is a write still in progress unless the
    segment is `final` (its writer is gone): then it was cut by a crash and is reported."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            if final:
                yield SpoolLine(offset + len(data), None, "line cut short (the writer crashed)")
            return
        line = data[pos:nl]
        pos = nl + 1
        if not line.strip():
            continue
        try:
            yield SpoolLine(offset + pos, from_line(line))
        except (ValueError, KeyError, TypeError) as exc:
            yield SpoolLine(offset + pos, None, f"unreadable line ({exc})")
