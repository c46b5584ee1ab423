"""Replay: tasks made from recorded calls, sent to models and prompt variants, judged, reported.

flagging   task_from_call, validate, flag: a task must catch its own failure and pass a good output
stats      Wilson intervals, exact paired comparisons, verdicts in plain words
"""

from redline.replay.flagging import (
    Flagged,
    Judged,
    TaskRefused,
    Validation,
    checks_of,
    flag,
    good_output,
    refuse_unless_valid,
    task_from_call,
    validate,
)
from redline.replay.stats import Cell, Comparison, Interval, Summary, compare, summarize, wilson

__all__ = [
    "Cell",
    "Comparison",
    "Flagged",
    "Interval",
    "Judged",
    "Summary",
    "TaskRefused",
    "Validation",
    "checks_of",
    "compare",
    "flag",
    "good_output",
    "refuse_unless_valid",
    "summarize",
    "task_from_call",
    "validate",
    "wilson",
]
