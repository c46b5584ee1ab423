"""The web view's pages on a store of 100,000 recorded calls.

Generates a store shaped like months of agent work (bench/big_store.py). Then starts `redline ui`
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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from redline import config
from redline.transcripts import (
    SpoolWriter,
    open_store,
)

sys.path.insert(0, str(Path(__file__).parent))
from big_store import generate
from looping import AGENT as LOOPING_AGENT
from looping import looping_session

CALLS = int(os.environ.get("BENCH_CALLS", "100000"))
RUNS = 15  # timed requests per page (after one warm-up)
LOOPING_CALLS = 800
CHROMIUM = "/usr/bin/chromium"


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
