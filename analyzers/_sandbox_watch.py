"""Watching a sandboxed run: its output (kept at both ends), its wall-clock time, and what its
processes use together, killing it at the first limit it passes.

The kernel holds the limits it can per process (RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_NPROC in the
sandbox's own count); this watch adds the ones only a total can express: the memory of all its
processes together, the time, the bytes of output. Processes are found as the descendants of
the sandbox's first process in /proc (every process in its pid namespace descends from it).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kill = Literal["time", "memory", "processes", "output"]
TICK = 0.05  # seconds between two looks at the processes' memory and count, at least


@dataclass(frozen=True, slots=True)
class Usage:
    processes: int
    memory: int  # bytes: anonymous and shared memory resident, all processes together


@dataclass(frozen=True, slots=True)
class Watched:
    returncode: int
    output: bytes  # the start and the end, with a marker where the middle was cut
    output_bytes: int
    killed: Kill | None
    peak: Usage


class Capture:
    """The first and last `keep // 2` bytes of a stream, and how much there was in all."""

    def __init__(self, keep: int) -> None:
        self.half = max(keep // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    def value(self) -> bytes:
        cut = self.total - len(self.head) - len(self.tail)
        if cut <= 0:
            return bytes(self.head + self.tail)
        marker = f"\n[... {cut} bytes of output cut ...]\n".encode()
        return bytes(self.head) + marker + bytes(self.tail)


def _read(path: str) -> bytes | None:
    """A small /proc file in one read (os-level: a look at every process is thousands)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 8192)
    except OSError:
        return None
    finally:
        os.close(fd)


def _parent(pid: str) -> int | None:
    """The parent of `pid`, from /proc/PID/stat (cheaper for the kernel to write than status)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:  # gone
        return None
    fields = text[text.rfind(b")") + 2 :].split(b" ", 2)  # state, ppid, ...
    return int(fields[1]) if len(fields) > 1 else None


def _status(pid: int) -> tuple[int, int] | None:
    """(real uid, resident anonymous + shared bytes) from /proc/PID/status."""
    text = _read(f"/proc/{pid}/status")
    if text is None:  # gone, or not ours to read
        return None
    uid = memory = 0
    for line in text.split(b"\n"):
        key, _, value = line.partition(b":")
        if key == b"Uid":
            uid = int(value.split()[0])
        elif key in (b"RssAnon", b"RssShmem"):
            memory += int(value.split()[0]) * 1024
    return uid, memory


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from each process's parent in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent(entry)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, ())
    return found


def usage(root: int, uid: int | None) -> Usage:
    """What the processes descending from `root` (itself included) use; `uid`: count only the
    processes of that uid (as root, the sandbox's setup processes are root's, and the limit is
    on the command's)."""
    count = memory = 0
    for pid in descendants(root):
        status = _status(pid)
        if status is not None:
            memory += status[1]
            count += uid is None or status[0] == uid
    return Usage(count, memory)


def watch(
    proc: subprocess.Popen[bytes],
    *,
    seconds: float,
    memory: int,
    processes: int,
    output: int,
    keep: int,
    sample: Callable[[], Usage],
    kill: Callable[[], None],
) -> Watched:
    """Read `proc`'s output until it ends; kill it (by `kill`) at the first limit passed."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    capture = Capture(keep)
    start = time.monotonic()
    deadline = start + seconds
    next_look = start + TICK
    killed: Kill | None = None
    peak = Usage(0, 0)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        open_ = True
        while killed is None:
            now = time.monotonic()
            if now >= deadline:
                killed = "time"
                break
            wait = max(min(deadline, next_look) - now, 0)
            if open_:
                if selector.select(wait):
                    open_ = _drain(fd, capture)
                    if not open_:
                        selector.unregister(fd)
                if capture.total > output:
                    killed = "output"
                    break
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(wait)
            if not open_ and proc.poll() is not None:
                break
            if time.monotonic() >= next_look:
                looked = time.monotonic()
                seen = sample()
                peak = Usage(max(peak.processes, seen.processes), max(peak.memory, seen.memory))
                if seen.memory > memory:
                    killed = "memory"
                elif seen.processes > processes:
                    killed = "processes"
                # A look reads /proc for every process of the host: on a busy one, look less
                # often, so that watching never costs more than a tenth of a core.
                cost = time.monotonic() - looked
                next_look = time.monotonic() + max(TICK, 9 * cost)
    if killed is not None:
        kill()
        if open_:  # what it wrote before it died, up to the pipe's end (it is dead: no wait)
            _drain_to_end(fd, capture, output)
    proc.wait()
    return Watched(proc.returncode, capture.value(), capture.total, killed, peak)


def _drain(fd: int, capture: Capture) -> bool:
    """Read what is there, a megabyte at most (the limits are looked at between two calls);
    False at the end of the stream."""
    for _ in range(16):
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        capture.add(chunk)
        if len(chunk) < 1 << 16:
            return True
    return True


def _drain_to_end(fd: int, capture: Capture, output: int) -> None:
    """After a kill: what was written before, until the pipe ends (every writer is dead) or,
    should a writer have escaped the kill (unsandboxed), for two seconds at most."""
    end = time.monotonic() + 2.0
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while capture.total <= output + (1 << 20):
            left = end - time.monotonic()
            if left <= 0 or not selector.select(left) or not _drain(fd, capture):
                return
