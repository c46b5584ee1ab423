"""Browsing the store: pages of conversations (filtered, searched), a conversation's timeline.

Pages are done by queries (filters in SQL, LIMIT/OFFSET, the total counted by the same query),
so a page costs the same on a store of 100,000 calls as on one of 100 (bench/bench_ui.py).

Search finds text in any message of a conversation, case-insensitively, as a plain substring.
Messages live in the content-addressed tree as canonical JSON, and a message belongs to every
conversation whose calls' chains pass through it; scanning that JSON per search would read
every key and escape of hundreds of MB. So search reads a derived index instead, made here on
demand and kept up to date from the calls not yet indexed (no migration: the `browse_*` tables
are derived, can be dropped at any time, and are rebuilt by the next search):

    browse_calls (id)                     calls already indexed
    browse_nodes (node, conversation_id)  which messages belong to which conversation
    browse_text  (node, prose, tools)     each message's text, lower-cased, once per message:
                                          prose: text and thinking; tools: tool names, call
                                          arguments and tool results

Prose is what a search reads by default (a few tens of MB at 100,000 calls); tool calls and
results are an order of magnitude more (file contents), searched only when asked (`tools`).
DuckDB's full-text extension (its 1.5.5 wheel exists) is not used: its index matches whole
words, not the substrings this search promises; it is built whole and does not follow the rows
added after; and it cannot be made in a lake (DuckLake refuses its tables at commit). So the
index is our own, the same on a file and on a lake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from redline.errors import NotFound
from redline.transcripts.store.db import write
from redline.transcripts.store.queries import record_json, records, resolve
from redline.transcripts.store.timeline import (
    FIRST_ROWS,
    TimelineCall,
    TimelinePage,
    node_contents,
    page,
)

# The agent that made a call: the product token of its User-Agent ("claude-cli/1.0.83 (...)"
# is claude-cli), in SQL and in Python alike.
CLIENT_SQL = "nullif(split_part(split_part(coalesce({ua}, ''), ' ', 1), '/', 1), '')"


def client_name(user_agent: str | None) -> str | None:
    return (user_agent or "").split(" ", 1)[0].split("/", 1)[0] or None


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """One line of the conversation list."""

    id: str
    title: str | None
    started_at: datetime
    last_at: datetime
    calls: int
    model: str | None
    wire: str | None
    client: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    tasks: int
    snippet: str | None = None  # where the search text was found

    def to_json(self) -> dict[str, Any]:
        return record_json(self)


@dataclass(frozen=True, slots=True)
class ConversationPage:
    rows: list[ConversationRow]
    total: int  # conversations matching, over all pages
    offset: int
    limit: int

    def to_json(self) -> dict[str, Any]:
        return {
            "conversations": [r.to_json() for r in self.rows],
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class IndexState:
    """How far the search index is: calls indexed now, and calls waiting."""

    added: int
    pending: int


@dataclass(frozen=True, slots=True)
class Latest:
    """What the live view compares: how many calls there are and the newest one."""

    calls: int
    last_at: datetime | None
    last_id: str | None

    def to_json(self) -> dict[str, Any]:
        return record_json(self)


@dataclass(frozen=True, slots=True)
class Timeline:
    """A page of a conversation's timeline (see timeline.py), under the conversation's line."""

    conversation: ConversationRow
    page: TimelinePage

    @property
    def calls(self) -> list[TimelineCall]:
        return self.page.calls

    def to_json(self) -> dict[str, Any]:
        return {"conversation": self.conversation.to_json(), **self.page.to_json()}


# -- the search index -------------------------------------------------------------------------

# Bump when the shape of the derived tables changes: they are dropped and rebuilt.
INDEX_VERSION = 2

_TABLES = {
    "browse_calls": "id VARCHAR NOT NULL",
    "browse_nodes": "node VARCHAR NOT NULL, conversation_id VARCHAR NOT NULL",
    "browse_text": "node VARCHAR NOT NULL, prose VARCHAR, tools VARCHAR, written VARCHAR",
    "browse_conversations": """
        id VARCHAR NOT NULL, started_at TIMESTAMPTZ, last_at TIMESTAMPTZ, calls INTEGER,
        model VARCHAR, wire VARCHAR, client VARCHAR, input_tokens HUGEINT,
        output_tokens HUGEINT, cache_read_tokens HUGEINT,
        models VARCHAR[], wires VARCHAR[], clients VARCHAR[]""",
}

# A message's text from its canonical JSON: `text` is the key of text and thinking parts;
# tool calls have `name` and `arguments` (JSON in a string: its own escapes are undone for the
# common ones, so code reads as written); tool results have `content`, a string or parts.
_WRITTEN = "array_to_string(json_extract_string(content, '$.parts[*].text'), chr(10))"
_TOOLS = """lower(
    array_to_string(json_extract_string(content, '$.parts[*].name'), ' ') || chr(10) ||
    replace(replace(replace(
        array_to_string(json_extract_string(content, '$.parts[*].arguments'), chr(10)),
        '\\n', chr(10)), '\\"', '"'), '\\t', chr(9)) || chr(10) ||
    array_to_string(json_extract_string(content, '$.parts[*].content'), chr(10)) || chr(10) ||
    array_to_string(json_extract_string(content, '$.parts[*].content[*].text'), chr(10))
)"""


def ensure_index(con: duckdb.DuckDBPyConnection) -> None:
    """Create the derived tables, or rebuild them when this redline shapes them otherwise."""
    if _index_version(con) == INDEX_VERSION:
        return

    def make() -> None:
        con.execute("CREATE TABLE IF NOT EXISTS browse_meta (version INTEGER NOT NULL)")
        if _index_version(con) == INDEX_VERSION:  # another process made it meanwhile
            return
        for name, columns in _TABLES.items():
            con.execute(f"DROP TABLE IF EXISTS {name}")
            con.execute(f"CREATE TABLE {name} ({columns})")
        con.execute("DELETE FROM browse_meta")
        con.execute("INSERT INTO browse_meta VALUES (?)", [INDEX_VERSION])

    write(con, make)


def _index_version(con: duckdb.DuckDBPyConnection) -> int | None:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'browse_meta' AND table_catalog = current_database()"
    ).fetchone()
    if not found or not found[0]:
        return None
    row = con.execute("SELECT max(version) FROM browse_meta").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def pending(con: duckdb.DuckDBPyConnection) -> int:
    """Calls in conversations that the index does not hold yet."""
    ensure_index(con)
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM exchanges WHERE conversation_id IS NOT NULL)
             - (SELECT count(*) FROM browse_calls)
        """
    ).fetchone()
    return max(int(row[0]), 0) if row else 0


