"""A conversation's timeline, as the web view shows it: the calls in order, each with only what it
added, runs of identical calls folded into one row, a page of rows at a time.

An agent re-sends its whole history on every call, and within one session it may interleave side
calls (another model, its own system prompt and tools, the same session header) and send a
request again when the API refused it. So each call is read against the message tree, not
against the call before it:

* what it added: its request's messages under the deepest one that an earlier call of the
  conversation already sent or received (a retry adds nothing; its answer is still shown);
* the call it continues (its parent): the earlier call that first sent or received that
  message. A request that adds messages where an earlier call already went on differently
  branches off (history edited or compacted, or another thread of the session) and says so;
* its system prompt and tool list: in full on the first call that sent them; a later call whose
  differ from its parent's names the call that showed them;
* runs of identical calls one after another (the same request, answer and outcome: an agent
  retrying) are one row, with how many calls it stands for.

The whole conversation is walked on the messages' ids and parents only; the messages themselves
are read for the page's rows alone. A string longer than a bound is cut (saying how much is left
out: the call's raw JSON has it all) and a page stops taking rows at a size bound, so a page of
an 800-call loop costs what a page of a 20-call session does (bench/bench_ui.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from redline.transcripts.model import part_to_dict, tool_to_dict
from redline.transcripts.store.queries import record_json, records
from redline.transcripts.store.stored_requests import blob_digests, blob_texts, request_shell

FIRST_ROWS = 20  # rows a first view shows from the start, and from the end
MOST_ROWS = 200  # rows one request may ask for
PAGE_CHARS = 1_000_000  # a page takes no more rows once its JSON is this long (one at least)
ROW_CHARS = 250_000  # the text of one row; past it, each string is cut to CUT_CHARS
STRING_CHARS = 50_000  # the longest string a row carries whole
CUT_CHARS = 2_000

_COLUMNS = """
    id, seq, started_at, wire, model, outcome AS status, status_code AS http_status, stream,
    finish_reason, user_agent, error, parse_error, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, reasoning_tokens, ttfb_ms, duration_ms,
    message_count, request_node, response_node, tools_hash, system_hash, request_meta
"""
_USAGE = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


@dataclass(frozen=True, slots=True)
class TimelineCall:
    """One row of a timeline: a call, with only what it added to the conversation, standing
    for `repeats` identical calls in a row (this one the first, `last_id` the last)."""

    id: str
    seq: int | None
    row: int  # its place in the timeline, from 0
    started_at: datetime
    wire: str | None
    model: str | None
    status: str
    http_status: int | None
    stream: bool | None
    finish_reason: str | None
    user_agent: str | None
    error: str | None
    parse_error: str | None
    usage: dict[str, int | None]
    timings: dict[str, float | None]
    messages: int | None  # messages in the request
    kept: int | None  # of those, how many earlier calls had already sent or received
    rewritten: bool  # it adds messages where an earlier call had gone on differently
    added: list[dict[str, Any]]  # the new messages, canonical JSON
    answer: dict[str, Any] | None
    system: list[dict[str, Any]] | None  # in full on the first call that sent it
    tools: list[dict[str, Any]] | None
    system_changed: bool  # differs from its parent's (or, without one, the call before)
    tools_changed: bool
    system_from: int | None  # changed to one shown earlier: the seq of the call that showed it
    tools_from: int | None
    parent_seq: int | None  # the call it continues (or re-sends the request of)
    continues_previous: bool  # that call is the one just before it
    repeats: int  # identical calls this row stands for
    last_id: str
    last_at: datetime

    def to_json(self) -> dict[str, Any]:
        return record_json(self)


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """Some rows of a timeline: from `offset`, up to `limit` of them, and its `last` rows."""

    calls: list[TimelineCall]
    rows: int  # in the whole timeline
    offset: int
    limit: int
    last: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "offset": self.offset,
            "limit": self.limit,
            "last": self.last,
            "calls": [c.to_json() for c in self.calls],
        }


@dataclass(slots=True)
class _Read:
    """What the walk found for one call, before any message is read."""

    call: dict[str, Any]
    new: list[str]
    kept: int | None
    rewritten: bool
    parent: int | None  # the index of the call it continues
    first: int  # the index of this call, then of the first of the identical calls it heads
    repeats: int = 1


@dataclass(frozen=True, slots=True)
class _Shells:
    """The distinct system prompts and tool lists of a conversation, and each call's."""

    systems: list[Any]
    tools: list[Any]
    of: list[tuple[int, int]]  # per call: its system's index, its tool list's index


