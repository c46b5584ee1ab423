"""A store shaped like months of agent work, for the benchmarks that read a big one (bench_ui,
bench_cli, and bench_lake through bench_cli): about 4,000 conversations of 1 to 120 calls per 100,000, three wire
formats and clients; each call adds a tool result of code and an answer with text and a tool
call, so the message tree holds a few hundred MB of text; a few hundred tasks. Written straight
into the tables the way ingest lays them out (going through ingest would re-parse every re-sent
history: hours, and not what the benchmarks measure)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redline.transcripts import (
    Message,
    Request,
    Response,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
    canonical_json,
    content_hash,
    new_id,
    open_store,
    response_to_dict,
    wire,
)
from redline.transcripts.store import bulk
from redline.transcripts.store.tree import chain

WORDS = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "this",
    "be",
    "are",
    "we",
    "will",
    "file",
    "function",
    "error",
    "test",
    "config",
    "loader",
    "parser",
    "value",
    "return",
    "import",
    "class",
    "self",
    "path",
    "data",
    "result",
    "check",
    "model",
    "request",
    "response",
    "message",
    "token",
    "cache",
    "session",
    "agent",
    "tool",
    "call",
    "edit",
    "write",
    "read",
    "bash",
    "run",
    "update",
    "fix",
    "bug",
    "issue",
    "change",
    "line",
    "code",
    "module",
    "package",
    "type",
    "string",
    "list",
    "dict",
    "none",
    "true",
    "false",
    "raise",
    "except",
    "exception",
    "handle",
    "retry",
    "timeout",
    "connect",
    "server",
    "client",
    "proxy",
    "store",
    "query",
    "index",
    "table",
    "column",
    "row",
    "schema",
    "migrate",
    "ingest",
    "spool",
    "record",
    "stream",
    "event",
    "chunk",
    "parse",
    "render",
    "report",
    "task",
    "replay",
    "variant",
    "sample",
    "verdict",
    "finding",
    "pass",
    "fail",
    "rate",
    "interval",
]
IDENTS = [
    "load_config",
    "parse_args",
    "main",
    "handler",
    "run_query",
    "fetch_rows",
    "build_index",
    "open_store",
    "read_file",
    "write_file",
    "apply_patch",
    "compute_total",
    "retry_send",
    "decode_body",
    "split_lines",
    "UserService",
    "OrderRepo",
    "CacheEntry",
    "HttpClient",
    "ConfigError",
    "ParseError",
    "settings",
    "registry",
    "logger",
    "session",
    "cursor",
    "payload",
    "headers",
    "response",
    "request",
    "items",
    "values",
    "keys",
    "count",
    "total",
]
CLIENTS = {
    "anthropic-messages": (
        "claude-cli/1.0.{} (external, cli)",
        ("claude-sonnet-4", "claude-opus-4"),
    ),
    "openai-responses": ("codex_cli_rs/0.2{}.0", ("gpt-5-codex", "o4-mini")),
    "openai-chat": ("aider/0.8{}.1", ("gpt-4.1", "deepseek-chat")),
}
PATHS = {
    "anthropic-messages": "/v1/messages",
    "openai-responses": "/v1/responses",
    "openai-chat": "/v1/chat/completions",
}
TOOLS = tuple(
    Tool(name, f"{name} a file or run a command in the repository.", {"type": "object"})
    for name in ("Read", "Edit", "Write", "Bash", "Grep")
)


class Text_:
    """Random text and code, fast: lines are drawn from pools made once."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sentences = [self._sentence() for _ in range(4000)]
        self.lines = [self._code_line() for _ in range(6000)]

    def _sentence(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(6, 18))
        return " ".join(words).capitalize() + "."

    def _code_line(self) -> str:
        r = self.rng
        a, b, c = r.choice(IDENTS), r.choice(IDENTS), r.choice(IDENTS)
        n = r.randint(0, 99)
        return r.choice(
            (
                f"    {a} = {b}({c}, {n})",
                f"def {a}_{n}({b}: str) -> int:",
                f"        return {a}.{b}[{n}]",
                f"    if {a} is None:",
                f"    for {a} in {b}.{c}():",
                f"        {a}.append({b} + {n})",
                f"    except ValueError as {a}:",
                f"import {a}",
            )
        )

    def prose(self, sentences: int) -> str:
        return " ".join(self.rng.choices(self.sentences, k=sentences))

    def code(self, lines: int) -> str:
        return "\n".join(self.rng.choices(self.lines, k=lines)) + "\n"


