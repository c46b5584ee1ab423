"""Confidence intervals for pass rates and for paired differences in pass rate.

Per task (one model and variant): Wilson's interval over the task's samples. Over tasks: the
tasks are the unit that was sampled (Miller 2024, "Adding Error Bars to Evals"), so the
intervals rest on the spread of the per-task rates, the clustered standard error, with a
Student t quantile for the few tasks a personal benchmark has. Where that is not enough to hold
the coverage (simulation decides: redline.replay.simulation), a conservative interval takes
over. Only the standard library is used.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

__all__ = [
    "Interval",
    "clustered_se",
    "clustered_wilson",
    "difference_interval",
    "t_quantile",
    "wilson",
    "wilson_fractional",
    "z_quantile",
]

Z95 = 1.959963984540054
"""The standard normal 97.5% quantile: a two-sided 95% interval."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval [lo, hi]."""

    lo: float
    hi: float

    def __contains__(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    @property
    def width(self) -> float:
        return self.hi - self.lo


def z_quantile(q: float) -> float:
    """The standard normal quantile."""
    return statistics.NormalDist().inv_cdf(q)


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
    return wilson_fractional(k, n, z)


def wilson_fractional(x: float, n: float, z: float = Z95) -> Interval:
    """The Wilson formula for a possibly fractional count x of a possibly fractional n.

    With x = n * mean, it is the interval of a mean of n values in [0, 1] whose variance is
    taken to be the largest it can be, mean * (1 - mean) (Bhatia & Davis 2000): conservative
    for anything but 0/1 values, exact Wilson for those.
    """
    z2 = z * z
    denominator = n + z2
    centre = (x + z2 / 2) / denominator
    half = z * math.sqrt(max(0.0, x * (n - x) / n) + z2 / 4) / denominator
    lo = 0.0 if x <= 0 else max(0.0, centre - half)
    hi = 1.0 if x >= n else min(1.0, centre + half)
    return Interval(lo, hi)


def clustered_se(values: Sequence[float]) -> float:
    """The standard error of the mean of per-task values, the task being the cluster.

    Miller (2024), appendix A, with equal weight per task: the spread of the per-task means
    around their mean, sqrt(sum (v - mean)^2 / (n (n - 1))). It counts the variation between
    tasks and, through each task's own mean, the variation between samples of a task. Needs
    two tasks.
    """
    n = len(values)
    if n < 2:
        raise ValueError("a clustered standard error needs at least two tasks")
    return statistics.stdev(values) / math.sqrt(n)


def clustered_wilson(values: Sequence[float], samples: int, z: float = Z95) -> Interval:
    """Interval for the mean over tasks of per-task rates in [0, 1], tasks being the clusters.

    Wilson's interval with the effective number of tasks of Korn & Graubard (1998):
    n_eff = mean (1 - mean) / SE^2 from the clustered standard error SE, shrunk by
    (z / t_{n-1})^2 so that a handful of tasks pays for estimating SE from so few (their
    degrees-of-freedom adjustment), and at most `samples`, the samples the rates rest on (it
    takes that cap when SE is 0: every task at the same rate). Wilson's shape keeps the
    interval inside [0, 1] and honest near 0 and 1, where a symmetric mean +- t SE interval
    undercovers; the t factor makes it wide when tasks are few. Simulation over tasks 3-100,
    samples 1-10 and several spreads of task difficulty keeps its coverage at or above 93%
    (redline.replay.simulation; docs/replay.md has the table). Needs two tasks.
    """
    n = len(values)
    mean = math.fsum(values) / n
    se = clustered_se(values)
    effective = samples if se == 0 else mean * (1 - mean) / (se * se)
    effective = min(effective, samples) * (z / t_quantile(_upper(z), n - 1)) ** 2
    return wilson_fractional(mean * effective, effective, z)


def difference_interval(differences: Sequence[float], samples: int, z: float = Z95) -> Interval:
    """Interval for the mean over tasks of paired differences in pass rate, each in [-1, 1].

    The clustered Wilson interval above on (d + 1) / 2, which lies in [0, 1], mapped back: the
    paired clustered standard error of Miller (2024, section 4) with the same small-sample
    care. `samples` counts both sides' samples on the shared tasks.
    """
    inner = clustered_wilson([(d + 1) / 2 for d in differences], samples, z)
    return Interval(2 * inner.lo - 1, 2 * inner.hi - 1)


def _upper(z: float) -> float:
    """The quantile whose two-sided interval z is: 0.975 for 1.96."""
    return statistics.NormalDist().cdf(z)


@cache
def t_quantile(q: float, df: int) -> float:
    """The Student t quantile for integer degrees of freedom, 0.5 <= q < 1.

    The t distribution's central probability has a closed form for integer df (Abramowitz &
    Stegun 26.7.3-4, a finite series in theta = atan(t / sqrt(df))); it is inverted by
    bisection on theta, to double precision.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if not 0.5 <= q < 1.0:
        raise ValueError(f"q must lie in [0.5, 1), got {q}")
    target = 2 * q - 1  # P(|T| <= t)
    lo, hi = 0.0, math.pi / 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if _central(mid, df) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(df) * math.tan((lo + hi) / 2)


def _central(theta: float, df: int) -> float:
    """P(|T| <= sqrt(df) tan(theta)) for T with df degrees of freedom."""
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2:
        term, series = 1.0, 1.0 if df > 1 else 0.0
        for i in range(2, df - 1, 2):  # 1 + 2/3 c2 + 2*4/(3*5) c2^2 + ...
            term *= c2 * i / (i + 1)
            series += term
        return 2 / math.pi * (theta + s * math.cos(theta) * series)
    term = series = 1.0
    for i in range(1, df - 2, 2):  # 1 + 1/2 c2 + 1*3/(2*4) c2^2 + ...
        term *= c2 * i / (i + 1)
        series += term
    return s * series
