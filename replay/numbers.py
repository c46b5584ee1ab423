"""How numbers read in a report: rates, differences in points, p-values, counts.

One home for each value's rendering: the verdicts (redline.replay.wording), the dry run and
every report format (redline.replay.report_view and the renderers) print numbers through these
functions, so "100%" means the same everywhere and a p-value is never rounded across the level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "DASH",
    "counted",
    "format_p",
    "interval",
    "percent",
    "points",
    "points_interval",
]

DASH = "—"
"""Stands for a value the report does not have (no price, nothing judged)."""


def percent(rate: float | None) -> str:
    """A rate as a whole percentage, never rounded to 0% or 100% unless it is exactly that.

    With 199 passes of 200, "100%" would claim what did not happen; it reads ">99%".
    """
    if rate is None:
        return DASH
    value = rate * 100
    if 0 < value < 0.5:
        return "<1%"
    if 99.5 <= value < 100:
        return ">99%"
    return f"{value:.0f}%"


def interval(bounds: Sequence[float] | None) -> str:
    """An interval of rates as a range of percentages: `44–100%`."""
    if bounds is None:
        return DASH
    lo, hi = bounds
    return f"{percent(lo).rstrip('%')}–{percent(hi)}"


def points(difference: float) -> str:
    """A difference in pass rate in percentage points, signed: `+35 points`, `-4 points`.

    A difference that rounds to zero but is not zero reads `+<1`/`-<1` rather than a bare 0.
    """
    return f"{_signed(difference)} points"


def points_interval(bounds: Sequence[float]) -> str:
    """An interval of differences in points: `-4 to +31 points`."""
    lo, hi = bounds
    return f"{_signed(lo)} to {_signed(hi)} points"


def _signed(difference: float) -> str:
    value = difference * 100
    if value == 0:
        return "0"
    if abs(value) < 0.5:
        return "+<1" if value > 0 else "-<1"
    return f"{value:+.0f}"


def format_p(p: float, alpha: float) -> str:
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


def counted(n: int, noun: str) -> str:
    """`1 task`, `2 tasks`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