def page(
    con: duckdb.DuckDBPyConnection,
    conversation_id: str,
    *,
    offset: int = 0,
    limit: int = FIRST_ROWS,
    last: int = FIRST_ROWS,
) -> TimelinePage:
    """Rows `offset` to `offset + limit` of the conversation's timeline and its `last` rows,
    as many of those as the page's size bound holds (the first ones of each part first)."""
    calls = records(
        con.execute(
            f"SELECT {_COLUMNS} FROM exchanges WHERE conversation_id = ? ORDER BY seq, id",
            [conversation_id],
        )
    )
    tree = _tree(con, conversation_id)
    parents = {node: parent for node, parent, _ in tree}
    shells = _shells(con, calls)
    rows = _fold(_walk(calls, parents), shells)
    offset, limit, last = (
        max(offset, 0),
        min(max(limit, 0), MOST_ROWS),
        min(max(last, 0), MOST_ROWS),
    )
    head = list(range(offset, min(offset + limit, len(rows))))
    tail = [i for i in range(max(len(rows) - last, 0), len(rows)) if i >= offset + limit]
    made = _Rows(con, calls, rows, shells, {node: rowid for node, _, rowid in tree})
    made.read(head + tail)
    chosen = made.within(head, PAGE_CHARS // 2 if tail else PAGE_CHARS)
    chosen += made.within(tail[::-1], PAGE_CHARS - made.size)[::-1]
    return TimelinePage(chosen, len(rows), offset, limit, last)


def _tree(
    con: duckdb.DuckDBPyConnection, conversation_id: str
) -> list[tuple[str, str | None, int]]:
    """The conversation's messages: id, parent and row number (their content is read by it,
    for the page's rows only). Found by id, then read by row number: read with the filter on
    the ids, the parents of the whole table would be read too."""
    found = con.execute(
        "SELECT rowid FROM nodes WHERE id IN (SELECT node FROM browse_nodes WHERE conversation_id = ?)",
        [conversation_id],
    ).fetchall()
    return con.execute(
        "SELECT id, parent, rowid FROM nodes "
        "WHERE rowid IN (SELECT unnest(string_split(?, ','))::BIGINT)",
        [",".join(str(r[0]) for r in found)],
    ).fetchall()


def _shells(con: duckdb.DuckDBPyConnection, calls: list[dict[str, Any]]) -> _Shells:
    """Each call's system prompt and tool list, read once per distinct stored shell, and
    numbered by content (two shells can hold the same system prompt)."""
    blobs = blob_texts(con, blob_digests(calls))
    by_key: dict[tuple[Any, ...], tuple[int, int]] = {}
    seen: tuple[dict[str, int], dict[str, int]] = ({}, {})
    shells = _Shells([], [], [])
    for c in calls:
        key = (c["wire"], c["request_meta"], c["tools_hash"], c["system_hash"])
        if key not in by_key:
            indices = []
            for value, known, found in zip(
                _system_and_tools(c, blobs), seen, (shells.systems, shells.tools), strict=True
            ):
                text = json.dumps(value, sort_keys=True)
                if text not in known:
                    known[text] = len(found)
                    found.append(value)
                indices.append(known[text])
            by_key[key] = (indices[0], indices[1])
        shells.of.append(by_key[key])
    return shells


def _walk(calls: list[dict[str, Any]], parents: dict[str, str | None]) -> list[_Read]:
    """Each call read against the message tree: what it added, the call it continues, whether
    it branches off. A message an earlier call sent has every message above it sent too, so
    each call walks up only through what it added."""
    position: dict[str, int] = {}  # a message sent or received: its place in its chain
    owner: dict[str, int] = {}  # ...and the call that first did
    continued: set[str | None] = set()  # messages (None: the start) something already follows
    out = []
    for i, c in enumerate(calls):
        end = c["request_node"]
        new: list[str] = []
        node = end
        while node is not None and node not in position and node in parents:
            new.append(node)
            node = parents[node]
        anchor = node if node in position else None
        new.reverse()
        kept = position[anchor] + 1 if anchor is not None else 0
        rewritten = bool(new) and anchor in continued
        for k, n in enumerate(new):
            position[n], owner[n] = kept + k, i
            continued.add(new[k - 1] if k else anchor)
        answer = c["response_node"]
        if answer is not None and answer in parents and answer not in position:
            position[answer], owner[answer] = kept + len(new), i
            continued.add(end)
        parent = owner.get(anchor) if anchor is not None else None
        out.append(_Read(c, new, kept if end else None, rewritten, parent, i))
    return out


_SAME = ("request_node", "response_node", "status", "http_status", "model", "finish_reason")


def _fold(calls: list[_Read], shells: _Shells) -> list[_Read]:
    """Runs of identical calls, one after another, as one row (an agent retrying)."""
    rows: list[_Read] = []
    for r in calls:
        head = rows[-1] if rows else None
        if (
            head is not None
            and r.call["request_node"] is not None
            and not r.new
            and shells.of[head.first] == shells.of[r.first]
            and all(head.call[k] == r.call[k] for k in _SAME)
        ):
            head.repeats += 1
        else:
            rows.append(r)
    return rows


class _Rows:
    """Makes rows of the page: reads their messages, cuts long strings, counts the size."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        calls: list[dict[str, Any]],
        rows: list[_Read],
        shells: _Shells,
        rowids: dict[str, int],
    ) -> None:
        self.con, self.calls, self.rows, self.shells = con, calls, rows, shells
        self.rowids = rowids
        self.size = 0
        self.texts: dict[str, str] = {}
        self.row_of: list[int] = []  # each call's row
        for index, r in enumerate(rows):
            self.row_of += [index] * r.repeats
        # The row that shows each system prompt and tool list in full: the first to send it.
        self.shown: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for index, r in enumerate(rows):
            for kind, value in enumerate(shells.of[r.first]):
                self.shown[kind].setdefault(value, index)

    def read(self, indices: list[int]) -> None:
        """Read the messages of the rows at `indices`, in one query."""
        wanted = [
            n for i in indices for n in (*self.rows[i].new, self.rows[i].call["response_node"])
        ]
        self.texts = _read(self.con, [self.rowids[n] for n in wanted if n in self.rowids])

    def within(self, indices: list[int], budget: int) -> list[TimelineCall]:
        """The rows at `indices` (read), in turn, while their JSON fits `budget` (one at
        least)."""
        out: list[TimelineCall] = []
        used = 0
        for i in indices:
            row = self._make(i, self.texts)
            size = len(json.dumps(row.to_json(), ensure_ascii=False, default=str))
            if out and used + size > budget:
                break
            out.append(row)
            used += size
        self.size += used
        return out

    def _shell(self, index: int, r: _Read) -> dict[str, Any]:
        """The row's system prompt and tool list: in full where first sent; whether they
        differ from its parent's (or the call before's), and where they were shown if so."""
        before = r.parent if r.parent is not None else (r.first - 1 if r.first else None)
        out: dict[str, Any] = {}
        for kind, name in enumerate(("system", "tools")):
            value_index = self.shells.of[r.first][kind]
            value = (self.shells.systems, self.shells.tools)[kind][value_index]
            other = None
            if before is not None:
                other_index = self.shells.of[before][kind]
                other = (self.shells.systems, self.shells.tools)[kind][other_index]
            shown = self.shown[kind][value_index]
            changed = value is not None and other is not None and value != other
            out[name] = value if shown == index else None
            out[f"{name}_changed"] = changed
            out[f"{name}_from"] = (
                self.rows[shown].call["seq"] if changed and shown != index else None
            )
        return out

    def _make(self, index: int, texts: dict[str, str]) -> TimelineCall:
        r = self.rows[index]
        c = r.call
        cut = _Cutter()
        answer = c["response_node"]
        last = self.calls[r.first + r.repeats - 1]
        shell = self._shell(index, r)
        parent = None if r.parent is None else self.calls[r.parent]
        return TimelineCall(
            id=c["id"],
            seq=c["seq"],
            row=index,
            started_at=c["started_at"],
            wire=c["wire"],
            model=c["model"],
            status=c["status"],
            http_status=c["http_status"],
            stream=c["stream"],
            finish_reason=c["finish_reason"],
            user_agent=c["user_agent"],
            error=cut(c["error"]),
            parse_error=c["parse_error"],
            usage={k: c[k] for k in _USAGE},
            timings={"ttfb_ms": c["ttfb_ms"], "duration_ms": c["duration_ms"]},
            messages=c["message_count"],
            kept=r.kept,
            rewritten=r.rewritten,
            added=[cut(json.loads(texts[n])) for n in r.new if n in texts],
            answer=cut(json.loads(texts[answer])) if answer in texts else None,
            system=cut(shell["system"]),
            tools=cut(shell["tools"]),
            system_changed=shell["system_changed"],
            tools_changed=shell["tools_changed"],
            system_from=shell["system_from"],
            tools_from=shell["tools_from"],
            parent_seq=None if parent is None else parent["seq"],
            continues_previous=r.parent is not None and self.row_of[r.parent] == index - 1,
            repeats=r.repeats,
            last_id=last["id"],
            last_at=last["started_at"],
        )


class _Cutter:
    """Cuts the strings of a row's JSON that are longer than it may carry, saying how much."""

    def __init__(self) -> None:
        self.left = ROW_CHARS

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            room = max(min(STRING_CHARS, self.left), CUT_CHARS)
            self.left -= min(len(value), room)
            if len(value) <= room:
                return value
            return (
                value[:room] + f"\n[… {len(value) - room:,} more characters: the call's raw "
                "JSON has them all]"
            )
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value


