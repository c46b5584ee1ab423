"""Bounded memory: resident memory of `redline proxy` (and of ingest) after bodies that used to
stay in memory for good (issue 13: each 300 MB request refused with 413 left ~265 MB behind;
a 1 MB gzip bomb, 1 GiB inflated, cost ~1.8 GB never given back).

Three processes on 127.0.0.1: a minimal upstream that reads bodies as sent and can answer with a
gzip bomb, the real `redline proxy`, and this client. Prints the proxy's resident memory after
each kind of body, then the peak of `redline ls` ingesting what was recorded.

Promise (README): resident memory returns to its baseline; every decoding is bounded.
"""

from __future__ import annotations

import gzip
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1024 * 1024
BODY = 300 * MB  # over the proxy's 256 MB cap
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

UPSTREAM = r"""
import gzip, sys
from aiohttp import web
BOMB = gzip.compress(bytes(1 << 20), 9) * 1024   # 1 GiB of zeros in ~1 MB
async def any_(request):
    await request.read()
    if request.headers.get("X-Behave") == "bomb":
        return web.Response(body=BOMB, headers={"Content-Type": "application/json",
                                                "Content-Encoding": "gzip"})
    return web.json_response({"id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop"}]})
app = web.Application(client_max_size=1 << 31)
app.router.add_route("*", "/{tail:.*}", any_)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, auto_decompress=False,
            print=lambda *a: print("ready", flush=True))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def send(port: int, head: bytes, megabytes: int, *, chunked: bool) -> int:
    """Send a request head and a body of that many MB (chunked, or as the Content-Length the
    head announced); the status back. The proxy may answer before the body is all sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(head)
        block = b"x" * MB
        try:
            for _ in range(megabytes):
                s.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        reply = b""
        while b"\r\n\r\n" not in reply and (chunk := s.recv(65536)):
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def post(port: int, body: bytes, **headers: str) -> int:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(head + body)
        reply = b""
        while chunk := s.recv(1 << 20):
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def main() -> None:
    up_port = free_port()
    bomb = gzip.compress(bytes(1 << 20), 9) * 1024
    chat = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, REDLINE_DB=os.path.join(tmp, "bench.duckdb"))
        upstream = subprocess.Popen(
            [sys.executable, "-c", UPSTREAM, str(up_port)], stdout=subprocess.PIPE, text=True
        )
        assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
        proxy = subprocess.Popen(
            [
                sys.executable,
                *["-m", "redline", "proxy", "--port", "0", "--upstream"],
                f"http://127.0.0.1:{up_port}",
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proxy.stderr is not None
        found = re.search(r"http://[\d.]+:(\d+)", proxy.stderr.readline())
        assert found
        port = int(found.group(1))
        try:
            for _ in range(3):
                post(port, chat)
            rows = [("baseline (3 small calls)", rss_mb(proxy.pid), "")]

            statuses = [
                send(
                    port,
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                    + f"Content-Length: {BODY}\r\n\r\n".encode(),
                    BODY // MB,
                    chunked=False,
                )
                for _ in range(ROUNDS)
            ]
            rows.append(
                (f"{ROUNDS} x 300 MB announced (Content-Length)", rss_mb(proxy.pid), statuses)
            )
            statuses = [
                send(
                    port,
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n",
                    BODY // MB,
                    chunked=True,
                )
                for _ in range(ROUNDS)
            ]
            rows.append(
                (f"{ROUNDS} x 300 MB chunked (read to the cap)", rss_mb(proxy.pid), statuses)
            )
            statuses = [post(port, bomb, **{"Content-Encoding": "gzip"}) for _ in range(ROUNDS)]
            rows.append(
                (f"{ROUNDS} x gzip bomb request (1 MB -> 1 GiB)", rss_mb(proxy.pid), statuses)
            )
            statuses = [post(port, chat, **{"X-Behave": "bomb"}) for _ in range(ROUNDS)]
            rows.append((f"{ROUNDS} x gzip bomb answer", rss_mb(proxy.pid), statuses))
            time.sleep(0.5)
            rows.append(("half a second later", rss_mb(proxy.pid), ""))

            print("resident memory of `redline proxy` (MB):")
            for what, mb, detail in rows:
                print(f"  {what:<44} {mb:8.1f}   {detail}")
            started = time.perf_counter()
            ls = subprocess.run(
                [sys.executable, "-m", "redline", "ls", "--json"],
                env=env,
                capture_output=True,
                text=True,
            )
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            took = time.perf_counter() - started
            print(
                f"`redline ls` ingesting all of it: exit {ls.returncode}, {took:.1f} s, peak "
                f"resident memory of the largest child so far {peak:.0f} MB"
            )
        finally:
            proxy.terminate()
            upstream.terminate()
            proxy.wait(60)
            upstream.wait(10)


if __name__ == "__main__":
    main()
