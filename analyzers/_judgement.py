"""What one output's verdicts add up to: `pass`, `fail` or `no_attempt`.

A pass is a judged pass: an output passes only when some check looked at code it wrote and
found nothing. A check that finds something fails it; an output whose checks judged nothing (a
question, a refusal, only reads, an empty answer) did not attempt the task, and is no pass.
A check that does not say what it judged (`Verdict.judged` is None: a plugin written before
checks said so) counts as judging the output when the output wrote any code extraction reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from redline.analyzers._model import Verdict
from redline.analyzers.extract import extract
from redline.transcripts import Message

Judgement = Literal["pass", "fail", "no_attempt"]
JUDGEMENTS: frozenset[str] = frozenset(get_args(Judgement))


def judgement(verdicts: Sequence[Verdict], output: Message, *, cut_off: bool = False) -> Judgement:
    """`fail` when a check found something; else `pass` when a check judged code the output
    wrote; else `no_attempt`."""
    if any(not v.passed for v in verdicts):
        return "fail"
    if any(v.judged for v in verdicts):
        return "pass"
    if any(v.judged is None for v in verdicts) and wrote_code(output, cut_off=cut_off):
        return "pass"
    return "no_attempt"


def wrote_code(output: Message, *, cut_off: bool = False) -> bool:
    """True when the output wrote code a check could judge: an edit or a code block."""
    found = extract(output, cut_off)
    return bool(found.edits or found.blocks)
