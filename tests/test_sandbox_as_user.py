"""The sandbox as most people start it: from a user's account, bubblewrap unprivileged in a user
namespace of its own. Run as a user, tests/test_sandbox.py covers this already; run as root (CI,
these machines), this test starts the sandbox module as an unprivileged user (the system's
Python, the module's own files: it imports nothing of redline but its errors) and tries the
promises whose mechanism differs: the process limit, the network, writing outside, nested user
namespaces."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import redline.analyzers
import redline.errors

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
SOURCES = Path(redline.analyzers.__file__).parent

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="run as a user, test_sandbox.py covers this"),
    pytest.mark.skipif(
        not (os.path.exists(SYSTEM_PYTHON) and shutil.which("setpriv") and shutil.which("bwrap")),
        reason="needs the system's python3, setpriv and bwrap",
    ),
]

PROBES = """
import json, os, shlex, sys, tempfile
from redline.analyzers import sandbox
from redline.errors import SandboxUnavailable

port = int(sys.argv[1])
try:
    sandbox.require()
except SandboxUnavailable as error:
    print(json.dumps({"unavailable": str(error)}))
    sys.exit(0)
copy = tempfile.mkdtemp()
bomb = "import os\\nwhile True:\\n    try: os.fork()\\n    except OSError: pass"
connect = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)"
runs = {
    "bomb": sandbox.run("python3 -c " + shlex.quote(bomb), copy,
                        sandbox.Limits(seconds=20, processes=32)),
    "network": sandbox.run("python3 -c " + shlex.quote(connect), copy),
    "write": sandbox.run("echo x > /etc/escaped; echo x > mine.txt; echo status=$?", copy),
    "userns": sandbox.run("unshare -U true; echo status=$?", copy),
    "id": sandbox.run("id -u", copy),
}
print(json.dumps({k: [r.killed, r.exit_status, r.output[-300:], r.seconds] for k, r in runs.items()}))
"""


@pytest.fixture
def user_tree() -> Iterator[Path]:
    """The sandbox module and what it imports, readable by an unprivileged user."""
    root = Path(tempfile.mkdtemp(prefix="redline-as-user-"))
    root.chmod(0o755)
    package = root / "redline"
    (package / "analyzers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "analyzers/__init__.py").write_text("")
    shutil.copy(redline.errors.__file__, package / "errors.py")
    for name in ("sandbox.py", "_sandbox_bwrap.py", "_sandbox_watch.py"):
        shutil.copy(SOURCES / name, package / "analyzers" / name)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root
    shutil.rmtree(root)


def test_as_a_user_the_limits_and_walls_hold(user_tree: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        done = subprocess.run(
            [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                SYSTEM_PYTHON,
                "-I",
                "-c",
                f"import sys; sys.path.insert(0, {str(user_tree)!r}); exec({PROBES!r})",
                str(listener.getsockname()[1]),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": "/tmp"},
            cwd="/",
        )
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    if "unavailable" in found:
        pytest.skip(f"user namespaces are not allowed here: {found['unavailable']}")
    assert found["bomb"][0] == "processes" and found["bomb"][3] < 15
    assert "ConnectionRefusedError" in found["network"][2]
    assert "status=0" in found["write"][2] and "Read-only" in found["write"][2]
    assert not Path("/etc/escaped").exists()
    assert "status=1" in found["userns"][2]
    assert found["id"][2].strip() == str(NOBODY)
