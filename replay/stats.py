"""Honest statistics for replay results: intervals for pass rates and paired comparisons.

A replay gives, per task and per (model, prompt variant), a handful of samples that pass or
fail. With so few samples a bare percentage misleads, so every rate comes with an interval and
every "A beats B" with an exact test and a verdict that says what the data can and cannot
show. Only the standard library is used (exact integer arithmetic where it matters) so the
command line starts fast.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Cell",
    "Comparison",
    "Interval",
    "Method",
    "Summary",
    "binomial_two_sided",
    "compare",
    "fisher_exact",
    "mcnemar_exact",
    "summarize",
    "wilson",
]

Z95 = 1.959963984540054
"""The standard normal 97.5% quantile: a two-sided 95% interval."""

_REL_ERR = 1 + 1e-7
"""Probabilities within this factor of the observed one count as ties (R's binom.test)."""

Method = Literal["none", "fisher exact", "sign test"]


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval [lo, hi]."""

    lo: float
    hi: float

    def __contains__(self, value: float) -> bool:
        return self.lo <= value <= self.hi


@dataclass(frozen=True, slots=True)
class Cell:
    """One task under one model and variant: how many of its samples passed."""

    passes: int
    samples: int

    def __post_init__(self) -> None:
        # A task with no samples has no outcome; the caller reports it rather than a 0/0.
        if self.samples < 1 or not 0 <= self.passes <= self.samples:
            raise ValueError(f"a cell needs 0 <= passes <= samples, samples >= 1: {self}")

    @property
    def rate(self) -> float:
        return self.passes / self.samples

    @property
    def interval(self) -> Interval:
        """Wilson 95% interval for this task's pass probability."""
        return wilson(self.passes, self.samples)

    def __str__(self) -> str:
        return f"{self.passes}/{self.samples}"


@dataclass(frozen=True, slots=True)
class Summary:
    """Pass rate of one model and variant over its tasks.

    `rate` is the mean of the per-task pass rates, so every task weighs the same however many
    samples it had (it equals passes/samples when the sample counts are equal).
    """

    tasks: int
    passes: int
    samples: int
    rate: float
    interval: Interval


@dataclass(frozen=True, slots=True)
class Comparison:
    """A paired comparison of side a against side b on the tasks both ran.

    `wins_a` counts tasks where a had the higher pass rate, `wins_b` where b had, `ties` the
    rest. `mean_difference` is the mean over tasks of (rate a - rate b); `interval` its
    bootstrap interval (None with fewer than two tasks). `p_value` is None when no task was
    shared.
    """

    label_a: str
    label_b: str
    tasks: tuple[str, ...]
    wins_a: int
    wins_b: int
    ties: int
    mean_difference: float | None
    interval: Interval | None
    p_value: float | None
    method: Method
    verdict: str


def wilson(k: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval for k successes in n trials (Wilson 1927).

    Unlike the textbook Wald interval it stays inside [0, 1] and keeps close to its nominal
    coverage at the tiny n of a replay, including 0/n and n/n, where Wald collapses to a point
    (Agresti & Coull 1998; Brown, Cai & DasGupta 2001). n == 0 says nothing: (0, 1).
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Interval(0.0, 1.0)
    return _wilson(k, n, z)


def _wilson(x: float, n: float, z: float) -> Interval:
    """The Wilson formula for a possibly fractional count x of n (see summarize)."""
    z2 = z * z
    denominator = n + z2
    centre = (x + z2 / 2) / denominator
    half = z * math.sqrt(x * (n - x) / n + z2 / 4) / denominator
    lo = 0.0 if x == 0 else max(0.0, centre - half)
    hi = 1.0 if x == n else min(1.0, centre + half)
    return Interval(lo, hi)


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

    Used for a single task: rows are the two sides, columns passes and failures of their
    pooled samples. Conditional on the margins the table follows a hypergeometric law; the
    p-value sums the probabilities of all tables no more likely than the observed one (as R's
    fisher.test and scipy's fisher_exact), in exact integer arithmetic so ties are exact.
    """
    if min(a, b, c, d) < 0:
        raise ValueError(f"counts must be non-negative, got {(a, b, c, d)}")
    row1, row2, col1 = a + b, c + d, a + c

    def weight(x: int) -> int:  # proportional to the probability of top-left cell x
        return math.comb(row1, x) * math.comb(row2, col1 - x)

    observed = weight(a)
    support = range(max(0, col1 - row2), min(row1, col1) + 1)
    extreme = sum(w for w in map(weight, support) if w <= observed)
    return min(1.0, extreme / math.comb(row1 + row2, col1))


def summarize(cells: Iterable[Cell], z: float = Z95) -> Summary:
    """Pass rate of one model and variant over tasks, with an interval over tasks.

    Samples of the same task are not independent (a task is easy or hard for a model), so a
    Wilson interval over all pooled samples would be too narrow. Instead the tasks are the
    trials: the rate is the mean of the per-task rates, and the interval is Wilson's with that
    mean over n = tasks. A per-task rate lies in [0, 1], so its variance is at most
    mean * (1 - mean) (Bhatia & Davis 2000), the Bernoulli variance Wilson assumes: the
    interval is exact Wilson with one sample per task and conservative otherwise.
    """
    listed = list(cells)
    if not listed:
        raise ValueError("summarize needs at least one task")
    tasks = len(listed)
    total = math.fsum(cell.rate for cell in listed)
    return Summary(
        tasks=tasks,
        passes=sum(cell.passes for cell in listed),
        samples=sum(cell.samples for cell in listed),
        rate=total / tasks,
        interval=_wilson(total, tasks, z),
    )


def compare(
    a: Mapping[str, Cell],
    b: Mapping[str, Cell],
    *,
    label_a: str,
    label_b: str,
    seed: int = 0,
    resamples: int = 2000,
    alpha: float = 0.05,
) -> Comparison:
    """Compare side a with side b on the tasks both have (keyed by task id).

    Tasks are paired, since one task is hard for every model while another is easy; tasks
    present on one side only are left out. The method depends on how many tasks are shared:

    * two or more: a sign test over tasks. Each task counts as a win for the side with the
      higher pass rate, ties are dropped, and the exact two-sided binomial test at 1/2 is
      applied to the wins (Dixon & Mood 1946); with one sample per task this is exactly
      McNemar's exact test. Alongside, a paired bootstrap over tasks (Efron & Tibshirani
      1993; `resamples` resamples from a generator seeded with `seed`, so it is
      deterministic) gives a percentile interval at level 1 - alpha for the mean difference
      in pass rate, a - b.
    * exactly one: Fisher's exact test on that task's pooled samples, a's passes and failures
      against b's. It speaks for that task only.
    * none: nothing is tested.

    The verdict claims a difference only when p < alpha, and otherwise says there is no
    evidence of one (never that there is none); it names the number of tasks, and for a
    single task the samples.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    shared = tuple(sorted(set(a) & set(b)))
    diffs = [a[task].rate - b[task].rate for task in shared]
    wins_a = sum(d > 0 for d in diffs)
    wins_b = sum(d < 0 for d in diffs)
    ties = len(diffs) - wins_a - wins_b

    def result(
        mean: float | None, interval: Interval | None, p: float | None, method: Method, text: str
    ) -> Comparison:
        return Comparison(
            label_a, label_b, shared, wins_a, wins_b, ties, mean, interval, p, method, text
        )

    if not shared:
        text = f"no tasks in common between {label_a} and {label_b}: nothing to compare"
        return result(None, None, None, "none", text)

    if len(shared) == 1:
        ca, cb = a[shared[0]], b[shared[0]]
        p = fisher_exact(ca.passes, ca.samples - ca.passes, cb.passes, cb.samples - cb.passes)
        return result(
            diffs[0], None, p, "fisher exact", _one_task_verdict(label_a, ca, label_b, cb, p, alpha)
        )

    p = mcnemar_exact(wins_a, wins_b)
    mean, interval = _bootstrap(diffs, seed, resamples, alpha)
    n = len(shared)
    if p < alpha:
        better, worse = (label_a, label_b) if wins_a > wins_b else (label_b, label_a)
        text = (
            f"{better} passes more often than {worse}: better on {max(wins_a, wins_b)} of {n} "
            f"tasks, worse on {min(wins_a, wins_b)} (sign test {_format_p(p, alpha)})"
        )
    else:
        text = (
            f"no evidence of a difference between {label_a} and {label_b} "
            f"(sign test {_format_p(p, alpha)}, {n} tasks: {label_a} better on {wins_a}, "
            f"worse on {wins_b})"
        )
        if mcnemar_exact(n, 0) >= alpha:
            text += f"; {n} tasks cannot show a difference at the {alpha:g} level, add tasks"
    return result(mean, interval, p, "sign test", text)


def _one_task_verdict(label_a: str, a: Cell, label_b: str, b: Cell, p: float, alpha: float) -> str:
    """Verdict for a single shared task: the higher pass rate is named first."""
    (first, cf), (second, cs) = sorted(((label_a, a), (label_b, b)), key=lambda side: -side[1].rate)
    head = (
        f"{first} passed {cf}, {second} {cs} on the one task (Fisher exact {_format_p(p, alpha)})"
    )
    if p < alpha:
        return f"{head}: {first} passes more often on this task; add tasks to generalise"
    samples = (
        f"{cf.samples} samples each"
        if cf.samples == cs.samples
        else f"{cf.samples} vs {cs.samples} samples"
    )
    return f"{head}: not significant with 1 task and {samples}; add tasks or samples"


def _bootstrap(
    diffs: list[float], seed: int, resamples: int, alpha: float
) -> tuple[float, Interval]:
    """Mean of the per-task differences and its percentile bootstrap interval."""
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    return math.fsum(diffs) / n, Interval(
        _quantile(means, alpha / 2), _quantile(means, 1 - alpha / 2)
    )


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between order statistics (Hyndman & Fan 1996, type 7)."""
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def _format_p(p: float, alpha: float) -> str:
    """`p=0.016`, `p=0.10`, `p<0.001`: two significant digits, two decimals from 0.1 on.

    Digits are added while rounding would put the shown value on the other side of alpha
    than p itself, so a printed p never contradicts the verdict.
    """
    if p < 0.001:
        return "p<0.001"
    digits = 2 if p >= 0.1 else 1 - math.floor(math.log10(p))
    text = f"{p:.{digits}f}"
    while (float(text) < alpha) != (p < alpha) and digits < 12:
        digits += 1
        text = f"{p:.{digits}f}"
    return f"p={text}"
