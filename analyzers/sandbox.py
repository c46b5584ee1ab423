"""Running a command on a private copy of a workspace, contained: for code a model wrote.

    run(command, folder, limits) -> Result        `sh -c COMMAND` in the sandbox, in `folder`
    run_unsandboxed(command, folder, limits)      the same without it, asked for by name
    require()                                     SandboxUnavailable when it cannot start here
    Limits(seconds, memory, processes, ...)       what a run may use; past a limit it is killed
    Result(exit_status, output, seconds, killed, sandboxed)
    python_argv(*args), python_mounts(*packages)  this Python, isolated, to run redline's own
                                                  code inside (drafted checks)

The sandbox is bubblewrap. Inside it the command sees: no network (a loopback of its own);
the host's system folders (`/usr`, `/etc`, `/opt`, the `/bin` and `/lib` links) read-only and
nothing else of the host (no home, no `/work`, no redline data or configuration, no other
process); `folder` read-write at `workdir` (its current directory); a fresh, small `/tmp`; a
clean environment (PATH, HOME=/tmp, LANG, and what the caller gives). Every process ends when
the run ends. The limits (time, memory of all its processes together, process count, bytes of
output, size of a file) are enforced by the kernel where it can (rlimits set inside the
sandbox's own process count) and by a watch over its processes for the totals.

`folder` must be a private copy: as root, the command runs as a fresh unprivileged uid (uid 0
is exempt from the process limit and owns root's files), so the folder is handed to that uid for
the run and handed back after. docs/workspaces.md lists each promise with the test that holds
it, and what the sandbox does not protect against. This module imports nothing of redline but
its errors, so anything may use it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from redline.analyzers import _sandbox_bwrap as bwrap
from redline.analyzers._sandbox_watch import Kill, usage, watch
from redline.errors import RedlineError, SandboxUnavailable

__all__ = [
    "PATH",
    "Kill",
    "Limits",
    "Result",
    "SandboxUnavailable",
    "python_argv",
    "python_mounts",
    "require",
    "run",
    "run_unsandboxed",
    "workdir",
]

MiB = 1 << 20
PATH = bwrap.PATH  # the command's PATH in the sandbox, unless the caller gives another


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run may use; past a limit the run is killed. `memory` is for all its processes
    together (one process cannot even map half as much again: its allocation fails),
    `processes` for those alive at once (the kernel refuses forks an eighth further); `output` is the bytes of output after which it is killed, `output_kept` how many
    of them the result keeps (half from the start, half from the end); `file_size` caps each
    file it writes; `tmp_size` is the size of its `/tmp` (and of `/dev/shm`)."""

    seconds: float = 60.0
    memory: int = 2048 * MiB
    processes: int = 256
    output: int = 32 * MiB
    output_kept: int = 64 * 1024
    file_size: int = 256 * MiB
    tmp_size: int = 512 * MiB
    open_files: int = 4096

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if not getattr(self, name) > 0:
                raise RedlineError(f"the sandbox's {name} limit must be positive")
        if self.processes < 4:
            raise RedlineError("the sandbox's processes limit must be at least 4")


_KILLED: dict[Kill, str] = {
    "time": "ran past the time limit of {l.seconds:g} s",
    "memory": "used more than {mib_memory} MiB of memory",
    "processes": "went past the limit of {l.processes} processes",
    "output": "wrote more than {mib_output} MiB of output",
}


