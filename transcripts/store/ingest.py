"""Spool → DuckDB: read what is pending, in the order the calls started, a batch at a time: lay
each call out in the message tree, thread it, store it.

Order. A proxy writes two segments in turn, several proxies write a segment each, and a record
is written when its call ends: file order is not call order. So ingest reads every pending
record's metadata first (bodies stay on disk), sorts by start time (then id: a stable tie
break) and threads in that order, whatever segment a record is in. A call that started before
calls already threaded by an earlier ingest is threaded again with them (store/rethreading.py).

Safety. Ingest is idempotent by exchange id and runs one transaction per batch, with each
segment's offset in the same transaction: an offset moves only past records that are stored,
so a crash at any point re-reads at most what was not committed, and what is read twice is
skipped by id. This is the only place that writes exchanges (one writer).

Cost. Laying calls out (parsing, hashing) is most of the work and needs no database: for a
backlog it runs in worker processes (store/workers.py); the database is written here alone,
each table with one bulk statement per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from redline.transcripts.spool import (
    Record,
    SpoolVersionError,
    Unreadable,
    load,
    read_records,
    segment_is_live,
    segments,
)
from redline.transcripts.store import bulk, rethreading
from redline.transcripts.store.db import write
from redline.transcripts.store.lake import lake_of
from redline.transcripts.store.layout import Placed, place
from redline.transcripts.store.prefixes import PrefixCache
from redline.transcripts.store.report import IngestReport, Progress
from redline.transcripts.store.rethreading import StoredCall
from redline.transcripts.store.threader import Answer, Threader
from redline.transcripts.store.tree import DedupWriter

BATCH = 500

# What is raised for a value that cannot be stored (a lone surrogate in a string...): a problem
# of one exchange's data, isolated and stored raw. Anything else (a full disk) stops ingest.
_DATA_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException, bulk.Unstorable)

Entry = Record | Unreadable


class Placer(Protocol):
    """Lays calls out in the tree: in this process, or in workers (store/workers.py).
    `submit` starts on a batch; what it returns gives the result."""

    def submit(self, records: list[Record]) -> Callable[[], list[Placed]]: ...

    def forget(self) -> None:
        """After a rolled-back transaction: forget the histories laid out (their nodes may not
        be stored); `generation` counts these."""

    def close(self) -> None: ...

    @property
    def generation(self) -> int: ...


@dataclass
class InlinePlacer:
    """Lays calls out here, one after another, with one cache of known histories."""

    prefixes: PrefixCache = field(default_factory=PrefixCache)
    generation: int = 0

    def submit(self, records: list[Record]) -> Callable[[], list[Placed]]:
        placed = [place(x, self.prefixes) for x in load(records)]
        return lambda: placed

    def forget(self) -> None:
        self.prefixes.forget()
        self.generation += 1

    def close(self) -> None:
        pass


def ingest_spool(
    con: duckdb.DuckDBPyConnection,
    spool_dir: Path,
    *,
    prefixes: PrefixCache | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest every pending record; delete segments that are done and no longer written.
    `prefixes`: histories known from earlier ingests of this process (the proxy's background
    ingest keeps one); `progress` hears of each batch."""
    report = IngestReport()
    writer = DedupWriter(con)
    offsets = dict(con.execute("SELECT segment, byte_offset FROM spool_progress").fetchall())
    placer = _placer(spool_dir, offsets, prefixes)
    try:
        found, entries, refused = _pending(spool_dir, offsets)
        tracker = _Offsets(entries, offsets)
        batches = list(_batches(_in_call_order(entries)))
        total, done = sum(e.end - e.offset for e in entries), 0
        # The next batch is laid out (in workers) while this one is threaded and written.
        ahead = _submit(con, placer, batches[0]) if batches else None
        for i, batch in enumerate(batches):
            assert ahead is not None
            fresh, result = ahead
            placed, generation = result(), placer.generation
            ahead = _submit(con, placer, batches[i + 1]) if i + 1 < len(batches) else None
            _commit(con, writer, placer, batch, tracker, report, fresh=fresh, placed=placed)
            if ahead is not None and placer.generation != generation:
                ahead = _submit(con, placer, batches[i + 1])  # laid out on what was rolled back
            done += sum(e.end - e.offset for e in batch)
            if progress is not None:
                progress(done, total)
    finally:
        placer.close()
    done_with = [p for p, size, final in found if final and tracker.offset(p.name) >= size]
    for path in done_with:
        # File first: a crash in between leaves a harmless row, never a re-read segment.
        path.unlink(missing_ok=True)
    if done_with:
        write(
            con,
            lambda: con.execute(
                "DELETE FROM spool_progress WHERE segment IN (SELECT unnest(?::JSON::VARCHAR[]))",
                [bulk.listed(p.name for p in done_with)],
            ),
        )
    if refused is not None:
        raise refused
    return report


