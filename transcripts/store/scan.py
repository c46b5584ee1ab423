"""What `redline scan` reads and keeps: the recorded answers in a range, their requests rebuilt
in bulk, the verdict cache, which calls are already tasks, and what followed each answer.

Reading answers one `load_call` at a time would walk the message tree once per call. A scan
reads a batch of calls instead: their rows in one query, every node of their chains in one
recursive query, and the blobs they name, as plain strings (`OutputRows`, cheap to send to
another process); `rebuild_outputs` then makes each call's request exactly as `load_call` does, parsing
each node and each distinct request shell once per batch.

    scan_checks    key -> name, options, version of a check, as judged
    scan_verdicts  (call, check key) -> the verdict (JSON)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from redline.transcripts.model import (
    Message,
    Request,
    Response,
    message_from_dict,
    response_from_dict,
)
from redline.transcripts.store import bulk
from redline.transcripts.store.db import write
from redline.transcripts.store.decorations import restore
from redline.transcripts.store.queries import records, resolve
from redline.transcripts.store.stored_requests import blob_digests, blob_texts, request_shell

# How many messages past an answer a following call may carry before its user's turn ends.
FOLLOW_DEPTH = 8


@dataclass(frozen=True, slots=True)
class ScanCall:
    """A recorded call with an answer, as a scan lists it. `client` is its User-Agent."""

    id: str
    conversation_id: str | None
    seq: int | None
    started_at: datetime
    model: str | None
    wire: str | None
    client: str | None
    title: str | None
    status: str
    finish_reason: str | None
    request_node: str | None
    response_node: str | None

    def to_json(self) -> dict[str, Any]:
        """What `scan --json` says of the call, in a hit and in a correction alike."""
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "model": self.model,
            "client": self.client,
            "conversation_id": self.conversation_id,
            "title": self.title,
        }


@dataclass(frozen=True, slots=True)
class OutputRows:
    """What rebuilding some calls' requests and answers needs, as plain strings: each call's
    row, every node of their chains (id -> parent, content) and the blobs they name."""

    rows: tuple[dict[str, Any], ...]
    nodes: dict[str, tuple[str | None, str]]
    blobs: dict[str, str]

    def split(self, groups: Sequence[Sequence[str]]) -> list[OutputRows]:
        """One OutputRows per group of call ids, each with only what its calls need: reading
        many batches in one statement costs about what reading one does."""
        by_id = {r["id"]: r for r in self.rows}
        out = []
        for group in groups:
            rows = tuple(by_id[i] for i in group if i in by_id)
            nodes: dict[str, tuple[str | None, str]] = {}
            for row in rows:
                node = row["request_node"]
                while node is not None and node not in nodes and node in self.nodes:
                    nodes[node] = self.nodes[node]
                    node = nodes[node][0]
            blobs = {d: self.blobs[d] for d in blob_digests(rows) if d in self.blobs}
            out.append(OutputRows(rows, nodes, blobs))
        return out


@dataclass(frozen=True, slots=True)
class CallOutput:
    """A call's answer with its request as context, as `redline check --call` judges it.
    `incomplete`: the recorded answer stopped early (its stream was cut)."""

    id: str
    wire: str | None
    request: Request | None
    response: Response
    incomplete: bool


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What followed an answer in its conversation: the next call whose request carries the
    answer (`after_answer`) or, failing that, its request (the agent kept another form of an
    answer cut short), and the messages that call sent after it."""

    call_id: str
    messages: tuple[Message, ...]
    after_answer: bool


_SCAN_COLUMNS = """
    e.id, e.conversation_id, e.seq, e.started_at, e.model, e.wire, e.user_agent AS client,
    c.title, e.outcome AS status, e.finish_reason, e.request_node, e.response_node
"""

_OUTPUT_COLUMNS = """
    e.id, e.conversation_id, e.started_at, e.wire, e.outcome, e.request_meta, e.request_node, e.message_count,
    e.request_decorations, e.tools_hash, e.system_hash, e.response
"""


