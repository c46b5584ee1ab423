"""The report's statistics against a known truth, over the whole grid of issue 24.

Tasks 3, 10, 30, 100 × samples 1, 3, 5, 10 × four spreads of task difficulty × true
differences 0, 0.1, 0.2, 0.3 (redline.replay.simulation says how runs are drawn). For each
cell: the coverage of the pass-rate interval and of the difference's interval, and how often
each test finds a difference (at 0 that is its false-positive rate, above 0 its power): the
exact stratified test (on these tasks), the paired permutation test (on tasks like these) and
the sign test redline used before. Then the headline: 20 tasks × 5 samples, Beta(2, 2), a true
20-point improvement, the sign test beside the permutation test.

Goals (issue 24): every 95% interval covers >= 93% in every cell; every test's false-positive
rate <= 5% plus simulation error; the headline detected >= 78% of the time. A cell is flagged
when it misses a goal by more than two simulation standard errors, and the gaps are listed.

BENCH_REPLICATIONS (default 1000) sets the replications per cell; the 100 × 10 cells, whose
exact stratified test counts the most tables, run a quarter of that. Two worker processes.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

from redline.replay.simulation import Measured, Scenario, full_grid, simulate

REPLICATIONS = int(os.environ.get("BENCH_REPLICATIONS", "1000"))
HEADLINE = Scenario(20, 5, (2, 2), 0.2)
COVERAGE_GOAL, LEVEL_GOAL, POWER_GOAL = 0.93, 0.05, 0.78


def replications(scenario: Scenario) -> int:
    return REPLICATIONS // 4 if scenario.tasks * scenario.samples >= 1000 else REPLICATIONS


def run(scenario: Scenario) -> Measured:
    seed = hash((scenario.tasks, scenario.samples, scenario.difficulty, scenario.difference))
    return simulate(scenario, replications(scenario), seed % (1 << 32))


def error(share: float, n: int) -> float:
    return math.sqrt(share * (1 - share) / n)


def main() -> int:
    started = time.perf_counter()
    grid = list(full_grid())
    with ProcessPoolExecutor(max_workers=2) as pool:
        measured = list(pool.map(run, grid, chunksize=4))
        headline = pool.submit(simulate, HEADLINE, 4 * REPLICATIONS, 24).result()
    gaps = []
    print("tasks samples difficulty  diff | coverage: rate  diff | found: these  like  sign")
    for m in measured:
        s, n = m.scenario, m.replications
        cells = [m.summary, m.difference]
        print(
            f"{s.tasks:5} {s.samples:7} Beta{s.difficulty!s:9} {s.difference:4.1f} |"
            f"           {m.summary:5.3f} "
            + ("  —  " if m.difference is None else f"{m.difference:5.3f}")
            + f" |       {m.these_tasks:5.3f} {m.like_these:5.3f} {m.sign_test:5.3f}"
        )
        for name, value in zip(("rate interval", "difference interval"), cells, strict=True):
            if value is not None and value < COVERAGE_GOAL - 2 * error(0.95, n):
                gaps.append(f"{name} covers {value:.3f} at {s}")
        if s.difference == 0:
            for name, value in (
                ("exact stratified", m.these_tasks),
                ("paired permutation", m.like_these),
                ("sign test", m.sign_test),
            ):
                if value > LEVEL_GOAL + 2 * error(LEVEL_GOAL, n):
                    gaps.append(f"{name} false positives {value:.3f} at {s}")
        print("RESULT " + json.dumps(_figures(m)))
    _table(measured)
    print(
        f"\nheadline {HEADLINE} over {headline.replications} runs: paired permutation test "
        f"{headline.like_these:.1%}, sign test {headline.sign_test:.1%}, exact stratified "
        f"(on these tasks) {headline.these_tasks:.1%} (goal >= {POWER_GOAL:.0%})"
    )
    print("RESULT " + json.dumps({"headline": _figures(headline)}))
    if headline.like_these < POWER_GOAL:
        gaps.append(f"headline power {headline.like_these:.3f} < {POWER_GOAL}")
    print("\n" + ("every goal met" if not gaps else "gaps:\n  " + "\n  ".join(gaps)))
    print(f"({len(grid)} cells in {time.perf_counter() - started:.0f}s)")
    return 0


def _figures(m: Measured) -> dict[str, object]:
    s = m.scenario
    return {
        "tasks": s.tasks,
        "samples": s.samples,
        "difficulty": list(s.difficulty),
        "difference": s.difference,
        "replications": m.replications,
        "rate_coverage": m.summary,
        "difference_coverage": m.difference,
        "these_tasks": m.these_tasks,
        "like_these": m.like_these,
        "sign_test": m.sign_test,
    }


def _table(measured: list[Measured]) -> None:
    """Per tasks × samples, over the four difficulties: the worst coverages, the worst
    false-positive rates, and the power at a true 10-point difference (Beta(2, 2))."""
    rows: dict[tuple[int, int], list[Measured]] = defaultdict(list)
    for m in measured:
        rows[(m.scenario.tasks, m.scenario.samples)].append(m)
    print(
        "\n| tasks × samples | rate interval covers (worst) | difference interval covers "
        "(worst) | false positives: stratified / permutation / sign (worst) | power at +10 "
        "points, Beta(2,2): stratified / permutation / sign |"
    )
    print("|---|---:|---:|---:|---:|")
    for (tasks, samples), ms in sorted(rows.items()):
        differences = [m.difference for m in ms if m.difference is not None]
        nulls = [m for m in ms if m.scenario.difference == 0]
        (ten,) = [m for m in ms if m.scenario.difference == 0.1 and m.scenario.difficulty == (2, 2)]
        worst = (
            max(m.these_tasks for m in nulls),
            max(m.like_these for m in nulls),
            max(m.sign_test for m in nulls),
        )
        print(
            f"| {tasks} × {samples} | {min(m.summary for m in ms):.1%} | "
            + (f"{min(differences):.1%}" if differences else "not shown")
            + " | "
            + " / ".join(f"{v:.1%}" for v in worst)
            + " | "
            + " / ".join(f"{v:.0%}" for v in (ten.these_tasks, ten.like_these, ten.sign_test))
            + " |"
        )


if __name__ == "__main__":
    sys.exit(main())
