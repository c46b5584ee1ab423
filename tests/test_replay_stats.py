"""Replay statistics: cells from outcomes, summaries over tasks, pass^k, and comparisons that
answer "on these tasks" and "on tasks like these" in plain sentences."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from redline.replay.exact import fisher_exact, sign_flip_test, stratified_exact
from redline.replay.intervals import wilson
from redline.replay.stats import Cell, compare, pass_hat_k, summarize


def cells(*outcomes: tuple[int, int]) -> dict[str, Cell]:
    """Cells keyed t00, t01, ... from (passes, samples) pairs."""
    return {f"t{i:02}": Cell(k, n) for i, (k, n) in enumerate(outcomes)}


# Cells from outcomes


def test_a_cell_counts_passes_of_the_samples_that_could_pass() -> None:
    cell = Cell.of(["pass", "fail", "no_attempt", "error", "pass"])
    assert (cell, str(cell)) == (Cell(2, 4), "2/4")


def test_a_no_attempt_counts_as_not_passed() -> None:
    assert Cell.of(["no_attempt"] * 3) == Cell(0, 3)


def test_a_cell_of_only_errors_or_nothing_has_no_rate() -> None:
    assert Cell.of(["error", "error"]) is None
    assert Cell.of([]) is None


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcomes"):
        Cell.of(["pass", "passed"])


@pytest.mark.parametrize(("passes", "samples"), [(4, 3), (-1, 3), (0, 0)])
def test_cell_rejects_impossible_counts(passes: int, samples: int) -> None:
    with pytest.raises(ValueError):
        Cell(passes, samples)


def test_cell_gives_rate_and_wilson_interval() -> None:
    cell = Cell(7, 20)
    assert (cell.rate, cell.interval) == (0.35, wilson(7, 20))


# pass^k


def test_pass_hat_is_the_share_of_k_subsets_that_all_passed() -> None:
    assert Cell(3, 5).pass_hat(2) == math.comb(3, 2) / math.comb(5, 2) == 0.3
    assert Cell(5, 5).pass_hat(5) == 1.0
    assert Cell(4, 5).pass_hat(5) == 0.0
    assert Cell(2, 3).pass_hat(1) == Cell(2, 3).rate


def test_pass_hat_is_unbiased_for_p_to_the_k() -> None:
    # E[C(X, k) / C(n, k)] over X ~ Binomial(n, p) is p^k exactly (computed in fractions)
    n, k, p = 6, 3, Fraction(2, 5)
    expected = sum(
        math.comb(n, x) * p**x * (1 - p) ** (n - x) * Fraction(math.comb(x, k), math.comb(n, k))
        for x in range(n + 1)
    )
    assert expected == p**k


def test_pass_hat_needs_k_samples() -> None:
    assert Cell(2, 2).pass_hat(3) is None


def test_pass_hat_k_averages_over_the_tasks_with_k_samples() -> None:
    value, over = pass_hat_k([Cell(3, 3), Cell(1, 3), Cell(1, 1)], 3)
    assert (value, over) == (0.5, 2)
    assert pass_hat_k([Cell(1, 1)], 2) == (None, 0)


# Summaries


def test_a_summary_weighs_tasks_equally() -> None:
    assert summarize([Cell(1, 1), Cell(0, 9)]).rate == 0.5


def test_a_one_task_summary_shows_that_tasks_interval_over_its_samples() -> None:
    summary = summarize([Cell(2, 10)])
    assert summary.one_task and summary.interval == wilson(2, 10)


def test_a_summary_over_tasks_is_the_clustered_interval() -> None:
    summary = summarize(cells((0, 3), (3, 3), (1, 3), (2, 3)).values())
    assert not summary.one_task
    assert summary.interval.lo < summary.rate < summary.interval.hi


def test_a_summary_of_two_opposite_tasks_says_little_about_tasks_like_these() -> None:
    # 0/3 and 3/3: two tasks, not six independent samples, so wider than the pooled Wilson
    summary = summarize([Cell(0, 3), Cell(3, 3)])
    assert summary.interval.lo < wilson(3, 6).lo and summary.interval.hi > wilson(3, 6).hi


def test_summarize_needs_a_task() -> None:
    with pytest.raises(ValueError):
        summarize([])


# Comparisons: which tasks and which tests


def test_compare_answers_on_these_tasks_with_the_stratified_test_over_every_sample() -> None:
    a, b = cells((3, 5), (5, 5), (2, 5)), cells((1, 5), (4, 5), (2, 5))
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert result.these_tasks.method == "exact stratified"
    assert result.these_tasks.p_value == stratified_exact(
        [(3, 2, 1, 4), (5, 0, 4, 1), (2, 3, 2, 3)]
    )


def test_compare_answers_on_tasks_like_these_with_the_paired_permutation_test() -> None:
    a, b = cells((3, 5), (5, 5), (2, 5)), cells((1, 5), (4, 5), (2, 5))
    result = compare(a, b, label_a="strict", label_b="baseline")
    diffs = [Fraction(2, 5), Fraction(1, 5), Fraction(0)]
    assert result.like_these.method == "paired permutation"
    assert result.like_these.p_value == sign_flip_test(diffs).p_value
    assert result.mean_difference == pytest.approx(0.2)


def test_one_shared_task_is_fishers_test_and_cannot_speak_for_tasks_like_these() -> None:
    result = compare({"t": Cell(3, 3)}, {"t": Cell(0, 3)}, label_a="strict", label_b="baseline")
    assert (result.these_tasks.method, result.these_tasks.p_value) == (
        "fisher exact",
        pytest.approx(fisher_exact(3, 0, 0, 3)),
    )
    assert (result.like_these.method, result.like_these.p_value, result.interval) == (
        "none",
        None,
        None,
    )


def test_compare_without_shared_tasks_tests_nothing() -> None:
    result = compare({"a": Cell(1, 1)}, {"b": Cell(0, 1)}, label_a="strict", label_b="base")
    assert (result.these_tasks.method, result.tasks) == ("none", ())
    assert result.verdict == "No tasks in common between strict and base: nothing to compare."


def test_a_side_without_a_judged_sample_is_named_as_such() -> None:
    result = compare({}, {"b": Cell(0, 1)}, label_a="strict", label_b="base")
    assert result.verdict == (
        "strict has no judged sample (every one was an error): nothing to compare."
    )
    both = compare({}, {}, label_a="strict", label_b="base")
    assert both.verdict == (
        "Neither strict nor base has a judged sample (every one was an error): nothing to compare."
    )


def test_a_task_missing_on_one_side_is_left_out() -> None:
    a = {"shared": Cell(3, 3), "only-a": Cell(0, 3)}
    b = {"shared": Cell(0, 3), "only-b": Cell(3, 3)}
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert result.tasks == ("shared",)
    assert result.these_tasks.method == "fisher exact"


def test_different_sample_counts_per_side_are_compared_by_rate() -> None:
    a, b = cells((2, 2), (5, 5), (1, 4)), cells((3, 9), (0, 1), (3, 6))
    result = compare(a, b, label_a="a", label_b="b")
    assert result.mean_difference == pytest.approx((1 - 1 / 3 + 1 - 0 + 0.25 - 0.5) / 3)
    assert result.these_tasks.p_value == stratified_exact(
        [(2, 0, 3, 6), (5, 0, 0, 1), (1, 3, 3, 3)]
    )


def test_one_sample_per_task_compares_like_mcnemar_with_ties_dropped() -> None:
    a = cells(*[(1, 1)] * 6, *[(0, 1)] * 2, *[(1, 1)] * 6, *[(0, 1)] * 6)
    b = cells(*[(0, 1)] * 6, *[(1, 1)] * 2, *[(1, 1)] * 6, *[(0, 1)] * 6)
    result = compare(a, b, label_a="x", label_b="y")
    assert (result.wins_a, result.wins_b, result.ties) == (6, 2, 12)
    # with +-1 differences the permutation test is the sign test on the discordant tasks
    assert result.like_these.p_value == 0.2890625


def test_the_difference_interval_is_shown_only_where_the_test_can_reach_the_level() -> None:
    five = compare(cells(*[(3, 3)] * 5), cells(*[(0, 3)] * 5), label_a="a", label_b="b")
    six = compare(cells(*[(3, 3)] * 6), cells(*[(0, 3)] * 6), label_a="a", label_b="b")
    assert five.interval is None
    assert six.interval is not None and six.interval.lo > 0


def test_odd_sample_counts_beyond_the_exact_bound_are_drawn_and_named() -> None:
    # 13 distinct denominators: their common multiple makes counting every flip too large
    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41]
    a = {f"t{i}": Cell(1, p) for i, p in enumerate(primes * 3)}
    b = {f"t{i}": Cell(0, p) for i, p in enumerate(primes * 3)}
    result = compare(a, b, label_a="a", label_b="b")
    assert result.like_these.method == "paired permutation (Monte Carlo, 20,000 sign flips)"


def test_compare_is_deterministic() -> None:
    a, b = (
        cells((3, 3), (2, 3), (0, 3), (1, 3), (3, 3)),
        cells((0, 3), (2, 3), (1, 3), (0, 3), (1, 3)),
    )
    assert compare(a, b, label_a="x", label_b="y") == compare(a, b, label_a="x", label_b="y")


def test_compare_rejects_a_level_outside_zero_and_one() -> None:
    with pytest.raises(ValueError):
        compare({}, {}, label_a="a", label_b="b", alpha=1.0)


# Comparisons: the sentences


def test_one_task_of_ten_samples_speaks_for_that_task() -> None:
    result = compare({"t": Cell(10, 10)}, {"t": Cell(2, 10)}, label_a="strict", label_b="base")
    assert result.verdict == (
        "On this task, strict passed more often than base: 10/10 against 2/10 (Fisher exact "
        "test, p<0.001). On tasks like these, one task cannot tell: add tasks."
    )


def test_four_perfect_tasks_win_on_these_tasks_but_are_too_few_for_tasks_like_these() -> None:
    result = compare(
        cells(*[(20, 20)] * 4), cells(*[(0, 20)] * 4), label_a="strict", label_b="baseline"
    )
    assert result.these_tasks.verdict == (
        "On these 4 tasks, strict passed more often than baseline: 80/80 samples against 0/80 "
        "(exact stratified test, p<0.001)."
    )
    assert result.like_these.verdict == (
        "On tasks like these, no evidence of a difference yet: strict +100 points against "
        "baseline, better on 4 of 4 tasks, worse on 0 (paired permutation test, p=0.12); 4 tasks "
        "cannot show a difference at the 0.05 level, whatever their scores; about 6 tasks would "
        "show a difference this large (80% power)."
    )


def test_a_difference_on_tasks_like_these_names_the_better_side_first() -> None:
    result = compare(
        cells(*[(0, 1)] * 20),
        cells(*[(1, 1)] * 7, *[(0, 1)] * 13),
        label_a="baseline",
        label_b="strict",
    )
    assert result.like_these.verdict.startswith(
        "On tasks like these, strict passes more often than baseline: strict +35 points against "
        "baseline (95% interval +"
    )
    assert result.like_these.verdict.endswith(
        "better on 7 of 20 tasks, worse on 0 (paired permutation test, p=0.016)."
    )


def test_identical_sides_are_never_a_difference() -> None:
    same = cells((0, 3), (2, 3), (3, 3), (1, 3), (3, 3), (0, 3), (2, 3))
    result = compare(same, same, label_a="strict", label_b="baseline")
    assert (result.these_tasks.p_value, result.like_these.p_value) == (1.0, 1.0)
    assert result.verdict == (
        "On these 7 tasks, no evidence of a difference: strict passed 11/21 samples, baseline "
        "11/21 (exact stratified test, p=1.00). On tasks like these, no evidence of a "
        "difference: strict and baseline passed equally often on every task (paired "
        "permutation test, p=1.00)."
    )
    assert result.tasks_needed is None


def test_no_evidence_says_how_many_tasks_would_show_the_difference() -> None:
    a = cells((3, 5), (2, 5), (5, 5), (1, 5), (4, 5), (2, 5), (5, 5), (0, 5), (3, 5), (4, 5))
    b = cells((2, 5), (2, 5), (3, 5), (1, 5), (2, 5), (3, 5), (4, 5), (0, 5), (1, 5), (4, 5))
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert result.like_these.p_value is not None and result.like_these.p_value > 0.05
    assert result.tasks_needed is not None and result.tasks_needed > 10
    assert result.like_these.verdict.endswith(
        f"; about {result.tasks_needed} tasks would show a difference this large (80% power)."
    )


def test_a_verdict_never_claims_significance_at_alpha() -> None:
    # p = 2 / 2**7 = 0.015625 exactly: at alpha = 0.015625 it is not below alpha
    result = compare(
        cells(*[(1, 1)] * 7), cells(*[(0, 1)] * 7), label_a="a", label_b="b", alpha=0.015625
    )
    assert "no evidence of a difference yet" in result.like_these.verdict


def test_a_printed_p_value_is_never_rounded_across_alpha() -> None:
    # p = 0.015625 would print as 0.016, above alpha = 0.0157; more digits are shown
    result = compare(
        cells(*[(1, 1)] * 7), cells(*[(0, 1)] * 7), label_a="a", label_b="b", alpha=0.0157
    )
    assert "(paired permutation test, p=0.0156)" in result.like_these.verdict
