"""Honest statistics for replay results: pass rates over tasks and comparisons of two sides.

A replay gives, per task and per side (a model and a variant), a handful of samples; each
passes or not. With so few samples a bare percentage misleads, so every rate comes with an
interval and every comparison answers two questions, each in a sentence that names its scope
(redline.replay.wording words them):

* **on these tasks**: did one side pass more often on the tasks that were run? Every sample
  counts and each task is a stratum: the exact stratified (Cochran-Mantel-Haenszel) test, which
  is Fisher's exact test for one task.
* **on tasks like these**: will it pass more often on other tasks of the kind? The tasks are
  the sample: the paired permutation test of the per-task differences in pass rate, with an
  interval for the mean difference from the paired clustered standard error (Miller 2024).

The tests are exact (redline.replay.exact); the intervals (redline.replay.intervals) were chosen
by simulation (redline.replay.simulation). Only the standard library is used, so the command
line starts fast.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from redline.replay.cells import Cell, Outcome
from redline.replay.exact import sign_flip_test, stratified_exact
from redline.replay.intervals import (
    Interval,
    clustered_wilson,
    difference_interval,
)
from redline.replay.power import fewest_tasks, tasks_needed
from redline.replay.wording import Paired, Sides

__all__ = [
    "Answer",
    "Cell",
    "Comparison",
    "Interval",
    "Outcome",
    "Summary",
    "compare",
    "pass_hat_k",
    "summarize",
]


@dataclass(frozen=True, slots=True)
class Summary:
    """Pass rate of one side over its tasks.

    `rate` is the mean of the per-task rates, so every task weighs the same however many
    samples it had. With two tasks or more, `interval` is over tasks (the clustered interval:
    it speaks for tasks like these); with one, it is that task's own interval over its samples
    and `one_task` says it speaks for that task only.
    """

    tasks: int
    passes: int
    samples: int
    rate: float
    interval: Interval

    @property
    def one_task(self) -> bool:
        return self.tasks == 1


@dataclass(frozen=True, slots=True)
class Answer:
    """One of a comparison's two questions: the test used, its p-value and the sentence.

    `method` is `none` and `p_value` None when the data cannot answer (no shared task; one
    task for the question about tasks like these).
    """

    method: str
    p_value: float | None
    verdict: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """Side a against side b on the tasks both ran (the others are left out).

    `wins_a` counts tasks where a had the higher pass rate, `wins_b` where b had, `ties` the
    rest. `mean_difference` is the mean over tasks of (rate a - rate b) and `interval` its 95%
    interval (None with fewer than two tasks). `these_tasks` and `like_these` answer the two
    questions; `tasks_needed` is how many tasks would show the observed mean difference on
    tasks like these with 80% power (None when there is no difference to show). `verdict` is
    the two sentences together.
    """

    label_a: str
    label_b: str
    tasks: tuple[str, ...]
    wins_a: int
    wins_b: int
    ties: int
    mean_difference: float | None
    interval: Interval | None
    these_tasks: Answer
    like_these: Answer
    tasks_needed: int | None

    @property
    def verdict(self) -> str:
        return " ".join(s for s in (self.these_tasks.verdict, self.like_these.verdict) if s)


def summarize(cells: Iterable[Cell]) -> Summary:
    """Pass rate of one side over tasks, with a 95% interval.

    Samples of one task are not independent (a task is easy or hard for a model), so tasks are
    the unit: the rate is the mean of the per-task rates and, with two tasks or more, the
    interval is the clustered Wilson interval over tasks (intervals.clustered_wilson). One task
    has no spread between tasks to measure: its own Wilson interval over its samples is shown,
    and it speaks for that task only.
    """
    listed = list(cells)
    if not listed:
        raise ValueError("summarize needs at least one task")
    rates = [cell.rate for cell in listed]
    samples = sum(cell.samples for cell in listed)
    interval = listed[0].interval if len(listed) == 1 else clustered_wilson(rates, samples)
    return Summary(
        tasks=len(listed),
        passes=sum(cell.passes for cell in listed),
        samples=samples,
        rate=math.fsum(rates) / len(listed),
        interval=interval,
    )


def pass_hat_k(cells: Iterable[Cell], k: int) -> tuple[float | None, int]:
    """pass^k over tasks: the mean of the per-task estimates, over the tasks with at least k
    samples; and how many tasks that is. (None, 0) when no task has k samples."""
    estimates = [e for cell in cells if (e := cell.pass_hat(k)) is not None]
    return (math.fsum(estimates) / len(estimates) if estimates else None), len(estimates)


def compare(
    a: Mapping[str, Cell],
    b: Mapping[str, Cell],
    *,
    label_a: str,
    label_b: str,
    seed: int = 0,
    alpha: float = 0.05,
) -> Comparison:
    """Compare side a with side b on the tasks both have (keyed by task id).

    On these tasks: the exact stratified test of the tasks' 2x2 tables (a's and b's passes and
    the rest), which counts every sample; Fisher's exact test when one task is shared. On tasks
    like these: the exact paired permutation test of the per-task differences in pass rate
    (all 2^n sign flips; beyond a bound, `seed` seeds a Monte Carlo draw and the method says
    so) and the clustered interval of the mean difference. The sentences claim a difference
    only when p < alpha and otherwise say there is no evidence of one (never that there is
    none).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    shared = tuple(sorted(set(a) & set(b)))
    pairs = [(a[task], b[task]) for task in shared]
    exact = [Fraction(ca.passes, ca.samples) - Fraction(cb.passes, cb.samples) for ca, cb in pairs]
    diffs = [float(d) for d in exact]
    wins_a = sum(d > 0 for d in exact)
    wins_b = sum(d < 0 for d in exact)
    ties = len(exact) - wins_a - wins_b
    words = Sides(label_a, label_b, alpha)
    if not shared:
        nothing = Answer("none", None, words.nothing_shared(len(a), len(b)))
        return Comparison(
            label_a, label_b, shared, 0, 0, 0, None, None, nothing, Answer("none", None, ""), None
        )

    tables = [
        (ca.passes, ca.samples - ca.passes, cb.passes, cb.samples - cb.passes) for ca, cb in pairs
    ]
    method = "fisher exact" if len(shared) == 1 else "exact stratified"
    p_these = stratified_exact(tables)
    these = Answer(method, p_these, words.these_tasks(pairs, method, p_these))

    mean = math.fsum(diffs) / len(diffs)
    if len(shared) == 1:
        like = Answer("none", None, words.one_task_like_these())
        return Comparison(
            label_a, label_b, shared, wins_a, wins_b, ties, mean, None, these, like, None
        )
    flips = sign_flip_test(exact, seed=seed)
    method = (
        "paired permutation"
        if flips.exact
        else f"paired permutation (Monte Carlo, {flips.flips:,} sign flips)"
    )
    # Fewer tasks than the test needs to reach alpha cannot bound the difference either: an
    # interval there would rest on a spread between tasks that so few cannot measure.
    samples = sum(ca.samples + cb.samples for ca, cb in pairs)
    fewest = fewest_tasks(alpha)
    interval = difference_interval(diffs, samples) if len(shared) >= fewest else None
    needed = tasks_needed(diffs, alpha=alpha)
    like = Answer(
        method,
        flips.p_value,
        words.like_these(
            Paired(
                tasks=len(shared),
                wins_a=wins_a,
                wins_b=wins_b,
                mean=mean,
                interval=None if interval is None else (interval.lo, interval.hi),
                method=method,
                p_value=flips.p_value,
                tasks_needed=needed,
                fewest=fewest,
            )
        ),
    )
    return Comparison(
        label_a, label_b, shared, wins_a, wins_b, ties, mean, interval, these, like, needed
    )
