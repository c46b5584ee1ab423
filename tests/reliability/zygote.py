"""A process that imports the proxy once and forks a fresh proxy on request, so a test can kill
proxies (kill -9, SIGTERM) many times without paying for an interpreter start each time.

Commands, one JSON object a line on stdin; each gets one JSON line on stdout:

    {"fork": {"upstream": URL, "spool": DIR, "log": FILE, "signals": bool, ...ProxyRunner kwargs}}
        -> {"pid": PID, "port": PORT}      a proxy process, listening; `signals`: it stops on
                                           SIGTERM/SIGINT as `redline proxy` does (run_forever)
    {"wait": PID, "timeout": SECONDS}
        -> {"code": EXIT_CODE_OR_NEGATIVE_SIGNAL} or {"code": null} if still running

It never has a thread when it forks (the proxy's threads start in the child).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from redline.proxy import ProxyRunner, Route, run_forever
from redline.proxy.runner import _loop_factory


def _child(spec: dict[str, Any], w: int) -> None:
    log = os.open(spec.pop("log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    routes = [Route.parse("", spec.pop("upstream"))]
    spool = Path(spec.pop("spool"))
    signals = spec.pop("signals", False)
    runner = ProxyRunner(routes, spool, "127.0.0.1", 0, **spec)

    def ready(port: int) -> None:
        os.write(w, f"{port}\n".encode())
        os.close(w)

    if signals:
        run_forever(runner, ready)
        return

    async def serve() -> None:
        ready(await runner.start())
        await asyncio.Event().wait()

    asyncio.run(serve(), loop_factory=_loop_factory())


def _reap(exited: dict[int, int]) -> None:
    """Collect children that have ended (no zombies), keeping their exit codes for `wait`."""
    try:
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                return
            exited[pid] = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        pass


def _warm_up() -> None:
    """Import now what the proxy imports on first use, once for every child."""
    from ulid import ULID

    ULID()


def main() -> None:
    _warm_up()
    exited: dict[int, int] = {}
    for line in sys.stdin:
        command = json.loads(line)
        if "fork" in command:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                code = 0
                try:
                    _child(command["fork"], w)
                except BaseException:
                    code = 1
                os._exit(code)
            os.close(w)
            with os.fdopen(r) as ready:
                port = ready.readline().strip()
            reply: dict[str, Any] = {"pid": pid, "port": int(port) if port else None}
        else:
            pid, deadline = command["wait"], time.monotonic() + command["timeout"]
            code = exited.pop(pid, None)
            while code is None and time.monotonic() < deadline:
                _reap(exited)
                code = exited.pop(pid, None)
                if code is None:
                    time.sleep(0.002)
            reply = {"code": code}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        _reap(exited)


if __name__ == "__main__":
    main()
