"""The store on a lake (DuckLake, its catalog in a real PostgreSQL): the same commands, many
writers, each row once, credentials from the usual places and never from the command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from redline import config
from redline.transcripts import SpoolWriter, open_store, push_store
from redline.transcripts.store import lake as lakes
from redline.transcripts.store import push as pushing
from redline.transcripts.store.db import write
from redline.transcripts.store.migrations import MIGRATIONS
from tests.postgres import LakeSetup
from tests.support import Cli
from tests.test_store_call_order import conversation, spool

REDLINE = [sys.executable, "-m", "redline"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REDLINE, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def lake_rows(setup: LakeSetup, sql: str) -> list[tuple[object, ...]]:
    with open_store(config.Lake(setup.url, str(setup.data)), ingest=False) as store:
        return store.con.execute(sql).fetchall()


def test_tasks_imported_into_a_lake_are_listed_by_another_process(
    lake: LakeSetup, cli: Cli, tmp_path: Path
) -> None:
    cli("import", "--examples")
    other = run(lake.env(tmp_path / "other-machine"), "tasks", "--json")
    assert other.returncode == 0, other.stderr
    assert '"codex-swallows-config-errors"' in other.stdout
    assert len(cli.json("tasks")["tasks"]) == 3


def test_a_lake_without_a_data_path_is_one_clear_line(
    lake: LakeSetup, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDLINE_LAKE_DATA")
    result = cli("ls", expect=2)
    assert "REDLINE_LAKE_DATA" in result.output and "data_path" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_object_storage_as_the_data_path_is_refused_before_anything_is_fetched(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_LAKE_DATA", "s3://team-bucket/redline/")
    result = cli("ls", "--db", "ducklake:postgres:dbname=team host=127.0.0.1 port=1", expect=2)
    assert "s3://team-bucket/redline/ is object storage" in result.output
    assert "network share" in result.output


def test_the_data_path_may_come_from_redline_toml(
    lake: LakeSetup, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REDLINE_LAKE_DATA")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "redline.toml").write_text(f'[lake]\ndata_path = "{lake.data}"\n')
    cli("import", "--examples")
    assert len(cli.json("tasks")["tasks"]) == 3


def test_a_lake_url_with_a_password_is_refused_and_the_password_never_shown(
    lake: LakeSetup, cli: Cli
) -> None:
    result = cli("ls", "--db", lake.url + " password=hunter2", expect=2)
    assert "hunter2" not in result.output
    assert "PGPASSWORD" in result.output and "~/.pgpass" in result.output
    assert "docs/team.md" in result.output


@pytest.mark.parametrize(
    "url",
    [
        "ducklake:postgres:dbname=team host=db password=hunter2",
        "ducklake:postgres:password = hunter2 dbname=team",
        "ducklake:postgres:postgresql://me:hunter2@db/team",
        "ducklake:postgres:postgresql://db/team?user=me&password=hunter2",
    ],
)
def test_a_lake_url_holding_a_password_is_refused_before_any_message_repeats_it(
    cli: Cli, url: str
) -> None:
    result = cli("ls", "--db", url, expect=2)  # no data path set either: that is said later
    assert "hunter2" not in result.output
    assert "PGPASSWORD" in result.output and len(result.output.strip().splitlines()) == 1


def test_store_rebuild_is_for_a_file_and_says_so_for_a_lake(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDLINE_LAKE_DATA", str(tmp_path / "data"))
    result = cli("store", "rebuild", "--db", "ducklake:postgres:dbname=team", expect=2)
    assert "give a file with --db" in result.output
    assert not (tmp_path / "data").exists()


@pytest.fixture
def alice(lake: LakeSetup) -> LakeSetup:
    """The lake's database reached as a role that must give its password."""
    user, database = f"alice_{lake.database}", f"{lake.database}_alice"
    lake.server.create_role(user, "s3cret-pass")
    lake.server.create_database(database, owner=user)
    return LakeSetup(lake.server.url(database, user=user), lake.data, lake.server, database)


