"""The `run` check: what judging one answer by running it costs, and what running several at
once (replay's and recheck's `--jobs`) gains.

* one answer: an Edit applied to a fresh copy of a workspace of BENCH_FILES files, then a
  command in the sandbox: `true` (the floor: the copy and the sandbox) and the project's
  unittest; p50 and p99 over BENCH_RUNS answers, and the sandbox alone for `true`;
* at once: BENCH_ANSWERS answers whose command is CPU-bound (about 0.4 s of Python each),
  judged one at a time and on `jobs` threads as replay judges them, the wall time of each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from redline.analyzers import (
    Environment,
    default_registry,
    parse_check,
    prepared,
    run_checks,
    sandbox,
)
from redline.transcripts import Message, agents, snapshot

RUNS = int(os.environ.get("BENCH_RUNS", 30))
FILES = int(os.environ.get("BENCH_FILES", 500))
ANSWERS = int(os.environ.get("BENCH_ANSWERS", 8))
REGISTRY = default_registry(entry_points=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


LOADER = (
    "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n"
)
BEFORE = "        return json.load(f)\n"
AFTER = "        return json.load(f)  # a missing file raises\n"
TEST = (
    "import unittest\n\nfrom config import load\n\n\nclass T(unittest.TestCase):\n"
    "    def test_missing(self):\n        with self.assertRaises(FileNotFoundError):\n"
    "            load('/nonexistent.json')\n"
)
COMMAND = "python3 -m unittest -q"


def project(root: Path) -> Path:
    """A config loader and its test, with FILES more modules beside them, committed."""
    repo = root / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "config.py").write_text(LOADER)
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_config.py").write_text(TEST)
    for i in range(FILES):
        path = repo / f"pkg{i % 20}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"def f_{i}_{k}(x):\n    return x + {k}\n\n" for k in range(30)))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "project"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@e", *args],
            check=True,
        )
    return repo


def timed(spec: str, answer: Message, environment: Environment) -> list[float]:
    check = parse_check(spec, REGISTRY)
    out = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        (verdict,) = run_checks([check], answer, environment=environment)
        out.append((time.perf_counter() - t0) * 1000)
        assert verdict.passed, verdict.findings
    return out


def one_answer(environment: Environment, folder: Path) -> dict[str, float]:
    answer = Message("assistant", (agents.edited("config.py", BEFORE, AFTER),))
    sandbox.require()
    figures: dict[str, float] = {}
    for label, spec in (("true", "run:cmd=true"), ("unittest", f"run:cmd={COMMAND}")):
        values = timed(spec, answer, environment)
        figures[f"{label}_p50_ms"] = round(statistics.median(values), 1)
        figures[f"{label}_p99_ms"] = round(percentile(values, 0.99), 1)
    alone = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        sandbox.run("true", folder)
        alone.append((time.perf_counter() - t0) * 1000)
    figures["sandbox_alone_p50_ms"] = round(statistics.median(alone), 1)
    return figures


def at_once(environment: Environment) -> dict[str, float]:
    busy = 'python3 -c "sum(range(12_000_000))"'
    check = parse_check(f"run:cmd={busy}", REGISTRY)
    answers = [
        Message("assistant", (agents.edited("config.py", BEFORE, AFTER + f"# {n}\n"),))
        for n in range(ANSWERS)
    ]
    figures: dict[str, float] = {}
    for jobs in (1, 2, 4):
        t0 = time.perf_counter()
        with ThreadPoolExecutor(jobs) as pool:
            verdicts = list(
                pool.map(lambda a: run_checks([check], a, environment=environment)[0], answers)
            )
        figures[f"jobs_{jobs}_s"] = round(time.perf_counter() - t0, 2)
        assert all(v.passed for v in verdicts)
    figures["answers"] = ANSWERS
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-run-check-") as tmp:
        repo = project(Path(tmp))
        taken = snapshot(repo)
        empty = Path(tmp) / "empty"
        empty.mkdir()
        with prepared(taken.workspace, taken.blobs.__getitem__) as environment:
            one = one_answer(environment, empty)
            print(
                f"one answer in a workspace of {len(taken.workspace.files)} files: `true` p50 "
                f"{one['true_p50_ms']} ms (p99 {one['true_p99_ms']}), the project's unittest p50 "
                f"{one['unittest_p50_ms']} ms (p99 {one['unittest_p99_ms']}); the sandbox alone "
                f"{one['sandbox_alone_p50_ms']} ms"
            )
            print("RESULT " + json.dumps({"one_answer": one, "files": len(taken.workspace.files)}))
            many = at_once(environment)
            print(
                f"{ANSWERS} CPU-bound answers on {os.cpu_count()} cores: one at a time "
                f"{many['jobs_1_s']} s, --jobs 2 {many['jobs_2_s']} s, --jobs 4 {many['jobs_4_s']} s"
            )
            print("RESULT " + json.dumps({"at_once": many}))


if __name__ == "__main__":
    main()
