"""Spool → DuckDB: parse finished exchanges, dedup their messages into the tree, thread them.

Ingest is idempotent by exchange id and runs one transaction per segment batch, with the spool
offset advanced in the same transaction, so a crash at any point re-reads at most what was not
committed. This is the only place that writes exchanges (one writer, STYLE.md habit 5).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from redline.transcripts import wire as wires
from redline.transcripts.model import (
    Message,
    Request,
    Response,
    Text,
    canonical_json,
    content_hash,
    message_to_dict,
    response_to_dict,
)
from redline.transcripts.spool import (
    RawExchange,
    SpoolLine,
    header,
    read_from,
    segment_is_live,
    segments,
)
from redline.transcripts.sse import parse_sse
from redline.transcripts.store.decorations import Path as KeyPath
from redline.transcripts.store.decorations import split

BATCH = 500
# Bodies of non-model endpoints (/v1/models, embeddings...) are kept only up to this size.
OTHER_BODY_LIMIT = 64 * 1024

SESSION_HEADERS = (
    ("x-claude-code-session-id", "claude-code"),
    ("session_id", "codex"),
    ("session-id", "codex"),
    ("conversation_id", "codex"),
)


@dataclass
class IngestReport:
    ingested: int = 0
    skipped: int = 0  # already in the store
    problems: list[str] = field(default_factory=list)


def _inflate(body: bytes) -> bytes:
    try:
        return zlib.decompress(body)
    except zlib.error:  # servers send raw deflate as often as zlib-wrapped
        return zlib.decompress(body, -zlib.MAX_WBITS)


def _unbrotli(body: bytes) -> bytes:
    import brotli

    return bytes(brotli.decompress(body))


def _unzstd(body: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True).read()


_DECODERS = {
    "gzip": gzip.decompress,
    "x-gzip": gzip.decompress,
    "deflate": _inflate,
    "br": _unbrotli,
    "zstd": _unzstd,
    "identity": bytes,
}


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """Undo Content-Encoding (the proxy forwards and records bytes as they came). Any failure is
    a ValueError naming the coding."""
    for coding in reversed([c.strip().lower() for c in (encoding or "").split(",") if c.strip()]):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise ValueError(f"cannot decode Content-Encoding {coding!r}")
        try:
            body = decoder(body)
        except Exception as exc:  # each library has its own error type; all mean "corrupt"
            raise ValueError(f"corrupt {coding} body: {exc}") from exc
    return body


def session_key(headers: Iterable[tuple[str, str]]) -> str | None:
    headers = list(headers)
    for name, agent in SESSION_HEADERS:
        value = header(headers, name)
        if value:
            sub = header(headers, "x-claude-code-agent-id") if agent == "claude-code" else None
            return f"{agent}:{value}" + (f"/{sub}" if sub else "")
    return None


def node_id(parent: str | None, content: str) -> str:
    """A node is its content under its parent: the same message at another place in a
    conversation is another node. Hashes the parent id and the content's own hash, so the
    chain costs one pass over each message, never over the whole history again."""
    h = hashlib.blake2b(digest_size=16)
    h.update((parent or "").encode())
    h.update(hashlib.blake2b(content.encode(), digest_size=16).digest())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class _Node:
    id: str
    parent: str | None
    depth: int
    role: str
    content: str


def chain(
    messages: Iterable[Message], parent: str | None = None, depth: int = 0
) -> tuple[list[_Node], list[tuple[int, KeyPath, Any]]]:
    """The tree nodes of `messages` under `parent`, and the decorations taken out of them as
    (message index, path, value)."""
    nodes: list[_Node] = []
    decorations: list[tuple[int, KeyPath, Any]] = []
    for index, m in enumerate(messages):
        stable, removed = split(message_to_dict(m))
        decorations.extend((index, path, value) for path, value in removed)
        content = canonical_json(stable)
        nid = node_id(parent, content)
        nodes.append(_Node(nid, parent, depth, m.role, content))
        parent, depth = nid, depth + 1
    return nodes, decorations


class _Ingestor:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.known_nodes: set[str] = set()
        self.known_blobs: set[str] = set()

    # -- dedup tables ---------------------------------------------------------------------------

    def put_nodes(self, nodes: list[_Node]) -> None:
        todo = [n for n in nodes if n.id not in self.known_nodes]
        if not todo:
            return
        present = {
            r[0]
            for r in self.con.execute(
                "SELECT id FROM nodes WHERE id IN (SELECT unnest(?))", [[n.id for n in todo]]
            ).fetchall()
        }
        new = [n for n in todo if n.id not in present]
        if new:
            self.con.executemany(
                "INSERT INTO nodes VALUES (?, ?, ?, ?, ?)",
                [(n.id, n.parent, n.depth, n.role, n.content) for n in new],
            )
        self.known_nodes.update(n.id for n in todo)

    def put_blob(self, kind: str, value: Any) -> str:
        content = canonical_json(value)
        digest = content_hash(value)
        if digest not in self.known_blobs:
            exists = self.con.execute("SELECT 1 FROM blobs WHERE hash = ?", [digest]).fetchone()
            if not exists:
                self.con.execute("INSERT INTO blobs VALUES (?, ?, ?)", [digest, kind, content])
            self.known_blobs.add(digest)
        return digest

    # -- threading ------------------------------------------------------------------------------

    def conversation_for(
        self, x: RawExchange, node_ids: list[str], key: str | None, title: str | None
    ) -> str:
        """The conversation this call continues: the one whose call (request or answer) is the
        deepest prefix of this request; else the agent's session; else a new one, named after
        this first call so that conversation ids sort by time too. A prefix never joins two
        different agent sessions (the same first prompt run twice is two conversations)."""
        if node_ids:
            row = self.con.execute(
                """
                SELECT e.conversation_id FROM exchanges e JOIN nodes n
                  ON n.id = e.request_node OR n.id = e.response_node
                WHERE n.id IN (SELECT unnest(?)) AND e.conversation_id IS NOT NULL
                  AND (e.session_key IS NULL OR ?::VARCHAR IS NULL OR e.session_key = ?)
                ORDER BY n.depth DESC, e.started_at DESC LIMIT 1
                """,
                [node_ids, key, key],
            ).fetchone()
            if row:
                self.name_if_untitled(row[0], title)
                return str(row[0])
        if key:
            row = self.con.execute(
                "SELECT id FROM conversations WHERE session_key = ? ORDER BY started_at DESC LIMIT 1",
                [key],
            ).fetchone()
            if row:
                self.name_if_untitled(row[0], title)
                return str(row[0])
        self.con.execute(
            "INSERT INTO conversations VALUES (?, ?, ?, ?)", [x.id, x.started_at, key, title]
        )
        return x.id

    def name_if_untitled(self, conversation_id: str, title: str | None) -> None:
        """A conversation whose first call said nothing to name it by (a warm-up turn, an
        unparsed request) takes the first real title that comes along."""
        if title:
            self.con.execute(
                "UPDATE conversations SET title = ? WHERE id = ? "
                "AND (title IS NULL OR title = '(request not parsed)')",
                [title, conversation_id],
            )

    # -- one exchange ---------------------------------------------------------------------------

    def continued(self, request: Request) -> tuple[str | None, int, str | None]:
        """For a call that continues a conversation the server holds (`previous_response_id`):
        the node of the answer it continues, its depth + 1, and its conversation."""
        previous = request.params.get("previous_response_id")
        if not isinstance(previous, str):
            return None, 0, None
        row = self.con.execute(
            """
            SELECT e.response_node, n.depth + 1, e.conversation_id FROM exchanges e
            JOIN nodes n ON n.id = e.response_node WHERE e.response_id = ?
            ORDER BY e.started_at DESC LIMIT 1
            """,
            [previous],
        ).fetchone()
        return (str(row[0]), int(row[1]), row[2]) if row else (None, 0, None)

    def ingest(self, x: RawExchange, parse_failure: str | None = None) -> bool:
        """Store one exchange; False if it was stored before. With `parse_failure`, the
        exchange is stored raw (bodies kept whole, nothing parsed) with that reason."""
        if self.con.execute("SELECT 1 FROM exchanges WHERE id = ?", [x.id]).fetchone():
            return False
        detected = wires.detect(x.path)
        fmt = None if parse_failure else detected
        req = _parse_request(x, fmt)
        res = _parse_response(x, fmt)
        request, response = req.request, res.response
        if parse_failure:
            req.problems.append(parse_failure)

        parent, depth, conversation_id = self.continued(request) if request else (None, 0, None)
        nodes, decorations = chain(request.messages, parent, depth) if request else ([], [])
        self.put_nodes(nodes)
        request_node = nodes[-1].id if nodes else parent
        response_node = None
        if response is not None:
            tip, _ = chain([response.message], request_node, depth + len(nodes))
            self.put_nodes(tip)
            response_node = tip[0].id

        tools_hash = system_hash = None
        meta: dict[str, Any] | None = None
        if req.body is not None and fmt is not None:
            meta = {k: v for k, v in req.body.items() if k != fmt.history_key}
            if "tools" in meta:
                tools_hash = self.put_blob("tools", meta.pop("tools"))
            for name in ("system", "instructions"):
                if name in meta and fmt.history_key != name:
                    system_hash = self.put_blob("system", meta.pop(name))
                    break

        key = session_key(x.request_headers)
        seq = None
        # A model call belongs to a conversation, parsed or not; a bodiless request on a model
        # path (a refused WebSocket upgrade, a probe) is not a call.
        model_call = detected is not None and (bool(x.request_body) or x.method == "WEBSOCKET")
        if model_call:
            ids = ([parent] if parent else []) + [n.id for n in nodes]
            title = _title(request) if request else "(request not parsed)"
            if conversation_id is None:
                conversation_id = self.conversation_for(x, ids, key, title)
            elif title:
                self.name_if_untitled(conversation_id, title)
            row = self.con.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM exchanges WHERE conversation_id = ?",
                [conversation_id],
            ).fetchone()
            seq = int(row[0]) if row else 1

        keep_raw_request = request is None and (model_call or len(req.raw) <= OTHER_BODY_LIMIT)
        keep_raw_response = model_call or len(res.raw) <= OTHER_BODY_LIMIT
        usage = response.usage if response else None
        row_values: dict[str, Any] = {
            "id": x.id,
            "conversation_id": conversation_id,
            "seq": seq,
            "wire": detected.name if detected and model_call else None,
            "method": x.method,
            "path": x.path,
            "query": x.query,
            "upstream": x.upstream,
            "status_code": x.status,
            "outcome": res.outcome or x.outcome,
            "error": res.error or x.error,
            "parse_error": "; ".join(req.problems + res.problems) or None,
            "model": (request.model if request else None) or (response.model if response else None),
            "stream": res.stream,
            "message_count": len(nodes) if request else None,
            "request_node": request_node,
            "response_node": response_node,
            "response_id": response.id if response else None,
            "tools_hash": tools_hash,
            "system_hash": system_hash,
            "request_meta": None if meta is None else canonical_json(meta),
            "request_decorations": json.dumps(decorations) if decorations else None,
            "request_raw": req.raw if keep_raw_request else None,
            "request_headers": json.dumps(x.request_headers),
            "response_headers": json.dumps(x.response_headers),
            "response_raw": res.raw if keep_raw_response else None,
            "response": None if response is None else canonical_json(response_to_dict(response)),
            "finish_reason": response.finish_reason if response else None,
            "input_tokens": usage.input_tokens if usage else None,
            "output_tokens": usage.output_tokens if usage else None,
            "cache_read_tokens": usage.cache_read_tokens if usage else None,
            "cache_write_tokens": usage.cache_write_tokens if usage else None,
            "reasoning_tokens": usage.reasoning_tokens if usage else None,
            "started_at": x.started_at,
            "ttfb_ms": x.ttfb_ms,
            "duration_ms": x.duration_ms,
            "user_agent": x.client,
            "session_key": key,
        }
        columns = ", ".join(row_values)
        marks = ", ".join("?" * len(row_values))
        self.con.execute(
            f"INSERT INTO exchanges ({columns}) VALUES ({marks})", list(row_values.values())
        )
        return True


@dataclass
class _ParsedRequest:
    raw: bytes
    body: dict[str, Any] | None = None
    request: Request | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class _ParsedResponse:
    raw: bytes
    stream: bool
    response: Response | None = None
    outcome: str | None = None  # overrides the proxy's when the body tells more (an error event)
    error: str | None = None
    problems: list[str] = field(default_factory=list)


_PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def _parse_request(x: RawExchange, fmt: wires.WireFormat | None) -> _ParsedRequest:
    try:
        parsed = _ParsedRequest(
            decode_body(x.request_body, header(x.request_headers, "content-encoding"))
        )
    except ValueError as exc:
        return _ParsedRequest(x.request_body, problems=[f"request: {exc}"])
    if fmt is None or not parsed.raw:
        return parsed
    try:
        body = json.loads(parsed.raw)
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
        parsed.request = fmt.parse_request(body)
        parsed.body = body
    except _PARSE_ERRORS as exc:
        parsed.problems.append(f"request: {exc}")
    return parsed


def _parse_response(x: RawExchange, fmt: wires.WireFormat | None) -> _ParsedResponse:
    websocket = x.extra.get("transport") == "websocket"
    content_type = (header(x.response_headers, "content-type") or "").lower()
    stream = websocket or "text/event-stream" in content_type
    try:
        parsed = _ParsedResponse(
            decode_body(x.response_body, header(x.response_headers, "content-encoding")), stream
        )
    except ValueError as exc:
        return _ParsedResponse(x.response_body, stream, problems=[f"response: {exc}"])
    if fmt is None or x.status is None or not parsed.raw:
        return parsed
    if x.status >= 400:
        if not x.error:
            parsed.error = (
                f"upstream answered {x.status}: {parsed.raw[:500].decode('utf-8', 'replace')}"
            )
        return parsed
    if not (200 <= x.status < 300 or websocket):
        return parsed
    try:
        if stream:
            result = fmt.reassemble(parse_sse(parsed.raw.decode("utf-8", "replace")))
            parsed.response = result.response
            if result.error:
                parsed.outcome, parsed.error = "error", result.error
            elif not result.complete and x.outcome == "complete":
                parsed.outcome = "incomplete"
        else:
            parsed.response = fmt.parse_response(json.loads(parsed.raw))
    except _PARSE_ERRORS as exc:
        parsed.problems.append(f"response: {exc}")
    if parsed.response is not None:
        # A tool call whose arguments were cut off keeps the raw fragment; say so at call level.
        for call in parsed.response.message.tool_calls:
            if "_parse_error" in call.extra:
                parsed.problems.append(
                    f"response: arguments of tool call {call.name} ({call.id}): {call.extra['_parse_error']}"
                )
    return parsed


# A text part that is one tagged block is agent boilerplate (Claude Code's <system-reminder>,
# Codex's <environment_context>), not what the user asked.
_TAGGED_BLOCK = re.compile(r"<([A-Za-z][\w-]*)\b[^>]*>.*</\1>", re.S)


def _title(request: Request) -> str | None:
    """What the user first asked: the first user text that is not agent boilerplate."""
    for m in request.messages:
        if m.role != "user":
            continue
        for part in m.parts:
            text = part.text.strip() if isinstance(part, Text) else ""
            if text and not _TAGGED_BLOCK.fullmatch(text):
                return " ".join(text.split())[:120]
    return None


def ingest_spool(con: duckdb.DuckDBPyConnection, spool_dir: Path) -> IngestReport:
    """Ingest every pending spool line; delete segments that are done and no longer written."""
    report = IngestReport()
    ingestor = _Ingestor(con)
    progress = dict(con.execute("SELECT segment, byte_offset FROM spool_progress").fetchall())
    for path in segments(spool_dir):
        final = not segment_is_live(path)
        offset = int(progress.get(path.name, 0))
        size = path.stat().st_size
        if offset < size:
            batch = []
            for line in read_from(path, offset, final=final):
                batch.append(line)
                if len(batch) >= BATCH:
                    offset = _commit(con, ingestor, path.name, batch, report)
                    batch = []
            if batch:
                offset = _commit(con, ingestor, path.name, batch, report)
        if final and offset >= size:
            # File first: a crash in between leaves a harmless row, never a re-read segment.
            path.unlink(missing_ok=True)
            con.execute("DELETE FROM spool_progress WHERE segment = ?", [path.name])
    return report


class _Unstorable(Exception):
    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.index = index


def _commit(
    con: duckdb.DuckDBPyConnection,
    ingestor: _Ingestor,
    segment: str,
    batch: list[SpoolLine],
    report: IngestReport,
) -> int:
    """Ingest a batch in one transaction, with the spool offset. An exchange that cannot be
    stored parsed (a body no parser foresaw) is stored raw instead, with the reason as its parse
    error; only if even that fails is it skipped and reported. Either way the rest goes in, and
    no command is blocked by one bad line."""
    raw_only: dict[int, str] = {}
    skipped: dict[int, str] = {}
    while True:
        ingested = already = 0
        problems: list[tuple[int, str]] = []
        con.execute("BEGIN TRANSACTION")
        try:
            for index, line in enumerate(batch):
                if line.exchange is None or index in skipped:
                    problems.append((line.end_offset, skipped.get(index) or str(line.problem)))
                    continue
                try:
                    stored = ingestor.ingest(line.exchange, parse_failure=raw_only.get(index))
                except Exception as exc:  # any failure of this one exchange, to retry without it
                    raise _Unstorable(index, exc) from exc
                ingested, already = ingested + stored, already + (not stored)
            for offset, problem in problems:
                con.execute(
                    "INSERT INTO ingest_problems VALUES (?, ?, ?, ?)",
                    [segment, offset, problem, datetime.now(UTC)],
                )
            end = batch[-1].end_offset
            con.execute("INSERT OR REPLACE INTO spool_progress VALUES (?, ?)", [segment, end])
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            # Names cached during the failed transaction may not exist in the store.
            ingestor.known_nodes.clear()
            ingestor.known_blobs.clear()
            if not isinstance(exc, _Unstorable):
                raise
            if exc.index in raw_only:
                skipped[exc.index] = f"exchange could not be stored ({exc}); skipped"
            else:
                raw_only[exc.index] = f"stored raw: the parsed form could not be stored ({exc})"
            continue
        report.ingested += ingested
        report.skipped += already
        report.problems.extend(f"spool {segment} at byte {o}: {p}" for o, p in problems)
        return end
