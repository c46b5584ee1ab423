"""A real PostgreSQL for the lake's tests: Debian's (or any) initdb and pg_ctl, a cluster in a
temporary folder, listening on a free loopback port only.

As root the cluster belongs to the `postgres` user (PostgreSQL refuses to run as root), run
through `runuser`. The user `postgres` connects without a password (the tests' administrator);
every other role must give its password (scram-sha-256), so the tests of credentials test
something. Tests that need PostgreSQL are skipped, saying why, only when no binaries exist
(`.ci/run` installs them).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


def binaries() -> Path | None:
    """The folder of initdb, pg_ctl and psql: Debian's newest, else where PATH finds pg_ctl
    (resolved: a link in /usr/local/bin points into the real folder)."""
    found = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    folders = [Path(p).parent for p in found]
    on_path = shutil.which("pg_ctl")
    if on_path:
        folders.append(Path(on_path).resolve().parent)
    complete = [f for f in folders if all((f / n).exists() for n in ("initdb", "pg_ctl", "psql"))]
    return max(complete, key=lambda f: f.parent.name.isdigit() and int(f.parent.name), default=None)


def require() -> Path:
    """The binaries, or skip the test with the reason."""
    folder = binaries()
    if folder is None:
        pytest.skip("no PostgreSQL binaries (pg_ctl, initdb): apt-get install postgresql")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    """A cluster: `start`, `stop`, `create_database`; URLs for redline's `--db`."""

    bin: Path
    root: Path
    port: int
    _template: str = ""

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if os.geteuid() == 0:  # as the postgres user: PostgreSQL refuses root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        done = self._run(
            self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8"
        )
        assert done.returncode == 0, done.stderr
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._run(
            self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "log", "-w",
            "start",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + self.log()

    def stop(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "log").read_text()
        return ""

    def sql(self, statement: str, database: str = "postgres") -> str:
        done = self._run(
            self.bin / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", statement,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def create_database(self, name: str, owner: str = "postgres") -> None:
        self.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')

    def create_lake(self, name: str, data: Path) -> None:
        """A database holding a new, migrated lake whose files go to `data`: a copy of one made
        once per session (making DuckLake's catalog and migrating takes seconds; copying a
        database, a tenth of one). The copy's data path is set to its own folder."""
        if not self._template:
            self._template = "redline_template"
            self.create_database(self._template)
            from redline import config
            from redline.transcripts.store import lake, open_store

            made = config.Lake(self.url(self._template), str(self.root / "template-data"))
            with open_store(made, ingest=False):
                pass
            lake.close_all()
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self.sql(f"UPDATE ducklake_metadata SET value = '{data}/' WHERE key = 'data_path'", name)

    def create_role(self, name: str, password: str) -> None:
        self.sql(
            f"SET password_encryption = 'scram-sha-256'; "
            f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'"
        )

    def url(self, database: str, user: str = "postgres") -> str:
        return f"ducklake:postgres:dbname={database} host=127.0.0.1 port={self.port} user={user}"

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def make_server() -> Postgres:
    """A new cluster, started (the caller destroys it)."""
    folder = require()
    # Not under pytest's folders: those are private to this user, and PostgreSQL may run as
    # another one.
    root = Path(tempfile.mkdtemp(prefix="redline-pg-"))
    server = Postgres(folder, root, free_port())
    try:
        server.init()
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def wait_until(condition: Callable[[], object], timeout: float = 60.0, every: float = 0.2) -> bool:
    """Poll `condition()` until it is true (returns True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


@dataclass(frozen=True)
class LakeSetup:
    """A lake of its own for one test: its URL, its data folder, its server."""

    url: str
    data: Path
    server: Postgres
    database: str

    def env(self, home: Path, **more: str) -> dict[str, str]:
        """The environment of one machine of the team: its own data and config folders
        (so its own spool), the lake as its store."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "REDLINE_"))}
        env.update(
            XDG_DATA_HOME=str(home / "data"),
            XDG_CONFIG_HOME=str(home / "config"),
            HOME=str(home),
            REDLINE_DB=self.url,
            REDLINE_LAKE_DATA=str(self.data),
            **more,
        )
        return env
