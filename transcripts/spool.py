"""The spool: an append-only, fsync'd log of finished exchanges, the store's write-ahead log.

The proxy never opens DuckDB (its file lock would shut out every `redline` command). It appends
each finished exchange here as one record, and the store ingests pending records later. A writer
holds an exclusive `flock` on its segment for as long as it lives, which is how ingest tells a
segment still being written from one whose writer is gone (and so may be deleted once ingested).

A record is read once. It starts with one line of JSON, its metadata; the version in it (`v`)
says what follows. Format 2, written now: the two bodies as they came, byte for byte, their
lengths in the metadata (`bodies`), then a newline. Format 1, written by earlier releases: the
bodies inside the JSON line, as text or base64, so every body was decoded twice on its way in.
Both are read, even within one segment, so a spool left by an earlier release still ingests.
Segments keep their `.jsonl` name: each record still begins with a JSON line.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from redline.errors import RedlineError
from redline.transcripts.exchange import RawExchange, new_id

SEGMENT_BYTES = 64 * 1024 * 1024
# The record format `to_record` writes; a reader knows this one and every earlier one.
RECORD_VERSION = 2
_KNOWN = (1, 2)


class SpoolVersionError(RedlineError):
    """A spool record in a format this redline does not know (written by a newer one). Ingest
    stops rather than skip it: skipping would advance past records that a newer redline can
    still read."""

    def __init__(self, version: object) -> None:
        super().__init__(
            f"the spool holds a record in format {version!r}, and this redline reads formats "
            f"up to {RECORD_VERSION}; upgrade redline to read it"
        )
        self.version = version


def to_record(x: RawExchange) -> bytes:
    """The record of one exchange: its metadata line, then its bodies as they are."""
    d = {
        "v": RECORD_VERSION,
        "id": x.id,
        "started_at": x.started_at.isoformat(),
        "method": x.method,
        "path": x.path,
        "query": x.query,
        "upstream": x.upstream,
        "request_headers": x.request_headers,
        "status": x.status,
        "response_headers": x.response_headers,
        "ttfb_ms": x.ttfb_ms,
        "duration_ms": x.duration_ms,
        "outcome": x.outcome,
        "error": x.error,
        "client": x.client,
        "extra": x.extra,
        "bodies": [len(x.request_body), len(x.response_body)],
    }
    import orjson  # here: `redline ls` looks for segments, and needs no JSON for that

    try:
        # The proxy writes each record before it releases an answer's last bytes: orjson
        # writes the same compact UTF-8 JSON as json.dumps(ensure_ascii=False), much faster.
        meta = orjson.dumps(d)
    except TypeError:  # orjson refuses lone surrogates (and integers past 64 bits)
        # "replace": a header byte that was not UTF-8 reaches us as a lone surrogate; it
        # becomes "?" rather than making the exchange unwritable.
        text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
        meta = text.encode("utf-8", "replace")
    return b"".join((meta, b"\n", x.request_body, x.response_body, b"\n"))


def _decode_body(d: dict[str, str]) -> bytes:
    """A body of a format 1 record."""
    if "b64" in d:
        return base64.b64decode(d["b64"])
    return d.get("text", "").encode("utf-8")


def _exchange(d: dict[str, Any], request_body: bytes, response_body: bytes) -> RawExchange:
    return RawExchange(
        id=d["id"],
        started_at=datetime.fromisoformat(d["started_at"]),
        method=d["method"],
        path=d["path"],
        query=d.get("query", ""),
        upstream=d["upstream"],
        request_headers=[(k, v) for k, v in d["request_headers"]],
        request_body=request_body,
        status=d["status"],
        response_headers=[(k, v) for k, v in d["response_headers"]],
        response_body=response_body,
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
        self.write_records([to_record(x) for x in exchanges])

    def write_records(self, records: list[bytes], *, sync: bool = True) -> None:
        """Append records (`to_record`). A write that fails is cut back off the file, so a
        half-written record can never swallow the next, successful one.

        With `sync=False` the records are written (a process kill no longer loses them: the
        kernel holds them) but not fsync'd, and no new segment is started: the owner calls
        `sync()` soon after, from one thread, and `rotate()` there. Neither is thread-safe
        against a write; the owner serializes writes and rotation (proxy/recorder.py)."""
        assert self._file is not None
        if sync:
            self.rotate()
        data = b"".join(records)
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
        """fsync what `write_records(..., sync=False)` wrote. Safe to call while another thread
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
            with contextlib.suppress(OSError):  # records written with sync=False
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


