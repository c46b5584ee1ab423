"""Spool → DuckDB, a batch at a time: parse, dedup into the message tree, thread, store.

Ingest is idempotent by exchange id and runs one transaction per batch of spool lines, with the
spool offset advanced in the same transaction, so a crash at any point re-reads at most what was
not committed. This is the only place that writes exchanges (one writer).

A batch costs a fixed handful of statements, whatever its size: exchanges are parsed in Python
(`parse_exchange`, which needs no database), threaded against maps loaded once per batch, and
each table is written with one bulk statement.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from redline.transcripts.exchange import RawExchange
from redline.transcripts.model import canonical_json, text_hash
from redline.transcripts.parse import ParsedExchange, Skip, parse_exchange
from redline.transcripts.spool import SpoolLine, read_from, segment_is_live, segments
from redline.transcripts.store import bulk
from redline.transcripts.store.db import transaction
from redline.transcripts.store.prefixes import PrefixCache, Reuse
from redline.transcripts.store.report import IngestReport, Progress
from redline.transcripts.store.rows import Placement, exchange_row
from redline.transcripts.store.threader import Answer, Threader
from redline.transcripts.store.tree import DedupWriter, IndexedDecoration, Node, chain
from redline.transcripts.wire import BlobKind, WireFormat

BATCH = 500

# What DuckDB raises for a value it cannot store (a lone surrogate in a string...): a problem of
# one exchange's data, isolated and stored raw. Anything else (a full disk) stops ingest.
_DATA_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException)


def ingest_spool(
    con: duckdb.DuckDBPyConnection,
    spool_dir: Path,
    *,
    prefixes: PrefixCache | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest every pending spool line; delete segments that are done and no longer written.
    `prefixes`: histories known from earlier ingests of this process (the proxy's background
    ingest keeps one); `progress` hears of each batch."""
    report = IngestReport()
    writer = DedupWriter(con)
    prefixes = prefixes if prefixes is not None else PrefixCache()
    offsets = dict(con.execute("SELECT segment, byte_offset FROM spool_progress").fetchall())
    found = [(p, int(offsets.get(p.name, 0)), p.stat().st_size) for p in segments(spool_dir)]
    pending = sum(max(0, size - offset) for _, offset, size in found)
    done = 0
    for path, offset, size in found:
        final = not segment_is_live(path)
        if offset < size:
            for batch in _batches(read_from(path, offset, final=final)):
                start = offset
                offset = _commit(con, writer, prefixes, path.name, batch, report)
                done += offset - start
                if progress is not None:
                    progress(done, pending)
        if final and offset >= size:
            # File first: a crash in between leaves a harmless row, never a re-read segment.
            path.unlink(missing_ok=True)
            con.execute("DELETE FROM spool_progress WHERE segment = ?", [path.name])
    return report


def _batches(lines: Iterator[SpoolLine]) -> Iterator[list[SpoolLine]]:
    batch: list[SpoolLine] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _commit(
    con: duckdb.DuckDBPyConnection,
    writer: DedupWriter,
    prefixes: PrefixCache,
    segment: str,
    lines: list[SpoolLine],
    report: IngestReport,
    raw_only: Mapping[str, str] | None = None,
) -> int:
    """Store `lines` in one transaction, with the spool offset. When DuckDB refuses a value, the
    batch is halved until the exchange it belongs to is alone; that one is stored raw instead
    (bodies kept whole, nothing parsed), with the reason as its parse error, and only if even
    that fails is it skipped and reported. Either way the rest goes in, and no command is
    blocked by one bad line. `raw_only` maps exchange ids to store raw to the reason. Returns
    the offset reached."""
    raw_only = raw_only or {}
    end = lines[-1].end_offset
    try:
        with transaction(con):
            batch = _Batch(con, writer, prefixes, raw_only)
            problems = batch.store(lines)
            bulk.insert(
                con,
                "ingest_problems",
                {
                    "segment": [segment] * len(problems),
                    "byte_offset": [o for o, _ in problems],
                    "problem": [p for _, p in problems],
                    "seen_at": [datetime.now(UTC)] * len(problems),
                },
            )
            con.execute("INSERT OR REPLACE INTO spool_progress VALUES (?, ?)", [segment, end])
    except BaseException as exc:
        writer.forget()  # what it saw in the failed transaction was not kept
        prefixes.forget()
        if not isinstance(exc, _DATA_ERRORS):
            raise
        if len(lines) > 1:
            half = len(lines) // 2
            _commit(con, writer, prefixes, segment, lines[:half], report, raw_only)
            return _commit(con, writer, prefixes, segment, lines[half:], report, raw_only)
        x = lines[0].exchange
        assert x is not None  # a line without an exchange writes no data
        reason = f"{type(exc).__name__}: {exc}"
        if x.id not in raw_only:
            stored_raw = f"stored raw: the parsed form could not be stored ({reason})"
            return _commit(
                con, writer, prefixes, segment, lines, report, {**raw_only, x.id: stored_raw}
            )
        problem = f"exchange could not be stored ({reason}); skipped"
        return _commit(con, writer, prefixes, segment, [SpoolLine(end, None, problem)], report)
    report.ingested += batch.ingested
    report.skipped += batch.already
    report.problems.extend(f"spool {segment} at byte {o}: {p}" for o, p in problems)
    return end