class ScanStore:
    """The store as `redline scan` uses it. Get one from `Store.scans`."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    # -- selecting -------------------------------------------------------------------------------

    def calls(
        self,
        *,
        since: datetime | None = None,
        conversation: str | None = None,
        model: str | None = None,
    ) -> list[ScanCall]:
        """The calls with an answer, oldest first: started at or after `since`, in the
        conversation an id (or prefix) names, with a model matching `model` (a glob with `*`
        and `?`, else a substring; either way ignoring case)."""
        where = ["e.response IS NOT NULL"]
        params: list[Any] = []
        if since is not None:
            where.append("e.started_at >= ?")
            params.append(since)
        if conversation is not None:
            where.append("e.conversation_id = ?")
            params.append(resolve(self.con, "conversations", conversation, "conversation"))
        if model is not None:
            if any(c in model for c in "*?["):
                where.append("lower(coalesce(e.model, '')) GLOB lower(?)")
            else:
                where.append("contains(lower(coalesce(e.model, '')), lower(?))")
            params.append(model)
        cursor = self.con.execute(
            f"""
            SELECT {_SCAN_COLUMNS}
            FROM exchanges e LEFT JOIN conversations c ON c.id = e.conversation_id
            WHERE {" AND ".join(where)}
            ORDER BY e.started_at, e.id
            """,
            params,
        )
        return [ScanCall(**r) for r in records(cursor)]

    def flagged(self) -> dict[str, list[str]]:
        """Call id -> the tasks made from it (`redline flag`)."""
        out: dict[str, list[str]] = {}
        rows = self.con.execute(
            "SELECT origin_call, name FROM tasks WHERE origin_call IS NOT NULL ORDER BY name"
        ).fetchall()
        for call, name in rows:
            out.setdefault(call, []).append(name)
        return out

    # -- answers and their requests --------------------------------------------------------------

    def output_rows(self, ids: Sequence[str]) -> OutputRows:
        """The rows, chains and blobs that rebuild these calls (see `rebuild_outputs`)."""
        if not ids:
            return OutputRows((), {}, {})
        cursor = self.con.execute(
            f"SELECT {_OUTPUT_COLUMNS} FROM exchanges e "
            "WHERE e.id IN (SELECT unnest(?::JSON::VARCHAR[]))",
            [bulk.listed(ids)],
        )
        by_id = {r["id"]: r for r in records(cursor)}
        rows = tuple(by_id[i] for i in ids if i in by_id)
        nodes: dict[str, tuple[str | None, str]] = {}
        conversations = sorted({r["conversation_id"] for r in rows if r["conversation_id"]})
        if conversations:
            # An agent's history is mostly the requests and answers of its conversation's calls:
            # read those (up to the batch's last call) in one statement...
            found = self.con.execute(
                """
                WITH ends AS (
                    SELECT request_node AS id FROM exchanges
                    WHERE conversation_id IN (SELECT unnest(?::JSON::VARCHAR[])) AND started_at <= ?
                    UNION
                    SELECT response_node FROM exchanges
                    WHERE conversation_id IN (SELECT unnest(?::JSON::VARCHAR[])) AND started_at <= ?
                )
                SELECT n.id, n.parent, n.content FROM nodes n WHERE n.id IN (SELECT id FROM ends)
                """,
                [bulk.listed(conversations), max(r["started_at"] for r in rows)] * 2,
            ).fetchall()
            nodes = {nid: (parent, content) for nid, parent, content in found}
        # ...then whatever the chains still lack, a level at a time.
        missing = {r["request_node"] for r in rows if r["request_node"]} - nodes.keys()
        missing |= {p for p, _ in nodes.values() if p is not None} - nodes.keys()
        while missing:
            found = self.con.execute(
                "SELECT id, parent, content FROM nodes WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))",
                [bulk.listed(sorted(missing))],
            ).fetchall()
            if not found:
                break
            nodes.update((nid, (parent, content)) for nid, parent, content in found)
            missing = {p for _, p, _ in found if p is not None} - nodes.keys()
        return OutputRows(rows, nodes, blob_texts(self.con, blob_digests(rows)))

    def answers(self, ids: Sequence[str]) -> dict[str, Response]:
        """The recorded answers of these calls (those that have one)."""
        if not ids:
            return {}
        rows = self.con.execute(
            "SELECT id, response FROM exchanges "
            "WHERE id IN (SELECT unnest(?::JSON::VARCHAR[])) AND response IS NOT NULL",
            [bulk.listed(ids)],
        ).fetchall()
        return {cid: response_from_dict(json.loads(text)) for cid, text in rows}

    # -- the verdict cache -----------------------------------------------------------------------

    def cached(
        self, ids: Sequence[str], keys: Sequence[str]
    ) -> dict[tuple[str, str], tuple[bool, str | None]]:
        """(call id, check key) -> (passed, the stored verdict as JSON), for these calls and
        checks; the JSON is read only for verdicts that did not pass (None for the others)."""
        if not ids or not keys:
            return {}
        rows = self.con.execute(
            """
            SELECT v.call_id, v.check_key, v.passed, CASE WHEN v.passed THEN NULL ELSE v.verdict END
            FROM scan_verdicts v
            WHERE v.check_key IN (SELECT unnest(?::JSON::VARCHAR[]))
              AND v.call_id IN (SELECT unnest(?::JSON::VARCHAR[]))
            """,
            [bulk.listed(keys), bulk.listed(ids)],
        ).fetchall()
        return {(cid, key): (passed, verdict) for cid, key, passed, verdict in rows}

    def save_check(self, key: str, name: str, options: str, version: str) -> None:
        """Record what a check key stands for (once)."""
        write(
            self.con,
            lambda: self.con.execute(
                "INSERT INTO scan_checks SELECT ?, ?, ?, ?, ? "
                "WHERE NOT EXISTS (SELECT 1 FROM scan_checks WHERE key = ?)",
                [key, name, options, version, datetime.now(UTC), key],
            ),
        )

    def save_verdicts(self, verdicts: Sequence[tuple[str, str, bool, str]]) -> None:
        """Store (call id, check key, passed, verdict JSON) rows, in one statement. A scan saves
        only verdicts it did not find in the cache; should one be stored twice (two scans at
        once), the two are the same verdict and `cached` reads either."""
        if not verdicts:
            return
        columns: dict[str, Sequence[Any]] = {
            "call_id": [v[0] for v in verdicts],
            "check_key": [v[1] for v in verdicts],
            "passed": [v[2] for v in verdicts],
            "verdict": [v[3] for v in verdicts],
            "judged_at": [datetime.now(UTC)] * len(verdicts),
        }
        write(self.con, lambda: bulk.insert(self.con, "scan_verdicts", columns))

    # -- what followed ---------------------------------------------------------------------------

    def followups(self, calls: Sequence[ScanCall]) -> dict[str, FollowUp]:
        """For each call, the first later call of its conversation whose request carries its
        answer (else its request) within FOLLOW_DEPTH messages, and the messages past it."""
        by_conversation: dict[str, list[ScanCall]] = {}
        for call in calls:
            if call.conversation_id is not None:
                by_conversation.setdefault(call.conversation_id, []).append(call)
        if not by_conversation:
            return {}
        cursor = self.con.execute(
            f"""
            SELECT {_SCAN_COLUMNS}
            FROM exchanges e LEFT JOIN conversations c ON c.id = e.conversation_id
            WHERE e.conversation_id IN (SELECT unnest(?::JSON::VARCHAR[]))
              AND e.request_node IS NOT NULL
            ORDER BY e.started_at, e.id
            """,
            [bulk.listed(by_conversation)],
        )
        later: dict[str, list[ScanCall]] = {}
        for row in records(cursor):
            later.setdefault(row["conversation_id"], []).append(ScanCall(**row))
        # The tails of every request chain, FOLLOW_DEPTH nodes up.
        parents: dict[str, str | None] = {}
        frontier = {c.request_node for cs in later.values() for c in cs if c.request_node}
        for _ in range(FOLLOW_DEPTH + 1):
            frontier -= parents.keys()
            if not frontier:
                break
            rows = self.con.execute(
                "SELECT id, parent FROM nodes WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))",
                [bulk.listed(frontier)],
            ).fetchall()
            parents.update(rows)
            frontier = {parent for _, parent in rows if parent is not None}

        def tail(head: str, stop: str) -> list[str] | None:
            """The node ids after `stop` on the chain ending at `head`, if `stop` is on it."""
            path: list[str] = []
            node: str | None = head
            while node is not None and node != stop and len(path) <= FOLLOW_DEPTH:
                path.append(node)
                node = parents.get(node)
            return list(reversed(path)) if node == stop and path else None

        found: dict[str, tuple[str, list[str], bool]] = {}
        for conversation, own in by_conversation.items():
            others = later.get(conversation, [])
            position = {c.id: i for i, c in enumerate(others)}
            for call in own:
                start = position.get(call.id, -1) + 1
                for other in others[start:]:
                    if other.started_at < call.started_at:
                        continue
                    assert other.request_node is not None
                    path = tail(other.request_node, call.response_node or "")
                    after_answer = path is not None
                    if path is None and call.request_node:
                        path = tail(other.request_node, call.request_node)
                    if path is not None:
                        found[call.id] = (other.id, path, after_answer)
                        break
        needed = sorted({n for _, path, _ in found.values() for n in path})
        contents: dict[str, Message] = {}
        if needed:
            rows = self.con.execute(
                "SELECT id, content FROM nodes WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))",
                [bulk.listed(needed)],
            ).fetchall()
            contents = {nid: message_from_dict(json.loads(text)) for nid, text in rows}
        return {
            cid: FollowUp(other, tuple(contents[n] for n in path if n in contents), after)
            for cid, (other, path, after) in found.items()
        }


def rebuild_outputs(batch: OutputRows) -> Iterator[CallOutput]:
    """Each call of the batch, its request as `load_call` rebuilds it: messages from the
    tree (only the newest `message_count` of a call that continued a server-held
    conversation), decorations put back, tools and system from their blobs, the rest from the
    stored request minus its history. A row whose request was not parsed has request None."""
    messages: dict[str, Message] = {}
    shells: dict[tuple[str, str, str | None, str | None], Request] = {}

    def message(node: str) -> Message:
        found = messages.get(node)
        if found is None:
            found = messages[node] = message_from_dict(json.loads(batch.nodes[node][1]))
        return found

    for row in batch.rows:
        response = response_from_dict(json.loads(row["response"]))
        request: Request | None = None
        if row["wire"] is not None and row["request_meta"] is not None:
            key = (row["wire"], row["request_meta"], row["tools_hash"], row["system_hash"])
            shell = shells.get(key)
            if shell is None:
                shell = shells[key] = request_shell(row, batch.blobs)
            chain: list[str] = []
            node: str | None = row["request_node"]
            while node is not None:
                chain.append(node)
                node = batch.nodes[node][0]
            chain.reverse()
            chain = chain[len(chain) - (row["message_count"] or 0) :]
            decorated: dict[int, list[Any]] = {}
            for index, path, value in json.loads(row["request_decorations"] or "[]"):
                decorated.setdefault(index, []).append((path, value))
            request = replace(
                shell,
                messages=tuple(
                    message(n)
                    if i not in decorated
                    else message_from_dict(restore(json.loads(batch.nodes[n][1]), decorated[i]))
                    for i, n in enumerate(chain)
                ),
            )
        yield CallOutput(row["id"], row["wire"], request, response, row["outcome"] == "incomplete")
