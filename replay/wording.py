"""The sentences a comparison reads as: plain words that name the question they answer.

"On these tasks" sentences speak for the tasks that ran, every sample counted; "on tasks like
these" sentences speak for other tasks of the kind, the tasks being the sample. A sentence
claims a difference only when p < alpha, says "no evidence of a difference" otherwise (never
that there is none), and, when the tasks are too few to tell, says how many would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redline.replay.numbers import counted, format_p, points, points_interval

if TYPE_CHECKING:
    from redline.replay.cells import Cell

__all__ = ["Paired", "Sides"]

TEST_NAMES = {
    "fisher exact": "Fisher exact test",
    "exact stratified": "exact stratified test",
}


@dataclass(frozen=True, slots=True)
class Paired:
    """What the sentence about tasks like these is made from."""

    tasks: int
    wins_a: int
    wins_b: int
    mean: float
    interval: tuple[float, float] | None
    method: str
    p_value: float
    tasks_needed: int | None
    fewest: int


@dataclass(frozen=True, slots=True)
class Sides:
    """The two sides' names and the level, which every sentence needs."""

    a: str
    b: str
    alpha: float

    def nothing_shared(self, judged_a: int, judged_b: int) -> str:
        """No task both sides judged: say which side judged none, when one did not."""
        if not judged_a and not judged_b:
            return (
                f"Neither {self.a} nor {self.b} has a judged sample (every one was an error): "
                "nothing to compare."
            )
        if not judged_a or not judged_b:
            side = self.a if not judged_a else self.b
            return f"{side} has no judged sample (every one was an error): nothing to compare."
        return f"No tasks in common between {self.a} and {self.b}: nothing to compare."

    def these_tasks(self, pairs: Sequence[tuple[Cell, Cell]], method: str, p: float) -> str:
        """On these tasks: which side passed more often, with the pooled samples."""
        scope = "On this task" if len(pairs) == 1 else f"On these {len(pairs)} tasks"
        passes_a, samples_a = sum(a.passes for a, _ in pairs), sum(a.samples for a, _ in pairs)
        passes_b, samples_b = sum(b.passes for _, b in pairs), sum(b.samples for _, b in pairs)
        unit = "" if len(pairs) == 1 else " samples"
        test = f"({TEST_NAMES[method]}, {format_p(p, self.alpha)})"
        if p < self.alpha:
            # The direction of the stratified statistic: a's passes against their expectation.
            excess = sum(
                a.passes - a.samples * (a.passes + b.passes) / (a.samples + b.samples)
                for a, b in pairs
            )
            better, worse = (self.a, self.b) if excess > 0 else (self.b, self.a)
            counts = {self.a: f"{passes_a}/{samples_a}", self.b: f"{passes_b}/{samples_b}"}
            return (
                f"{scope}, {better} passed more often than {worse}: {counts[better]}{unit} "
                f"against {counts[worse]} {test}."
            )
        return (
            f"{scope}, no evidence of a difference: {self.a} passed {passes_a}/{samples_a}"
            f"{unit}, {self.b} {passes_b}/{samples_b} {test}."
        )

    def one_task_like_these(self) -> str:
        return "On tasks like these, one task cannot tell: add tasks."

    def like_these(self, paired: Paired) -> str:
        """On tasks like these: the mean difference, its interval, wins and losses, the test."""
        test = f"(paired permutation test, {format_p(paired.p_value, self.alpha)})"
        if paired.wins_a == paired.wins_b == 0:
            return (
                f"On tasks like these, no evidence of a difference: {self.a} and {self.b} "
                f"passed equally often on every task {test}."
            )
        # The side ahead on average is named first, its lead positive.
        ahead = paired.mean > 0 or (paired.mean == 0 and paired.wins_a >= paired.wins_b)
        first, second = (self.a, self.b) if ahead else (self.b, self.a)
        sign = 1 if ahead else -1
        wins, losses = (paired.wins_a, paired.wins_b) if ahead else (paired.wins_b, paired.wins_a)
        bounds = ""
        if paired.interval is not None:
            lo, hi = sorted((sign * paired.interval[0], sign * paired.interval[1]))
            bounds = f" (95% interval {points_interval((lo, hi))})"
        facts = (
            f"{first} {points(sign * paired.mean)} against {second}{bounds}, better on {wins} "
            f"of {paired.tasks} tasks, worse on {losses} {test}"
        )
        if paired.p_value < self.alpha:
            return f"On tasks like these, {first} passes more often than {second}: {facts}."
        text = f"On tasks like these, no evidence of a difference yet: {facts}"
        if paired.tasks < paired.fewest:
            text += (
                f"; {counted(paired.tasks, 'task')} cannot show a difference at the "
                f"{self.alpha:g} level, whatever their scores"
            )
        if paired.tasks_needed is not None:
            text += (
                f"; about {paired.tasks_needed} tasks would show a difference this large "
                "(80% power)"
            )
        return text + "."
