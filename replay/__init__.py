"""Replay: tasks made from recorded calls, sent to models and prompt variants, judged, reported.

tasks      task_from_call, validate: a task must catch its own failure and pass a good output
stats      Wilson intervals, exact paired comparisons, verdicts in plain words
"""

from redline.replay.stats import Cell, Comparison, Interval, Summary, compare, summarize, wilson
from redline.replay.tasks import (
    Judged,
    TaskRefused,
    Validation,
    checks_of,
    good_output,
    refuse_unless_valid,
    task_from_call,
    validate,
)

__all__ = [
    "Cell",
    "Comparison",
    "Interval",
    "Judged",
    "Summary",
    "TaskRefused",
    "Validation",
    "checks_of",
    "compare",
    "good_output",
    "refuse_unless_valid",
    "summarize",
    "task_from_call",
    "validate",
    "wilson",
]
