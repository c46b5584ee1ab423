"""The web view's pages on a store of 100,000 recorded calls.

Generates a store shaped like months of agent work (about 4,000 conversations of 1 to 120
calls, three wire formats and clients; each call adds a tool result of code and an answer with
text and a tool call, so the message tree holds a few hundred MB of text; a few hundred tasks),
written straight into the tables the way ingest lays them out (going through ingest would
re-parse every re-sent history: hours, and not what is measured here). Then starts `redline ui`
on it, as a user would, and times each page's JSON request over HTTP: the store opened per
request, ingest's check of the spool included. Goal (issue 12): each page < 200 ms.

To that store it adds a session whose agent looped (bench/looping.py: 800 calls in one
conversation, side calls and identical retries among them), recorded through the spool and
ingested as the proxy's would be, and times its conversation page: the JSON of its first view
and of the next calls asked for, and, when Debian's chromium is installed, the page drawn in a
headless browser. Goal (issue 23): every conversation page < 1 s and < 2 MB.

    python bench/bench_ui.py                 # generate in a temporary folder, measure, delete
    python bench/bench_ui.py --keep FILE     # keep (or reuse) the generated store
    BENCH_CALLS=20000 python bench/bench_ui.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redline import config
from redline.transcripts import (
    Message,
    Request,
    Response,
    SpoolWriter,
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

sys.path.insert(0, str(Path(__file__).parent))
from looping import AGENT as LOOPING_AGENT
from looping import looping_session

CALLS = int(os.environ.get("BENCH_CALLS", "100000"))
RUNS = 15  # timed requests per page (after one warm-up)
LOOPING_CALLS = 800
CHROMIUM = "/usr/bin/chromium"

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Ui:
    """`redline ui` in its own process, as a user starts it."""

    def __init__(self, db: Path) -> None:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "redline", "ui", "--port", "0", "--db", str(db)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("redline ui stopped before serving")
            if "http://" in line:
                self.url = line.split()[2]
                break
        self.start_seconds = time.perf_counter() - started
        page = urllib.request.urlopen(self.url + "/").read().decode()
        self.token = page.split('name="redline-token" content="', 1)[1].split('"', 1)[0]

    def get(self, path: str, body: Any = None) -> bytes:
        request = urllib.request.Request(self.url + path)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
            request.add_header("X-Redline-Token", self.token)
        with urllib.request.urlopen(request, timeout=60) as reply:
            return bytes(reply.read())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(20)


def timed(ui: Ui, label: str, path: str, body: Any = None) -> dict[str, float]:
    size = len(ui.get(path, body))  # warm-up (the OS caches the file; DuckDB reopens it cold)
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        ui.get(path, body)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(
        f"{label:<44} {statistics.median(times):>7.1f} {p95:>7.1f} {times[-1]:>7.1f} "
        f"{size / 1024:>8.1f}"
    )
    return {"p50_ms": round(statistics.median(times), 1), "kb": round(size / 1024, 1)}


def pages(ui: Ui, db: Path) -> dict[str, Any]:
    with open_store(db) as store:
        con = store.con
        sizes = con.execute(
            "SELECT conversation_id, count(*) AS n FROM exchanges "
            "WHERE user_agent IS DISTINCT FROM ? "
            "GROUP BY 1 ORDER BY 2 DESC",
            [LOOPING_AGENT],
        ).fetchall()
        biggest = sizes[0]
        median = sizes[len(sizes) // 2]
        call = con.execute(
            "SELECT id FROM exchanges WHERE conversation_id = ? ORDER BY seq LIMIT 1",
            [median[0]],
        ).fetchone()[0]
        client, model = con.execute(
            "SELECT split_part(user_agent, '/', 1), model FROM exchanges LIMIT 1"
        ).fetchone()
        day = con.execute("SELECT max(started_at)::DATE - 7 FROM exchanges").fetchone()[0]
        total = con.execute("SELECT count(*) FROM conversations").fetchone()[0]
    q = urllib.parse.quote
    print(f"{'page (GET unless said)':<44} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'KB':>8}")
    timed(ui, "runs list (the floor: open, ingest, close)", "/api/runs")
    timed(ui, "conversations, page 1", "/api/conversations")
    timed(
        ui,
        f"conversations, page {total // 50 // 2} (offset)",
        f"/api/conversations?offset={total // 2}",
    )
    timed(
        ui,
        "conversations, agent + model",
        f"/api/conversations?client={q(client)}&model={q(model)}",
    )
    timed(ui, "conversations, last 7 days, has a task", f"/api/conversations?since={day}&task=yes")
    timed(ui, "filter values (facets)", "/api/facets")
    timed(ui, "search: a ticket id (1 hit)", f"/api/conversations?q={q('RL-1234:')}")
    timed(ui, "search: a common phrase", f"/api/conversations?q={q('handle retry')}")
    timed(ui, "search + filter", f"/api/conversations?q={q('handle retry')}&model={q(model)}")
    timed(
        ui,
        "search, tools too (tool calls, results)",
        f"/api/conversations?q={q('load_config(')}&tools=1",
    )
    timed(ui, f"timeline, {median[1]} calls (the median)", f"/api/conversations/{median[0]}")
    timed(ui, f"timeline, {biggest[1]} calls (the largest)", f"/api/conversations/{biggest[0]}")
    looping = looping_pages(ui, db)
    timed(ui, "raw exchange of a call", f"/api/calls/{call}")
    timed(ui, "tasks list", "/api/tasks")
    timed(
        ui,
        "POST: run broad-except on a call's answer",
        f"/api/calls/{call}/check",
        {"checks": ["broad-except"]},
    )
    return looping


def looping_conversation(db: Path) -> tuple[str, int] | None:
    """The looping session's conversation and its calls, once it is in the store."""
    with open_store(db) as store:
        row = store.con.execute(
            "SELECT conversation_id, count(*) FROM exchanges WHERE user_agent = ? "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
            [LOOPING_AGENT],
        ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def looping_pages(ui: Ui, db: Path) -> dict[str, Any]:
    """The looping session's conversation page: the first view, the calls after it."""
    found = looping_conversation(db)
    assert found is not None
    conversation, calls = found
    first = json.loads(ui.get(f"/api/conversations/{conversation}"))
    shown = len(first["calls"])
    figures = {
        "calls": calls,
        "first_view": timed(
            ui,
            f"timeline, looping, {calls} calls: first view",
            f"/api/conversations/{conversation}",
        ),
    }
    if shown < first.get("rows", shown):  # a paged timeline: the next calls, as "more" asks
        figures["more"] = timed(
            ui,
            "timeline, looping: the next 50 rows",
            f"/api/conversations/{conversation}?offset={first['limit']}&limit=50&last=0",
        )
    return figures


def drawn(ui: Ui, db: Path) -> dict[str, Any] | None:
    """The looping session's page drawn by chromium: from the address typed to the calls laid
    out (the document's height read, which waits for layout)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).is_file():
        return None
    found = looping_conversation(db)
    assert found is not None
    conversation = found[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(300_000)
            page.goto(ui.url + "/")
            page.locator("table.conversations").wait_for()
            t = time.perf_counter()
            page.goto(f"{ui.url}/#/c/{conversation}")
            page.locator("section.call").first.wait_for()
            height = page.evaluate("document.documentElement.scrollHeight")
            seconds = time.perf_counter() - t
            cards = page.locator("section.call").count()
        finally:
            browser.close()
    print(
        f"looping session drawn by chromium in {seconds:.2f} s: {cards} call rows, "
        f"{height:,} px tall"
    )
    return {"seconds": round(seconds, 2), "rows": cards, "height_px": height}


def add_looping_session(db: Path) -> None:
    """The looping session, through the spool and ingest, as the proxy records one."""
    if looping_conversation(db) is not None:
        return
    with open_store(db) as store:
        (last,) = store.con.execute("SELECT max(started_at) FROM exchanges").fetchone()
    writer = SpoolWriter(config.spool_dir(db))
    writer.append(looping_session(LOOPING_CALLS, last + timedelta(hours=1)))
    writer.close()
    t = time.perf_counter()
    with open_store(db):
        pass
    print(
        f"ingested the looping session ({LOOPING_CALLS} calls) in {time.perf_counter() - t:.0f} s"
    )


def in_process(db: Path) -> None:
    """The same queries on one open connection: what the data costs, without the request's
    own share (HTTP, opening and closing the store)."""
    with open_store(db) as store:
        b = store.browse
        biggest, looping = (
            store.con.execute(
                "SELECT conversation_id FROM exchanges "
                "WHERE (user_agent IS NOT DISTINCT FROM ?) = ? "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
                [LOOPING_AGENT, looped],
            ).fetchone()[0]
            for looped in (False, True)
        )
        work = {
            "conversations, page 1": lambda: b.conversations(),
            "search: a common phrase": lambda: b.conversations(text="handle retry"),
            "search, tools too": lambda: b.conversations(text="load_config(", tools=True),
            "timeline, the largest": lambda: b.timeline(biggest),
            "timeline, looping: first view": lambda: b.timeline(looping),
        }
        print(f"{'in-process, one open connection':<44} {'p50 ms':>7}")
        for label, run in work.items():
            run()
            times = []
            for _ in range(RUNS):
                t = time.perf_counter()
                run()
                times.append((time.perf_counter() - t) * 1000)
            print(f"{label:<44} {statistics.median(times):>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="generate into this file, or reuse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redline-bench-ui-") as tmp:
        db = args.keep or Path(tmp) / "bench.duckdb"
        if not db.exists():
            t = time.perf_counter()
            generate(db, CALLS)
            print(
                f"generated {CALLS:,} calls in {time.perf_counter() - t:.0f} s: {db.stat().st_size / 1e6:.0f} MB"
            )
        add_looping_session(db)
        with open_store(db) as store:
            row = store.con.execute(
                "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM nodes), "
                "(SELECT sum(length(content)) FROM nodes)"
            ).fetchone()
        print(
            f"{row[0]:,} conversations, {row[1]:,} messages, {row[2] / 1e6:.0f} MB of message JSON"
        )
        ui = Ui(db)
        try:
            print(
                f"redline ui served after {ui.start_seconds:.1f} s (indexing for search included)"
            )
            looping = pages(ui, db)
            looping["drawn"] = drawn(ui, db)
        finally:
            ui.close()
        in_process(db)
        print("RESULT " + json.dumps({"ui_looping_session": looping}))
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} on {os.cpu_count()} cores (figures grow with it)")


if __name__ == "__main__":
    main()