def refresh_index(con: duckdb.DuckDBPyConnection, batch: int | None = None) -> IndexState:
    """Index the calls not indexed yet (at most `batch` of them, oldest first), in one
    transaction: their messages' membership of their conversation, and the text of messages
    not seen before. Calls are never removed from the store, so a count tells what is new."""
    waiting = pending(con)
    if waiting == 0:
        return IndexState(0, 0)
    limit = "" if batch is None else f"LIMIT {int(batch)}"

    def index() -> int:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE browse_fresh AS
            SELECT e.id, e.conversation_id, e.request_node, e.response_node FROM exchanges e
            WHERE e.conversation_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM browse_calls b WHERE b.id = e.id)
            ORDER BY e.started_at, e.id {limit}
            """
        )
        # Up each new call's chain until a message already known to be in its conversation.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE browse_fresh_nodes AS
            WITH RECURSIVE walk(node, conversation_id) AS (
                SELECT request_node, conversation_id FROM browse_fresh WHERE request_node IS NOT NULL
                UNION
                SELECT response_node, conversation_id FROM browse_fresh
                WHERE response_node IS NOT NULL
                UNION
                SELECT n.parent, w.conversation_id FROM walk w JOIN nodes n ON n.id = w.node
                WHERE n.parent IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM browse_nodes b
                    WHERE b.node = n.parent AND b.conversation_id = w.conversation_id)
            )
            SELECT DISTINCT node, conversation_id FROM walk w WHERE NOT EXISTS (
                SELECT 1 FROM browse_nodes b
                WHERE b.node = w.node AND b.conversation_id = w.conversation_id)
            """
        )
        con.execute("INSERT INTO browse_nodes SELECT node, conversation_id FROM browse_fresh_nodes")
        con.execute(
            f"""
            INSERT INTO browse_text
            SELECT id, lower(written), tools, written FROM (
                SELECT id, {_WRITTEN} AS written, {_TOOLS} AS tools FROM nodes
                WHERE id IN (SELECT node FROM browse_fresh_nodes)
                  AND id NOT IN (SELECT node FROM browse_text)
            )
            """
        )
        # The list's line of each conversation the new calls belong to, made again.
        con.execute(
            """
            DELETE FROM browse_conversations
            WHERE id IN (SELECT conversation_id FROM browse_fresh)
            """
        )
        con.execute(
            f"""
            INSERT INTO browse_conversations
            {_SUMMARY} AND conversation_id IN (SELECT conversation_id FROM browse_fresh)
            GROUP BY conversation_id
            """
        )
        row = con.execute("SELECT count(*) FROM browse_fresh").fetchone()
        con.execute("INSERT INTO browse_calls SELECT id FROM browse_fresh")
        return int(row[0]) if row else 0

    try:
        added = write(con, index)
    finally:
        con.execute("DROP TABLE IF EXISTS browse_fresh")
        con.execute("DROP TABLE IF EXISTS browse_fresh_nodes")
    return IndexState(added, max(waiting - added, 0))


