"""Cold start of the commands a user types most: `redline --help`, `ls` and `show`, each a new
process as from a shell, on a small store and on a 100,000-call store.

The large store is generated once (bench/big_store.py; a few minutes) and kept in
bench/.cache/. Goal (issue 10): <= 0.25 s each on the small store. Median of 7 runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

RUNS = 7
CACHE = HERE / ".cache"


def timed(args: list[str], db: Path) -> float:
    # pip compiles bytecode at install, so a user's commands never compile from source: nor here.
    env = {**os.environ, "REDLINE_DB": str(db)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times = []
    # The first run writes any missing bytecode and warms the file cache; it is not counted.
    for _ in range(RUNS + 1):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "redline", *args], env=env, check=True, capture_output=True
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def ids(db: Path) -> tuple[str, str]:
    env = {**os.environ, "REDLINE_DB": str(db)}

    def run(*args: str) -> object:
        out = subprocess.run(
            [sys.executable, "-m", "redline", *args, "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout)

    listed = run("ls", "-n", "1")
    conversation = listed["conversations"][0]["id"]  # type: ignore[index]
    calls = run("ls", conversation)["calls"]  # type: ignore[index]
    return conversation, calls[-1]["id"]


def small_store(tmp: Path) -> Path:
    from sessions import write_spool

    db = tmp / "small.duckdb"
    write_spool(db, 3, 20)
    subprocess.run(
        [sys.executable, "-m", "redline", "ls"],
        env={**os.environ, "REDLINE_DB": str(db)},
        check=True,
        capture_output=True,
    )
    return db


def large_store() -> Path:
    db = CACHE / "calls-100k.duckdb"
    if not db.exists():
        import big_store

        CACHE.mkdir(exist_ok=True)
        print("generating a 100,000-call store (once; kept in bench/.cache/)...", flush=True)
        big_store.generate(db, 100_000)
    return db


def python_alone() -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    results: dict[str, float] = {"python -c pass": python_alone()}
    with tempfile.TemporaryDirectory() as tmp:
        small = small_store(Path(tmp))
        conversation, call = ids(small)
        results["redline --help"] = timed(["--help"], small)
        results["redline ls (small store)"] = timed(["ls"], small)
        results["redline ls CONVERSATION (small)"] = timed(["ls", conversation], small)
        results["redline show CALL (small)"] = timed(["show", call], small)
    large = large_store()
    conversation, call = ids(large)
    results["redline ls (100,000 calls)"] = timed(["ls"], large)
    results["redline ls CONVERSATION (100,000)"] = timed(["ls", conversation], large)
    results["redline show CALL (100,000)"] = timed(["show", call], large)
    print(f"cold start, median of {RUNS} runs (goal: <= 0.25 s on a small store)")
    for label, seconds in results.items():
        print(f"  {label:<36} {seconds:6.3f} s")
    print("RESULT " + json.dumps({"cli_seconds": results}))


if __name__ == "__main__":
    main()