@dataclass
class _Call:
    """One call of a batch on its way to a row."""

    parsed: ParsedExchange
    parent: str | None = None  # the node the request hangs under (a continued answer)
    depth: int = 0  # the depth of its first new message
    nodes: list[Node] = field(default_factory=list)
    decorations: list[IndexedDecoration] = field(default_factory=list)
    answer: Node | None = None  # the response's node
    reused: Reuse | None = None  # the known prefix its history starts with (not parsed again)
    continued: Answer | int | None = None  # a stored answer, or the batch call that gave it
    conversation_id: str | None = None

    @property
    def request_node(self) -> str | None:
        return self.nodes[-1].id if self.nodes else self.parent

    @property
    def response_node(self) -> str | None:
        return None if self.answer is None else self.answer.id

    def ends(self) -> list[tuple[str, int]]:
        """The nodes this call ends at (its request, its answer), with their depths."""
        out = []
        if self.request_node is not None:
            out.append((self.request_node, self.depth + len(self.nodes) - 1))
        if self.response_node is not None:
            out.append((self.response_node, self.depth + len(self.nodes)))
        return out


class _Batch:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        writer: DedupWriter,
        prefixes: PrefixCache,
        raw_only: Mapping[str, str],
    ) -> None:
        self.con, self.writer, self.prefixes, self.raw_only = con, writer, prefixes, raw_only
        self.threader = Threader(con)
        self.ingested = self.already = 0

    def store(self, lines: list[SpoolLine]) -> list[tuple[int, str]]:
        """Store the exchanges of `lines`; returns the problems of lines that held none."""
        problems = [(line.end_offset, str(line.problem)) for line in lines if line.exchange is None]
        exchanges = [line.exchange for line in lines if line.exchange is not None]
        present = bulk.existing(self.con, "exchanges", "id", {x.id for x in exchanges})
        fresh = []
        for x in exchanges:
            if x.id in present:
                self.already += 1
                continue
            present.add(x.id)
            fresh.append(x)
        calls = self._place(fresh)
        self._thread(calls)
        rows = [self._row(c) for c in calls]
        self.writer.put_nodes(
            n for c in calls for n in (*c.nodes, *([c.answer] if c.answer else []))
        )
        self.writer.put_blobs(
            (digest, kind, content)
            for c in calls
            if c.parsed.split
            for kind, digest, content in _blobs(c.parsed.split.blobs)
        )
        self.threader.write()
        if rows:
            bulk.insert(self.con, "exchanges", {k: [r[k] for r in rows] for k in rows[0]})
        self.ingested += len(rows)
        return problems

    def _place(self, exchanges: list[RawExchange]) -> list[_Call]:
        """Parse each exchange and lay its messages out in the tree, under the answer it
        continues when it continues one."""
        reused: dict[str, Reuse] = {}

        def skip(x: RawExchange) -> Skip:
            def known(fmt: WireFormat, items: list[Any]) -> int:
                reuse = self.prefixes.reuse(fmt, items)
                if reuse is None:
                    return 0
                reused[x.id] = reuse
                return reuse.items

            return known

        calls: list[_Call] = []
        answers: dict[str, int] = {}  # upstream response id -> the batch call that gave it
        for x in exchanges:
            # One at a time: each call's history is laid out before the next is read, so a
            # call extending the one before it in the same batch reuses its prefix.
            p = parse_exchange(x, unparsed_because=self.raw_only.get(x.id), skip=skip(x))
            reuse = reused.get(p.raw.id) if p.skipped else None
            if reuse is not None and p.continues is not None:
                # A server-held conversation's call sends only its newest items; their likeness
                # to a known history is a coincidence: read it whole.
                p, reuse = parse_exchange(p.raw, unparsed_because=self.raw_only.get(p.raw.id)), None
            call = self._chain(p, answers, calls, reuse)
            if call is None:  # its parsed form cannot be stored: keep it raw
                reason = "stored raw: its messages could not be stored"
                call = self._chain(parse_exchange(p.raw, unparsed_because=reason), answers, calls)
                assert call is not None
            if call.parsed.response is not None and call.parsed.response.id is not None:
                answers[call.parsed.response.id] = len(calls)
            calls.append(call)
        return calls

    def _chain(
        self,
        p: ParsedExchange,
        answers: dict[str, int],
        calls: list[_Call],
        reuse: Reuse | None = None,
    ) -> _Call | None:
        call = _Call(p, reused=reuse)
        if reuse is not None:
            call.parent, call.depth = reuse.node, reuse.messages
        previous = p.continues
        if previous is not None:
            stored = self.threader.answer(previous)
            mine = answers.get(previous)
            if mine is not None and (
                stored is None or calls[mine].parsed.raw.started_at >= stored.started_at
            ):
                earlier = calls[mine]
                call.parent, call.continued = earlier.response_node, mine
                call.depth = earlier.depth + len(earlier.nodes) + 1
            elif stored is not None:
                call.parent, call.depth, call.continued = stored.node, stored.depth, stored
            if call.parent is None:
                call.depth = 0
        try:
            if p.request is not None:
                call.nodes, call.decorations = chain(p.request.messages, call.parent, call.depth)
                if reuse is not None:
                    shifted = [(i + reuse.messages, path, v) for i, path, v in call.decorations]
                    call.decorations = [*reuse.decorations, *shifted]
            if p.response is not None:
                tip, _ = chain(
                    [p.response.message], call.request_node, call.depth + len(call.nodes)
                )
                call.answer = tip[0]
        except UnicodeError:  # a lone surrogate in a message: no node id can be made of it
            return None
        if p.request is not None:
            self._remember(call)
        return call

    def _remember(self, call: _Call) -> None:
        """A history read from its first item on: later calls that extend it reuse it."""
        p = call.parsed
        if p.items is None or p.fmt is None or p.continues is not None or call.continued:
            return
        known = call.reused.nodes if call.reused else ()
        title, title_at = _title(call)
        self.prefixes.remember(
            p.fmt,
            p.items,
            (*known, *(n.id for n in call.nodes)),
            tuple(call.decorations),
            title,
            title_at,
        )

    def _thread(self, calls: list[_Call]) -> None:
        depths: dict[str, int] = {}
        for c in calls:
            if c.reused is not None:
                depths.update((node, depth) for depth, node in enumerate(c.reused.nodes))
            elif c.parent is not None:
                depths[c.parent] = c.depth - 1
            depths.update((n.id, n.depth) for n in c.nodes)
        keys = {c.parsed.session_key for c in calls if c.parsed.session_key}
        self.threader.load_prefixes(depths, keys)
        self.threader.preload_conversations(self.threader.stored_conversations())
        for c in calls:
            p = c.parsed
            if not p.model_call:
                continue
            if isinstance(c.continued, int):
                c.conversation_id = calls[c.continued].conversation_id
            elif c.continued is not None:
                c.conversation_id = c.continued.conversation_id
            x = p.raw
            title, _ = _title(c)
            if c.conversation_id is None:
                known = c.reused.nodes if c.reused else ([c.parent] if c.parent else [])
                prefix = [*known, *(n.id for n in c.nodes)]
                c.conversation_id = self.threader.conversation_for(
                    x.id, x.started_at, prefix, p.session_key, title
                )
            else:
                self.threader.name(c.conversation_id, title)
            self.threader.ended_at(c.ends(), x.started_at, c.conversation_id, p.session_key)

    def _row(self, c: _Call) -> dict[str, Any]:
        p = c.parsed
        blobs = {kind: hash_ for kind, hash_, _ in _blobs(p.split.blobs)} if p.split else {}
        seq = None
        if c.conversation_id is not None:
            seq = self.threader.next_seq(c.conversation_id)
        at = Placement(
            conversation_id=c.conversation_id,
            seq=seq,
            request_node=c.request_node,
            response_node=c.response_node,
            message_count=(
                None if p.request is None else len(c.nodes) + (c.reused.messages if c.reused else 0)
            ),
            tools_hash=blobs.get("tools"),
            system_hash=blobs.get("system"),
            decorations=c.decorations,
        )
        return exchange_row(p, at)


def _title(call: _Call) -> tuple[str | None, int | None]:
    """The call's title and the index of its message: from the reused prefix when one of its
    messages gave it, else from the messages read."""
    reused, p = call.reused, call.parsed
    if reused is not None and reused.title is not None:
        return reused.title, reused.title_at
    if p.title_at is not None and reused is not None:
        return p.title, reused.messages + p.title_at
    return p.title, p.title_at


def _blobs(blobs: Mapping[BlobKind, Any]) -> Iterator[tuple[BlobKind, str, str]]:
    """(kind, hash, canonical JSON) of each blob. A tool list or system prompt is usually the
    one the call before sent: found by comparing values (in C), not serialized again."""
    for kind, value in blobs.items():
        found = next((r for r in _RECENT_BLOBS if r[0] == value), None)
        if found is None:
            content = canonical_json(value)
            found = (value, text_hash(content), content)
            _RECENT_BLOBS.appendleft(found)
        yield kind, found[1], found[2]


# The last few blob values ingest serialized, with their hashes (values are never mutated).
_RECENT_BLOBS: deque[tuple[Any, str, str]] = deque(maxlen=16)
