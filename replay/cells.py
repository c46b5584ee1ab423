"""The plain data of one task under one side: its samples' outcomes and the cell they make.

Apart from the statistics that use it (stats, power, verdicts), so that they can share it
without importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from redline.replay.intervals import Interval, wilson

__all__ = ["OUTCOMES", "Cell", "Outcome"]

Outcome = Literal["pass", "fail", "no_attempt", "error"]
"""What became of one sample. `no_attempt` (the answer wrote no code a check could judge)
counts as not passed; `error` (the request failed) is left out of every rate."""

OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))


@dataclass(frozen=True, slots=True)
class Cell:
    """One task under one side: how many of its counted samples passed.

    `samples` counts the samples that had a chance to pass (passed, failed or never wrote the
    code); errored samples are not in it.
    """

    passes: int
    samples: int

    def __post_init__(self) -> None:
        # A task with no counted sample has no rate; `Cell.of` gives None for it instead.
        if self.samples < 1 or not 0 <= self.passes <= self.samples:
            raise ValueError(f"a cell needs 0 <= passes <= samples, samples >= 1: {self}")

    @classmethod
    def of(cls, outcomes: Iterable[str]) -> Cell | None:
        """The cell of these samples' outcomes; None when none counts (none, or all errors)."""
        listed = list(outcomes)
        if unknown := set(listed) - OUTCOMES:
            raise ValueError(f"unknown outcomes {sorted(unknown)}; known: {sorted(OUTCOMES)}")
        counted = [o for o in listed if o != "error"]
        return cls(counted.count("pass"), len(counted)) if counted else None

    @property
    def rate(self) -> float:
        return self.passes / self.samples

    @property
    def interval(self) -> Interval:
        """Wilson 95% interval for this task's pass probability."""
        return wilson(self.passes, self.samples)

    def pass_hat(self, k: int) -> float | None:
        """The chance that k samples all pass, estimated without bias: C(c, k) / C(n, k).

        pass^k as in tau-bench (Yao et al. 2024): "passes every time", which a daily driver
        needs, falls fast with k when a task passes only sometimes. None when k > samples.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if k > self.samples:
            return None
        return math.comb(self.passes, k) / math.comb(self.samples, k)

    def __str__(self) -> str:
        return f"{self.passes}/{self.samples}"
