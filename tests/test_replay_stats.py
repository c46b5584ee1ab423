"""Replay statistics: intervals, exact tests and comparison verdicts against published values.

Reference numbers were computed independently with scipy 1.18.1 and statsmodels 0.15.0 (in a
separate environment; neither is a dependency) and are hard-coded with the call that gave them.
"""

from __future__ import annotations

import pytest

from redline.replay.stats import (
    Cell,
    Interval,
    binomial_two_sided,
    compare,
    fisher_exact,
    mcnemar_exact,
    summarize,
    wilson,
)

REL = 1e-12


def cells(*outcomes: tuple[int, int]) -> dict[str, Cell]:
    """Cells keyed t00, t01, ... from (passes, samples) pairs."""
    return {f"t{i:02}": Cell(k, n) for i, (k, n) in enumerate(outcomes)}


# Wilson intervals


def test_wilson_zero_of_three() -> None:
    # scipy.stats.binomtest(0, 3).proportion_ci(method="wilson")
    assert wilson(0, 3) == Interval(0.0, pytest.approx(0.5614970317550454, rel=REL))


def test_wilson_three_of_three() -> None:
    # scipy.stats.binomtest(3, 3).proportion_ci(method="wilson")
    assert wilson(3, 3) == Interval(pytest.approx(0.4385029682449546, rel=REL), 1.0)


def test_wilson_seven_of_twenty() -> None:
    # scipy.stats.binomtest(7, 20).proportion_ci(method="wilson"); statsmodels
    # proportion_confint(7, 20, method="wilson") agrees
    interval = wilson(7, 20)
    assert interval.lo == pytest.approx(0.1811918241010821, rel=REL)
    assert interval.hi == pytest.approx(0.5671457233147637, rel=REL)


def test_wilson_with_no_trials_is_the_whole_unit_interval() -> None:
    assert wilson(0, 0) == Interval(0.0, 1.0)


@pytest.mark.parametrize(("k", "n"), [(-1, 3), (4, 3), (0, -1)])
def test_wilson_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson(k, n)


# Exact binomial test


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (7, 20, 0.5, 0.26317596435546875),  # scipy.stats.binomtest(7, 20).pvalue
        (9, 10, 0.5, 0.021484375),  # scipy.stats.binomtest(9, 10).pvalue
        (0, 3, 0.5, 0.25),  # scipy.stats.binomtest(0, 3).pvalue
        (2, 20, 0.3, 0.05262794872972706),  # scipy.stats.binomtest(2, 20, 0.3).pvalue
        (8, 40, 0.1, 0.05668282561479833),  # scipy.stats.binomtest(8, 40, 0.1).pvalue
        (1, 10, 0.7, 0.00014368590000000018),  # scipy.stats.binomtest(1, 10, 0.7).pvalue
    ],
)
def test_binomial_two_sided_matches_scipy(k: int, n: int, p: float, expected: float) -> None:
    assert binomial_two_sided(k, n, p) == pytest.approx(expected, rel=1e-9)


def test_binomial_at_the_most_likely_outcome_is_one() -> None:
    # scipy.stats.binomtest(3, 10, 0.3).pvalue == 1.0
    assert binomial_two_sided(3, 10, 0.3) == pytest.approx(1.0, rel=1e-9)


def test_binomial_against_a_certain_outcome_is_zero_or_one() -> None:
    assert binomial_two_sided(0, 5, 0.0) == 1.0
    assert binomial_two_sided(1, 5, 0.0) == 0.0
    assert binomial_two_sided(5, 5, 1.0) == 1.0


# Exact McNemar test


def test_mcnemar_seven_to_none_is_exactly_one_in_sixty_four() -> None:
    # statsmodels mcnemar([[10, 7], [0, 10]], exact=True).pvalue == 0.015625 == 2 / 2**7
    assert mcnemar_exact(7, 0) == 0.015625


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (6, 2, 0.2890625),  # statsmodels mcnemar([[10, 6], [2, 10]], exact=True).pvalue
        (1, 5, 0.21875),  # statsmodels mcnemar([[10, 1], [5, 10]], exact=True).pvalue
    ],
)
def test_mcnemar_matches_statsmodels(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == expected


def test_mcnemar_without_discordant_pairs_is_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0


# Fisher exact test


def test_fisher_zero_of_three_against_three_of_three_is_one_tenth() -> None:
    # scipy.stats.fisher_exact([[0, 3], [3, 0]]).pvalue == 0.1 (2 of the 20 tables)
    assert fisher_exact(0, 3, 3, 0) == pytest.approx(0.1, rel=REL)
    assert fisher_exact(3, 0, 0, 3) == pytest.approx(0.1, rel=REL)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ((1, 9, 11, 3), 0.0027594561852200836),  # scipy.stats.fisher_exact([[1, 9], [11, 3]])
        ((2, 3, 4, 1), 0.5238095238095238),  # scipy.stats.fisher_exact([[2, 3], [4, 1]])
        ((10, 0, 0, 10), 1.082508822446903e-05),  # scipy.stats.fisher_exact([[10, 0], [0, 10]])
        ((0, 0, 0, 0), 1.0),  # scipy.stats.fisher_exact([[0, 0], [0, 0]])
    ],
)
def test_fisher_exact_matches_scipy(table: tuple[int, int, int, int], expected: float) -> None:
    assert fisher_exact(*table) == pytest.approx(expected, rel=REL)