def _pending(
    spool_dir: Path, offsets: Mapping[str, int]
) -> tuple[list[tuple[Path, int, bool]], list[Entry], SpoolVersionError | None]:
    """The segments (path, size, final), the records after their offsets (metadata only),
    and the first record of a format this redline does not know: its segment is read up to it."""
    found: list[tuple[Path, int, bool]] = []
    entries: list[Entry] = []
    refused: SpoolVersionError | None = None
    for path in segments(spool_dir):
        final = not segment_is_live(path)  # before the size: a dead writer writes no more
        try:
            size = path.stat().st_size
            offset = int(offsets.get(path.name, 0))
            if offset < size:
                for entry in read_records(path, offset, final=final):
                    entries.append(entry)
        except FileNotFoundError:
            continue
        except SpoolVersionError as exc:
            refused = refused or exc
            final = False  # keep the segment: a newer redline reads the rest
        found.append((path, size, final))
    return found, entries, refused


def _in_call_order(entries: list[Entry]) -> list[Entry]:
    """What cannot be read first (it only needs reporting), then records by start time and id."""
    problems: list[Entry] = [e for e in entries if isinstance(e, Unreadable)]
    records = sorted(
        (e for e in entries if isinstance(e, Record)), key=lambda r: (r.started_at, r.id)
    )
    return [*problems, *records]


def _batches(order: list[Entry]) -> Iterator[list[Entry]]:
    """Batches of about BATCH entries; copies of one record (the same exchange in two spools)
    sort side by side and stay in one batch, where it is stored once."""
    batch: list[Entry] = []
    for e in order:
        if len(batch) >= BATCH and not (
            isinstance(e, Record) and isinstance(batch[-1], Record) and e.id == batch[-1].id
        ):
            yield batch
            batch = []
        batch.append(e)
    if batch:
        yield batch


def _placer(spool_dir: Path, offsets: Mapping[str, int], prefixes: PrefixCache | None) -> Placer:
    """Workers for a backlog worth their start-up (they start while the spool is read); this
    process for the rest."""
    from redline.transcripts.store import workers

    backlog = 0
    for path in segments(spool_dir):
        try:
            backlog += max(0, path.stat().st_size - int(offsets.get(path.name, 0)))
        except FileNotFoundError:
            continue
    size = workers.workers_for(backlog)
    if size:
        return workers.Pool(size)
    return InlinePlacer(prefixes if prefixes is not None else PrefixCache())


def _submit(
    con: duckdb.DuckDBPyConnection, placer: Placer, batch: list[Entry]
) -> tuple[list[Record], Callable[[], list[Placed]]]:
    fresh = _fresh(con, [e for e in batch if isinstance(e, Record)])
    return fresh, placer.submit(fresh)


class _Offsets:
    """How far into each segment ingest has gone: an offset moves past a record only once it
    and every record before it in the segment are stored (records are stored in call order,
    which is not file order)."""

    def __init__(self, entries: list[Entry], offsets: Mapping[str, int]) -> None:
        self._entries: dict[str, list[Entry]] = {}
        for e in entries:  # in file order within a segment
            self._entries.setdefault(e.segment.name, []).append(e)
        self._handled: set[tuple[str, int]] = set()
        self._next = dict.fromkeys(self._entries, 0)
        self._offset = {name: int(offsets.get(name, 0)) for name in self._entries}
        self._offset.update({k: int(v) for k, v in offsets.items() if k not in self._offset})

    def offset(self, segment: str) -> int:
        return self._offset.get(segment, 0)

    def after(self, batch: Iterable[Entry]) -> dict[str, int]:
        """The offsets that move once `batch` is stored too (nothing is changed yet)."""
        also = {(e.segment.name, e.offset) for e in batch}
        moved = {}
        for name in {e.segment.name for e in batch}:
            entries, i = self._entries[name], self._next[name]
            while i < len(entries) and (
                (key := (name, entries[i].offset)) in also or key in self._handled
            ):
                i += 1
            if i > self._next[name]:
                moved[name] = entries[i - 1].end
        return moved

    def mark(self, batch: Iterable[Entry]) -> None:
        batch = list(batch)
        moved = self.after(batch)
        self._handled.update((e.segment.name, e.offset) for e in batch)
        for name, offset in moved.items():
            entries, i = self._entries[name], self._next[name]
            while i < len(entries) and entries[i].end <= offset:
                i += 1
            self._next[name], self._offset[name] = i, offset


