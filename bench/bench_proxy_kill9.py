"""Crash-safety soak: `redline proxy` killed with SIGKILL at random moments under traffic, over
and over; then every call whose answer a client received must be in the store exactly once.

Each round starts the real `redline proxy`, lets four clients send calls (plain JSON, chunked
JSON and SSE streams, one at a time each) and kills the proxy after a random 0-400 ms, so kills
land before, during and right after answers. Prints what was received, what was stored, and the
calls lost or stored twice (both must be 0). The CI suite runs a shorter, deterministic loop
(tests/reliability/test_crash_safety.py).

    BENCH_KILLS=500 python bench/bench_proxy_kill9.py   # a longer soak (default 30 rounds)
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

KILLS = int(os.environ.get("BENCH_KILLS", "30"))
CLIENTS = 4

UPSTREAM = r"""
import asyncio, json, sys
from aiohttp import web
def delta(t):
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}).encode() + b"\n\n"
ANSWER = json.dumps({"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0,
    "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}).encode()
async def chat(request):
    kind = request.headers.get("X-Behave", "json")
    await request.read()
    if kind == "json":
        return web.Response(body=ANSWER, content_type="application/json")
    resp = web.StreamResponse(headers={"Content-Type": "application/json" if kind == "chunked"
                                       else "text/event-stream"})
    await resp.prepare(request)
    if kind == "chunked":
        await resp.write(ANSWER[:10]); await asyncio.sleep(0.01); await resp.write(ANSWER[10:])
    else:
        for i in range(5):
            await resp.write(delta(f"part {i} ")); await asyncio.sleep(0.01)
        await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None,
            print=lambda *a: print("ready", flush=True))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, content: str, kind: str) -> bool:
    """One call, read to its very end; True when the whole answer arrived."""
    body = json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": content}], "stream": kind == "sse"}
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"X-Behave: {kind}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head + body)
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
    except OSError:
        return False
    head_part, _, rest = reply.partition(b"\r\n\r\n")
    if not head_part.startswith(b"HTTP/1.1 200"):
        return False
    if b"content-length:" in head_part.lower():
        length = int(re.search(rb"(?i)content-length: (\d+)", head_part).group(1))  # type: ignore[union-attr]
        return len(rest) == length
    return rest.endswith(b"0\r\n\r\n")  # the chunked body's end arrived


def main() -> None:
    rng = random.Random(13)
    up_port = free_port()
    received: list[str] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, REDLINE_DB=os.path.join(tmp, "soak.duckdb"))
        upstream = subprocess.Popen(
            [sys.executable, "-c", UPSTREAM, str(up_port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a stream cut by a kill is the point, not news
            text=True,
        )
        assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        upstream_url = f"http://127.0.0.1:{up_port}"
        try:
            for round_ in range(KILLS):
                proxy = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "redline",
                        "proxy",
                        "--port",
                        "0",
                        "--upstream",
                        upstream_url,
                    ],
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                assert proxy.stderr is not None
                found = re.search(r"http://[\d.]+:(\d+)", proxy.stderr.readline())
                assert found, "the proxy did not start"
                port = int(found.group(1))
                stop = threading.Event()

                def client(
                    n: int, port: int = port, stop: threading.Event = stop, round_: int = round_
                ) -> None:
                    i = 0
                    while not stop.is_set():
                        content = f"round {round_} client {n} call {i}"
                        if call(port, content, ("json", "chunked", "sse")[i % 3]):
                            with lock:
                                received.append(content)
                        i += 1

                threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(0, 0.4))
                proxy.send_signal(signal.SIGKILL)
                proxy.wait(10)
                stop.set()
                for t in threads:
                    t.join()
                proxy.stderr.close()
            soak = time.perf_counter() - started
            listed = subprocess.run(
                [sys.executable, "-m", "redline", "ls", "--json", "--limit", "0"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            upstream.terminate()
            upstream.wait(10)
    counts: dict[str, int] = {}
    for conv in json.loads(listed.stdout)["conversations"]:
        counts[conv["title"]] = counts.get(conv["title"], 0) + conv["calls"]
    lost = [c for c in received if counts.get(c, 0) == 0]
    twice = [c for c in received if counts.get(c, 0) > 1]
    print(f"{KILLS} proxies killed with SIGKILL at random moments under traffic ({soak:.0f} s)")
    print(f"  calls whose whole answer a client received: {len(received)}")
    print(f"  of those in the store: {len(received) - len(lost)}")
    print(f"  lost: {len(lost)}   stored more than once: {len(twice)}   (must be 0 and 0)")
    if lost or twice:
        print("  e.g.", (lost + twice)[:5])
        sys.exit(1)


if __name__ == "__main__":
    main()
