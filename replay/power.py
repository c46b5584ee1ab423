"""How large a difference a run can show, before it is sent and after: Miller's power formula.

A comparison of two sides over n tasks with K samples each estimates the mean over tasks of the
difference in pass rate. Its variance is (omega^2 + sigma_a^2/K + sigma_b^2/K) / n (Miller 2024,
"Adding Error Bars to Evals", sections 4-5): omega^2, the spread between tasks of the true
difference, which only more tasks average away, and sigma^2 = p (1 - p), the spread of one
sample within a task, which more samples also reduce. The smallest true difference a two-sided
test at level alpha detects with 80% power is then (z_{1-alpha/2} + z_{0.8}) times its square
root. The spread comes from earlier runs of the same tasks when there are any (from the run
itself in a report), else from stated defaults.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

from redline.replay.intervals import z_quantile
from redline.replay.numbers import counted

if TYPE_CHECKING:
    from redline.replay.cells import Cell

__all__ = [
    "ASSUMED",
    "Detectable",
    "Spread",
    "detectable",
    "detectable_line",
    "fewest_tasks",
    "spread_of",
    "tasks_needed",
]

POWER = 0.8


@dataclass(frozen=True, slots=True)
class Spread:
    """The two variances the power formula needs, and where they come from.

    `between` is omega^2, the variance over tasks of the true difference in pass rate between
    two sides; `within` is sigma^2, one sample's variance within a task (p (1 - p), at most
    1/4), averaged over tasks and sides. `source` says in words where they come from.
    """

    between: float
    within: float
    source: str


ASSUMED = Spread(between=0.05, within=0.25, source="spread assumed")
"""Before any run: a between-task standard deviation of the difference of sqrt(0.05) = 22
points (models that differ on some tasks and not on others), and the largest within-task
variance a pass rate can have."""


@dataclass(frozen=True, slots=True)
class Detectable:
    """The smallest true difference in pass rate a comparison of this size detects.

    `difference` is in rate units (0.25 = 25 points) at `power` and level `alpha`, for the
    test on tasks like these; it may exceed 1, which means no difference can be relied on.
    `fewest` is the fewest tasks whose paired permutation test can reach alpha at all; with
    fewer, `difference` is computed for `fewest`. `tasks_to_halve` and `samples_to_halve`
    would halve `difference` (None: more samples alone cannot, the tasks differ too much).
    """

    tasks: int
    samples: int
    alpha: float
    power: float
    spread: Spread
    difference: float
    fewest: int
    tasks_to_halve: int
    samples_to_halve: int | None

    def to_json(self) -> dict[str, Any]:
        """As the report's and the dry run's JSON give it, with the line they print."""
        return {
            "tasks": self.tasks,
            "samples": self.samples,
            "difference": round(self.difference, 4),
            "power": self.power,
            "alpha": self.alpha,
            "between_tasks": round(self.spread.between, 4),
            "within_task": round(self.spread.within, 4),
            "source": self.spread.source,
            "fewest_tasks": self.fewest,
            "tasks_to_halve": self.tasks_to_halve,
            "samples_to_halve": self.samples_to_halve,
            "line": detectable_line(self),
        }


def fewest_tasks(alpha: float) -> int:
    """The fewest tasks whose exact paired permutation test can give p < alpha: with n tasks
    the smallest p-value is 2 / 2^n (every task better, on one side), so 6 at 0.05."""
    n = 1
    while 2 / (1 << n) >= alpha:
        n += 1
    return n


def detectable(
    tasks: int, samples: int, spread: Spread, *, alpha: float = 0.05, power: float = POWER
) -> Detectable:
    """Miller's minimum detectable difference for `tasks` tasks of `samples` samples per side."""
    if tasks < 1 or samples < 1:
        raise ValueError(f"need at least one task and one sample, got {tasks} and {samples}")
    fewest = fewest_tasks(alpha)
    n = max(tasks, fewest)
    per_task = spread.between + 2 * spread.within / samples
    z = z_quantile(1 - alpha / 2) + z_quantile(power)
    # Halving the difference takes a quarter of the variance: four times the tasks, or enough
    # samples to bring the within-task part down, if the between-task part leaves room.
    room = per_task / 4 - spread.between
    return Detectable(
        tasks=tasks,
        samples=samples,
        alpha=alpha,
        power=power,
        spread=spread,
        difference=z * math.sqrt(per_task / n),
        fewest=fewest,
        tasks_to_halve=4 * n,
        samples_to_halve=math.ceil(2 * spread.within / room) if room > 0 else None,
    )


