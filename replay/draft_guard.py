"""The guard of a drafted check's code, inside the sandbox: an audit hook (PEP 578), active
only while the module's code runs, that refuses and records what a check has no business doing:
writing or deleting files, reading files but Python's own, the network, starting programs,
signalling processes, ctypes, hooks and tracing, walking the heap, waiting for input. What the
code prints is caught, and warnings are not shown (showing one reads its source line from disk).

An audit hook cannot be removed, and one that raises refuses the operation; the records stay
even when the module catches the error. It is a layer, not a wall: the sandbox is the wall.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_NETWORK = (
    "socket.",
    "urllib.Request",
    "http.client.",
    "ftplib.",
    "smtplib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "telnetlib.",
    "webbrowser.",
)
_PROGRAMS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork")
_PROGRAMS_TOO = ("os.forkpty", "pty.spawn", "os.startfile")
_FILES = (
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "os.mkfifo",
    "os.mknod",
    "os.setxattr",
    "os.removexattr",
    "shutil.",
)
_INTERPRETER = (
    "sys.addaudithook",
    "sys.settrace",
    "sys.setprofile",
    "sys._current_frames",
    "sys._current_exceptions",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "ctypes.",
    "pickle.find_class",
    "resource.setrlimit",
    "resource.prlimit",
)
_LISTING = ("os.listdir", "os.scandir", "glob.glob")


class Guard:
    """An audit hook, active only while the drafted module's code runs, that refuses (raises
    PermissionError) and records what a check must not do. `readable` are the folders it may
    read (Python's own, for imports, and the module itself)."""

    def __init__(self, readable: list[Path]) -> None:
        self.readable = [str(p) for p in readable]
        self.active = False
        self.refused: list[str] = []
        sys.addaudithook(self._hook)

    @contextlib.contextmanager
    def watching(self) -> Iterator[io.StringIO]:
        """Guarded, with stdout and stderr caught."""
        printed = io.StringIO()
        with (
            contextlib.redirect_stdout(printed),
            contextlib.redirect_stderr(printed),
            warnings.catch_warnings(),
        ):
            # A warning is shown with its source line, read from disk (`linecache`): what a
            # library warns about reading the answer's code is nothing the check did.
            warnings.simplefilter("ignore")
            self.active = True
            try:
                yield printed
            finally:
                self.active = False

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        what = self._refusal(event, args)
        if what is not None:
            self.refused.append(what)
            raise PermissionError(f"redline: a drafted check may not {what}")

    def _refusal(self, event: str, args: tuple[Any, ...]) -> str | None:
        if event == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and mode is None and flags & _WRITE_FLAGS
            )
            if writes:
                return f"write files (it opened {path!r} to write)"
            return None if self._may_read(path) else f"read files (it opened {path!r})"
        if event.startswith(_LISTING):
            path = args[0] if args else "."
            return None if self._may_read(path) else f"read files (it listed {path!r})"
        if event.startswith(_NETWORK):
            return f"use the network ({event})"
        if event.startswith(_PROGRAMS + _PROGRAMS_TOO):
            return f"start programs ({event})"
        if event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            return f"signal processes ({event})"
        if event.startswith(_FILES):
            return f"change files ({event})"
        if event.startswith(_INTERPRETER):
            return f"reach into the interpreter ({event})"
        if event in ("builtins.input", "builtins.breakpoint"):
            return f"wait for input ({event})"
        return None

    def _may_read(self, path: object) -> bool:
        if isinstance(path, int):
            return True  # a descriptor already open (Python's own)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return False
        if path.startswith("<") and path.endswith(">"):
            return True  # no file: code compiled from a string ('<unknown>', '<string>')
        full = os.path.realpath(path)
        return any(
            full == root or full.startswith(root.rstrip("/") + "/") for root in self.readable
        )