def _system_and_tools(
    call: dict[str, Any], blobs: dict[str, str]
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    """The call's system prompt and tool list in canonical form: the wire format reads its
    own body, rebuilt from the stored parts."""
    if call["wire"] is None or call["request_meta"] is None:
        return None, None
    if not call["system_hash"] and not call["tools_hash"]:
        return None, None
    try:
        shell = request_shell(call, blobs)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    system = None if shell.system is None else [part_to_dict(p) for p in shell.system]
    tools = None if shell.tools is None else [tool_to_dict(t) for t in shell.tools]
    return system, tools


def node_contents(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, str]:
    """The stored content of these messages. Found by id, then read by row number: a filter
    on the random ids would make DuckDB read the content of the rows around each match too
    (tens of ms on a cold connection), a row number reads only those rows."""
    if not ids:
        return {}
    found = con.execute(
        "SELECT rowid FROM nodes WHERE id IN (SELECT unnest(string_split(?, ',')))",
        [",".join(ids)],
    ).fetchall()
    return _read(con, [r[0] for r in found])


def _read(con: duckdb.DuckDBPyConnection, rowids: list[int]) -> dict[str, str]:
    """The content of the messages at these row numbers, by id. The numbers go as one string:
    DuckDB's client converts a list parameter item by item, and tries to import pandas for each
    (a millisecond per few items where pandas is not installed)."""
    if not rowids:
        return {}
    rows = con.execute(
        "SELECT id, content FROM nodes "
        "WHERE rowid IN (SELECT unnest(string_split(?, ','))::BIGINT)",
        [",".join(map(str, rowids))],
    ).fetchall()
    return dict(rows)


__all__ = ["FIRST_ROWS", "MOST_ROWS", "TimelineCall", "TimelinePage", "node_contents", "page"]