# Cells and summaries


def test_cell_gives_rate_wilson_interval_and_k_of_n() -> None:
    cell = Cell(7, 20)
    assert (cell.rate, cell.interval, str(cell)) == (0.35, wilson(7, 20), "7/20")


@pytest.mark.parametrize(("passes", "samples"), [(4, 3), (-1, 3), (0, 0)])
def test_cell_rejects_impossible_counts(passes: int, samples: int) -> None:
    with pytest.raises(ValueError):
        Cell(passes, samples)


def test_summary_with_one_sample_per_task_is_wilson_over_tasks() -> None:
    summary = summarize(cells(*[(1, 1)] * 7, *[(0, 1)] * 13).values())
    assert (summary.tasks, summary.passes, summary.samples) == (20, 7, 20)
    assert summary.rate == 0.35
    assert summary.interval.lo == pytest.approx(wilson(7, 20).lo, rel=REL)
    assert summary.interval.hi == pytest.approx(wilson(7, 20).hi, rel=REL)


def test_summary_interval_is_over_tasks_not_pooled_samples() -> None:
    # 0/3 and 3/3: two tasks, not six independent samples, so wider than wilson(3, 6)
    summary = summarize([Cell(0, 3), Cell(3, 3)])
    assert summary.rate == 0.5
    assert summary.interval.lo < wilson(3, 6).lo
    assert summary.interval.hi > wilson(3, 6).hi


def test_summary_weighs_tasks_equally() -> None:
    assert summarize([Cell(1, 1), Cell(0, 9)]).rate == 0.5


# compare(): which method


def test_compare_one_shared_task_uses_fisher_on_pooled_samples() -> None:
    result = compare({"t": Cell(3, 3)}, {"t": Cell(0, 3)}, label_a="strict", label_b="baseline")
    assert result.method == "fisher exact"
    assert result.p_value == pytest.approx(0.1, rel=REL)
    assert (result.mean_difference, result.interval) == (1.0, None)


def test_compare_two_or_more_shared_tasks_use_sign_test_and_bootstrap() -> None:
    result = compare(
        cells((1, 1), (1, 1)), cells((0, 1), (0, 1)), label_a="strict", label_b="baseline"
    )
    assert result.method == "sign test"
    assert result.p_value == 0.5  # scipy.stats.binomtest(2, 2).pvalue
    assert result.interval is not None


def test_compare_without_shared_tasks_tests_nothing() -> None:
    result = compare({"a": Cell(1, 1)}, {"b": Cell(0, 1)}, label_a="strict", label_b="base")
    assert (result.method, result.p_value, result.tasks) == ("none", None, ())
    assert result.verdict == "no tasks in common between strict and base: nothing to compare"


def test_compare_leaves_out_tasks_present_on_one_side_only() -> None:
    a = {"shared": Cell(3, 3), "only-a": Cell(0, 3)}
    b = {"shared": Cell(0, 3), "only-b": Cell(3, 3)}
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert result.tasks == ("shared",)
    assert result.method == "fisher exact"


def test_compare_counts_wins_losses_and_ties_by_pass_rate() -> None:
    a = cells((3, 3), (2, 3), (1, 3), (0, 3))
    b = cells((0, 3), (1, 3), (1, 3), (2, 3))
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert (result.wins_a, result.wins_b, result.ties) == (2, 1, 1)


def test_sign_test_with_one_sample_per_task_is_exact_mcnemar() -> None:
    # 6 tasks only strict passed, 2 only baseline passed, 12 both or neither
    a = cells(*[(1, 1)] * 6, *[(0, 1)] * 2, *[(1, 1)] * 6, *[(0, 1)] * 6)
    b = cells(*[(0, 1)] * 6, *[(1, 1)] * 2, *[(1, 1)] * 6, *[(0, 1)] * 6)
    assert compare(a, b, label_a="x", label_b="y").p_value == mcnemar_exact(6, 2)


def test_mean_difference_is_a_minus_b() -> None:
    result = compare(cells((0, 2), (0, 2)), cells((2, 2), (1, 2)), label_a="a", label_b="b")
    assert result.mean_difference == -0.75


# compare(): the bootstrap