def _conversation(
    rng: random.Random, text: Text_, number: int, calls: int, start: datetime
) -> dict[str, Any]:
    """One conversation's messages (as nodes), calls (as exchange rows) and blobs."""
    fmt_name = rng.choice(list(CLIENTS))
    fmt = wire.get(fmt_name)
    agent, models = CLIENTS[fmt_name]
    client = agent.format(rng.randint(0, 9))
    model = rng.choice(models)
    system = (Text(f"You are {client.split('/')[0]}, a coding agent. " + text.prose(30)),)
    first = Message("user", (Text(f"Ticket RL-{number}: " + text.prose(rng.randint(2, 6))),))
    history: list[Message] = [first]
    if fmt.system_key is None:
        history.insert(0, Message("system", system))
    body = fmt.render_request(
        Request(model, tuple(history), system if fmt.system_key else None, TOOLS, {}, fmt_name)
    )
    split = fmt.split_body(body)
    blobs = {kind: canonical_json(value) for kind, value in split.blobs.items()}
    hashes = {kind: content_hash(value) for kind, value in split.blobs.items()}
    meta = canonical_json(split.meta)
    nodes, new = [], list(history)
    parent, depth = None, 0
    rows = []
    at = start
    conversation_id = None
    tokens = 800
    for seq in range(1, calls + 1):
        made, _ = chain(new, parent, depth)
        nodes += made
        parent, depth = made[-1].id, depth + len(made)
        request_node, count = parent, depth
        last = seq == calls
        parts: list[Any] = []
        if fmt_name == "anthropic-messages" and rng.random() < 0.3:
            parts.append(Thinking(text.prose(2), signature="sig"))
        parts.append(Text(text.prose(rng.randint(1, 4))))
        call_id = f"call_{number}_{seq}"
        if not last:
            path = f"src/{rng.choice(IDENTS)}.py"
            code = text.code(rng.randint(4, 30))
            tool = rng.choice(("Edit", "Write", "Bash"))
            arguments = json.dumps({"file_path": path, "content": code})
            parts.append(ToolCall(call_id, tool, arguments))
        answer = Message("assistant", tuple(parts))
        (answer_node,), _ = chain([answer], parent, depth)
        nodes.append(answer_node)
        exchange_id = new_id(at)
        conversation_id = conversation_id or exchange_id
        tokens += 700
        usage = Usage(tokens, rng.randint(50, 900), int(tokens * 0.9), 300)
        response = Response(answer, "tool_calls" if not last else "stop", usage, call_id, model)
        rows.append(
            {
                "id": exchange_id,
                "conversation_id": conversation_id,
                "seq": seq,
                "wire": fmt_name,
                "method": "POST",
                "path": PATHS[fmt_name],
                "query": "",
                "upstream": "https://api.example.invalid",
                "status_code": 200,
                "outcome": "complete",
                "model": model,
                "stream": True,
                "message_count": count,
                "request_node": request_node,
                "response_node": answer_node.id,
                "response_id": call_id,
                "tools_hash": hashes.get("tools"),
                "system_hash": hashes.get("system"),
                "request_meta": meta,
                "request_headers": "[]",
                "response_headers": "[]",
                "response": canonical_json(response_to_dict(response)),
                "finish_reason": response.finish_reason,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "started_at": at,
                "ttfb_ms": rng.uniform(300, 2000),
                "duration_ms": rng.uniform(2000, 30000),
                "user_agent": client,
                "session_key": None,
            }
        )
        # The next request re-sends all of this, the answer, and the tool's result.
        result = ToolResult(call_id, text.code(rng.randint(10, 50)))
        new = [Message("tool", (result,))]
        parent, depth = answer_node.id, depth + 1
        at += timedelta(seconds=rng.uniform(5, 60))
    title = first.text[:80]
    return {
        "nodes": nodes,
        "rows": rows,
        "blobs": [(hashes[k], k, v) for k, v in blobs.items()],
        "conversation": (conversation_id, start, title),
    }


