"""Exact tests against reference implementations: scipy (a dev dependency, imported here only)
and R's `mantelhaen.test(exact = TRUE)` for the stratified test (R 4.2.2; the calls are quoted
beside the values, which are hard-coded: R is not a dependency)."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from redline.replay.exact import (
    binomial_two_sided,
    fisher_exact,
    mcnemar_exact,
    sign_flip_test,
    stratified_exact,
)

REL = 1e-12

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


# Exact McNemar test (the sign test)


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


# Fisher's exact test


def test_fisher_zero_of_three_against_three_of_three_is_one_tenth() -> None:
    # scipy.stats.fisher_exact([[0, 3], [3, 0]]).pvalue == 0.1 (2 of the 20 tables)
    assert fisher_exact(0, 3, 3, 0) == pytest.approx(0.1, rel=REL)
    assert fisher_exact(3, 0, 0, 3) == pytest.approx(0.1, rel=REL)


def test_fisher_matches_scipy_on_every_small_table() -> None:
    for table in itertools.product(range(0, 7, 2), range(0, 6), range(0, 5), range(1, 6, 2)):
        a, b, c, d = table
        expected = stats.fisher_exact([[a, b], [c, d]]).pvalue
        assert fisher_exact(*table) == pytest.approx(expected, rel=1e-9), table


def test_fisher_of_an_empty_table_is_one() -> None:
    assert fisher_exact(0, 0, 0, 0) == 1.0


# The exact stratified (Cochran-Mantel-Haenszel) test


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        # mantelhaen.test(x, exact = TRUE)$p.value, x[,,i] = matrix(table_i, 2, 2, byrow = TRUE)
        ([(20, 0, 0, 20)] * 4, 5.5391950495668154e-45),
        ([(3, 2, 2, 3), (4, 1, 1, 4), (2, 3, 3, 2)], 0.48228795486448539),
        (
            [(5, 0, 3, 2), (4, 1, 2, 3), (3, 2, 3, 2), (5, 0, 1, 4), (2, 3, 2, 3)],
            0.043757273632557089,
        ),
        ([(1, 2, 0, 3), (3, 0, 2, 1)], 0.5),
        ([(10, 0, 2, 8), (3, 7, 3, 7)], 0.019645691846134666),
        (
            [(7, 3, 4, 6), (2, 8, 1, 9), (9, 1, 6, 4), (5, 5, 5, 5), (0, 10, 0, 10)],
            0.14355997554285385,
        ),
    ],
)
def test_stratified_matches_r_mantelhaen_exact(
    tables: list[tuple[int, int, int, int]], expected: float
) -> None:
    assert stratified_exact(tables) == pytest.approx(expected, rel=1e-9)


def test_stratified_with_one_stratum_is_fisher() -> None:
    assert stratified_exact([(10, 0, 2, 8)]) == pytest.approx(
        stats.fisher_exact([[10, 0], [2, 8]]).pvalue, rel=1e-9
    )


def test_strata_without_freedom_drop_out() -> None:
    # every sample passed on one task, none on another: their margins fix their tables
    informative = [(4, 1, 1, 4)]
    assert stratified_exact([*informative, (5, 0, 5, 0), (0, 5, 0, 5), (3, 0, 0, 0)]) == (
        stratified_exact(informative)
    )


def test_stratified_with_no_informative_stratum_is_one() -> None:
    assert stratified_exact([(5, 0, 5, 0), (0, 3, 0, 3)]) == 1.0
    assert stratified_exact([]) == 1.0


def test_stratified_adds_up_a_difference_that_one_task_cannot_show() -> None:
    one = (3, 0, 0, 3)  # Fisher p = 0.1 on its own
    assert stratified_exact([one]) > 0.05
    assert stratified_exact([one] * 3) < 0.001


def test_stratified_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        stratified_exact([(1, -1, 0, 2)])


# The paired permutation (sign-flip) test


def scipy_sign_flip(differences: list[Fraction]) -> float:
    """scipy's exact one-sample permutation test of the mean (every sign pattern counted)."""
    values = np.array([float(d) for d in differences])
    return float(
        stats.permutation_test(
            (values,), np.mean, permutation_type="samples", n_resamples=np.inf
        ).pvalue
    )


def test_sign_flip_matches_scipy_permutation_test() -> None:
    rng = random.Random(5)
    for _ in range(40):
        k = rng.choice([1, 3, 5, 10])
        diffs = [
            Fraction(rng.randint(0, k), k) - Fraction(rng.randint(0, k), k)
            for _ in range(rng.randint(2, 12))
        ]
        assert sign_flip_test(diffs).p_value == pytest.approx(scipy_sign_flip(diffs), abs=1e-12)


def test_sign_flip_counts_every_pattern_as_a_brute_force_enumeration_does() -> None:
    diffs = [
        Fraction(1, 3),
        Fraction(-2, 5),
        Fraction(1),
        Fraction(2, 3),
        Fraction(0),
        Fraction(1, 5),
    ]
    observed = abs(sum(diffs))
    extreme = sum(
        abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed
        for signs in itertools.product((1, -1), repeat=len(diffs))
    )
    result = sign_flip_test(diffs)
    assert (result.p_value, result.exact) == (extreme / 2 ** len(diffs), True)


def test_sign_flip_of_seven_tasks_all_better_is_two_in_one_hundred_twenty_eight() -> None:
    assert sign_flip_test([Fraction(1)] * 7).p_value == 2 / 128


def test_sign_flip_weighs_how_much_better_a_side_was() -> None:
    # the same wins and losses; large wins against small losses is stronger evidence
    large = [Fraction(1)] * 6 + [Fraction(-1, 10)] * 2
    small = [Fraction(1, 10)] * 6 + [Fraction(-1)] * 2
    assert sign_flip_test(large).p_value < 0.05 < sign_flip_test(small).p_value


def test_sign_flip_without_any_difference_is_one() -> None:
    assert sign_flip_test([Fraction(0)] * 5).p_value == 1.0
    assert sign_flip_test([Fraction(1, 2), Fraction(-1, 2)]).p_value == 1.0


def test_sign_flip_beyond_the_bound_draws_seeded_patterns_and_says_so() -> None:
    rng = random.Random(3)
    diffs = [Fraction(rng.randint(0, 7), 7) - Fraction(rng.randint(0, 9), 9) for _ in range(30)]
    exact = sign_flip_test(diffs)
    drawn = sign_flip_test(diffs, max_bits=1000, seed=11)
    assert exact.exact and not drawn.exact and drawn.flips == 20_000
    assert drawn == sign_flip_test(diffs, max_bits=1000, seed=11)
    assert drawn.p_value == pytest.approx(exact.p_value, abs=0.01)
