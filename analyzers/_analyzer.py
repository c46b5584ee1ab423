"""The shape of a check, built in or a plugin: `Analyzer`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from redline.analyzers._context import Context
from redline.analyzers._model import Option, Verdict
from redline.transcripts import Message


@runtime_checkable
class Analyzer(Protocol):
    """A check. Built-ins and plugins have this same shape; see `redline.analyzers.rules`.

    `check` is pure: no network, no writes. It reads its options from `context.options` (every
    declared option is present, defaults filled in) and judges only what the output introduced.
    Rules may also carry `VALID` and `INVALID` tuples of `Example`, and a `version` string:
    `redline scan` keeps each check's verdicts until its version changes (without one, until
    the source file that defines `check` changes; see `redline.replay.scanning`).
    """

    name: str
    description: str
    options: tuple[Option, ...]

    def check(self, output: Message, context: Context) -> Verdict: ...