def generate(db: Path, calls: int, seed: int = 12) -> None:
    rng = random.Random(seed)
    text = Text_(rng)
    now = datetime.now(UTC)
    begin = now - timedelta(days=90)
    left = calls
    number = 0
    with open_store(db) as store:
        con = store.con
        seen_nodes: set[str] = set()
        seen_blobs: set[str] = set()
        batch: dict[str, list[Any]] = {"nodes": [], "rows": [], "blobs": [], "conversations": []}

        def flush() -> None:
            con.execute("BEGIN TRANSACTION")
            fresh = [n for n in batch["nodes"] if n.id not in seen_nodes]
            seen_nodes.update(n.id for n in fresh)
            unique = {n.id: n for n in fresh}.values()
            bulk.insert(
                con,
                "nodes",
                {
                    "id": [n.id for n in unique],
                    "parent": [n.parent for n in unique],
                    "depth": [n.depth for n in unique],
                    "role": [n.role for n in unique],
                    "content": [n.content for n in unique],
                },
            )
            blobs = {b[0]: b for b in batch["blobs"] if b[0] not in seen_blobs}
            seen_blobs.update(blobs)
            bulk.insert(
                con,
                "blobs",
                {
                    "hash": [b[0] for b in blobs.values()],
                    "kind": [b[1] for b in blobs.values()],
                    "content": [b[2] for b in blobs.values()],
                },
            )
            rows = batch["rows"]
            bulk.insert(con, "exchanges", {k: [r[k] for r in rows] for k in rows[0]})
            convs = batch["conversations"]
            bulk.insert(
                con,
                "conversations",
                {
                    "id": [c[0] for c in convs],
                    "started_at": [c[1] for c in convs],
                    "session_key": [None] * len(convs),
                    "title": [c[2] for c in convs],
                },
            )
            con.execute("COMMIT")
            for values in batch.values():
                values.clear()

        while left > 0:
            number += 1
            n = min(left, max(1, int(rng.expovariate(1 / 25))), 120)
            left -= n
            start = begin + timedelta(seconds=rng.uniform(0, 90 * 86400))
            conv = _conversation(rng, text, number, n, start)
            batch["nodes"] += conv["nodes"]
            batch["rows"] += conv["rows"]
            batch["blobs"] += conv["blobs"]
            batch["conversations"].append(conv["conversation"])
            if len(batch["rows"]) >= 5000:
                flush()
        if batch["rows"]:
            flush()
        _tasks(con, rng)
        con.execute("CHECKPOINT")


def _tasks(con: Any, rng: random.Random) -> None:
    """A few hundred tasks, flagged from random calls (rows only: the list and the filter)."""
    picked = con.execute(
        "SELECT id, conversation_id, model, wire, request_node, message_count, response "
        "FROM exchanges USING SAMPLE 300 ROWS (reservoir, 7)"
    ).fetchall()
    rows: dict[str, list[Any]] = {}
    for i, (call, conversation, model, wire_name, node, count, response) in enumerate(picked):
        row = {
            "name": f"bench-task-{i}",
            "created_at": datetime.now(UTC),
            "note": "",
            "checks": '["broad-except"]',
            "wire": wire_name,
            "model": model,
            "request_node": node,
            "message_count": count,
            "request_shell": canonical_json({"wire": wire_name, "model": model, "messages": []}),
            "output": canonical_json(
                {"message": json.loads(response)["message"], "finish_reason": "stop"}
            ),
            "drop_last": 0,
            "origin_call": call,
            "origin_conversation": conversation,
            "content_hash": f"h{i}",
        }
        for k, v in row.items():
            rows.setdefault(k, []).append(v)
    bulk.insert(con, "tasks", rows)