# -- the conversation list --------------------------------------------------------------------

_CLIENT = CLIENT_SQL.format(ua="user_agent")
# One line of the list per conversation, from its calls; the lists are what filters match.
_SUMMARY = f"""
    SELECT conversation_id AS id, min(started_at) AS started_at, max(started_at) AS last_at,
           count(*) AS calls, arg_max(model, started_at) AS model,
           arg_max(wire, started_at) AS wire, arg_max({_CLIENT}, started_at) AS client,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(cache_read_tokens) AS cache_read_tokens,
           list_distinct(list(model)) AS models, list_distinct(list(wire)) AS wires,
           list_distinct(list({_CLIENT})) AS clients
    FROM exchanges WHERE conversation_id IS NOT NULL
"""
_ROW = """
    c.id, c.title, k.started_at, k.last_at, k.calls, k.model, k.wire, k.client,
    k.input_tokens::BIGINT AS input_tokens, k.output_tokens::BIGINT AS output_tokens,
    k.cache_read_tokens::BIGINT AS cache_read_tokens
"""


def conversations(
    con: duckdb.DuckDBPyConnection,
    *,
    text: str = "",
    tools: bool = False,
    client: str | None = None,
    model: str | None = None,
    wire: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    has_task: bool | None = None,
    offset: int = 0,
    limit: int = 50,
) -> ConversationPage:
    """A page of conversations, newest last call first. `client`, `model` and `wire` match a
    conversation when any of its calls has them; `since`/`until` keep conversations active
    between those times (`until` exclusive); `text` is searched in every message's text
    (and, with `tools`, in tool calls and results), case-insensitively."""
    refresh_index(con)
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("clients", client), ("models", model), ("wires", wire)):
        if value:
            where.append(f"list_contains(k.{column}, ?)")
            params.append(value)
    if since is not None:
        where.append("k.last_at >= ?")
        params.append(since)
    if until is not None:
        where.append("k.started_at < ?")
        params.append(until)
    if has_task is not None:
        where.append("t.tasks IS NOT NULL" if has_task else "t.tasks IS NULL")
    needle = text.strip().lower()
    search_sql = ""
    search_params: list[Any] = []
    if needle:
        # Each conversation's first hit, with the text around it for the list: prose as
        # written (read only for the rows found); tool text from the stored messages later.
        column, around = ("tools", "NULL") if tools else ("prose", "written")
        search_sql = f"""
            , hits AS (
                SELECT node, substr({around}, greatest(strpos({column}, ?) - 60, 1), 240) AS text
                FROM browse_text WHERE contains({column}, ?)
            )
            , found AS (
                SELECT b.conversation_id AS id, min(h.node) AS node,
                       arg_min(h.text, h.node) AS text
                FROM hits h JOIN browse_nodes b ON b.node = h.node
                GROUP BY b.conversation_id
            )"""
        search_params = [needle, needle]
    sql = f"""
        WITH t AS (SELECT origin_conversation AS id, count(*) AS tasks FROM tasks
                   WHERE origin_conversation IS NOT NULL GROUP BY 1)
        {search_sql}
        SELECT {_ROW}, coalesce(t.tasks, 0) AS tasks,
               {"f.node" if needle else "NULL"} AS snippet,
               {"f.text" if needle else "NULL"} AS around, count(*) OVER () AS total
        FROM browse_conversations k JOIN conversations c ON c.id = k.id
        LEFT JOIN t ON t.id = k.id
        {"JOIN found f ON f.id = k.id" if needle else ""}
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY k.last_at DESC, k.id DESC
        LIMIT ? OFFSET ?
    """
    bound = [*search_params, *params]
    rows = records(con.execute(sql, [*bound, int(limit), int(max(offset, 0))]))
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset > 0:  # past the end: count what there is
        total = _count(con, sql, bound)
    texts = _texts(con, [r["snippet"] for r in rows if r["snippet"]], tools) if tools else {}
    listed = []
    for r in rows:
        r.pop("total")
        around = r.pop("around")
        r["snippet"] = _snippet(texts.get(r["snippet"], around), needle)
        listed.append(ConversationRow(**r))
    return ConversationPage(listed, total, offset, limit)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    inner = sql.rsplit("ORDER BY", 1)[0]
    row = con.execute(f"SELECT count(*) FROM ({inner})", params).fetchone()
    return int(row[0]) if row else 0