@dataclass(frozen=True, slots=True)
class Result:
    """How a run ended. `exit_status` is the command's (128+N when signal N ended it; None
    when redline killed it, and `killed` says for which limit). `output` is stdout and stderr
    as they came, cut in the middle past `Limits.output_kept` bytes (a marker says how much);
    `output_bytes` counts all of it. `sandboxed` is False only for `run_unsandboxed`."""

    exit_status: int | None
    output: str
    seconds: float
    killed: Kill | None
    sandboxed: bool
    output_bytes: int
    limits: Limits

    @property
    def ok(self) -> bool:
        return self.killed is None and self.exit_status == 0

    @property
    def summary(self) -> str:
        """One line: `exit 0`, `exit 127: command not found`, `killed: ran past the time limit
        of 60 s`..."""
        if self.killed is not None:
            text = "killed: " + _KILLED[self.killed].format(
                l=self.limits,
                mib_memory=self.limits.memory // MiB,
                mib_output=self.limits.output // MiB,
            )
        else:
            status = self.exit_status
            text = f"exit {status}"
            if status == 127:
                text += ": command not found"
            elif status == 126:
                text += ": command not executable"
            elif status is not None and 128 < status < 128 + 65:
                text += f": ended by {_signal_name(status - 128)}"
                if status - 128 == signal.SIGXFSZ:
                    text += (
                        f" (a file reached the size limit of {self.limits.file_size // MiB} MiB)"
                    )
        return text if self.sandboxed else text + " (not sandboxed)"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# --- the sandbox ---------------------------------------------------------------------------


def run(
    command: str,
    folder: str | os.PathLike[str],
    limits: Limits = Limits(),  # frozen: one shared default is safe
    *,
    workdir: str = "/workspace",
    env: Mapping[str, str] | None = None,
    read_only: Sequence[str | os.PathLike[str]] = (),
) -> Result:
    """Run `sh -c command` in the sandbox with `folder` (a private copy) read-write at `workdir`,
    its current directory. `read_only` folders (a prepared virtualenv) appear at their own
    paths. Raises SandboxUnavailable when the sandbox cannot start here."""
    require()
    mounts = tuple(_existing(p, "mount read-only") for p in read_only)
    return _sandboxed(
        ["/bin/sh", "-c", command], _existing(folder, "run in"), limits, workdir, env, mounts
    )


def require() -> None:
    """Raise SandboxUnavailable, saying what to install or allow, when the sandbox cannot start
    here. The first call tries it (a run of `true`); later calls cost nothing."""
    bwrap.locate()
    if bwrap.as_root():
        bwrap.setpriv()
    _probe()


@functools.cache
def _probe() -> bool:
    try:
        result = _sandboxed(["true"], None, Limits(seconds=30), "/workspace", None, ())
    except SandboxUnavailable as error:
        reason = error.reason
        if "namespace" in reason:
            reason += (
                " (the kernel refuses user namespaces: allow them with "
                "sysctl kernel.unprivileged_userns_clone=1, and on Ubuntu 24.04 with "
                "kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap)"
            )
        raise SandboxUnavailable(reason) from None
    if not result.ok:
        raise SandboxUnavailable(f"`true` in the sandbox ended with {result.summary}")
    return True


# Where a copy cannot appear: what the sandbox shows of the host or makes itself, and the
# host's other system folders.
_NOT_THERE = (
    *("/usr", "/etc", "/opt", "/nix", "/proc", "/dev", "/sys", "/tmp", "/run", "/var", "/boot"),
    *("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"),
)


def workdir(cwd: str | None) -> str:
    """Where a copy appears in the sandbox (`run`'s `workdir`) for a transcript that recorded
    `cwd` as its working directory: there, so the absolute paths it wrote hold, when that is
    an absolute folder outside the system's; else `/workspace`."""
    if not cwd or not cwd.startswith("/") or "\0" in cwd or ".." in cwd.split("/"):
        return "/workspace"
    normal = os.path.normpath(cwd)
    if normal in ("/", "//") or any(normal == s or normal.startswith(s + "/") for s in _NOT_THERE):
        return "/workspace"
    return normal


def _existing(path: str | os.PathLike[str], what: str) -> Path:
    folder = Path(path).absolute()
    if not folder.is_dir():
        raise RedlineError(f"no folder to {what} at {folder}")
    return folder


