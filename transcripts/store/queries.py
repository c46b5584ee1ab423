"""Reading the store: conversations, calls and one call in full."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from redline.errors import NotFound
from redline.transcripts import wire as wires
from redline.transcripts.model import (
    Request,
    Response,
    message_from_dict,
    request_to_dict,
    response_from_dict,
    response_to_dict,
    usage_to_dict,
)
from redline.transcripts.store.decorations import restore


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: str
    started_at: datetime
    last_at: datetime
    calls: int
    model: str | None
    wire: str | None
    title: str | None
    session_key: str | None
    user_agent: str | None
    input_tokens: int | None
    output_tokens: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "calls": self.calls,
            "model": self.model,
            "wire": self.wire,
            "title": self.title,
            "session_key": self.session_key,
            "user_agent": self.user_agent,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass(frozen=True, slots=True)
class CallSummary:
    id: str
    conversation_id: str | None
    seq: int | None
    started_at: datetime
    wire: str | None
    model: str | None
    method: str
    path: str
    http_status: int | None
    status: str
    stream: bool | None
    messages: int | None
    input_tokens: int | None
    output_tokens: int | None
    ttfb_ms: float | None
    duration_ms: float | None
    finish_reason: str | None
    preview: str | None

    def to_json(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in self.__slots__}
        d["started_at"] = self.started_at.isoformat()
        return d


@dataclass(frozen=True, slots=True)
class Call:
    """One recorded call in full: what `redline show` prints."""

    summary: CallSummary
    upstream: str
    query: str
    error: str | None
    parse_error: str | None
    user_agent: str | None
    session_key: str | None
    request: Request | None
    response: Response | None
    request_headers: list[tuple[str, str]]
    response_headers: list[tuple[str, str]]
    response_raw: bytes | None
    request_raw: bytes | None

    @property
    def id(self) -> str:
        return self.summary.id

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        usage = self.response.usage if self.response else None
        return {
            "id": s.id,
            "conversation_id": s.conversation_id,
            "seq": s.seq,
            "wire": s.wire,
            "method": s.method,
            "path": s.path,
            "query": self.query,
            "upstream": self.upstream,
            "http_status": s.http_status,
            "status": s.status,
            "error": self.error,
            "parse_error": self.parse_error,
            "model": s.model,
            "stream": s.stream,
            "started_at": s.started_at.isoformat(),
            "timings": {"ttfb_ms": s.ttfb_ms, "duration_ms": s.duration_ms},
            "client": {"user_agent": self.user_agent, "session_key": self.session_key},
            "usage": None if usage is None else usage_to_dict(usage),
            "request": None if self.request is None else request_to_dict(self.request),
            "response": None if self.response is None else response_to_dict(self.response),
        }


_CONVERSATIONS = """
    SELECT c.id, c.started_at, max(e.started_at) AS last_at, count(e.id) AS calls,
           arg_max(e.model, e.started_at), arg_max(e.wire, e.started_at), c.title, c.session_key,
           arg_max(e.user_agent, e.started_at), sum(e.input_tokens), sum(e.output_tokens)
    FROM conversations c JOIN exchanges e ON e.conversation_id = c.id
"""

_CALLS = """
    SELECT e.id, e.conversation_id, e.seq, e.started_at, e.wire, e.model, e.method, e.path,
           e.status_code, e.outcome, e.stream, e.message_count, e.input_tokens, e.output_tokens,
           e.ttfb_ms, e.duration_ms, e.finish_reason, e.response
    FROM exchanges e