def test_bootstrap_is_deterministic_under_a_seed() -> None:
    a = cells((3, 3), (2, 3), (0, 3), (1, 3), (3, 3))
    b = cells((0, 3), (2, 3), (1, 3), (0, 3), (1, 3))
    first = compare(a, b, label_a="strict", label_b="baseline", seed=7)
    again = compare(a, b, label_a="strict", label_b="baseline", seed=7)
    assert first == again


def test_bootstrap_interval_contains_the_mean_difference() -> None:
    a = cells((3, 3), (2, 3), (0, 3), (1, 3), (3, 3), (2, 3))
    b = cells((0, 3), (2, 3), (1, 3), (0, 3), (1, 3), (3, 3))
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert result.interval is not None and result.mean_difference is not None
    assert result.interval.lo < result.mean_difference < result.interval.hi


def test_bootstrap_of_seven_wins_in_twenty_stays_above_zero() -> None:
    a = cells(*[(1, 1)] * 7, *[(0, 1)] * 13)
    b = cells(*[(0, 1)] * 20)
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert result.mean_difference == pytest.approx(0.35)
    assert result.interval is not None and 0 < result.interval.lo < 0.35 < result.interval.hi


# compare(): verdicts


def test_verdict_for_a_significant_win() -> None:
    a = cells(*[(1, 1)] * 7, *[(0, 1)] * 13)
    b = cells(*[(0, 1)] * 20)
    result = compare(a, b, label_a="strict", label_b="baseline")
    assert result.p_value == 0.015625
    assert result.verdict == (
        "strict passes more often than baseline: better on 7 of 20 tasks, worse on 0 "
        "(sign test p=0.016)"
    )


def test_verdict_names_the_better_side_first_whichever_argument_it_is() -> None:
    a = cells(*[(0, 1)] * 20)
    b = cells(*[(1, 1)] * 7, *[(0, 1)] * 13)
    result = compare(a, b, label_a="baseline", label_b="strict")
    assert result.verdict.startswith("strict passes more often than baseline: better on 7 of 20")


def test_verdict_for_one_task_with_three_samples_is_not_significant() -> None:
    result = compare({"t": Cell(0, 3)}, {"t": Cell(3, 3)}, label_a="baseline", label_b="strict")
    assert result.verdict == (
        "strict passed 3/3, baseline 0/3 on the one task (Fisher exact p=0.10): "
        "not significant with 1 task and 3 samples each; add tasks or samples"
    )


def test_verdict_for_one_task_with_many_samples_speaks_for_that_task_only() -> None:
    result = compare({"t": Cell(10, 10)}, {"t": Cell(0, 10)}, label_a="strict", label_b="baseline")
    assert result.verdict == (
        "strict passed 10/10, baseline 0/10 on the one task (Fisher exact p<0.001): "
        "strict passes more often on this task; add tasks to generalise"
    )


def test_verdict_for_identical_results_is_no_evidence_of_a_difference() -> None:
    same = cells((0, 3), (2, 3), (3, 3), (1, 3), (3, 3), (0, 3), (2, 3))
    result = compare(same, same, label_a="strict", label_b="baseline")
    assert result.p_value == 1.0
    assert result.verdict == (
        "no evidence of a difference between strict and baseline "
        "(sign test p=1.00, 7 tasks: strict better on 0, worse on 0)"
    )


def test_verdict_says_when_too_few_tasks_could_ever_show_a_difference() -> None:
    # 5 of 5 tasks better: p = 2 / 2**5 = 0.0625 (scipy.stats.binomtest(5, 5).pvalue)
    result = compare(cells(*[(1, 1)] * 5), cells(*[(0, 1)] * 5), label_a="strict", label_b="b")
    assert result.p_value == 0.0625
    assert result.verdict == (
        "no evidence of a difference between strict and b (sign test p=0.062, 5 tasks: "
        "strict better on 5, worse on 0); 5 tasks cannot show a difference at the 0.05 level, "
        "add tasks"
    )


def test_verdict_never_claims_significance_at_alpha() -> None:
    # p = 0.015625 exactly: at alpha = 0.015625 it is not below alpha
    a = cells(*[(1, 1)] * 7)
    b = cells(*[(0, 1)] * 7)
    result = compare(a, b, label_a="strict", label_b="baseline", alpha=0.015625)
    assert result.verdict.startswith("no evidence of a difference")


def test_printed_p_value_is_never_rounded_across_alpha() -> None:
    # p = 0.015625 would print as 0.016, above alpha = 0.0157; more digits are shown
    a = cells(*[(1, 1)] * 7)
    b = cells(*[(0, 1)] * 7)
    result = compare(a, b, label_a="strict", label_b="baseline", alpha=0.0157)
    assert result.verdict.endswith("(sign test p=0.0156)")