def _sandboxed(
    command: Sequence[str],
    folder: Path | None,
    limits: Limits,
    workdir: str,
    env: Mapping[str, str] | None,
    read_only: Sequence[Path],
) -> Result:
    uid = _fresh_uid() if bwrap.as_root() else None
    status_r, status_w = os.pipe()
    block_r, block_w = os.pipe()
    passed = [status_w, block_r]
    seccomp = bwrap.no_user_namespaces() if uid is not None else None
    if seccomp is not None:  # as root, no user namespace of its own: refuse it making one
        seccomp_r, seccomp_w = os.pipe()
        os.write(seccomp_w, seccomp)
        os.close(seccomp_w)
        passed.append(seccomp_r)
    try:
        args = bwrap.argv(
            bwrap.locate(),
            command,
            folder=folder,
            workdir=workdir,
            read_only=read_only,
            env=env or {},
            tmp_size=limits.tmp_size,
            status_fd=status_w,
            block_fd=block_r,
            uid=uid,
            seccomp_fd=passed[2] if seccomp is not None else None,
        )
    except ValueError as error:
        for fd in (status_r, block_w, *passed):
            os.close(fd)
        raise RedlineError(f"cannot run in the sandbox: {error}") from None
    with contextlib.ExitStack() as cleanup:
        if uid is not None and folder is not None:
            owner = folder.stat()
            _chown_tree(folder, uid, uid)
            cleanup.callback(_chown_tree, folder, owner.st_uid, owner.st_gid)
        status = cleanup.enter_context(os.fdopen(status_r, "rb"))
        blocker = cleanup.enter_context(os.fdopen(block_w, "wb", buffering=0))
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=passed,
                env=bwrap.host_env(),
            )
        finally:
            for fd in passed:
                os.close(fd)
        cleanup.enter_context(proc)
        # Whatever goes wrong from here (limits that cannot be set...), the sandbox ends before
        # the block is lifted: it never runs the command without its limits.
        cleanup.callback(_end, proc)
        child = _child_pid(status.readline())
        if child is None:  # bwrap stopped before it made the sandbox
            assert proc.stdout is not None
            said = proc.stdout.read(1 << 16)
            proc.wait()
            raise SandboxUnavailable(_reason(said, proc.returncode))
        pidfd: int | None = None
        try:
            pidfd = opened = os.pidfd_open(child)
            cleanup.callback(os.close, opened)
            # Killed through its pidfd whatever happens: as root, bwrap's pid 1 outlives a
            # killed bwrap (it waits for a child that never comes), --die-with-parent or not.
            cleanup.callback(_kill, opened, proc)
            _set_limits(child, limits)
            blocker.write(b"x")  # go: the limits hold from the command's first instruction
        except (ProcessLookupError, BrokenPipeError):  # it died setting up: said below
            pass
        blocker.close()
        watched = watch(
            proc,
            seconds=limits.seconds,
            memory=limits.memory,
            processes=limits.processes,
            output=limits.output,
            keep=limits.output_kept,
            # As a user, every process in the sandbox counts (the kernel counts them all, its
            # first one included); as root, the processes of the command's uid.
            sample=lambda: usage(child, uid),
            kill=lambda: _kill(pidfd, proc),
        )
        seconds = time.monotonic() - start
        reported = _exit_code(status.read())
    if watched.killed is None and reported is None:  # it never reached the command
        raise SandboxUnavailable(_reason(watched.output, watched.returncode))
    return Result(
        exit_status=None if watched.killed else watched.returncode,
        output=watched.output.decode("utf-8", "replace"),
        seconds=seconds,
        killed=watched.killed,
        sandboxed=True,
        output_bytes=watched.output_bytes,
        limits=limits,
    )


def _fresh_uid() -> int:
    """A uid no account has and no other run shares: its processes and files are its own."""
    return random.SystemRandom().randrange(1_000_000_000, 2_000_000_000)


def _chown_tree(folder: Path, uid: int, gid: int) -> None:
    os.chown(folder, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _set_limits(pid: int, limits: Limits) -> None:
    """Set on the sandbox's first process, before it starts the command, so every process of
    the run inherits them. RLIMIT_NPROC counts the processes of the sandbox's own user
    namespace (as a user), or of its fresh uid (as root); RLIMIT_DATA bounds each process's
    private memory."""
    processes, memory = kernel_caps(limits)
    _, hard_files = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    files = limits.open_files if hard_files < 0 else min(limits.open_files, hard_files)
    for kind, value in (
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_DATA, memory),
        (resource.RLIMIT_FSIZE, limits.file_size),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, files),
    ):
        resource.prlimit(pid, kind, (value, value))
    os.setpriority(os.PRIO_PROCESS, pid, 10)  # the host's own work goes first


