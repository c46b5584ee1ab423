"""The smallest detectable difference (Miller's power formula), the tasks a difference needs,
and the spread measured on runs."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from redline.replay.power import (
    ASSUMED,
    Spread,
    detectable,
    detectable_line,
    fewest_tasks,
    spread_of,
    tasks_needed,
)
from redline.replay.stats import Cell

Z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)


def test_the_detectable_difference_is_millers_formula() -> None:
    spread = Spread(between=0.04, within=0.2, source="s")
    d = detectable(20, 5, spread)
    assert d.difference == pytest.approx(Z * math.sqrt((0.04 + 2 * 0.2 / 5) / 20), rel=1e-9)


def test_four_times_the_tasks_halve_the_detectable_difference() -> None:
    spread = Spread(between=0.04, within=0.2, source="s")
    d = detectable(20, 5, spread)
    assert d.tasks_to_halve == 80
    assert detectable(80, 5, spread).difference == pytest.approx(d.difference / 2)


def test_enough_samples_halve_it_when_the_tasks_leave_room() -> None:
    spread = Spread(between=0.005, within=0.25, source="s")
    d = detectable(20, 2, spread)
    assert d.samples_to_halve is not None
    assert detectable(20, d.samples_to_halve, spread).difference <= d.difference / 2


def test_no_number_of_samples_halves_it_when_tasks_differ_too_much() -> None:
    assert (
        detectable(20, 10, Spread(between=0.05, within=0.25, source="s")).samples_to_halve is None
    )


def test_six_tasks_are_the_fewest_that_can_show_a_difference_at_five_percent() -> None:
    assert (fewest_tasks(0.05), fewest_tasks(0.01)) == (6, 8)


def test_fewer_tasks_than_that_are_sized_at_the_fewest() -> None:
    d = detectable(3, 5, ASSUMED)
    assert (d.fewest, d.difference) == (6, detectable(6, 5, ASSUMED).difference)


def test_tasks_needed_for_the_observed_difference() -> None:
    diffs = [0.2, 0.0, 0.4, -0.2, 0.6, 0.2, 0.0, 0.4]
    mean, var = sum(diffs) / 8, stats.tvar(diffs)
    assert tasks_needed(diffs, alpha=0.05) == math.ceil(Z * Z * var / mean**2)


def test_tasks_needed_is_none_without_a_difference() -> None:
    assert tasks_needed([0.2, -0.2], alpha=0.05) is None
    assert tasks_needed([0.5], alpha=0.05) is None


def test_the_spread_is_measured_on_runs_with_two_sides() -> None:
    a = {"t1": Cell(5, 5), "t2": Cell(1, 5), "t3": Cell(4, 5), "t4": Cell(0, 5)}
    b = {"t1": Cell(1, 5), "t2": Cell(1, 5), "t3": Cell(4, 5), "t4": Cell(2, 5)}
    spread = spread_of([{("m", "a"): a, ("m", "b"): b}], "this run")
    within = [c.rate * (1 - c.rate) * 5 / 4 for c in [*a.values(), *b.values()]]
    assert spread.within == pytest.approx(sum(within) / len(within))
    assert spread.between >= 0 and spread.source == "spread measured on this run"


def test_what_cannot_be_measured_is_assumed_and_said() -> None:
    one_side = spread_of([{("m", "a"): {"t1": Cell(2, 4), "t2": Cell(1, 4)}}], "this run")
    assert one_side.between == ASSUMED.between
    assert one_side.source == "within-task spread from this run, between-task spread assumed"
    assert spread_of([], "earlier runs") == ASSUMED


def test_the_line_says_what_the_run_can_detect_and_what_would_halve_it() -> None:
    line = detectable_line(detectable(20, 5, Spread(0.005, 0.25, "spread measured on this run")))
    assert line.startswith(
        "With 20 tasks × 5 samples, a comparison of two sides can detect a true difference of "
    )
    assert "in pass rate on tasks like these (80% power, 0.05 level; spread measured" in line
    # 0.005 + 2 * 0.25 / K = (0.005 + 2 * 0.25 / 5) / 4 at K = 23.5
    assert line.endswith("80 tasks, or 24 samples per task, would halve that.")


def test_the_line_for_too_few_tasks_says_how_many_it_takes() -> None:
    line = detectable_line(detectable(3, 10, ASSUMED))
    assert line.startswith(
        "With 3 tasks × 10 samples, no comparison can show a difference on tasks like these at "
        "the 0.05 level, whatever the scores: that takes 6 tasks, which would detect a true "
        "difference of "
    )
