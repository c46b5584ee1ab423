"""Added latency of the recording proxy: the same requests, direct and through `redline proxy`.

Three processes on 127.0.0.1: a minimal upstream (answers at once, so only the proxy's cost is
seen), the real `redline proxy`, and this client. Requests alternate direct/proxied so drift in
the machine's load hits both alike. Prints p50/p99 of each and the difference.

Goal (issue 2): added latency <= 0.5 ms at p50 and <= 2 ms at p99.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp

N = int(os.environ.get("BENCH_N", "2000"))
WARMUP = 200

UPSTREAM = r"""
import json, sys
from aiohttp import web
BODY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok " * 50}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60}}).encode()
CHUNKS = [b'data: {"choices":[{"index":0,"delta":{"content":"tok "}}]}\n\n'] * 20 + [b"data: [DONE]\n\n"]
async def chat(request):
    body = await request.json()
    if body.get("stream"):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for c in CHUNKS:
            await resp.write(c)
        await resp.write_eof()
        return resp
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("ready", flush=True))
"""


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


async def measure(direct: str, proxied: str, stream: bool) -> tuple[list[float], list[float]]:
    payload = json.dumps(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "rules " * 2000},
                {"role": "user", "content": "hi"},
            ],
            "stream": stream,
        }
    ).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    times: dict[str, list[float]] = {direct: [], proxied: []}
    async with aiohttp.ClientSession() as session:
        for i in range(WARMUP + N):
            for base in (direct, proxied) if i % 2 else (proxied, direct):
                t0 = time.perf_counter()
                async with session.post(
                    f"{base}/v1/chat/completions", data=payload, headers=headers
                ) as r:
                    await r.read()
                if i >= WARMUP:
                    times[base].append((time.perf_counter() - t0) * 1000)
    return times[direct], times[proxied]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, REDLINE_DB=os.path.join(tmp, "bench.duckdb"))
        upstream = subprocess.Popen(
            [sys.executable, "-c", UPSTREAM, str(port)], stdout=subprocess.PIPE, text=True
        )
        assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
        proxy = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "redline",
                "proxy",
                "--port",
                "0",
                "--upstream",
                f"http://127.0.0.1:{port}",
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proxy.stderr is not None
        found = re.search(r"(http://[\d.]+:\d+)", proxy.stderr.readline())
        assert found
        try:
            print(
                f"{N} requests each way, alternating; upstream answers at once; 12 KB request body"
            )
            for stream in (False, True):
                direct, proxied = asyncio.run(
                    measure(f"http://127.0.0.1:{port}", found.group(1), stream)
                )
                kind = "streamed (21 SSE events)" if stream else "non-streamed"
                d50, d99 = percentile(direct, 0.5), percentile(direct, 0.99)
                p50, p99 = percentile(proxied, 0.5), percentile(proxied, 0.99)
                print(f"{kind}:")
                print(f"  direct   p50 {d50:6.3f} ms   p99 {d99:6.3f} ms")
                print(f"  proxied  p50 {p50:6.3f} ms   p99 {p99:6.3f} ms")
                print(
                    f"  added    p50 {p50 - d50:6.3f} ms   p99 {p99 - d99:6.3f} ms   (goal: 0.5 / 2)"
                )
        finally:
            proxy.terminate()
            upstream.terminate()
            proxy.wait(10)
            upstream.wait(10)


if __name__ == "__main__":
    main()
