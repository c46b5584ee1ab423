"""`redline scan -c broad-except` over 10,000 recorded calls: the first scan (every answer judged)
and the second (every verdict from the cache), end to end as a user runs it.

The history is 250 Claude Code-shaped sessions of 40 calls (Anthropic Messages, the whole history
re-sent on every call, CLAUDE.md in a system reminder): the agent reads a file (a ~60-line
Python module comes back), edits it, runs the tests, says what it did, in turn. Every tenth edit
adds a try/except, half of those swallowing the error. The calls are written to the spool as the
proxy writes them and ingested into a fresh DuckDB file (timed apart), then `redline scan` runs
twice in a subprocess. Targets (issue 14): under 30 s the first time on 2 cores, under 2 s the
second. BENCH_SESSIONS and BENCH_CALLS change the shape (longer sessions cost more per call: each
answer is judged with its whole history as context).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, agents, new_id, open_store

sys.path.insert(0, str(Path(__file__).parent))
from sessions import read_and_parse

SESSIONS = int(os.environ.get("BENCH_SESSIONS", 250))
CALLS = int(os.environ.get("BENCH_CALLS", 40))
REDLINE = str(Path(sys.executable).with_name("redline"))

REMINDER = agents.get("claude-code").embed_rules(
    "/repo", "Never catch Exception; let errors reach the caller."
)
TOOLS = [
    {
        "name": name,
        "description": f"The {name} tool.",
        "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
    }
    for name in ("Read", "Write", "Edit", "Bash", "Grep", "Glob")
]


def module(session: int, step: int) -> str:
    """A ~60-line Python module, different for each session and step."""
    lines = [f'"""Module {session}.{step}: helpers for the service."""', "", "import json", ""]
    for k in range(8):
        lines += [
            "",
            f"def helper_{k}(value, scale={k + 1}):",
            f'    """Scale {k}: return the value times the scale, as text."""',
            "    result = value * scale",
            "    if result > 100:",
            "        result = result % 100",
            f"    return json.dumps({{'value': result, 'helper': {k}}})",
        ]
    return "\n".join(lines) + "\n"


def new_code(session: int, step: int) -> str:
    if step % 10 == 3:
        handler = "        return None" if session % 2 else "        raise"
        return (
            f"def load_{step}(path):\n    try:\n        with open(path) as f:\n"
            f"            return json.load(f)\n    except Exception:\n{handler}\n"
        )
    return f"def added_{step}(value):\n    return helper_0(value) + {step}\n"


def answer(session: int, call: int, path: str) -> list[dict[str, Any]]:
    """What the model says at this step: read, edit, run the tests, report; in turn."""
    kind = call % 4
    tid = f"toolu_{session:04d}_{call:03d}"
    if kind == 0:
        return [{"type": "tool_use", "id": tid, "name": "Read", "input": {"file_path": path}}]
    if kind == 1:
        old = "    return json.dumps({'value': result, 'helper': 7})\n"
        edit = {
            "file_path": path,
            "old_string": old,
            "new_string": old + "\n\n" + new_code(session, call),
        }
        return [
            {"type": "text", "text": "I will add the helper."},
            {"type": "tool_use", "id": tid, "name": "Edit", "input": edit},
        ]
    if kind == 2:
        return [{"type": "tool_use", "id": tid, "name": "Bash", "input": {"command": "pytest -q"}}]
    return [{"type": "text", "text": f"Step {call}: added the helper and the tests pass. " * 4}]


def result_for(session: int, call: int, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for b in blocks:
        if b["type"] != "tool_use":
            continue
        content = {
            "Read": module(session, call),
            "Edit": "The file was edited.",
            "Bash": "4 passed",
        }
        out.append({"type": "tool_result", "tool_use_id": b["id"], "content": content[b["name"]]})
    return out or [{"type": "text", "text": "Go on."}]


def sessions(start: datetime) -> list[RawExchange]:
    out = []
    at = start
    for s in range(SESSIONS):
        path = f"/repo/pkg/mod_{s}.py"
        history: list[dict[str, Any]] = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": REMINDER},
                    {
                        "type": "text",
                        "text": f"Add helpers to mod_{s}.py and keep the tests green.",
                    },
                ],
            }
        ]
        for c in range(CALLS):
            body = {
                "model": "claude-sonnet-4-5",
                "max_tokens": 8192,
                "system": [{"type": "text", "text": "You are Claude Code. " * 40}],
                "tools": TOOLS,
                "messages": history,
            }
            blocks = answer(s, c, path)
            stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
            response = {
                "id": f"msg_{s:04d}_{c:03d}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": blocks,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 1000 + 50 * c, "output_tokens": 120},
            }
            at += timedelta(seconds=7)
            out.append(
                RawExchange(
                    id=new_id(),
                    started_at=at,
                    method="POST",
                    path="/v1/messages",
                    query="beta=true",
                    upstream="https://api.anthropic.com",
                    request_headers=[
                        ("Content-Type", "application/json"),
                        ("User-Agent", "claude-cli/1.0.83 (external, cli)"),
                        ("X-Claude-Code-Session-Id", f"bench-{s}"),
                    ],
                    request_body=json.dumps(body).encode(),
                    status=200,
                    response_headers=[("Content-Type", "application/json")],
                    response_body=json.dumps(response).encode(),
                    ttfb_ms=900.0,
                    duration_ms=4000.0,
                    outcome="complete",
                )
            )
            history = [
                *history,
                {"role": "assistant", "content": blocks},
                {"role": "user", "content": result_for(s, c, blocks)},
            ]
    return out


def timed_scan(db: Path, *args: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [REDLINE, "scan", "-c", "broad-except", "--db", str(db), "--json", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0, json.loads(done.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        start = datetime.now(UTC) - timedelta(days=2)
        exchanges = sessions(start)
        writer = SpoolWriter(config.spool_dir(db))
        for i in range(0, len(exchanges), 500):
            writer.append(exchanges[i : i + 500])
        writer.close()
        sent = sum(len(x.request_body) for x in exchanges)
        limit, spooled = read_and_parse(db)
        t0 = time.perf_counter()
        with open_store(db) as store:
            ingest = time.perf_counter() - t0
            calls = store.con.execute("SELECT count(*) FROM exchanges").fetchone()
        stored = calls[0] if calls else 0
        print(
            f"history: {stored:,} calls in {SESSIONS} sessions, {sent / 1e6:,.0f} MB of requests; "
            f"ingest {ingest:.1f} s, {stored / ingest:,.0f} exchanges/s (goal: 5,000; not part "
            "of the scan)"
        )
        print(
            f"the limit: reading and JSON-parsing the same {spooled / 1e6:.0f} MB in one process "
            f"takes {limit:.2f} s ({stored / limit:,.0f} exchanges/s); ingest takes "
            f"{ingest / limit:.1f}x that"
        )
        print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
        figures: dict[str, Any] = {
            "calls": len(exchanges),
            "sessions": SESSIONS,
            "ingest_s": round(ingest, 2),
            "ingest_exchanges_per_s": round(stored / ingest),
            "read_and_parse_s": round(limit, 2),
        }
        for label in ("first scan", "second scan"):
            elapsed, out = timed_scan(db)
            figures[label.replace(" ", "_") + "_s"] = round(elapsed, 2)
            print(
                f"{label:<12} {elapsed:6.2f} s  scanned {out['scanned']:,}  judged {out['judged']:,}"
                f"  from the cache {out['cached']:,}  calls with findings {len(out['calls']):,}"
                f"  (check key {out['checks'][0]['key']})"
            )
        elapsed, out = timed_scan(db, "--jobs", "1", "-c", "broad-except:allow-logging")
        print(
            f"{'one process':<12} {elapsed:6.2f} s  judged {out['judged']:,} "
            "(a changed option judged again in the redline process, --jobs 1)"
        )
        figures["one_process_s"] = round(elapsed, 2)
        print("RESULT " + json.dumps({"scan": figures}))


if __name__ == "__main__":
    main()
