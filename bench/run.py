"""`make bench`: every benchmark in turn, its figures printed as it runs, and bench/results.json
written with them and the machine they were measured on (a benchmark's machine-readable
figures are the lines it prints as `RESULT {json}`)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).parent
PACKAGES = ("redline", "aiohttp", "duckdb", "uvloop", "orjson", "libcst", "typer", "mitmproxy")


def machine() -> dict[str, object]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "versions": versions,
    }


def main() -> int:
    chosen = sys.argv[1:] or sorted(p.name for p in HERE.glob("bench_*.py"))
    results: dict[str, object] = {"machine": machine(), "benchmarks": {}}
    benchmarks: dict[str, object] = {}
    failed = []
    for name in chosen:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(HERE / name)], capture_output=True, text=True, check=False
        )
        figures = []
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                figures.append(json.loads(line[len("RESULT ") :]))
            else:
                print(line)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            failed.append(name)
        benchmarks[name] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "exit_code": proc.returncode,
            "figures": figures,
            "output": [line for line in proc.stdout.splitlines() if not line.startswith("RESULT ")],
        }
    results["benchmarks"] = benchmarks
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
