"""The store's footprint and ingest rate, as a user feels them: bytes on disk (the database and
its spool, the proxy stopped) against the bytes the agent sent, and how fast a backlog goes in.

Sessions re-send their whole history on every call (tests of the message tree's dedup). Goals
(issue 10): footprint ratio >= 15 on a 40-call session adding ~20 KB a call and >= 20 on 50
calls; ingest >= 5,000 exchanges/s; the first `redline ls` after a 2,000-call backlog < 1 s.
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

sys.path.insert(0, str(Path(__file__).parent))

from sessions import read_and_parse, write_spool

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, new_id, open_store


def big_session(calls: int, new_kb: int = 20) -> list[RawExchange]:
    """A chat session whose every call adds about `new_kb` KB of tool output to the history."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    history: list[dict[str, str]] = [{"role": "system", "content": "You are a coding agent. " * 40}]
    out = []
    for i in range(calls):
        history.append(
            {
                "role": "user",
                "content": f"output {i}\n" + f"line {i} of a long file\n" * (new_kb * 45),
            }
        )
        when = start + timedelta(seconds=i)
        answer = {"role": "assistant", "content": f"step {i}: I will read the next file."}
        out.append(
            RawExchange(
                id=new_id(when),
                started_at=when,
                method="POST",
                path="/v1/chat/completions",
                query="",
                upstream="https://api.openai.com",
                request_headers=[("content-type", "application/json")],
                request_body=json.dumps({"model": "gpt-x", "messages": history}).encode(),
                status=200,
                response_headers=[("content-type", "application/json")],
                response_body=json.dumps(
                    {
                        "id": f"c{i}",
                        "object": "chat.completion",
                        "model": "gpt-x",
                        "choices": [{"index": 0, "message": answer, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
                    }
                ).encode(),
                ttfb_ms=1.0,
                duration_ms=1.0,
                outcome="complete",
            )
        )
        history.append(answer)
    return out


def footprint(db: Path) -> int:
    files = [db, db.with_name(db.name + ".wal"), *list(config.spool_dir(db).glob("*"))]
    return sum(f.stat().st_size for f in files if f.exists())


def first_ls(db: Path) -> float:
    env = {**os.environ, "REDLINE_DB": str(db)}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "redline", "ls"], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - t0


def main() -> None:
    print("footprint: database + spool after ingest, against the request bytes the agent sent")
    print(f"{'session':>28} {'requests MB':>12} {'on disk MB':>11} {'ratio':>6}")
    for calls in (40, 50):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "f.duckdb"
            exchanges = big_session(calls)
            writer = SpoolWriter(config.spool_dir(db))
            writer.append(exchanges)
            writer.close()
            with open_store(db):
                pass
            sent = sum(len(x.request_body) for x in exchanges)
            disk = footprint(db)
            print(
                f"{f'{calls} calls, +20 KB each':>28} {sent / 1e6:>12.2f} {disk / 1e6:>11.2f} {sent / disk:>6.1f}"
            )
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "b.duckdb"
        count, sent = write_spool(db, 20, 100)
        limit, spooled = read_and_parse(db)
        took = first_ls(db)
        disk = footprint(db)
        print(
            f"{'20 agents x 100 calls':>28} {sent / 1e6:>12.1f} {disk / 1e6:>11.2f} {sent / disk:>6.1f}"
        )
        print(
            f"\nthe first `redline ls` after a {count}-call backlog ({sent / 1e6:.0f} MB): {took:.2f} s "
            f"({count / took:,.0f} exchanges/s, start-up included; goal: under 1 s)"
        )
        print(
            f"the limit: reading and JSON-parsing the same {spooled / 1e6:.0f} MB in one process "
            f"takes {limit:.2f} s; the first `ls` takes {took / limit:.1f}x that"
        )
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            "RESULT "
            + json.dumps(
                {
                    "first_ls_after_backlog_s": round(took, 3),
                    "backlog_calls": count,
                    "read_and_parse_s": round(limit, 3),
                    "ratio_to_limit": round(took / limit, 2),
                }
            )
        )


if __name__ == "__main__":
    main()
