"""Exact tests for replay results: binomial, McNemar, Fisher, stratified (CMH) and sign flips.

Every p-value here is exact: counted in integer arithmetic, so ties between equally likely
outcomes are ties and a printed p never depends on rounding. Two of the tests count very many
outcomes (the stratified test: every table with the observed margins, over every task; the
paired permutation test: all 2^n sign flips of n tasks); they do it by multiplying generating
polynomials packed into one Python integer (Kronecker substitution), so the counting runs in
the interpreter's big-integer code instead of a Python loop. Only the standard library is used,
so the command line starts fast.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "SignFlips",
    "Table",
    "binomial_two_sided",
    "fisher_exact",
    "mcnemar_exact",
    "sign_flip_test",
    "stratified_exact",
]

_REL_ERR = 1 + 1e-7
"""Probabilities within this factor of the observed one count as ties (R's binom.test)."""

MAX_BITS = 1 << 25
"""The largest packed polynomial (4 MiB) the sign-flip test counts exactly; beyond, it samples."""

MONTE_CARLO_FLIPS = 20_000
"""Sign flips drawn when counting all of them would take more than MAX_BITS."""

Table = tuple[int, int, int, int]
"""A 2x2 table (a, b, c, d): side A passed a and did not pass b; side B passed c, not d."""


def binomial_two_sided(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test of k successes in n trials against probability p.

    The p-value is the total probability of every outcome no more likely than the observed one
    (the definition of R's binom.test and scipy's binomtest), with R's relative tolerance of
    1e-7 for ties. For p = 0.5, the sign test, it is computed in exact integer arithmetic.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability, got {p}")
    if p == 0.5:
        return _sign_test(k, n)
    if p in (0.0, 1.0):
        certain = 0 if p == 0.0 else n
        return 1.0 if k == certain else 0.0

    def log_pmf(i: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * math.log(p)
            + (n - i) * math.log1p(-p)
        )

    limit = log_pmf(k) + math.log(_REL_ERR)
    logs = (log_pmf(i) for i in range(n + 1))
    return min(1.0, math.fsum(math.exp(value) for value in logs if value <= limit))


def _sign_test(k: int, n: int) -> float:
    """Exact two-sided binomial p-value at p = 0.5: twice the smaller tail."""
    smaller = min(k, n - k)
    if 2 * smaller == n:  # the observed split is the most likely one (includes n == 0)
        return 1.0
    tail = sum(math.comb(n, i) for i in range(smaller + 1))
    return 2 * tail / (1 << n)  # int / int is correctly rounded; at most 1 here


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar test for paired binary outcomes (McNemar 1947).

    Only the discordant pairs carry information: b where the first side alone passed, c where
    the second alone did. Under no difference each is equally likely, so the p-value is the
    exact two-sided binomial (sign) test of b out of b + c at 1/2; with no discordant pairs it
    is 1.
    """
    if b < 0 or c < 0:
        raise ValueError(f"counts must be non-negative, got b={b}, c={c}")
    return _sign_test(b, b + c)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact test of the 2x2 table [[a, b], [c, d]] (Fisher 1935).

    Used for a single task: rows are the two sides, columns passes and the rest of their pooled
    samples. Conditional on the margins the table follows a hypergeometric law; the p-value
    sums the probabilities of all tables no more likely than the observed one (as R's
    fisher.test and scipy's fisher_exact). It is the stratified test with one stratum.
    """
    return stratified_exact([(a, b, c, d)])


def stratified_exact(tables: Iterable[Table]) -> float:
    """Exact conditional test of no difference across strata of 2x2 tables.

    The exact Cochran-Mantel-Haenszel test (Mehta, Patel & Gray 1985; R's
    `mantelhaen.test(exact=TRUE)`): each task is a stratum whose rows are the two sides and
    columns passed / not passed. Given every stratum's margins, side A's passes in a stratum
    follow a hypergeometric law when the sides do not differ, and their total over the strata
    follows the convolution of those laws. The two-sided p-value sums the probability of every
    total no more likely than the observed one. A difference that points the same way in many
    tasks adds up; one task gives Fisher's exact test. Strata whose margins leave no freedom
    (every sample passed, none did, or one side has no sample) carry no information and drop
    out; with none left the p-value is 1.
    """
    groups: Counter[tuple[int, int, int]] = Counter()
    observed = 0
    for a, b, c, d in tables:
        if min(a, b, c, d) < 0:
            raise ValueError(f"counts must be non-negative, got {(a, b, c, d)}")
        row1, row2, col1 = a + b, c + d, a + c
        low, high = max(0, col1 - row2), min(row1, col1)
        if low == high:
            continue
        groups[(row1, row2, col1)] += 1
        observed += a - low
    if not groups:
        return 1.0
    total: int = math.prod(math.comb(r1 + r2, c1) ** m for (r1, r2, c1), m in groups.items())
    width = _bytes_for(total) * 8  # every coefficient of every partial product is <= total
    factors = []
    for (row1, row2, col1), m in groups.items():
        low = max(0, col1 - row2)
        weights = [
            math.comb(row1, x) * math.comb(row2, col1 - x) for x in range(low, min(row1, col1) + 1)
        ]
        factors.append(int(_pack(weights, width) ** m))
    counts = _unpack(_product(factors), width)
    limit = counts[observed]
    return min(1.0, sum(w for w in counts if w <= limit) / total)


@dataclass(frozen=True, slots=True)
class SignFlips:
    """A paired permutation test's result: its p-value, and whether all flips were counted.

    `flips` is how many sign patterns the p-value rests on: 2^n when `exact`, else the number
    drawn.
    """

    p_value: float
    exact: bool
    flips: int


def sign_flip_test(
    differences: Sequence[Fraction],
    *,
    seed: int = 0,
    resamples: int = MONTE_CARLO_FLIPS,
    max_bits: int = MAX_BITS,
) -> SignFlips:
    """Exact paired permutation test of a zero mean difference (Fisher 1935; Pitman 1937).

    Under no difference each task's difference in pass rate is as likely to point one way as
    the other, so every pattern of signs over the n tasks is equally likely. The two-sided
    p-value is the share of the 2^n sign patterns whose mean difference is at least as far
    from zero as the observed one. Unlike the sign test it weighs how much better a side was
    on each task (10/10 against 0/10 counts more than 6/10 against 5/10), and unlike a t-test
    it assumes nothing about the shape of the differences.

    Differences are exact fractions, so equal sums are recognised as ties. All 2^n patterns
    are counted as long as their sums fit `max_bits` (always, when every task had the same
    sample counts); beyond that `resamples` patterns are drawn from a generator seeded with
    `seed`, and the result says so.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    values = [abs(d) for d in differences if d != 0]
    observed = abs(sum(differences, Fraction(0)))
    n = len(values)
    if n == 0 or observed == 0:
        return SignFlips(1.0, True, 1 << n)
    scale = math.lcm(*(v.denominator for v in values))
    steps = [int(v * scale) for v in values]
    total = sum(steps)
    width = n + 2  # a coefficient counts at most 2^n patterns; their sum must stay below 2^w - 1
    if (total + 1) * width > max_bits:
        return _sign_flips_drawn(values, observed, seed, resamples)
    # Let T be the sum of the steps flipped to +: the mean difference is (2T - total) / n, and
    # the polynomial prod(1 + x^step) counts the patterns for each T.
    poly = 1
    for step in steps:
        poly += poly << (step * width)
    threshold = (int(observed * scale) + total) // 2
    # The sum of the coefficients from x^threshold up, read off modulo 2^w - 1 (each is a digit).
    upper = (poly >> (threshold * width)) % ((1 << width) - 1)
    # The law of the sum is symmetric: the lower tail is as large as the upper one.
    return SignFlips(min(1.0, upper / (1 << (n - 1))), True, 1 << n)


def _sign_flips_drawn(
    values: list[Fraction], observed: Fraction, seed: int, resamples: int
) -> SignFlips:
    """The sign-flip p-value from random patterns: (1 + as extreme) / (1 + drawn), a valid
    p-value (Davison & Hinkley 1997, 4.2)."""
    rng = random.Random(seed)
    groups = Counter(float(v) for v in values)
    limit = float(observed) * (1 - 1e-12)
    hits = 0
    for _ in range(resamples):
        flipped = math.fsum(v * (2 * rng.binomialvariate(m, 0.5) - m) for v, m in groups.items())
        hits += abs(flipped) >= limit
    return SignFlips((1 + hits) / (1 + resamples), False, resamples)


def _bytes_for(value: int) -> int:
    return value.bit_length() // 8 + 1


def _pack(coefficients: Sequence[int], width: int) -> int:
    """The polynomial sum(c_i x^i) evaluated at x = 2^width: each coefficient one digit."""
    packed = 0
    for c in reversed(coefficients):
        packed = (packed << width) | c
    return packed


def _unpack(packed: int, width: int) -> list[int]:
    size = width // 8
    raw = packed.to_bytes(_bytes_for(packed) + size, "little")
    count = (packed.bit_length() + width - 1) // width
    return [int.from_bytes(raw[i * size : (i + 1) * size], "little") for i in range(count)]


def _product(factors: list[int]) -> int:
    """The product of packed polynomials, multiplied in a balanced tree (sizes stay even, which
    the big-integer multiplication is fastest at)."""
    while len(factors) > 1:
        paired = [a * b for a, b in zip(factors[::2], factors[1::2], strict=False)]
        factors = paired + ([factors[-1]] if len(factors) % 2 else [])
    return factors[0]
