"""Running the VALID and INVALID examples a rule keeps beside it (Fixit style).

    from redline.analyzers.testing import check_examples
    def test_my_rule_examples():
        check_examples(MyRule())

`tests/test_analyzers_rules.py` runs every registered analyzer's examples this way, built-in or
plugin.
"""

from __future__ import annotations

from collections.abc import Iterator

from redline.analyzers import Analyzer, Context, Example, Verdict
from redline.analyzers._options import parse_options
from redline.transcripts import Message, agents


def example_output(example: Example) -> Message:
    """A str example becomes a tool call (Claude Code's): a write of a new file, or an edit of
    `before` into it."""
    if isinstance(example.output, Message):
        return example.output
    if example.before is None:
        return Message("assistant", (agents.written(example.path, example.output, "example"),))
    call = agents.edited(example.path, example.before, example.output, "example")
    return Message("assistant", (call,))


def run_example(analyzer: Analyzer, example: Example) -> Verdict:
    context = Context(options=parse_options(analyzer, example.options))
    return analyzer.check(example_output(example), context)


def examples(analyzer: Analyzer) -> Iterator[tuple[str, Example, bool]]:
    """(id, example, valid) for each example of `analyzer`."""
    for valid, group in ((True, "VALID"), (False, "INVALID")):
        for n, example in enumerate(getattr(analyzer, group, ()), 1):
            yield f"{analyzer.name}-{group.lower()}-{n}", example, valid


def check_example(analyzer: Analyzer, example: Example, valid: bool) -> None:
    verdict = run_example(analyzer, example)
    shown = example.output if isinstance(example.output, str) else example.output.text
    where = f"{analyzer.name} on {shown!r} ({example.note or 'no note'})"
    if valid:
        assert verdict.passed, f"VALID example flagged: {where}: {verdict.findings}"
        return
    assert not verdict.passed, f"INVALID example passed: {where}; unparsed: {verdict.unparsed}"
    if example.lines:
        lines = tuple(f.line for f in verdict.findings)
        assert lines == example.lines, (
            f"{where}: findings on lines {lines}, expected {example.lines}"
        )


def check_examples(analyzer: Analyzer) -> None:
    for _, example, valid in examples(analyzer):
        check_example(analyzer, example, valid)