def tasks_needed(differences: Sequence[float], *, alpha: float, power: float = POWER) -> int | None:
    """Tasks that would show a mean difference this large on tasks like these, at this power:
    n = (z_{1-alpha/2} + z_power)^2 s^2 / mean^2 with s^2 the observed variance of the per-task
    differences (samples as many as now), and never fewer than `fewest_tasks`. None when the
    mean difference is 0 or there are fewer than two differences."""
    if len(differences) < 2:
        return None
    mean = math.fsum(differences) / len(differences)
    if mean == 0:
        return None
    z = z_quantile(1 - alpha / 2) + z_quantile(power)
    n = math.ceil(z * z * statistics.variance(differences) / (mean * mean))
    return max(n, fewest_tasks(alpha))


def spread_of(runs: Iterable[Mapping[tuple[str, str], Mapping[str, Cell]]], where: str) -> Spread:
    """The spread measured on runs (`where` names them: "this run"); each run maps its sides
    to their cells by task.

    Within a task: the unbiased r (1 - r) n / (n - 1) of every cell with two samples or more.
    Between tasks: for each pair of sides of a run, over their shared tasks, the variance of
    the per-task differences less what the within-task part explains (method of moments,
    never below 0). What cannot be measured (one sample per task; one side only) is taken from
    ASSUMED, and `source` says so.
    """
    withins: list[float] = []
    betweens: list[float] = []
    for sides in runs:
        for cells in sides.values():
            withins += [
                c.rate * (1 - c.rate) * c.samples / (c.samples - 1)
                for c in cells.values()
                if c.samples >= 2
            ]
        for one, other in combinations(sides.values(), 2):
            shared = sorted(set(one) & set(other))
            if len(shared) < 2:
                continue
            diffs = [one[t].rate - other[t].rate for t in shared]
            noise = statistics.fmean(
                _within(one[t]) / one[t].samples + _within(other[t]) / other[t].samples
                for t in shared
            )
            betweens.append(max(0.0, statistics.variance(diffs) - noise))
    if not withins and not betweens:
        return ASSUMED
    if withins and betweens:
        source = f"spread measured on {where}"
    elif withins:
        source = f"within-task spread from {where}, between-task spread assumed"
    else:
        source = f"between-task spread from {where}, within-task spread assumed"
    return Spread(
        between=statistics.fmean(betweens) if betweens else ASSUMED.between,
        within=statistics.fmean(withins) if withins else ASSUMED.within,
        source=source,
    )


def _within(cell: Cell) -> float:
    """One cell's within-task variance, unbiased where it can be; p(1 - p) <= 1/4 otherwise."""
    if cell.samples < 2:
        return ASSUMED.within
    return cell.rate * (1 - cell.rate) * cell.samples / (cell.samples - 1)


def detectable_line(d: Detectable) -> str:
    """The smallest detectable difference, for `replay --dry-run` and the report."""
    size = f"{counted(d.tasks, 'task')} × {counted(d.samples, 'sample')}"
    level = f"{d.power:.0%} power, {d.alpha:g} level; {d.spread.source}"
    if d.difference >= 1:
        reach = "cannot count on detecting even a 100-point difference in pass rate"
    else:
        reach = f"can detect a true difference of {round(d.difference * 100)} points in pass rate"
    if d.tasks < d.fewest:
        head = (
            f"With {size}, no comparison can show a difference on tasks like these at the "
            f"{d.alpha:g} level, whatever the scores: that takes {d.fewest} tasks, which "
            f"{reach.replace('can ', 'would ', 1)} ({level})."
        )
    else:
        head = f"With {size}, a comparison of two sides {reach} on tasks like these ({level})."
    halve = f"{d.tasks_to_halve} tasks"
    if d.samples_to_halve is not None:
        return f"{head} {halve}, or {d.samples_to_halve} samples per task, would halve that."
    return (
        f"{head} {halve} would halve that; more samples alone cannot (the tasks differ from "
        "each other too much)."
    )