def _texts(con: duckdb.DuckDBPyConnection, ids: list[str], tools: bool) -> dict[str, str]:
    """The text of these messages as written (the index keeps it lower-cased)."""
    if not ids:
        return {}
    out = {}
    for node, content in node_contents(con, ids).items():
        message = json.loads(content)
        out[node] = "\n".join(_strings(message, tools))
    return out


def _strings(message: dict[str, Any], tools: bool) -> list[str]:
    """The texts of a stored message that search reads: prose, or tool calls and results."""
    out = []
    for part in message.get("parts", ()):
        if not tools:
            if isinstance(part.get("text"), str):
                out.append(part["text"])
            continue
        for key in ("name", "arguments"):
            if isinstance(part.get(key), str):
                out.append(part[key])
        content = part.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            ]
    if tools:
        out = [o.replace("\\n", "\n").replace('\\"', '"').replace("\\t", "\t") for o in out]
    return out


def _snippet(text: str | None, needle: str) -> str | None:
    """About 160 characters around the first match, on one line."""
    if not text:
        return None
    at = text.lower().find(needle)
    start = max(at - 50, 0) if at >= 0 else 0
    cut = " ".join(text[start : start + 160].split())
    return ("…" if start > 0 else "") + cut + ("…" if start + 160 < len(text) else "")


def facets(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """The values the filters offer, with how many conversations have each."""
    refresh_index(con)
    out: dict[str, list[dict[str, Any]]] = {}
    for name in ("clients", "models", "wires"):
        rows = con.execute(
            f"""
            SELECT value, count(*) AS conversations
            FROM (SELECT unnest({name}) AS value FROM browse_conversations)
            WHERE value IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1
            """
        ).fetchall()
        out[name] = [{"value": v, "conversations": n} for v, n in rows]
    return out


def latest(con: duckdb.DuckDBPyConnection) -> Latest:
    row = con.execute(
        "SELECT count(*), max(started_at), arg_max(id, started_at) FROM exchanges"
    ).fetchone()
    assert row is not None
    return Latest(int(row[0]), row[1], row[2])


# -- one conversation -------------------------------------------------------------------------


def conversation_row(con: duckdb.DuckDBPyConnection, prefix: str) -> ConversationRow:
    cid = resolve(con, "conversations", prefix, "conversation")
    refresh_index(con)
    rows = records(
        con.execute(
            f"""
            SELECT {_ROW},
                   (SELECT count(*) FROM tasks WHERE origin_conversation = c.id) AS tasks
            FROM browse_conversations k JOIN conversations c ON c.id = k.id
            WHERE k.id = ?
            """,
            [cid],
        )
    )
    if not rows:  # a conversation whose calls are all gone
        raise NotFound("conversation", prefix)
    return ConversationRow(**rows[0])


def timeline(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    *,
    offset: int = 0,
    limit: int = FIRST_ROWS,
    last: int = FIRST_ROWS,
) -> Timeline:
    """A page of the conversation's timeline: its rows from `offset` (at most `limit`) and its
    `last` rows, each call with only what it added."""
    conversation = conversation_row(con, prefix)
    return Timeline(conversation, page(con, conversation.id, offset=offset, limit=limit, last=last))


class Browse:
    """Browsing an open store (`Store.browse`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def conversations(self, **filters: Any) -> ConversationPage:
        return conversations(self.con, **filters)

    def facets(self) -> dict[str, list[dict[str, Any]]]:
        return facets(self.con)

    def conversation(self, prefix: str) -> ConversationRow:
        return conversation_row(self.con, prefix)

    def timeline(
        self, prefix: str, *, offset: int = 0, limit: int = FIRST_ROWS, last: int = FIRST_ROWS
    ) -> Timeline:
        return timeline(self.con, prefix, offset=offset, limit=limit, last=last)

    def latest(self) -> Latest:
        return latest(self.con)

    def refresh_index(self, batch: int | None = None) -> IndexState:
        return refresh_index(self.con, batch)

    def pending(self) -> int:
        return pending(self.con)


__all__ = [
    "Browse",
    "ConversationPage",
    "ConversationRow",
    "IndexState",
    "Latest",
    "Timeline",
    "TimelineCall",
    "client_name",
]
