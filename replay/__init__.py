"""Replay: tasks made from recorded calls, sent to models and prompt variants, judged, reported.

tasks      task_from_call, validate: a task must catch its own failure and pass a good output
stats      pass rates over tasks with intervals, comparisons that answer "on these tasks" and
           "on tasks like these" in plain words (exact, intervals, power, verdicts beneath)
"""

from redline.replay.intervals import Interval, wilson
from redline.replay.stats import Cell, Comparison, Summary, compare, summarize
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
