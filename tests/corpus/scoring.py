"""What the corpus tests (tests/test_analyzers_corpora.py) use: judging a case with a check, the per-case test's
parameters (known misses marked as strict expected failures), and the precision/recall line
pytest prints in its terminal summary.

A *known miss* is a case whose label the check does not (yet) agree with. Its label stays what
the rules say; the case is marked `xfail(strict=True)`, so it fails the suite the day the check
gets it right and the name must leave the corpus's `known_misses`. The printed scores count every case, known
misses included; the assertion that the scores are 1.0 leaves the known misses out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import pytest

from redline.analyzers import Context, parse_check
from tests.corpus import Case


@dataclass(frozen=True)
class Judgement:
    flagged: bool
    lines: tuple[int | None, ...]
    unparsed: tuple[object, ...]


def judge(check: str, case: Case) -> Judgement:
    spec = f"{check}:{case.options}" if case.options else check
    parsed = parse_check(spec)
    cut_off = case.headers.get("cut_off", "").lower() in ("true", "yes", "1")
    context = Context(case.request, parsed.options, cut_off=cut_off)
    verdict = parsed.analyzer.check(case.output, context)
    return Judgement(
        not verdict.passed, tuple(f.line for f in verdict.findings), tuple(verdict.unparsed)
    )


def check_case(check: str, case: Case) -> None:
    """The per-case assertion: the verdict matches the label (and the lines, when given)."""
    got = judge(check, case)
    expected = case.label == "flag"
    if case.headers.get("unparsed") != "allowed":
        assert not got.unparsed, (
            f"{case.name}: nothing here should be left unjudged: {got.unparsed}"
        )
    assert got.flagged == expected, (
        f"{case.name} ({case.note}): flagged={got.flagged}, lines={list(got.lines)}"
    )
    if case.lines:
        assert got.lines == case.lines, f"{case.name}: findings on lines {list(got.lines)}"


def case_params(check: str, cases: Iterable[Case], known_misses: Mapping[str, str]) -> list[object]:
    """One pytest param `(check, case)` per case, named CHECK/CASE, the known misses (name ->
    what the check gets wrong) marked as strict expected failures."""
    cases = list(cases)
    unknown = set(known_misses) - {c.name for c in cases}
    assert not unknown, f"{check}: known misses name no such case: {sorted(unknown)}"
    return [
        pytest.param(
            check,
            case,
            id=f"{check}/{case.name}",
            marks=[
                pytest.mark.xfail(
                    strict=True,
                    reason=f"known miss (labelled {case.label}): {known_misses[case.name]}",
                )
            ]
            if case.name in known_misses
            else [],
        )
        for case in cases
    ]


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


def score(check: str, cases: Iterable[Case]) -> Score:
    tp = fp = fn = tn = 0
    for case in cases:
        flagged = judge(check, case).flagged
        expected = case.label == "flag"
        tp += flagged and expected
        fp += flagged and not expected
        fn += expected and not flagged
        tn += not expected and not flagged
    return Score(tp, fp, fn, tn)


def report(check: str, cases: list[Case], known_misses: Collection[str]) -> tuple[str, Score]:
    """The summary line (scores over every case) and the score without the known misses."""
    everything = score(check, cases)
    line = (
        f"{check} corpus: {len(cases)} cases, tp={everything.tp} fp={everything.fp} "
        f"fn={everything.fn} tn={everything.tn}, "
        f"precision={everything.precision:.3f} recall={everything.recall:.3f}"
    )
    if known_misses:
        rest = score(check, [c for c in cases if c.name not in known_misses])
        line += (
            f" ({len(known_misses)} known misses, being fixed; without them "
            f"precision={rest.precision:.3f} recall={rest.recall:.3f})"
        )
        return line, rest
    return line, everything


class Summary:
    """A plugin registered at run time: pytest prints its lines in the terminal summary."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for line in self.lines:
            terminalreporter.write_line(line)


def summary_lines(request: pytest.FixtureRequest, name: str) -> list[str]:
    """The list whose lines pytest prints in the terminal summary (one plugin per `name`)."""
    manager = request.config.pluginmanager
    plugin = manager.get_plugin(name)
    if plugin is None:
        plugin = Summary()
        manager.register(plugin, name)
    assert isinstance(plugin, Summary)
    return plugin.lines


def assert_balanced(cases: list[Case], *, total: int, each: int) -> None:
    flags = sum(c.label == "flag" for c in cases)
    passes = sum(c.label == "pass" for c in cases)
    assert {c.label for c in cases} == {"flag", "pass"}
    assert len(cases) >= total, len(cases)
    assert flags >= each and passes >= each, (flags, passes)