def kernel_caps(limits: Limits) -> tuple[int, int]:
    """The kernel's bounds (processes, bytes of one process's private memory) for limits the
    watch keeps: above them, so that the watch sees a run go past a limit and kills it saying
    why (a refused fork or allocation tells us nothing), and near them, so that a run the watch
    is slow to see cannot go much further. Memory gets more room: it grows fast."""
    return limits.processes + max(limits.processes // 8, 8), limits.memory + limits.memory // 2


def _kill(pidfd: int | None, proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the sandbox's pid 1 ends every process of its pid namespace at once."""
    if pidfd is not None:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    _end(proc)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """bwrap killed, if it still runs (its pid 1 is killed through its pidfd, by `_kill`)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def _child_pid(line: bytes) -> int | None:
    try:
        pid = json.loads(line).get("child-pid")
    except ValueError:
        return None
    return pid if isinstance(pid, int) else None


def _exit_code(text: bytes) -> int | None:
    for line in text.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            code = json.loads(line).get("exit-code")
            if isinstance(code, int):
                return code
    return None


def _reason(said: bytes, status: int | None) -> str:
    lines = [line.strip() for line in said.decode("utf-8", "replace").splitlines() if line.strip()]
    reason = lines[-1] if lines else f"bwrap exited with status {status} and said nothing"
    return reason[:500]


# --- unsandboxed -----------------------------------------------------------------------------


def run_unsandboxed(
    command: str,
    folder: str | os.PathLike[str],
    limits: Limits = Limits(),  # frozen: one shared default is safe
    *,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run `sh -c command` in `folder` on the host itself: for when the user asked for it by
    name (`--no-sandbox`). The command can read, write and reach whatever the user can. The
    time, memory, process and output limits are kept by the same watch (it kills the command's
    process group); the result says `sandboxed=False`."""
    cwd = _existing(folder, "run in")
    environment = {
        "PATH": os.environ.get("PATH", bwrap.PATH),
        "HOME": os.environ.get("HOME", "/"),
        "TMPDIR": tempfile.gettempdir(),
        "LANG": "C.UTF-8",
        **(env or {}),
    }
    start = time.monotonic()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        process_group=0,
    )

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    with proc:
        watched = watch(
            proc,
            seconds=limits.seconds,
            memory=limits.memory,
            processes=limits.processes,
            output=limits.output,
            keep=limits.output_kept,
            sample=lambda: usage(proc.pid, None),
            kill=kill,
        )
    return Result(
        exit_status=None if watched.killed else watched.returncode,
        output=watched.output.decode("utf-8", "replace"),
        seconds=time.monotonic() - start,
        killed=watched.killed,
        sandboxed=False,
        output_bytes=watched.output_bytes,
        limits=limits,
    )


# --- redline's own code inside ---------------------------------------------------------------


def python_argv(*args: str) -> list[str]:
    """This interpreter, isolated (`-I`: no PYTHON* variables, no user site, not the current
    folder on the path), then `args` (`-m`, `module`...). Join with `shlex.join` for `run`."""
    return [sys.executable, "-I", *args]


def python_mounts(*packages: str) -> tuple[Path, ...]:
    """The folders `python_argv` needs read-only in the sandbox to import `packages` (and every
    module of this environment): the interpreter's installation, the environment, and where
    each package lives (an editable install keeps it outside the environment). Folders the
    sandbox shows anyway (under /usr) are left out."""
    found = {
        Path(p).absolute()
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise RedlineError(f"no Python package {name!r} to mount in the sandbox")
        if spec.submodule_search_locations:
            found.update(Path(p).absolute() for p in spec.submodule_search_locations)
        elif spec.origin:
            found.add(Path(spec.origin).absolute().parent)
    kept: list[Path] = []
    for path in sorted(found, key=lambda p: len(p.parts)):
        if path.is_relative_to("/usr") or any(path.is_relative_to(k) for k in kept):
            continue
        kept.append(path)
    return tuple(kept)
