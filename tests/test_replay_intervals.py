"""Intervals: Wilson's against scipy, the t quantile against scipy, the clustered standard error
against inspect_ai's formula, and the clustered Wilson interval's behaviour."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from redline.replay.intervals import (
    Interval,
    clustered_se,
    clustered_wilson,
    difference_interval,
    t_quantile,
    wilson,
    wilson_fractional,
)

REL = 1e-12

# Wilson


def test_wilson_zero_of_three() -> None:
    # scipy.stats.binomtest(0, 3).proportion_ci(method="wilson")
    assert wilson(0, 3) == Interval(0.0, pytest.approx(0.5614970317550454, rel=REL))


def test_wilson_three_of_three() -> None:
    # scipy.stats.binomtest(3, 3).proportion_ci(method="wilson")
    assert wilson(3, 3) == Interval(pytest.approx(0.4385029682449546, rel=REL), 1.0)


def test_wilson_matches_scipy() -> None:
    for k, n in [(7, 20), (1, 10), (5, 5), (13, 40)]:
        expected = stats.binomtest(k, n).proportion_ci(method="wilson")
        got = wilson(k, n)
        assert (got.lo, got.hi) == (
            pytest.approx(expected.low, rel=1e-9, abs=1e-15),
            pytest.approx(expected.high, rel=1e-9),
        )


def test_wilson_with_no_trials_is_the_whole_unit_interval() -> None:
    assert wilson(0, 0) == Interval(0.0, 1.0)


@pytest.mark.parametrize(("k", "n"), [(-1, 3), (4, 3), (0, -1)])
def test_wilson_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson(k, n)


def test_fractional_wilson_with_a_whole_count_is_wilson() -> None:
    assert wilson_fractional(7, 20) == wilson(7, 20)


# Student t quantile


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 19, 29, 99])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.975, 0.995])
def test_t_quantile_matches_scipy(q: float, df: int) -> None:
    assert t_quantile(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(("q", "df"), [(0.4, 3), (1.0, 3), (0.975, 0)])
def test_t_quantile_rejects_what_it_cannot_give(q: float, df: int) -> None:
    with pytest.raises(ValueError):
        t_quantile(q, df)


# The clustered standard error


def inspect_clustered_se(scores: list[list[float]]) -> float:
    """inspect_ai's stderr(cluster=...) (scorer/_metrics/std.py; Miller 2024, appendix A):
    sqrt(C / (C - 1) * sum over clusters of (sum of (s - mean))^2) / N, on pooled samples."""
    flat = [s for cluster in scores for s in cluster]
    mean = sum(flat) / len(flat)
    c = len(scores)
    total = sum(sum(s - mean for s in cluster) ** 2 for cluster in scores)
    return math.sqrt(total * c / (c - 1)) / len(flat)


def test_clustered_se_is_inspect_ais_with_equal_samples_per_task() -> None:
    scores = [[1, 1, 0], [0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 1]]
    rates = [sum(s) / len(s) for s in scores]
    assert clustered_se(rates) == pytest.approx(inspect_clustered_se(scores), rel=1e-12)


def test_clustered_se_needs_two_tasks() -> None:
    with pytest.raises(ValueError):
        clustered_se([0.5])


# The clustered Wilson interval


def test_clustered_interval_holds_the_mean_and_stays_in_the_unit_interval() -> None:
    rates = [0.0, 0.2, 1.0, 0.6, 0.8, 0.4, 1.0, 0.0]
    interval = clustered_wilson(rates, samples=40)
    assert 0.0 <= interval.lo < sum(rates) / len(rates) < interval.hi <= 1.0


def test_clustered_interval_is_wider_with_fewer_tasks_at_the_same_spread() -> None:
    rates = [0.2, 0.8, 0.4, 0.6]
    few = clustered_wilson(rates, samples=20)
    many = clustered_wilson(rates * 5, samples=100)
    assert few.width > many.width


def test_clustered_interval_of_identical_tasks_rests_on_their_samples() -> None:
    # no spread between tasks: as if the samples were one pool, shrunk for few tasks
    assert clustered_wilson([1.0] * 10, samples=100).lo > clustered_wilson([1.0] * 10, 10).lo


def test_difference_interval_maps_back_to_differences() -> None:
    diffs = [0.2, 0.4, -0.2, 0.6, 0.0, 0.4, 0.2, 0.2]
    interval = difference_interval(diffs, samples=80)
    assert -1.0 <= interval.lo < sum(diffs) / len(diffs) < interval.hi <= 1.0
