"""The report's statistics against a known truth, on a reduced grid (seeded, a few seconds).

`make bench` runs the whole grid of issue 24 (bench/bench_stats.py). Here each cell has 250
replications: a 95% interval that held only 90% would show as such, beyond simulation error
(two standard errors are about 2.8 points). The thresholds are the goals less that margin.
"""

from __future__ import annotations

import itertools
import math

import pytest

from redline.replay.simulation import Measured, Scenario, simulate

REPLICATIONS = 250
GRID = [
    Scenario(tasks, samples, difficulty, difference)
    for tasks, samples, difficulty, difference in itertools.product(
        (3, 10, 30), (1, 5), ((2, 2), (0.5, 0.5), (4, 1)), (0.0, 0.2)
    )
]


def margin(share: float, n: int) -> float:
    """Two simulation standard errors of a share measured on n runs."""
    return 2 * math.sqrt(share * (1 - share) / n)


@pytest.fixture(scope="module")
def measured() -> list[Measured]:
    return [simulate(s, REPLICATIONS, seed=i) for i, s in enumerate(GRID)]


def test_pass_rate_intervals_cover_the_true_rate(measured: list[Measured]) -> None:
    low = [(m.scenario, m.summary) for m in measured if m.summary < 0.93 - margin(0.95, 250)]
    assert low == []


def test_difference_intervals_cover_the_true_difference(measured: list[Measured]) -> None:
    shown = [(m.scenario, m.difference) for m in measured if m.difference is not None]
    assert {s.tasks for s, _ in shown} == {10, 30}  # 3 tasks are too few to show one
    assert [(s, d) for s, d in shown if d < 0.93 - margin(0.95, 250)] == []


def test_no_test_finds_a_difference_that_is_not_there_more_than_five_percent(
    measured: list[Measured],
) -> None:
    limit = 0.05 + margin(0.05, REPLICATIONS)
    nulls = [m for m in measured if m.scenario.difference == 0]
    high = [
        (m.scenario, m.these_tasks, m.like_these, m.sign_test)
        for m in nulls
        if max(m.these_tasks, m.like_these, m.sign_test) > limit
    ]
    assert high == []


def test_the_permutation_test_finds_a_20_point_gain_more_often_than_the_sign_test() -> None:
    # issue 24: 20 tasks × 5 samples, Beta(2, 2), +20 points: >= 78% (sign test about 73%)
    m = simulate(Scenario(20, 5, (2, 2), 0.2), 1000, seed=24)
    assert m.like_these >= 0.78 - margin(0.8, 1000)
    assert m.like_these > m.sign_test + 0.03