@contextlib.contextmanager
def ingest_lock(directory: Path) -> Iterator[None]:
    """Held while one process ingests this spool: a second waits for it (and then finds the
    records stored). A database file's own lock does this for a file; a lake has none."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".ingest.lock", "ab") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def segments(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.jsonl"))


@dataclass(frozen=True, slots=True)
class Record:
    """A record found in a segment: where it lies (`offset` to `end`) and what its metadata
    says. `load` reads its exchange; a format 1 record was read whole (`legacy`)."""

    segment: Path
    offset: int
    end: int
    id: str
    started_at: datetime
    meta: dict[str, Any]
    bodies: tuple[int, int, int] = (0, 0, 0)  # format 2: where the bodies start, their lengths
    legacy: RawExchange | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Bytes of a segment, from `offset` to `end`, that hold no record that can be read."""

    segment: Path
    offset: int
    end: int
    problem: str


# Where a record starts: every metadata line begins so (orjson and json.dumps alike).
_START = b'{"v":'


def read_records(path: Path, offset: int, *, final: bool) -> Iterator[Record | Unreadable]:
    """The records after `offset`, bodies not read. An unfinished last record is a write still
    in progress unless the segment is `final` (its writer is gone): then it was cut by a crash
    and is reported. After bytes that hold no record, reading goes on at the next record's
    start."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= offset:
            return
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
            pos = offset
            while pos < size:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    if final:
                        yield Unreadable(path, pos, size, "record cut short (the writer crashed)")
                    return
                if not data[pos:nl].strip():
                    pos = nl + 1
                    continue
                try:
                    found = _record(path, data, pos, nl)
                except (ValueError, KeyError, TypeError) as exc:
                    following = data.find(b"\n" + _START, nl - 1)
                    end = size if following < 0 else following + 1
                    yield Unreadable(path, pos, end, f"unreadable record ({exc})")
                    pos = end
                    continue
                if found is None:  # its bodies are not all written yet
                    if final:
                        yield Unreadable(path, pos, size, "record cut short (the writer crashed)")
                    return
                yield found
                pos = found.end


def _record(path: Path, data: mmap.mmap, pos: int, nl: int) -> Record | None:
    from redline.transcripts.fastjson import loads

    d = loads(data[pos:nl])
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    version = d.get("v")
    if version not in _KNOWN:
        raise SpoolVersionError(version)
    started_at = datetime.fromisoformat(d["started_at"])
    if version == 1:
        x = _exchange(d, _decode_body(d["request_body"]), _decode_body(d["response_body"]))
        return Record(path, pos, nl + 1, x.id, started_at, {}, legacy=x)
    request, response = (int(n) for n in d["bodies"])
    end = nl + 1 + request + response + 1
    if end > len(data):
        return None
    if data[end - 1] != ord("\n"):
        raise ValueError("its bodies are not as long as its metadata says")
    return Record(path, pos, end, str(d["id"]), started_at, d, (nl + 1, request, response))


def load(records: list[Record]) -> list[RawExchange]:
    """The exchanges of `records`, bodies read (each segment opened once)."""
    files: dict[Path, IO[bytes]] = {}
    try:
        out = []
        for r in records:
            if r.legacy is not None:
                out.append(r.legacy)
                continue
            f = files.get(r.segment)
            if f is None:
                f = files[r.segment] = open(r.segment, "rb")  # noqa: SIM115 (closed below)
            at, request, response = r.bodies
            bodies = os.pread(f.fileno(), request + response, at)
            out.append(_exchange(r.meta, bodies[:request], bodies[request:]))
        return out
    finally:
        for f in files.values():
            f.close()


def read_exchanges(directory: Path) -> list[RawExchange]:
    """Every exchange complete in the spool, segment by segment in file order (what the proxy
    wrote, before any ingest)."""
    found = []
    for path in segments(directory):
        records = read_records(path, 0, final=False)
        found += load([r for r in records if isinstance(r, Record)])
    return found
