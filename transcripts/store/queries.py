"""Reading the store: conversations, calls and one call in full.

Rows are read by column name (from the cursor's description) into records, never by position,
so adding a column cannot shift a field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

import duckdb

from redline.errors import NotFound
from redline.transcripts.model import (
    Request,
    Response,
    message_from_dict,
    request_to_dict,
    response_from_dict,
    response_to_dict,
    usage_to_dict,
)


def record_json(record: Any) -> dict[str, Any]:
    """A listing record's fields, by name, as its `--json` form has them: times in ISO 8601."""
    d: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        d[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return d


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
        return record_json(self)


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
        return record_json(self)


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


def records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of the last statement as dicts keyed by column name."""
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_CONVERSATIONS = """
    SELECT c.id, c.started_at, max(e.started_at) AS last_at, count(e.id) AS calls,
           arg_max(e.model, e.started_at) AS model, arg_max(e.wire, e.started_at) AS wire,
           c.title, c.session_key, arg_max(e.user_agent, e.started_at) AS user_agent,
           sum(e.input_tokens) AS input_tokens, sum(e.output_tokens) AS output_tokens
    FROM conversations c JOIN exchanges e ON e.conversation_id = c.id
    {where}
    GROUP BY c.id, c.started_at, c.title, c.session_key
"""

# The columns of a CallSummary, by name, plus the answer its preview is made from.
_CALL_COLUMNS = """
    e.id, e.conversation_id, e.seq, e.started_at, e.wire, e.model, e.method, e.path,
    e.status_code AS http_status, e.outcome AS status, e.stream, e.message_count AS messages,
    e.input_tokens, e.output_tokens, e.ttfb_ms, e.duration_ms, e.finish_reason,
    e.response AS response_json
"""

_CALL_DETAIL_COLUMNS = """
    e.upstream, e.query, e.error, e.parse_error, e.user_agent, e.session_key,
    e.request_meta, e.request_node, e.request_decorations, e.tools_hash, e.system_hash,
    e.request_headers, e.response_headers, e.response_raw, e.request_raw
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


def _call_summary(row: dict[str, Any]) -> CallSummary:
    names = {f.name for f in fields(CallSummary)} - {"preview"}
    return CallSummary(**{k: row[k] for k in names}, preview=_preview(row["response_json"]))


def resolve(con: duckdb.DuckDBPyConnection, table: str, prefix: str, what: str) -> str:
    """The one id in `table` that starts with `prefix` (ids may be abbreviated, like git)."""
    prefix = prefix.strip()
    if not prefix:
        raise NotFound(what, prefix)
    rows = con.execute(
        f"SELECT id FROM {table} WHERE starts_with(id, ?) ORDER BY id LIMIT 3",
        [prefix.upper() if table != "nodes" else prefix],
    ).fetchall()
    if len(rows) != 1:
        raise NotFound(what, prefix, [r[0] for r in rows])
    return str(rows[0][0])


def conversations(con: duckdb.DuckDBPyConnection, limit: int | None) -> list[ConversationSummary]:
    sql = _CONVERSATIONS.format(where="") + " ORDER BY last_at DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [ConversationSummary(**r) for r in records(con.execute(sql))]


def conversation(con: duckdb.DuckDBPyConnection, prefix: str) -> ConversationSummary:
    cid = resolve(con, "conversations", prefix, "conversation")
    rows = records(con.execute(_CONVERSATIONS.format(where="WHERE c.id = ?"), [cid]))
    if not rows:  # a conversation whose calls are all gone
        raise NotFound("conversation", prefix)
    return ConversationSummary(**rows[0])


def calls(con: duckdb.DuckDBPyConnection, conversation_id: str) -> list[CallSummary]:
    cursor = con.execute(
        f"SELECT {_CALL_COLUMNS} FROM exchanges e WHERE e.conversation_id = ? ORDER BY e.seq, e.id",
        [conversation_id],
    )
    return [_call_summary(r) for r in records(cursor)]


def _rebuild_request(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> Request | None:
    """Messages come from the tree; tools and system from their blobs; the rest from the
    stored request minus its history. The wire format puts the body back together."""
    # Imported here: listing calls needs none of this, and `redline ls` should start fast.
    from redline.transcripts.store.decorations import restore
    from redline.transcripts.store.stored_requests import blob_digests, blob_texts, request_shell
    from redline.transcripts.store.tree import messages_up_to

    if row["wire"] is None or row["request_meta"] is None:
        return None
    shell = request_shell(row, blob_texts(con, blob_digests([row])))
    messages = messages_up_to(con, row["request_node"]) if row["request_node"] else []
    # A call that continued a server-held conversation sent only its newest messages.
    messages = messages[len(messages) - (row["messages"] or 0) :]
    for index, path, value in json.loads(row["request_decorations"] or "[]"):
        restore(messages[index], [(path, value)])
    return replace(shell, messages=tuple(message_from_dict(m) for m in messages))


def load_call(con: duckdb.DuckDBPyConnection, prefix: str) -> Call:
    cid = resolve(con, "exchanges", prefix, "call")
    cursor = con.execute(
        f"SELECT {_CALL_COLUMNS}, {_CALL_DETAIL_COLUMNS} FROM exchanges e WHERE e.id = ?", [cid]
    )
    row = records(cursor)[0]
    response = row["response_json"]
    return Call(
        summary=_call_summary(row),
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
