"""The recording proxy under concurrency, side by side with direct calls in one run.

Three processes on 127.0.0.1: a minimal upstream that answers at once (so only the proxy's own
cost shows), the real `redline proxy` (recording on, background ingest on), and this client.
At concurrency 1, 8 and 64 the same load goes direct and through the proxy in alternating
blocks, so drift in the machine's load hits both alike. Streams: time to first token and the
gap between chunks. Also the proxy's CPU per request and its peak resident memory.

Goals (issue 10): added p50 <= 0.5 ms and p99 <= 2 ms at concurrency 1; added p50 <= 1 ms and
>= 2,000 requests/s at concurrency 8.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

N = int(os.environ.get("BENCH_N", "3000"))  # requests per side and concurrency
BLOCK = 250  # requests per alternating block

UPSTREAM = r"""
import json, sys
from aiohttp import web
BODY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok " * 50}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60}}).encode()
CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"tok "}}]}\n\n'
async def chat(request):
    body = await request.read()
    if b'"stream": true' in body:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for _ in range(20):
            await resp.write(CHUNK)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("ready", flush=True), access_log=None)
"""

REQUEST = json.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "hello " * 40}]}
).encode()
STREAM = json.dumps(
    {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def block(
    session: aiohttp.ClientSession, url: str, n: int, concurrency: int
) -> tuple[list[float], float]:
    """n non-streamed requests at `concurrency`; (latencies in ms, wall seconds)."""
    latencies: list[float] = []
    queue = iter(range(n))

    async def worker() -> None:
        for _ in queue:
            t0 = time.perf_counter()
            async with session.post(
                url, data=REQUEST, headers={"Content-Type": "application/json"}
            ) as r:
                await r.read()
            latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - t0


async def stream_block(
    session: aiohttp.ClientSession, url: str, n: int
) -> tuple[list[float], list[float]]:
    """n streamed requests one at a time; (time to first chunk, gaps between chunks), ms."""
    first: list[float] = []
    gaps: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with session.post(
            url, data=STREAM, headers={"Content-Type": "application/json"}
        ) as r:
            last = None
            async for _chunk in r.content.iter_any():
                now = time.perf_counter()
                if last is None:
                    first.append((now - t0) * 1000)
                else:
                    gaps.append((now - last) * 1000)
                last = now
    return first, gaps


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(direct: str, proxied: str, proxy_pid: int) -> dict[str, object]:
    results: dict[str, object] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await block(session, direct, 200, 8)  # warm up both
        await block(session, proxied, 200, 8)
        for concurrency in (1, 8, 64):
            lat = {"direct": [], "proxied": []}  # type: dict[str, list[float]]
            wall = {"direct": 0.0, "proxied": 0.0}
            cpu = 0.0
            for _ in range(max(1, N // BLOCK)):
                for side, url in (("direct", direct), ("proxied", proxied)):
                    before = cpu_seconds(proxy_pid)
                    values, seconds = await block(session, url, BLOCK, concurrency)
                    if side == "proxied":
                        cpu += cpu_seconds(proxy_pid) - before
                    lat[side] += values
                    wall[side] += seconds
            count = len(lat["direct"])
            row = {
                "direct_p50_ms": statistics.median(lat["direct"]),
                "direct_p99_ms": pct(lat["direct"], 0.99),
                "proxied_p50_ms": statistics.median(lat["proxied"]),
                "proxied_p99_ms": pct(lat["proxied"], 0.99),
                "direct_rps": count / wall["direct"],
                "proxied_rps": count / wall["proxied"],
                "proxy_cpu_ms_per_request": cpu / count * 1000,
            }
            row["added_p50_ms"] = row["proxied_p50_ms"] - row["direct_p50_ms"]
            row["added_p99_ms"] = row["proxied_p99_ms"] - row["direct_p99_ms"]
            results[f"concurrency {concurrency}"] = row
        d_first, d_gaps = await stream_block(session, direct, 300)
        p_first, p_gaps = await stream_block(session, proxied, 300)
        results["stream"] = {
            "ttft_added_p50_ms": statistics.median(p_first) - statistics.median(d_first),
            "gap_added_p50_ms": statistics.median(p_gaps) - statistics.median(d_gaps),
        }
    results["proxy_peak_rss_mb"] = peak_rss_mb(proxy_pid)
    return results


def main() -> None:
    up_port, proxy_port = free_port(), free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM, str(up_port)], stdout=subprocess.PIPE, text=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "REDLINE_DB": str(Path(tmp) / "bench.duckdb")}
        proxy = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "redline",
                "proxy",
                "--upstream",
                f"http://127.0.0.1:{up_port}",
                "--port",
                str(proxy_port),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert upstream.stdout is not None and "ready" in upstream.stdout.readline()
            assert proxy.stderr is not None and "listening" in proxy.stderr.readline()
            results = asyncio.run(
                run(
                    f"http://127.0.0.1:{up_port}/v1/chat/completions",
                    f"http://127.0.0.1:{proxy_port}/v1/chat/completions",
                    proxy.pid,
                )
            )
        finally:
            proxy.terminate()
            upstream.terminate()
            proxy.wait(30)
            upstream.wait(30)
    print(
        f"redline proxy under load ({N} requests per side and concurrency, alternating blocks of {BLOCK})"
    )
    print(
        f"{'':>15} {'direct p50/p99':>16} {'proxied p50/p99':>17} {'added p50/p99':>15} {'direct rps':>11} {'proxied rps':>12} {'proxy CPU/req':>14}"
    )
    for key, row in results.items():
        if not key.startswith("concurrency"):
            continue
        r = row  # type: ignore[assignment]
        print(
            f"{key:>15} {r['direct_p50_ms']:7.2f}/{r['direct_p99_ms']:<7.2f} ms {r['proxied_p50_ms']:7.2f}/{r['proxied_p99_ms']:<7.2f} ms "  # type: ignore[index]
            f"{r['added_p50_ms']:6.2f}/{r['added_p99_ms']:<6.2f} ms {r['direct_rps']:11,.0f} {r['proxied_rps']:12,.0f} {r['proxy_cpu_ms_per_request']:11.2f} ms"  # type: ignore[index]
        )
    s = results["stream"]
    print(
        f"streams (20 chunks): added time to first chunk p50 {s['ttft_added_p50_ms']:.2f} ms, added gap between chunks p50 {s['gap_added_p50_ms']:.3f} ms"
    )  # type: ignore[index]
    print(f"proxy peak resident memory: {results['proxy_peak_rss_mb']:.0f} MB")
    print("RESULT " + json.dumps({"proxy_load": results}))


if __name__ == "__main__":
    main()
