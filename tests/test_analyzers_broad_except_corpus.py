"""broad-except on the labelled corpus (tests/corpus/broad_except): every case right, and the
precision and recall printed (pytest shows them in the terminal summary, with or without -s)."""

from __future__ import annotations

import pytest

from redline.analyzers import Context, parse_check
from tests.corpus import Case, load_corpus

CASES = load_corpus("broad_except")


class _Summary:
    """A plugin registered at run time: pytest prints its lines in the terminal summary."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def summary(request: pytest.FixtureRequest) -> list[str]:
    plugin = _Summary()
    request.config.pluginmanager.register(plugin, "redline-broad-except-corpus")
    return plugin.lines


def judge(case: Case) -> tuple[bool, list[int | None], tuple[object, ...]]:
    check = parse_check(f"broad-except:{case.options}" if case.options else "broad-except")
    context = Context(case.request, check.options)
    verdict = check.analyzer.check(case.output, context)
    return not verdict.passed, [f.line for f in verdict.findings], verdict.unparsed


def test_the_corpus_is_large_enough_and_balanced() -> None:
    flags = sum(c.label == "flag" for c in CASES)
    passes = sum(c.label == "pass" for c in CASES)
    assert len(CASES) >= 60
    assert flags >= 25 and passes >= 25
    assert {c.label for c in CASES} == {"flag", "pass"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case: Case) -> None:
    flagged, lines, unparsed = judge(case)
    expected = case.label == "flag"
    assert not unparsed, f"{case.name}: nothing in the corpus should be left unjudged: {unparsed}"
    assert flagged == expected, f"{case.name} ({case.note}): flagged={flagged}, lines={lines}"
    if case.lines:
        assert tuple(lines) == case.lines, f"{case.name}: findings on lines {lines}"


def test_precision_and_recall_are_one(summary: list[str]) -> None:
    """Scored over the whole corpus again, so this holds whatever subset of tests ran."""
    tp = fp = fn = tn = 0
    for case in CASES:
        flagged, _, _ = judge(case)
        expected = case.label == "flag"
        tp += flagged and expected
        fp += flagged and not expected
        fn += expected and not flagged
        tn += not expected and not flagged
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    report = (
        f"broad-except corpus: {len(CASES)} cases, tp={tp} fp={fp} fn={fn} tn={tn}, "
        f"precision={precision:.3f} recall={recall:.3f}"
    )
    summary.append(report)
    assert precision == 1.0 and recall == 1.0, report
