"""Untrusted sizes and waits (issue 22): what a 400 MB WebSocket frame costs the proxy, what a
300 MB answer costs a replay, and how long a replay takes against 429s with long Retry-Afters.

Processes on 127.0.0.1: a minimal upstream (Chat Completions, and a WebSocket on
/v1/responses that answers each frame with one of the size asked), the real `redline proxy`,
`redline replay`, and this client.

* A frame over the proxy's cap (256 MB) is never read, either way: the WebSocket is closed with
  1009. Before the cap one such frame took the proxy to 2.1 GB.
* Replay reads an answer up to 64 MB and judges up to 4 MB: a 300 MB answer is an error. Before,
  a 30 MB answer took 13 GB (the checks parse the code it holds).
* A Retry-After past `--max-wait` ends the sample at once; one within it is waited, and said
  once for the model, however many requests wait. (Before, 3600 was cut to 120 s and waited in
  silence.)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

MB = 1024 * 1024
FRAME = 400 * MB
ANSWER = 300 * MB

UPSTREAM = r"""
import json, sys
from aiohttp import web, WSMsgType
CODE = "```python\ndef load(path):\n    try:\n        return open(path).read()\n    except Exception:\n        return ''\n```"
calls = {}
def completion(text):
    return json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}).encode()
async def chat(request):
    body = await request.read()
    model = json.loads(body)["model"]
    if model == "huge":
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "```python\\n')
        line = b"x = 1\\n" * (1024 * 1024 // 7)
        try:
            for _ in range(int(sys.argv[2]) // len(line)):
                await response.write(line)
            await response.write(b'```"}, "finish_reason": "stop"}]}')
        except ConnectionError:  # the replay stopped reading: what this measures
            pass
        return response
    if model.startswith("wait-"):
        calls[model] = calls.get(model, 0) + 1
        if calls[model] <= 16:  # the first requests, all in flight together, are told to wait
            return web.json_response({"error": {"message": "rate limited", "type": "rate_limit"}},
                                     status=429, headers={"Retry-After": model[5:]})
    return web.Response(body=completion(CODE), content_type="application/json")
async def responses(request):
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    size = int(request.headers.get("X-Size", "8"))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                head = '{"type": "response.output_text.delta", "delta": "'
                await ws.send_str(head + "x" * max(0, size - len(head) - 2) + '"}')
                await ws.send_str('{"type": "response.completed", "response": {}}')
    except ConnectionError:  # the proxy closed it: what this measures
        pass
    return ws
app = web.Application(client_max_size=1 << 20)
app.router.add_post("/v1/chat/completions", chat)
app.router.add_get("/v1/responses", responses)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None,
            print=lambda *a: print("ready", flush=True))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_of(proc: subprocess.Popen[str]) -> float:
    """The peak resident memory of a running process, read until it ends (MB)."""
    peak = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, status(proc.pid, "VmHWM"))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.05)
    return peak


async def frame_turn(url: str, frame: int, answer: int) -> int | None:
    """One WebSocket turn; the close code the client saw (None: the turn completed, -1: the
    connection went while the client was sending)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{url}/v1/responses", headers={"X-Size": str(answer)}, max_msg_size=0
        ) as ws,
    ):
        try:
            await ws.send_str('{"type": "response.create", "input": "' + "y" * frame + '"}')
        except ConnectionError:
            return -1
        async for msg in ws:
            if json.loads(msg.data)["type"] == "response.completed":
                return None
        return ws.close_code


def websocket_frames(upstream: str, env: dict[str, str]) -> None:
    proxy = subprocess.Popen(
        [sys.executable, "-m", "redline", "proxy", "--port", "0", "--upstream", upstream],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proxy.stderr is not None
    found = re.search(r"http://[\d.]+:(\d+)", proxy.stderr.readline())
    assert found
    url = f"http://127.0.0.1:{found.group(1)}"
    try:
        asyncio.run(frame_turn(url, 100, 8))
        rows = [("baseline (one small turn)", status(proxy.pid, "VmRSS"), "")]
        code = asyncio.run(frame_turn(url, FRAME, 8))
        rows.append(("a 400 MB frame from the client", status(proxy.pid, "VmRSS"), code))
        code = asyncio.run(frame_turn(url, 100, FRAME))
        rows.append(("a 400 MB frame from the upstream", status(proxy.pid, "VmRSS"), code))
        peak = status(proxy.pid, "VmHWM")
        print("resident memory of `redline proxy` (MB), WebSocket frames over its 256 MB cap:")
        for what, mb, detail in rows:
            print(f"  {what:<36} {mb:8.1f}   close code {detail}")
        print(f"  {'peak':<36} {peak:8.1f}")
        print(
            "RESULT "
            + json.dumps({"websocket_400mb_frame_proxy_peak_mb": round(peak, 1), "close": code})
        )
    finally:
        proxy.terminate()
        proxy.wait(60)


def replay(env: dict[str, str], model: str, *extra: str) -> tuple[subprocess.Popen[str], float]:
    proc = subprocess.Popen(
        [
            sys.executable,
            *["-m", "redline", "replay", "aider-swallows-config-errors", "-m", model],
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, peak_of(proc)


def big_answer(base: str, env: dict[str, str]) -> None:
    started = time.perf_counter()
    proc, peak = replay(env, f"openai-chat:huge@{base}", "-n", "1", "--json")
    out, err = proc.communicate(timeout=600)
    took = time.perf_counter() - started
    errors = json.loads(out)["errors"] if proc.returncode == 0 else err[-300:]
    print(
        f"`redline replay` against a 300 MB answer: {took:.1f} s, peak resident memory "
        f"{peak:.0f} MB; {errors}"
    )
    print("RESULT " + json.dumps({"replay_300mb_answer_peak_mb": round(peak), "seconds": took}))


def long_waits(base: str, env: dict[str, str]) -> None:
    for after in ("3600", "3"):
        started = time.perf_counter()
        proc, _ = replay(
            env,
            f"openai-chat:wait-{after}@{base}",
            *("-n", "32", "--concurrency", "16", "--no-cache", "--json"),
        )
        out, err = proc.communicate(timeout=600)
        took = time.perf_counter() - started
        said = [line for line in err.splitlines() if line.startswith("waiting")]
        cells = json.loads(out)["cells"] if proc.returncode == 0 else []
        errors = sum(c["errors"] for c in cells)
        print(
            f"replay of 32 samples at concurrency 16, the first 16 requests answered 429 with "
            f"Retry-After: {after} (--max-wait 120): {took:.1f} s, {errors} errors, "
            f"{len(said)} line(s) said" + (f": {said[0]}" if said else "")
        )
        print(
            "RESULT "
            + json.dumps({f"retry_after_{after}_seconds": round(took, 1), "errors": errors})
        )


def main() -> None:
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM, str(port), str(ANSWER)], stdout=subprocess.PIPE, text=True
    )
    assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, REDLINE_DB=os.path.join(tmp, "bench.duckdb"))
            subprocess.run(
                [sys.executable, "-m", "redline", "import", "--examples"],
                env=env,
                check=True,
                capture_output=True,
            )
            websocket_frames(base, env)
            big_answer(f"{base}/v1", env)
            long_waits(f"{base}/v1", env)
    finally:
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
