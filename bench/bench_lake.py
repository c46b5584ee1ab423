"""A team's store on DuckLake (docs/team.md), on a real PostgreSQL started here: how fast calls go
into a lake from one machine and from four at once, and how `ls` and `report` answer on a lake
of 100,000 calls beside the same store as a file.

Each "machine" is a process with its own data folder (its own spool) ingesting agent-shaped
calls into one lake (`redline ls` reads its spool first, as after a day of recording with the
proxy's ingest stopped). The 100,000-call store is bench_cli's cached one (bench/.cache/), with a
replay run copied from `redline demo`'s; it is pushed into the lake once per run (`store push`,
timed). Latencies are medians of cold `redline` processes.

    python bench/bench_lake.py
    BENCH_LAKE_CALLS=400 python bench/bench_lake.py    # calls per machine (default 2,000)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from sessions import conversation

from redline import config
from redline.transcripts import SpoolWriter
from tests.postgres import make_server

CALLS = int(os.environ.get("BENCH_LAKE_CALLS", "2000"))
RUNS = 5


def redline(env: dict[str, str], *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "redline", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - t0


def machine_env(home: Path, url: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "REDLINE_"))}
    env.update(
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        REDLINE_DB=url,
        REDLINE_LAKE_DATA=str(data),
    )
    return env


def spool_for(env: dict[str, str], url: str, data: Path) -> Path:
    """Where a machine with this environment keeps its spool for the lake."""
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = env["XDG_DATA_HOME"]
    try:
        return config.spool_dir(config.Lake(url, str(data)))
    finally:
        if saved is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = saved


def backlog(spool: Path, conversations: int, calls: int, first_seed: int, day: int = 0) -> int:
    """Agent sessions (their own seeds: each machine its own) written to a spool, interleaved
    as several agents would be; `day` days after the first machine's."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC) + timedelta(days=day)
    seeds = range(first_seed, first_seed + conversations)
    streams = [conversation(calls, seed, start + timedelta(milliseconds=seed)) for seed in seeds]
    writer = SpoolWriter(spool)
    try:
        for _ in range(calls):
            writer.append([next(s) for s in streams])
    finally:
        writer.close()
    return conversations * calls


def ingest_rate(server: object, tmp: Path, writers: int, *, apart: bool = False) -> float:
    """Calls per second into a new lake from `writers` machines at once; their backlogs cover
    the same hours (each batch threads again calls another machine threaded), or with `apart`
    each machine's is a day after the one before."""
    name = f"ingest{writers}{'apart' if apart else ''}"
    server.create_database(name)  # type: ignore[attr-defined]
    url, data = server.url(name), tmp / f"{name}-data"  # type: ignore[attr-defined]
    setup = machine_env(tmp / f"{name}-setup", url, data)
    redline(setup, "tasks")  # the lake made, migrated
    # A process's start (Python, the extensions, the catalog: seconds) is not ingest: measured
    # here, with nothing to ingest, and taken off.
    floor = statistics.median(redline(setup, "tasks") for _ in range(3))
    envs = [machine_env(tmp / f"{name}-m{i}", url, data) for i in range(writers)]
    total = sum(
        backlog(spool_for(e, url, data), 20, CALLS // 20, 1000 * i, i if apart else 0)
        for i, e in enumerate(envs)
    )
    t0 = time.perf_counter()
    running = [
        subprocess.Popen([sys.executable, "-m", "redline", "ls"], env=e, stdout=subprocess.DEVNULL)
        for e in envs
    ]
    for p in running:
        assert p.wait() == 0
    return total / (time.perf_counter() - t0 - floor)


def add_a_run(db: Path, demo: Path, env: dict[str, str]) -> None:
    """A replay run for `report` to show: `redline demo`'s, copied into the big store."""
    import duckdb

    redline(env, "demo", "--db", str(demo))
    redline(env, "tasks", "--db", str(db))  # the cached store migrated to this redline's schema
    con = duckdb.connect(str(db))
    try:
        con.execute(f"ATTACH '{demo}' AS demo (READ_ONLY)")
        for table in ("runs", "evaluations", "steps", "samples", "verdicts"):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM demo.{table}")
    finally:
        con.close()


def median(env: dict[str, str], *args: str) -> float:
    redline(env, *args)  # warm the file cache
    return statistics.median(redline(env, *args) for _ in range(RUNS))


def main() -> None:
    import bench_cli

    server = make_server()
    try:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            one = ingest_rate(server, tmp, 1)
            four = ingest_rate(server, tmp, 4)
            apart = ingest_rate(server, tmp, 4, apart=True)
            print(f"ingest into a lake, {CALLS} agent calls per machine, each from its own spool:")
            print(f"  1 machine    {one:8.0f} calls/s")
            print(f"  4 machines   {four:8.0f} calls/s (all four together; the same hours)")
            print(f"  4 machines   {apart:8.0f} calls/s (all four together; a day apart)")
            print(f"RESULT {json.dumps({'lake ingest 1 writer calls/s': round(one)})}")
            print(f"RESULT {json.dumps({'lake ingest 4 writers calls/s': round(four)})}")
            print(f"RESULT {json.dumps({'lake ingest 4 writers apart calls/s': round(apart)})}")

            local = tmp / "calls-100k.duckdb"
            shutil.copy(bench_cli.large_store(), local)
            file_env = machine_env(tmp / "solo", str(local), tmp / "unused")
            add_a_run(local, tmp / "demo.duckdb", file_env)
            server.create_database("big")
            url, data = server.url("big"), tmp / "big-data"
            lake_env = machine_env(tmp / "team", url, data)
            t0 = time.perf_counter()
            said = subprocess.run(
                [sys.executable, "-m", "redline", "store", "push", "--db", str(local), "--to", url],
                env=lake_env, check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            pushed = time.perf_counter() - t0
            print(f"store push of the 100,000-call store into a new lake: {pushed:.0f} s ({said})")
            print(f"RESULT {json.dumps({'lake store push 100k s': round(pushed, 1)})}")
            rows = []
            for label, args in (("ls", ("ls",)), ("report", ("report",))):
                on_file = median(file_env, *args, "--db", str(local))
                on_lake = median(lake_env, *args)
                rows.append((label, on_file, on_lake))
                figures = {f"{label} 100k file s": round(on_file, 3)}
                figures[f"{label} 100k lake s"] = round(on_lake, 3)
                print(f"RESULT {json.dumps(figures)}")
            print(f"100,000 calls, median of {RUNS} cold runs:   file      lake")
            for label, on_file, on_lake in rows:
                print(f"  redline {label:<8}                    {on_file:6.2f} s  {on_lake:6.2f} s")
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
