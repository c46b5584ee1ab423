"""The store recovers from what a full disk, a crash or another process leaves behind."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redline import config
from redline.transcripts import SpoolWriter, open_store
from redline.transcripts.store import db as db_module
from tests.support import Cli
from tests.test_store_ingest_reuse import anthropic_session


def spool(db: Path, n: int = 6) -> None:
    writer = SpoolWriter(config.spool_dir(db))
    writer.append(anthropic_session(n, "r"))
    writer.close()


def test_a_zero_byte_database_counts_as_absent(cli: Cli, db_path: Path) -> None:
    db_path.write_bytes(b"")
    spool(db_path)
    (conversation,) = cli.json("ls")["conversations"]
    assert conversation["calls"] == 6


def test_a_full_disk_while_creating_leaves_no_database_behind(
    cli: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(db_module.os, "replace", full)
        result = cli("ls", expect=2)
    assert "cannot create it: No space left on device" in result.stderr
    assert not db_path.exists()
    assert list(db_path.parent.glob(f".{db_path.name}*")) == []
    assert cli.json("ls") == {"conversations": []}  # space is back: it just works


def test_new_databases_are_small(db_path: Path) -> None:
    with open_store(db_path):
        pass
    assert db_path.stat().st_size < 300_000


def test_a_damaged_database_is_set_aside_loudly_and_a_new_one_made(cli: Cli, db_path: Path) -> None:
    spool(db_path)
    cli("ls")
    data = bytearray(db_path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # the header stays: it is a damaged DuckDB file
    db_path.write_bytes(bytes(data))
    result = cli("ls")
    assert "could not be opened; it was moved to" in result.stderr
    assert "redline store rebuild" in result.stderr
    (aside,) = db_path.parent.glob(f"{db_path.name}.broken-*")
    assert aside.read_bytes() == bytes(data)


def test_a_file_that_is_no_database_is_never_moved(cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database")
    result = cli("ls", "--db", str(notes), expect=2)
    assert "not a valid DuckDB database file" in result.stderr
    assert notes.read_text() == "my notes, not a database"


def test_rebuild_makes_a_new_database_from_the_spool(cli: Cli, db_path: Path) -> None:
    spool(db_path)
    writer = SpoolWriter(config.spool_dir(db_path))  # a live segment: kept after ingest
    writer.append(anthropic_session(3, "live"))
    try:
        cli("ls")
        out = cli("store", "rebuild").stdout
        assert "the old database is at" in out and "rebuilt from the spool: 3 exchanges" in out
        titles = [c["title"] for c in cli.json("ls")["conversations"]]
        assert titles == ["task live"]
    finally:
        writer.close()


def test_a_command_waits_for_another_process_that_holds_the_database(
    cli: Cli, db_path: Path
) -> None:
    cli("ls")  # create it
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db_path)!r}); print('held', flush=True); time.sleep(2.5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    result = cli("ls")
    holder.communicate(timeout=10)
    assert time.monotonic() - started > 1.0
    assert "waiting for the database" in result.stderr and f"PID {holder.pid}" in result.stderr


def test_two_commands_during_a_backlog_both_succeed(db_path: Path) -> None:
    writer = SpoolWriter(config.spool_dir(db_path))
    for tag in range(10):
        writer.append(anthropic_session(30, f"b{tag}"))
    writer.close()
    env = {**os.environ, "REDLINE_DB": str(db_path)}
    commands = [
        subprocess.Popen(
            [sys.executable, "-m", "redline", "ls", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in commands:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert '"calls": 30' in out


def _with_file_size_limit(limit: int) -> None:
    # Writes past `limit` bytes of any file fail (EFBIG), as they would on a full disk; Python
    # ignores the SIGXFSZ that would otherwise end the process.
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _redline(db: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redline", *args],
        env={**os.environ, "REDLINE_DB": str(db)},
        preexec_fn=(lambda: _with_file_size_limit(limit)) if limit else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_disk_that_refuses_the_write_is_one_line_and_loses_nothing(
    cli: Cli, db_path: Path
) -> None:
    spool(db_path, 3)
    cli("ls")
    spool(db_path, 60)
    refused = _redline(db_path, "ls", limit=8192)
    assert refused.returncode == 2, refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: the database could not be written: ")
    assert "free some disk space" in line and "Traceback" not in refused.stderr
    # Space is back: everything the spool held is stored, once.
    assert sum(c["calls"] for c in cli.json("ls")["conversations"]) == 63


def test_background_ingest_on_a_disk_that_refuses_the_write_says_so_in_one_line(
    cli: Cli, db_path: Path
) -> None:
    spool(db_path, 3)
    cli("ls")
    spool(db_path, 60)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from redline.transcripts import BackgroundIngest\n"
        "try:\n"
        "    BackgroundIngest(Path(sys.argv[1])).round()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(db_path)],
        preexec_fn=lambda: _with_file_size_limit(8192),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.startswith("StoreWriteFailed the database could not be written"), (
        result.stdout + result.stderr
    )