def _commit(
    con: duckdb.DuckDBPyConnection,
    writer: DedupWriter,
    placer: Placer,
    batch: list[Entry],
    tracker: _Offsets,
    report: IngestReport,
    *,
    fresh: list[Record] | None = None,
    placed: list[Placed] | None = None,
    raw_only: Mapping[str, str] | None = None,
) -> None:
    """Store `batch` in one transaction, with the offsets it moves: `placed` are its `fresh`
    records (those not stored yet) laid out. When DuckDB refuses a value,
    the batch is halved until the exchange it belongs to is alone; that one is stored raw
    instead (bodies kept whole, nothing parsed), with the reason as its parse error, and only
    if even that fails is it skipped and reported. Either way the rest goes in, and no command
    is blocked by one bad record. `raw_only` maps exchange ids to store raw to the reason; a
    batch retried after a refusal is laid out here, from scratch (`placed` None)."""
    problems = [e for e in batch if isinstance(e, Unreadable)]
    records = [e for e in batch if isinstance(e, Record)]
    attempts = 0

    def store() -> int:
        nonlocal attempts, fresh, placed
        attempts += 1
        if attempts > 1:  # run again after a conflict: what the writer saw was not kept
            writer.forget()
        if placed is None or fresh is None:
            fresh, retry = _fresh(con, records), PrefixCache()
            placed = [place(x, retry, (raw_only or {}).get(x.id)) for x in load(fresh)]
        elif lake_of(con) is not None:
            # Another process may have stored some since they were found fresh (on a file its
            # lock rules that out); in this fenced transaction, what is stored is certain.
            present = bulk.existing(con, "exchanges", "id", {c.id for c in placed})
            placed = [c for c in placed if c.id not in present]
            fresh = [r for r in fresh if r.id not in present]
        stored = _Batch(con, writer).store(placed)
        now = datetime.now(UTC)
        bulk.insert(
            con,
            "ingest_problems",
            {
                "segment": [p.segment.name for p in problems],
                "byte_offset": [p.end for p in problems],
                "problem": [p.problem for p in problems],
                "seen_at": [now] * len(problems),
            },
        )
        moved = tracker.after(batch)
        if moved:
            segments = bulk.listed(moved)
            con.execute(
                "DELETE FROM spool_progress WHERE segment IN (SELECT unnest(?::JSON::VARCHAR[]))",
                [segments],
            )
            con.execute(
                "INSERT INTO spool_progress "
                "SELECT unnest(?::JSON::VARCHAR[]), unnest(?::JSON::BIGINT[])",
                [segments, bulk.listed(moved.values())],
            )
        return stored

    try:
        stored = write(con, store)
    except BaseException as exc:
        writer.forget()  # what it saw in the failed transaction was not kept
        placer.forget()
        if not isinstance(exc, _DATA_ERRORS):
            raise
        raw_only = raw_only or {}
        if len(batch) > 1:
            half = len(batch) // 2
            _commit(con, writer, placer, batch[:half], tracker, report, raw_only=raw_only)
            _commit(con, writer, placer, batch[half:], tracker, report, raw_only=raw_only)
            return
        (record,) = records
        reason = f"{type(exc).__name__}: {exc}"
        if record.id not in raw_only:
            stored_raw = f"stored raw: the parsed form could not be stored ({reason})"
            raw = {**raw_only, record.id: stored_raw}
            _commit(con, writer, placer, batch, tracker, report, raw_only=raw)
            return
        problem = f"exchange could not be stored ({reason}); skipped"
        skipped = Unreadable(record.segment, record.offset, record.end, problem)
        _commit(con, writer, placer, [skipped], tracker, report)
        return
    tracker.mark(batch)
    report.ingested += stored
    report.skipped += len(records) - len(fresh or ())
    report.problems.extend(f"spool {p.segment.name} at byte {p.end}: {p.problem}" for p in problems)


