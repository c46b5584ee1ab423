"""Replay's own cost per request: render, send, parse, check, store.

A minimal Chat Completions upstream in its own process answers at once with a swallowing
config loader (so `broad-except` has real code to judge). The same number of requests is sent
twice at the same concurrency: by a bare aiohttp client (the floor: HTTP on this machine) and by
`redline replay` (one task, many samples, nothing from the cache). The difference per request is
redline's overhead.

Goals (issue 9): overhead <= 2 ms per request; 1,000 requests at concurrency 64 in < 10 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

N = int(os.environ.get("BENCH_N", "1000"))
CONCURRENCY = 64

UPSTREAM = r"""
import json, sys
from aiohttp import web
CODE = "def load(path):\n    try:\n        return open(path).read()\n    except Exception:\n        return ''\n"
BODY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "```python\n" + CODE + "```"},
    "finish_reason": "stop"}], "usage": {"prompt_tokens": 300, "completion_tokens": 40,
    "total_tokens": 340}}).encode()
async def chat(request):
    await request.read()
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("ready", flush=True))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def direct(url: str, body: dict[str, object]) -> float:
    data = json.dumps(body).encode()
    limit = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:

        async def one() -> None:
            async with limit, s.post(url, data=data) as r:
                json.loads(await r.read())

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(N)))
        return time.perf_counter() - t0


def main() -> None:
    from redline.analyzers import default_registry
    from redline.replay.models import one_off
    from redline.replay.rendering import render
    from redline.replay.run import Settings, replay
    from redline.replay.send import Policy
    from redline.transcripts import example_files, open_store, read_task_file

    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert upstream.stdout is not None and "ready" in upstream.stdout.readline()
        model = one_off(f"openai-chat:bench@http://127.0.0.1:{port}/v1")
        (path,) = [p for p in example_files() if p.name.startswith("aider")]
        task = read_task_file(path)
        floor = asyncio.run(direct(model.endpoint, render(task.request, model, None)))
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "b.duckdb"
            with open_store(db) as store:
                store.save_task(task)
            registry = default_registry(entry_points=False)
            settings = Settings(samples=N, policy=Policy(concurrency=CONCURRENCY))
            t0 = time.perf_counter()
            cpu0 = time.process_time()
            replay(db, [task], [model], [], registry, settings)
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
    finally:
        upstream.terminate()
        upstream.wait()
    overhead = (wall - floor) / N * 1000
    print(
        f"replay: {N} requests at concurrency {CONCURRENCY} (1 task, broad-except judged on each)"
    )
    print(f"  direct aiohttp client        {floor:6.2f} s  ({N / floor:,.0f} requests/s)")
    print(f"  redline replay               {wall:6.2f} s  ({N / wall:,.0f} requests/s)")
    print(
        f"  redline's overhead           {overhead:6.2f} ms per request (wall), "
        f"{cpu / N * 1000:.2f} ms CPU per request in the replay process"
    )
    print(f"  goals: overhead <= 2 ms; {N} requests in < 10 s")


if __name__ == "__main__":
    main()
