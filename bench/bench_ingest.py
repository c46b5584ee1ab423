"""Ingest speed and storage growth for agent sessions that re-send their whole history.

Writes spool segments for sessions of 50, 100 and 200 calls (each call re-sends the history
plus two new ~2 KB messages), ingests them into a fresh DuckDB file, and prints calls per
second, the bytes the requests carried and the bytes the message tree stores.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from redline import config
from redline.transcripts import RawExchange, SpoolWriter, new_id, open_store


def session(calls: int) -> list[RawExchange]:
    history: list[dict[str, str]] = [
        {"role": "system", "content": "You are a coding agent. " * 200}
    ]
    out = []
    for i in range(calls):
        history.append({"role": "user", "content": f"tool output {i}\n" + "x = compute(y)\n" * 140})
        body = json.dumps({"model": "gpt-bench", "messages": history}).encode()
        answer = {
            "role": "assistant",
            "content": f"step {i}: " + "I will edit the parser next. " * 70,
        }
        response = json.dumps(
            {
                "id": f"chatcmpl-{i}",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-bench",
                "choices": [{"index": 0, "message": answer, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": len(body) // 4,
                    "completion_tokens": 500,
                    "total_tokens": 0,
                },
            }
        ).encode()
        out.append(
            RawExchange(
                id=new_id(),
                started_at=datetime.now(UTC),
                method="POST",
                path="/v1/chat/completions",
                query="",
                upstream="http://127.0.0.1:1",
                request_headers=[("Content-Type", "application/json")],
                request_body=body,
                status=200,
                response_headers=[("Content-Type", "application/json")],
                response_body=response,
                ttfb_ms=1.0,
                duration_ms=2.0,
                outcome="complete",
            )
        )
        history.append(answer)
    return out


def main() -> None:
    print(
        f"{'calls':>6} {'request MB':>11} {'stored MB':>10} {'ratio':>6} {'ingest s':>9} {'calls/s':>8} {'ms/call':>8}"
    )
    for calls in (50, 100, 200):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.duckdb"
            exchanges = session(calls)
            writer = SpoolWriter(config.spool_dir(db))
            writer.append(exchanges)
            writer.close()
            sent = sum(len(x.request_body) for x in exchanges)
            t0 = time.perf_counter()
            with open_store(db) as store:
                elapsed = time.perf_counter() - t0
                stored = store.con.execute("SELECT sum(length(content)) FROM nodes").fetchone()[0]  # type: ignore[index]
            print(
                f"{calls:>6} {sent / 1e6:>11.1f} {stored / 1e6:>10.2f} {sent / stored:>6.0f} "
                f"{elapsed:>9.2f} {calls / elapsed:>8.0f} {1000 * elapsed / calls:>8.1f}"
            )


if __name__ == "__main__":
    main()
