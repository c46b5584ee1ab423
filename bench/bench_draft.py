"""`redline draft`'s own cost, beside the model's: proving a drafted check in the sandbox, and
running it over the recorded history there.

* proof: the stand-in's check (`no-silent-fallback`) proven RUNS times on a recorded Claude Code
  call that swallowed an error: the sandbox, Python and redline's imports, the gate, loading,
  its examples, the bad answer. This is what each attempt adds to the model's answer time.
* history: the same check over the last 500 recorded answers (the default of `--history`) of
  bench_scan's Claude Code-shaped sessions (BENCH_SESSIONS x BENCH_CALLS), in one sandbox run:
  the rows written for it, the check judging each answer with its history as context.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redline import config
from redline.analyzers import default_registry, sandbox
from redline.replay import case_from_call, history_of, standin_drafts
from redline.replay.draft_prompt import first_message, module_in
from redline.replay.draft_proof import prove, scan_history
from redline.transcripts import SpoolWriter, open_store

sys.path.insert(0, str(Path(__file__).parent))
import bench_scan

RUNS = int(os.environ.get("BENCH_RUNS", 5))
bench_scan.SESSIONS = int(os.environ.get("BENCH_SESSIONS", 25))
bench_scan.CALLS = int(os.environ.get("BENCH_CALLS", 20))
HISTORY = 500


def main() -> None:
    sandbox.require()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        writer = SpoolWriter(config.spool_dir(db))
        writer.append(bench_scan.sessions(datetime.now(UTC) - timedelta(days=1)))
        writer.close()
        with open_store(db) as store:
            # Session 1's call 13 adds a handler that swallows the error (bench_scan: an edit
            # every fourth call from the second, a handler every tenth from the fourth).
            bad = store.scans.calls()[bench_scan.CALLS + 13].id
            case = case_from_call(
                store, bad, "swallowed the error", [], default_registry(entry_points=False)
            )
            history = history_of(store, case, HISTORY)
        module = module_in(standin_drafts.answer(first_message(case)))
        timings = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            proof = prove(module, case)
            timings.append(time.perf_counter() - t0)
            assert proof.holds, proof.reason
        t0 = time.perf_counter()
        scanned = scan_history(module, history)
        scan_s = time.perf_counter() - t0
        assert scanned.stopped is None, scanned.stopped
        figures = {
            "proof_p50_s": round(statistics.median(timings), 2),
            "proof_max_s": round(max(timings), 2),
            "history_answers": scanned.scanned,
            "history_flagged": scanned.flagged,
            "history_s": round(scan_s, 2),
            "history_answers_per_s": round(scanned.scanned / scan_s),
        }
        print(
            f"proof of one draft: p50 {figures['proof_p50_s']} s, max {figures['proof_max_s']} s "
            f"over {RUNS} runs"
        )
        print(
            f"history: {scanned.scanned} answers judged in {scan_s:.1f} s "
            f"({figures['history_answers_per_s']}/s), {scanned.flagged} flagged"
        )
        print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
        print("RESULT " + json.dumps({"draft": figures}))


if __name__ == "__main__":
    main()
