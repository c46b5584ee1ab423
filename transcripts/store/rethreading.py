"""Stored calls, threaded again: when a call arrives that started before calls already threaded
(a long answer recorded as it ended, a proxy restarted, another proxy's spool read late), and
when a store threaded by an earlier release is opened (migration m007).

Threading depends on order (a call joins what came before it; the first call names its
conversation), so the calls from that moment on are taken out of their conversations and
threaded again, with the newcomers, in the order they started. Conversations left empty are
removed and made again as threading finds them; conversations that keep earlier calls stay.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import duckdb

from redline.transcripts.store import bulk


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A threaded call taken out of its conversation, as threading sees it."""

    id: str
    started_at: datetime
    session_key: str | None
    title: str | None
    request_node: str | None
    response_node: str | None
    nodes: Mapping[str, tuple[str | None, int]]  # node -> (parent, depth), shared by the calls

    def prefix(self) -> Iterator[str]:
        """The nodes of its request, deepest first."""
        node = self.request_node
        while node is not None:
            yield node
            node = self.nodes[node][0] if node in self.nodes else None

    def chain_depths(self) -> Iterator[tuple[str, int]]:
        for node in self.prefix():
            yield node, self.nodes[node][1]

    def ends(self) -> list[tuple[str, int]]:
        ends = (self.request_node, self.response_node)
        return [(n, self.nodes[n][1]) for n in ends if n is not None and n in self.nodes]


def watermark(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the latest threaded call started."""
    row = con.execute(
        "SELECT max(started_at) FROM exchanges WHERE conversation_id IS NOT NULL"
    ).fetchone()
    return row[0] if row else None


def detach(con: duckdb.DuckDBPyConnection, since: datetime | None) -> list[StoredCall]:
    """Take the threaded calls that started at `since` or later (all when None) out of their
    conversations; remove the conversations that keeps empty. Returns them in start order."""
    where = "" if since is None else "AND started_at >= ?"
    rows = con.execute(
        f"""
        SELECT id, started_at, session_key, title, request_node, response_node, conversation_id
        FROM exchanges WHERE conversation_id IS NOT NULL {where} ORDER BY started_at, id
        """,
        [] if since is None else [since],
    ).fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    ends = {n for r in rows for n in (r[4], r[5]) if n is not None}
    nodes = _ancestors(con, ends, everything=since is None)
    con.execute(
        "UPDATE exchanges SET conversation_id = NULL, seq = NULL "
        "WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))",
        [bulk.listed(ids)],
    )
    con.execute(
        """
        DELETE FROM conversations WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))
        AND NOT EXISTS (SELECT 1 FROM exchanges e WHERE e.conversation_id = conversations.id)
        """,
        [bulk.listed(sorted({r[6] for r in rows}))],
    )
    return [StoredCall(r[0], r[1], r[2], r[3], r[4], r[5], nodes) for r in rows]


def _ancestors(
    con: duckdb.DuckDBPyConnection, ends: set[str], *, everything: bool
) -> dict[str, tuple[str | None, int]]:
    """Parent and depth of these nodes and of every node above them."""
    if everything:  # the whole store is threaded again: read the tree once, not walk it
        rows = con.execute("SELECT id, parent, depth FROM nodes").fetchall()
    else:
        rows = con.execute(
            """
            WITH RECURSIVE up(id, parent, depth) AS (
                SELECT id, parent, depth FROM nodes WHERE id IN (SELECT unnest(?::JSON::VARCHAR[]))
                UNION
                SELECT n.id, n.parent, n.depth FROM nodes n JOIN up ON n.id = up.parent
            )
            SELECT id, parent, depth FROM up
            """,
            [bulk.listed(sorted(ends))],
        ).fetchall()
    return {node: (parent, depth) for node, parent, depth in rows}


def reattach(
    con: duckdb.DuckDBPyConnection, calls: list[StoredCall], placed: Mapping[str, tuple[str, int]]
) -> None:
    """Store where threading put the detached calls (id -> conversation, seq), and point the
    tasks made from them at their conversations."""
    ids = [c.id for c in calls]
    con.execute(
        """
        UPDATE exchanges SET conversation_id = t.conversation_id, seq = t.seq
        FROM (SELECT unnest(?::JSON::VARCHAR[]) AS id, unnest(?::JSON::VARCHAR[]) AS conversation_id,
                     unnest(?::JSON::INTEGER[]) AS seq) t
        WHERE exchanges.id = t.id
        """,
        [
            bulk.listed(ids),
            bulk.listed(placed[i][0] for i in ids),
            bulk.listed(placed[i][1] for i in ids),
        ],
    )
    con.execute(
        """
        UPDATE tasks SET origin_conversation = e.conversation_id FROM exchanges e
        WHERE e.id = tasks.origin_call AND e.id IN (SELECT unnest(?::JSON::VARCHAR[]))
        """,
        [bulk.listed(ids)],
    )