"""


def _preview(response_json: str | None) -> str | None:
    if response_json is None:
        return None
    message = message_from_dict(json.loads(response_json)["message"])
    text = " ".join(message.text.split())
    calls = [c.name for c in message.tool_calls]
    if calls:
        text = (text + " " if text else "") + " ".join(f"[{name}]" for name in calls)
    return text[:160]


def _call_summary(row: tuple[Any, ...]) -> CallSummary:
    values: list[Any] = [*row[:17], _preview(row[17])]
    return CallSummary(*values)


def resolve(con: duckdb.DuckDBPyConnection, table: str, prefix: str, what: str) -> str:
    """The one id in `table` that starts with `prefix` (ids may be abbreviated, like git)."""
    prefix = prefix.strip()
    if not prefix:
        raise NotFound(f"give a {what} id (or a unique prefix of one)")
    rows = con.execute(
        f"SELECT id FROM {table} WHERE starts_with(id, ?) ORDER BY id LIMIT 3",
        [prefix.upper() if table != "nodes" else prefix],
    ).fetchall()
    if not rows:
        raise NotFound(f"no {what} matches {prefix!r}; `redline ls` lists them")
    if len(rows) > 1:
        raise NotFound(
            f"{prefix!r} matches several {what}s ({rows[0][0]}, {rows[1][0]}, ...); give more characters"
        )
    return str(rows[0][0])


def conversations(con: duckdb.DuckDBPyConnection, limit: int | None) -> list[ConversationSummary]:
    sql = (
        _CONVERSATIONS
        + " GROUP BY c.id, c.started_at, c.title, c.session_key ORDER BY last_at DESC"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [ConversationSummary(*row) for row in con.execute(sql).fetchall()]


def conversation(con: duckdb.DuckDBPyConnection, prefix: str) -> ConversationSummary:
    cid = resolve(con, "conversations", prefix, "conversation")
    row = con.execute(
        _CONVERSATIONS + " WHERE c.id = ? GROUP BY c.id, c.started_at, c.title, c.session_key",
        [cid],
    ).fetchone()
    assert row is not None
    return ConversationSummary(*row)


def calls(con: duckdb.DuckDBPyConnection, conversation_id: str) -> list[CallSummary]:
    rows = con.execute(
        _CALLS + " WHERE e.conversation_id = ? ORDER BY e.seq, e.id", [conversation_id]
    ).fetchall()
    return [_call_summary(r) for r in rows]


def messages_up_to(con: duckdb.DuckDBPyConnection, node: str) -> list[dict[str, Any]]:
    rows = con.execute(
        """
        WITH RECURSIVE chain(id, parent, depth, content) AS (
            SELECT id, parent, depth, content FROM nodes WHERE id = ?
            UNION ALL
            SELECT n.id, n.parent, n.depth, n.content FROM nodes n JOIN chain c ON n.id = c.parent
        )
        SELECT content FROM chain ORDER BY depth
        """,
        [node],
    ).fetchall()
    return [json.loads(r[0]) for r in rows]


def _blob(con: duckdb.DuckDBPyConnection, digest: str | None) -> Any:
    if digest is None:
        return None
    row = con.execute("SELECT content FROM blobs WHERE hash = ?", [digest]).fetchone()
    return None if row is None else json.loads(row[0])


def _rebuild_request(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> Request | None:
    """Messages come from the tree; tools and system from their blobs; the rest from the
    stored request minus its history."""
    if row["wire"] is None or row["request_meta"] is None:
        return None
    fmt = wires.get(row["wire"])
    body = json.loads(row["request_meta"])
    body[fmt.history_key] = []
    tools = _blob(con, row["tools_hash"])
    if tools is not None:
        body["tools"] = tools
    system = _blob(con, row["system_hash"])
    if system is not None:
        body["instructions" if fmt.name == "openai-responses" else "system"] = system
    shell = fmt.parse_request(body)
    messages = messages_up_to(con, row["request_node"]) if row["request_node"] else []
    # A call that continued a server-held conversation sent only its newest messages.
    messages = messages[len(messages) - (row["message_count"] or 0) :]
    for index, path, value in json.loads(row["request_decorations"] or "[]"):
        restore(messages[index], [(path, value)])
    return replace(shell, messages=tuple(message_from_dict(m) for m in messages))


def load_call(con: duckdb.DuckDBPyConnection, prefix: str) -> Call:
    cid = resolve(con, "exchanges", prefix, "call")
    cur = con.execute(
        _CALLS.replace("FROM exchanges e", ", e.* FROM exchanges e") + " WHERE e.id = ?", [cid]
    )
    names = [d[0] for d in cur.description or []]
    values = cur.fetchone()
    assert values is not None
    row = dict(zip(names[18:], values[18:], strict=True))
    response = row["response"]
    return Call(
        summary=_call_summary(values[:18]),
        upstream=row["upstream"],
        query=row["query"],
        error=row["error"],
        parse_error=row["parse_error"],
        user_agent=row["user_agent"],
        session_key=row["session_key"],
        request=_rebuild_request(con, row),
        response=None if response is None else response_from_dict(json.loads(response)),
        request_headers=[(k, v) for k, v in json.loads(row["request_headers"])],
        response_headers=[(k, v) for k, v in json.loads(row["response_headers"])],
        response_raw=row["response_raw"],
        request_raw=row["request_raw"],
    )