def test_the_password_comes_from_pgpassword(alice: LakeSetup, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(alice.env(home), "ls").returncode == 2  # no password: refused by PostgreSQL
    done = run(alice.env(home, PGPASSWORD="s3cret-pass"), "import", "--examples")
    assert done.returncode == 0, done.stderr


def test_the_password_comes_from_pgpass(alice: LakeSetup, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pgpass = home / ".pgpass"
    pgpass.write_text(f"127.0.0.1:{alice.server.port}:{alice.database}:*:s3cret-pass\n")
    pgpass.chmod(0o600)
    done = run(alice.env(home), "import", "--examples")
    assert done.returncode == 0, done.stderr


def test_the_password_comes_from_a_password_file_and_is_never_printed(
    alice: LakeSetup, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "config" / "redline").mkdir(parents=True)
    secret = home / "pg-password"
    secret.write_text("s3cret-pass\n")
    (home / "config" / "redline" / "redline.toml").write_text(
        f'[lake]\npassword_file = "{secret}"\n'
    )
    done = run(alice.env(home), "import", "--examples")
    assert done.returncode == 0, done.stderr
    secret.write_text("wrong-password\n")
    refused = run(alice.env(home), "tasks")
    assert refused.returncode == 2 and "password authentication failed" in refused.stderr
    assert "wrong-password" not in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr


def test_first_starts_that_race_migrate_the_lake_once(lake: LakeSetup, tmp_path: Path) -> None:
    fresh = f"{lake.database}_fresh"  # not made from the tests' template: nothing in it yet
    lake.server.create_database(fresh)
    lake = LakeSetup(lake.server.url(fresh), tmp_path / "fresh-data", lake.server, fresh)
    starts = [
        subprocess.Popen(
            [*REDLINE, "tasks", "--json"],
            env=lake.env(tmp_path / f"machine{i}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for start in starts:
        _, err = start.communicate(timeout=120)
        assert start.returncode == 0, err
    versions = lake_rows(lake, "SELECT version, count(*) FROM schema_migrations GROUP BY 1")
    assert sorted(versions) == [(v, 1) for v in range(1, len(MIGRATIONS) + 1)]


def test_two_processes_ingesting_one_spool_at_once_store_each_call_once(
    lake: LakeSetup, tmp_path: Path
) -> None:
    home = tmp_path / "machine"
    env = lake.env(home)
    spool = config.spool_dir(config.location(lake.url)).relative_to(tmp_path / "xdg-data")
    writer = SpoolWriter(home / "data" / spool)
    calls = [
        *conversation("a", 30, timedelta(0), timedelta(seconds=1)),
        *conversation("b", 30, timedelta(milliseconds=500), timedelta(seconds=1)),
    ]
    writer.append(calls)
    writer.close()
    both = [
        subprocess.Popen([*REDLINE, "ls", "--json"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for p in both:
        p.communicate(timeout=120)
        assert p.returncode == 0
    stored = lake_rows(lake, "SELECT count(*), count(DISTINCT id) FROM exchanges")
    assert stored == [(60, 60)]
    assert lake_rows(lake, "SELECT count(*) FROM conversations") == [(2,)]


def test_two_machines_ingesting_copies_of_one_spool_at_once_store_each_call_once(
    lake: LakeSetup, tmp_path: Path
) -> None:
    spool = config.spool_dir(config.location(lake.url)).relative_to(tmp_path / "xdg-data")
    first, second = tmp_path / "first", tmp_path / "second"
    writer = SpoolWriter(first / "data" / spool)
    writer.append(
        [
            *conversation("a", 30, timedelta(0), timedelta(seconds=1)),
            *conversation("b", 30, timedelta(milliseconds=500), timedelta(seconds=1)),
        ]
    )
    writer.close()
    # The second machine holds a copy (no lock of the first's spool folder reaches it).
    shutil.copytree(first / "data" / spool, second / "data" / spool)
    both = [
        subprocess.Popen([*REDLINE, "ls", "--json"], env=lake.env(home), stdout=subprocess.PIPE)
        for home in (first, second)
    ]
    for p in both:
        p.communicate(timeout=120)
        assert p.returncode == 0
    stored = lake_rows(lake, "SELECT count(*), count(DISTINCT id) FROM exchanges")
    assert stored == [(60, 60)]
    assert lake_rows(lake, "SELECT count(*) FROM conversations") == [(2,)]


def race(lake: LakeSetup, *, barrier: bool) -> dict[str, int]:
    """Two connections each add the row 'k' to scan_checks if it is absent, in a write; with
    `barrier`, both look (and find nothing) before either commits. Returns each one's tries."""
    where = config.location(lake.url)
    assert isinstance(where, config.Lake)
    with open_store(where, ingest=False):
        pass  # migrated
    first, second = lakes.connect(where), lakes.connect(where)
    both = threading.Barrier(2)
    tries = {"first": 0, "second": 0}

    def add_once(con: duckdb.DuckDBPyConnection, who: str) -> None:
        def work() -> None:
            tries[who] += 1
            found = con.execute("SELECT count(*) FROM scan_checks WHERE key = 'k'").fetchone()
            if barrier and tries[who] == 1:
                both.wait(10)
            if found == (0,):
                con.execute("INSERT INTO scan_checks VALUES ('k', ?, '{}', '1', now())", [who])
            time.sleep(0.5)

        write(con, work)

    threads = [
        threading.Thread(target=add_once, args=(first, "first")),
        threading.Thread(target=add_once, args=(second, "second")),
    ]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join(60)
    lakes.close(first)
    lakes.close(second)
    assert lake_rows(lake, "SELECT count(*) FROM scan_checks WHERE key = 'k'") == [(1,)]
    return tries


def test_writes_that_race_conflict_and_the_loser_runs_again_on_what_the_winner_wrote(
    lake: LakeSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fence alone (the lock that usually keeps writers from racing at all is left out).
    monkeypatch.setattr("redline.transcripts.store.db.exclusive", lambda con: nullcontext())
    assert sorted(race(lake, barrier=True).values()) == [1, 2]


def test_a_writer_waits_for_another_writers_commit_instead_of_racing_it(lake: LakeSetup) -> None:
    assert race(lake, barrier=False) == {"first": 1, "second": 1}


def test_maintenance_folds_the_small_files_of_many_small_ingests_into_few(
    lake: LakeSetup, tmp_path: Path
) -> None:
    where = config.location(lake.url)
    assert isinstance(where, config.Lake)
    calls = conversation("m", 60, timedelta(0), timedelta(seconds=1))
    for at in range(0, 60, 12):  # five rounds of a background ingest, each its own files
        writer = SpoolWriter(config.spool_dir(where))
        writer.append(calls[at : at + 12])
        writer.close()
        with open_store(where):
            pass

    def files() -> int:
        rows = lake_rows(
            lake, f"SELECT count(*) FROM ducklake_list_files('{lakes.CATALOG}', 'nodes')"
        )
        return int(rows[0][0])  # type: ignore[arg-type]

    before = files()
    with open_store(where, ingest=False) as store:
        assert lakes.maintain(store.con)
    assert before >= 5 and files() == 1
    assert lake_rows(lake, "SELECT count(*), count(DISTINCT id) FROM exchanges") == [(60, 60)]


def test_a_push_interrupted_midway_is_finished_by_the_next_and_copies_each_row_once(
    lake: LakeSetup, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    personal = tmp_path / "personal.duckdb"
    calls = [c for tag in "abcd" for c in conversation(tag, 5, timedelta(0), timedelta(seconds=1))]
    spool(personal, calls)
    cli("import", "--examples", "--db", str(personal))
    monkeypatch.setattr(pushing, "CONVERSATIONS_PER_WRITE", 1)
    real_write = pushing.write

    def interrupted_once_calls_are_in(con: duckdb.DuckDBPyConnection, work: Any) -> Any:
        found = con.execute("SELECT count(*) FROM exchanges").fetchone()
        if found and found[0] > 0:
            raise KeyboardInterrupt  # Ctrl-C between two writes of the push
        return real_write(con, work)

    monkeypatch.setattr(pushing, "write", interrupted_once_calls_are_in)
    with pytest.raises(KeyboardInterrupt):
        push_store(personal, lake.url)
    assert lake_rows(lake, "SELECT count(*) FROM exchanges") == [(5,)]  # one conversation's
    assert lake_rows(lake, "SELECT count(*) FROM tasks") == [(0,)]

    monkeypatch.setattr(pushing, "write", real_write)
    rest = push_store(personal, lake.url)
    assert (rest.calls, rest.conversations, rest.tasks) == (15, 3, 3)
    assert lake_rows(lake, "SELECT count(*), count(DISTINCT id) FROM exchanges") == [(20, 20)]
    with open_store(personal, ingest=False) as store:
        (nodes,) = store.con.execute("SELECT count(*) FROM nodes").fetchall()
    assert lake_rows(lake, "SELECT count(*), count(DISTINCT id) FROM nodes") == [nodes * 2]
