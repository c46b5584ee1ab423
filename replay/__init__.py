"""Replay: tasks made from recorded calls, sent to models and prompt variants, judged, reported.

    flagging     task_from_call, validate, flag: a task must catch its own failure, pass a
                 good output and be no task kept already
    models       ModelSpec: the models to replay to (models.toml, one-off specs)
    variants     Variant: the same task with a changed system prompt or rules file
    jobs         plan(): every task x model x variant x sample, its first request rendered
    run          replay(): every job taken through its steps, judged, stored
    trajectory   one sample's steps: sent or cached, tool calls answered, until it edits
    tool_answers the sources that answer a replayed model's tool calls
    send         Policy: concurrency, retries and backoff
    stats        pass rates over tasks with intervals, comparisons that answer "on these tasks"
                 and "on tasks like these" in plain words (exact, intervals, power beneath)
    dryrun       estimate(): tokens, cost and the smallest difference a run can detect
    report       build_report(): a run's cells, summaries and comparisons
    render       the report as a table or Markdown; render_html as one HTML page
    rechecking   recheck(): judge stored samples again with changed checks
    scanning     scan(): checks run over recorded answers in bulk
    corrections  find_corrections(): answers the user's next turn pushed back on
    drafting     draft(): a check drafted by a model from a failure, proven in the sandbox
    outputs      code_of, findings, verdicts: an answer's code and its findings, as pages show them
    standin      StandInServer: the stand-in model `redline demo` replays to

Other parts import from here only. Everything but flagging and stats is loaded on first use,
so a command pays only for what it touches.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from redline.replay.flagging import (
    DuplicateTask,
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
from redline.replay.intervals import Interval, wilson
from redline.replay.stats import Cell, Comparison, Summary, compare, summarize

if TYPE_CHECKING:
    from redline.replay.corrections import Correction, find_corrections
    from redline.replay.draft_proof import Scanned
    from redline.replay.drafting import (
        Attempt,
        Drafted,
        DraftFailed,
        case_from_call,
        draft,
        header,
        history_of,
        keep_drafts,
        save_check,
    )
    from redline.replay.dryrun import Estimate, estimate, reach
    from redline.replay.jobs import plan, with_baseline
    from redline.replay.models import ModelSpec, config_path, load_config, one_off, resolve_models
    from redline.replay.outputs import code_of, findings, verdicts
    from redline.replay.power import Detectable
    from redline.replay.rechecking import recheck
    from redline.replay.render import render_markdown, render_table
    from redline.replay.render_html import render_html
    from redline.replay.report import build_report
    from redline.replay.run import Progress, Settings, replay
    from redline.replay.scanning import (
        Hit,
        ScanResult,
        Selection,
        by_conversation,
        parse_since,
        scan,
    )
    from redline.replay.send import Policy
    from redline.replay.standin import StandInServer
    from redline.replay.variants import Variant, parse_variant

# Where each name lives, loaded on first use.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("Correction", "find_corrections"), "corrections"),
    **dict.fromkeys(
        (
            "Attempt",
            "DraftFailed",
            "Drafted",
            "case_from_call",
            "draft",
            "header",
            "history_of",
            "keep_drafts",
            "save_check",
        ),
        "drafting",
    ),
    "Scanned": "draft_proof",
    **dict.fromkeys(("Estimate", "estimate", "reach"), "dryrun"),
    "Detectable": "power",
    **dict.fromkeys(
        ("ModelSpec", "config_path", "load_config", "one_off", "resolve_models"), "models"
    ),
    **dict.fromkeys(("code_of", "findings", "verdicts"), "outputs"),
    "recheck": "rechecking",
    **dict.fromkeys(("render_markdown", "render_table"), "render"),
    "render_html": "render_html",
    "build_report": "report",
    **dict.fromkeys(("Progress", "Settings", "replay"), "run"),
    **dict.fromkeys(("plan", "with_baseline"), "jobs"),
    **dict.fromkeys(
        ("Hit", "ScanResult", "Selection", "by_conversation", "parse_since", "scan"), "scanning"
    ),
    "Policy": "send",
    "StandInServer": "standin",
    **dict.fromkeys(("Variant", "parse_variant"), "variants"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"redline.replay.{module}"), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        # A module of the same name (render_html) is loaded now, before the name is kept:
        # loaded later, it would replace the name in this package with itself.
        importlib.import_module(f"{__name__}.{name}")
    globals()[name] = value
    return value


__all__ = [
    "Attempt",
    "Cell",
    "Comparison",
    "Correction",
    "Detectable",
    "DraftFailed",
    "Drafted",
    "DuplicateTask",
    "Estimate",
    "Flagged",
    "Hit",
    "Interval",
    "Judged",
    "ModelSpec",
    "Policy",
    "Progress",
    "ScanResult",
    "Scanned",
    "Selection",
    "Settings",
    "StandInServer",
    "Summary",
    "TaskRefused",
    "Validation",
    "Variant",
    "build_report",
    "by_conversation",
    "case_from_call",
    "checks_of",
    "code_of",
    "compare",
    "config_path",
    "draft",
    "estimate",
    "find_corrections",
    "findings",
    "flag",
    "good_output",
    "header",
    "history_of",
    "keep_drafts",
    "load_config",
    "one_off",
    "parse_since",
    "parse_variant",
    "plan",
    "reach",
    "recheck",
    "refuse_unless_valid",
    "render_html",
    "render_markdown",
    "render_table",
    "replay",
    "resolve_models",
    "save_check",
    "scan",
    "summarize",
    "task_from_call",
    "validate",
    "verdicts",
    "wilson",
    "with_baseline",
]
