"""Checks as the rest of redline uses them: `NAME[:OPTIONS]` in, verdicts out."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redline.analyzers._analyzer import Analyzer
from redline.analyzers._context import Context
from redline.analyzers._environment import Environment
from redline.analyzers._model import Finding, Ran, Unparsed, Verdict
from redline.analyzers._options import parse_options, split_spec
from redline.analyzers._patterns import PatternTimeout, budget
from redline.analyzers._registry import Registry, default_registry
from redline.errors import RedlineError
from redline.transcripts import (
    Message,
    Request,
    canonical_json,
    message_to_dict,
    request_to_dict,
)


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


def runs_code(check: Check) -> bool:
    """True for a check that runs the answer's code (its analyzer says `runs_code = True`)."""
    return getattr(check.analyzer, "runs_code", False) is True


def _version(check: Check) -> str | None:
    version = getattr(check.analyzer, "version", None)
    if isinstance(version, str | int) and not isinstance(version, bool) and str(version):
        return str(version)
    return None


def verdict_scope(check: Check, environment: Environment) -> str | None:
    """What a verdict of `check` depends on besides the transcript and the answer: the check
    (its name, its options as written, its `version`) and the environment. None when the
    check declares no version: its verdicts are never cached."""
    version = _version(check)
    if version is None:
        return None
    return _digest(check.name, check.spec, version, environment.key)


def verdict_key(scope: str, output: Message, request: Request | None, cut_off: bool) -> str:
    """The cache key of a verdict in `scope` on `output`, which answered `request`."""
    answered: Any = None if request is None else request_to_dict(request)
    return _digest(
        scope,
        canonical_json(answered),
        canonical_json(message_to_dict(output)),
        str(cut_off),
    )


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()


def run_checks(
    checks: Iterable[Check],
    output: Message,
    request: Request | None = None,
    *,
    cut_off: bool = False,
    environment: Environment | None = None,
) -> list[Verdict]:
    """One verdict per check, in order. The checks share one reading of the output. A check
    that raises (a plugin's bug), or whose pattern searches past its time limit
    (`_patterns.BUDGET`), is reported as a RedlineError naming it. `cut_off`: the output
    stopped before the model finished it (see `Context.cut_off`). `environment`: where checks
    that run code run it; their verdicts are taken from its cache when it has them."""
    context = Context(request, cut_off=cut_off, environment=environment)
    cache = environment.cache if environment is not None else None
    verdicts = []
    for check in checks:
        scope = None
        if cache is not None and environment is not None and runs_code(check):
            scope = verdict_scope(check, environment)
        if cache is None or scope is None:
            verdicts.append(_check(check, output, context))
            continue
        key = verdict_key(scope, output, request, cut_off)
        verdict = cache.get(scope, key)
        if verdict is None:
            verdict = _check(check, output, context)
            cache.put(scope, key, verdict)
        verdicts.append(verdict)
    return verdicts


def _check(check: Check, output: Message, context: Context) -> Verdict:
    # A check that runs code spends seconds on its command before it searches its output: its
    # patterns get the limit per search, as a budget shared with the command would be spent.
    limit = contextlib.nullcontext() if runs_code(check) else budget()
    try:
        with limit:
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
        raise RedlineError(f"check {check.name!r} returned {type(verdict).__name__}, not a Verdict")
    return verdict


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
    if verdict.ran is not None:
        r = verdict.ran
        out["ran"] = {
            "command": r.command,
            "status": r.status,
            "exit_status": r.exit_status,
            "seconds": round(r.seconds, 3),
            "sandboxed": r.sandboxed,
            "output": r.output,
        }
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
        _ran_from_dict(d.get("ran")),
    )


def _ran_from_dict(d: Mapping[str, Any] | None) -> Ran | None:
    if not d:
        return None
    status = d.get("exit_status")
    return Ran(
        str(d.get("command", "")),
        str(d.get("status", "")),
        status if isinstance(status, int) else None,
        float(d.get("seconds") or 0.0),
        bool(d.get("sandboxed", True)),
        str(d.get("output", "")),
    )
