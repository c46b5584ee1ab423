"""Checks as the rest of redline uses them: `NAME[:OPTIONS]` in, verdicts out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redline.analyzers._analyzer import Analyzer
from redline.analyzers._context import Context
from redline.analyzers._model import Finding, Unparsed, Verdict
from redline.analyzers._options import parse_options, split_spec
from redline.analyzers._patterns import PatternTimeout, budget
from redline.analyzers._registry import Registry, default_registry
from redline.errors import RedlineError
from redline.transcripts import Message, Request


@dataclass(frozen=True, slots=True)
class Check:
    """An analyzer with its options, as written in `spec` (`regex:pattern=eval\\(`)."""

    spec: str
    analyzer: Analyzer
    options: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.analyzer.name


def spec_name(spec: str) -> str:
    """The check a `NAME[:OPTIONS]` spec names; RedlineError when it is not written so."""
    return split_spec(spec)[0]


def parse_check(spec: str, registry: Registry | None = None) -> Check:
    """A `--check` argument, validated: unknown checks and bad options raise RedlineError."""
    name, text = split_spec(spec)
    analyzer = (registry or default_registry()).get(name)
    return Check(spec, analyzer, parse_options(analyzer, text))


def run_checks(
    checks: Iterable[Check],
    output: Message,
    request: Request | None = None,
    *,
    cut_off: bool = False,
) -> list[Verdict]:
    """One verdict per check, in order. The checks share one reading of the output. A check
    that raises (a plugin's bug), or whose pattern searches past its time limit
    (`_patterns.BUDGET`), is reported as a RedlineError naming it. `cut_off`: the output
    stopped before the model finished it (see `Context.cut_off`)."""
    context = Context(request, cut_off=cut_off)
    verdicts = []
    for check in checks:
        try:
            with budget():
                verdict = check.analyzer.check(output, context.with_options(check.options))
        except PatternTimeout as timeout:
            raise RedlineError(f"check {check.spec!r}: {timeout}") from None
        except RedlineError:
            raise
        except Exception as error:  # a plugin's failure must not surface as a traceback
            raise RedlineError(
                f"check {check.name!r} failed: {type(error).__name__}: {error}"
            ) from error
        if not isinstance(verdict, Verdict):
            raise RedlineError(
                f"check {check.name!r} returned {type(verdict).__name__}, not a Verdict"
            )
        verdicts.append(verdict)
    return verdicts


def verdict_to_dict(check: str, verdict: Verdict) -> dict[str, Any]:
    """The JSON form of `redline check --json`."""
    out: dict[str, Any] = {
        "check": check,
        "passed": verdict.passed,
        "judged": None if verdict.judged is None else list(verdict.judged),
        "findings": [
            {"path": f.path, "line": f.line, "message": f.message, "snippet": f.snippet}
            for f in verdict.findings
        ],
    }
    if verdict.unparsed:
        out["unparsed"] = [
            {"path": u.path, "reason": u.reason, "fragment": u.fragment} for u in verdict.unparsed
        ]
    return out


def verdict_from_dict(d: Mapping[str, Any]) -> Verdict:
    """A verdict from its JSON form (`verdict_to_dict`); one stored before checks said what they
    judged has `judged` None."""
    judged = d.get("judged")
    return Verdict(
        bool(d["passed"]),
        tuple(
            Finding(f.get("path"), f.get("line"), f.get("message", ""), f.get("snippet", ""))
            for f in d.get("findings") or ()
        ),
        tuple(
            Unparsed(u.get("path"), u.get("reason", ""), u.get("fragment", ""))
            for u in d.get("unparsed") or ()
        ),
        None if judged is None else tuple(str(j) for j in judged),
    )