def _fresh(con: duckdb.DuckDBPyConnection, records: list[Record]) -> list[Record]:
    """The records whose exchange is not stored yet (each id once)."""
    present = bulk.existing(con, "exchanges", "id", {r.id for r in records})
    fresh = []
    for r in records:
        if r.id not in present:
            present.add(r.id)
            fresh.append(r)
    return fresh


class _Batch:
    """Threads and writes one batch of laid-out calls."""

    def __init__(self, con: duckdb.DuckDBPyConnection, writer: DedupWriter) -> None:
        self.con, self.writer = con, writer

    def store(self, calls: list[Placed]) -> int:
        """Store the calls (in call order); returns how many."""
        again = self._late(calls)
        threader = Threader(self.con)
        self._continue(calls, threader)
        seqs = thread(threader, calls, again)
        self.writer.put_nodes(
            n for c in calls for n in (*c.nodes, *([c.answer] if c.answer else []))
        )
        self.writer.put_blobs(
            (digest, kind, content) for c in calls for digest, kind, content in c.blobs
        )
        threader.write()
        if calls:
            rows = [c.row for c in calls]
            bulk.insert(self.con, "exchanges", {k: [r[k] for r in rows] for k in rows[0]})
        if again:
            rethreading.reattach(self.con, again, seqs)
        return len(calls)

    def _late(self, calls: list[Placed]) -> list[StoredCall]:
        """Threaded calls that started after the first of these: threaded again with them."""
        first = min((c.started_at for c in calls if c.model_call), default=None)
        latest = rethreading.watermark(self.con) if first is not None else None
        if first is None or latest is None or first > latest:
            return []
        return rethreading.detach(self.con, first)

    def _continue(self, calls: list[Placed], threader: Threader) -> None:
        """Hang each call that continues an answer held by the server under that answer: one
        of this batch's, or a stored one, whichever came last."""
        answers: dict[str, Placed] = {}
        for c in calls:
            previous = c.continues
            if previous is not None:
                stored = threader.answer(previous)
                mine = answers.get(previous)
                if mine is not None and (stored is None or mine.started_at >= stored.started_at):
                    under = mine.answer
                    c.relink(under.id if under else None, under.depth + 1 if under else 0)
                    c.continued = mine
                elif stored is not None:
                    c.relink(stored.node, stored.depth)
                    c.continued = stored
            if c.response_id is not None:
                answers[c.response_id] = c


def thread(
    threader: Threader, calls: list[Placed], again: list[StoredCall], *, load: bool = True
) -> dict[str, tuple[str, int]]:
    """Thread a batch's calls and the stored calls taken out again, in start order; returns
    where the stored ones went (id -> conversation, seq). `load`: look up what the store holds
    (nothing to find when every call was taken out)."""
    everything: list[Placed | StoredCall] = [*calls, *again]
    if load:
        depths: dict[str, int] = {}
        for c in everything:
            depths.update(c.chain_depths())
        threader.load_prefixes(depths, {c.session_key for c in everything if c.session_key})
        threader.preload_conversations(threader.stored_conversations())
    placed: dict[str, tuple[str, int]] = {}
    for c in sorted(everything, key=lambda c: (c.started_at, c.id)):
        if isinstance(c, StoredCall):
            joined = threader.conversation_for(
                c.id, c.started_at, c.prefix(), c.session_key, c.title
            )
            placed[c.id] = (joined, threader.next_seq(joined))
            threader.ended_at(c.ends(), c.started_at, joined, c.session_key)
            continue
        if not c.model_call:
            continue
        continued = c.continued
        cid: str | None = None
        if isinstance(continued, Placed):
            cid = continued.row["conversation_id"]
        elif isinstance(continued, Answer):
            cid = continued.conversation_id
        if cid is None:
            cid = threader.conversation_for(
                c.id, c.started_at, reversed(c.chain), c.session_key, c.title
            )
        else:
            threader.name(cid, c.title)
        c.row["conversation_id"], c.row["seq"] = cid, threader.next_seq(cid)
        threader.ended_at(c.ends(), c.started_at, cid, c.session_key)
    return placed


def rethread_everything(con: duckdb.DuckDBPyConnection) -> int:
    """Thread every stored call again, in the order calls started (migration m007: stores
    threaded in the order their records were read). Returns how many calls."""
    again = rethreading.detach(con, None)
    if again:
        threader = Threader(con)
        rethreading.reattach(con, again, thread(threader, [], again, load=False))
        threader.write()
    return len(again)
