"""The statistics checked against a known truth: coverage, false positives and power.

Synthetic runs with a known answer, analysed by the very functions a report uses: n tasks
whose pass probabilities for side b are drawn from a Beta distribution (how hard the tasks
are, and how alike), side a better by a true difference d on every task (p + d, at most 1),
K samples per task and side. Over many replications this measures how often each 95% interval
contains the true value (coverage), how often each test claims a difference when there is none
(false positives, at d = 0) and how often it finds one that is there (power). The sign test,
which redline used before, is measured beside the tests that replaced it.

tests/test_replay_simulation.py runs a reduced grid; `make bench` (bench/bench_stats.py) the
whole one; docs/replay.md has the table.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from redline.replay.exact import mcnemar_exact
from redline.replay.stats import Cell, compare, summarize

__all__ = ["DIFFICULTIES", "Measured", "Scenario", "full_grid", "simulate"]

ALPHA = 0.05

DIFFICULTIES: tuple[tuple[float, float], ...] = ((2, 2), (0.5, 0.5), (1, 4), (4, 1))
"""Beta(a, b) spreads of task difficulty: tasks around 50% (2, 2); all-or-nothing tasks, most
passing always or never (0.5, 0.5); mostly failing (1, 4); mostly passing (4, 1)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """n tasks × K samples per side, difficulty Beta(a, b), side a better by `difference`."""

    tasks: int
    samples: int
    difficulty: tuple[float, float]
    difference: float

    @property
    def true_rate(self) -> float:
        """Side b's pass rate over tasks like these: the mean of Beta(a, b)."""
        a, b = self.difficulty
        return a / (a + b)

    @property
    def true_difference(self) -> float:
        """E[min(1, p + d) - p]: d less what the ceiling at 100% takes away."""
        return self.difference - _beyond_one(*self.difficulty, 1 - self.difference)


@dataclass(frozen=True, slots=True)
class Measured:
    """What `replications` synthetic runs of a scenario showed.

    Coverages are shares of intervals that contained the true value: `summary` over both
    sides' pass-rate intervals, `difference` over the comparison's interval (None when the
    report shows none: fewer tasks than the test needs). The rest are shares of runs where a
    test found a difference at the 0.05 level: `these_tasks` (exact stratified), `like_these`
    (paired permutation) and `sign_test`.
    """

    scenario: Scenario
    replications: int
    summary: float
    difference: float | None
    these_tasks: float
    like_these: float
    sign_test: float


def simulate(scenario: Scenario, replications: int, seed: int) -> Measured:
    """Measure the report's statistics on `replications` runs drawn with this seed."""
    rng = random.Random(seed)
    a, b = scenario.difficulty
    k = scenario.samples
    difference = scenario.true_difference
    truth = (scenario.true_rate, scenario.true_rate + difference)
    covered = shown = covered_difference = these = like = sign = 0
    for _ in range(replications):
        base = [rng.betavariate(a, b) for _ in range(scenario.tasks)]
        better = [min(1.0, p + scenario.difference) for p in base]
        side_a = _cells(rng, better, k)
        side_b = _cells(rng, base, k)
        for cells, true in zip((side_b, side_a), truth, strict=True):
            covered += true in summarize(cells.values()).interval
        result = compare(side_a, side_b, label_a="a", label_b="b", alpha=ALPHA)
        if result.interval is not None:
            shown += 1
            covered_difference += difference in result.interval
        these += _below(result.these_tasks.p_value)
        like += _below(result.like_these.p_value)
        sign += mcnemar_exact(result.wins_a, result.wins_b) < ALPHA
    return Measured(
        scenario=scenario,
        replications=replications,
        summary=covered / (2 * replications),
        difference=covered_difference / shown if shown else None,
        these_tasks=these / replications,
        like_these=like / replications,
        sign_test=sign / replications,
    )


def full_grid() -> Iterator[Scenario]:
    """Tasks 3, 10, 30, 100; samples 1, 3, 5, 10; every difficulty; differences 0-0.3."""
    for tasks in (3, 10, 30, 100):
        for samples in (1, 3, 5, 10):
            for difficulty in DIFFICULTIES:
                for difference in (0.0, 0.1, 0.2, 0.3):
                    yield Scenario(tasks, samples, difficulty, difference)


def _cells(rng: random.Random, rates: list[float], k: int) -> dict[str, Cell]:
    return {f"t{i}": Cell(rng.binomialvariate(k, p), k) for i, p in enumerate(rates)}


def _below(p: float | None) -> bool:
    return p is not None and p < ALPHA


def _beyond_one(a: float, b: float, c: float, steps: int = 4000) -> float:
    """E[max(0, p - c)] for p ~ Beta(a, b): the part of p + (1 - c) above 1.

    Midpoint rule after substituting 1 - p = (1 - c) t^2, which takes away the density's
    singularity at 1 when b < 1 (b >= 1/2 here).
    """
    if c >= 1:
        return 0.0
    width = 1 - c
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    total = 0.0
    for i in range(steps):
        t = (i + 0.5) / steps
        p = 1 - width * t * t
        # (p - c) f(p) dp with dp = 2 width t dt, (1 - p)^(b - 1) = (width t^2)^(b - 1)
        density = math.exp((a - 1) * math.log(p) + (b - 1) * math.log(width) - log_beta) * t ** (
            2 * b - 1
        )
        total += (p - c) * density * 2 * width / steps
    return total
