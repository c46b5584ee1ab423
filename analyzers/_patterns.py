"""Patterns from check options, run with a time limit.

A check's `regex` options come from the command line, and from task files other people share.
Python's `re` backtracks without bound (`(a|aa)+$` on forty `a`s and a `!` runs for hours) and
holds the interpreter while it does, so one pattern would freeze a web view and every thread in
it, Ctrl-C included. Options of type `regex` are therefore compiled with the `regex` module (its
default syntax is `re`'s) into a `Pattern`: each search may take what is left of the checking
budget (`BUDGET`, per check and output, set by `run_checks`), releases the interpreter while it
runs, and past the budget raises `PatternTimeout`, which `run_checks` reports as an error of
that check. A pattern never turns a slow search into a verdict either way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import regex

from redline.errors import RedlineError

# Seconds of searching one check may spend on one output. The `regex` module looks at the clock
# now and then, not at every step: a search may run up to about twice this before it stops.
BUDGET = 1.0

_deadline: ContextVar[float | None] = ContextVar("redline_pattern_deadline", default=None)


class PatternTimeout(RedlineError):
    """A pattern searched longer than the budget allows."""

    def __init__(self, pattern: str, seconds: float) -> None:
        self.pattern, self.seconds = pattern, seconds
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        super().__init__(
            f"its pattern /{shown}/ took more than {seconds:g} s on this output; simplify the "
            "pattern (a repeat inside a repeat, such as (a|aa)+ or (a+)+, can take for ever)"
        )


@contextlib.contextmanager
def budget(seconds: float = BUDGET) -> Iterator[None]:
    """Patterns searched inside share `seconds` (the innermost budget applies)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class Pattern:
    """A compiled pattern with `re.Pattern`'s reading methods, each under the time limit."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, source: str) -> None:
        """Raises ValueError (with the `regex` module's reason) if `source` is no pattern."""
        try:
            self._compiled = regex.compile(source)
        except (regex.error, TypeError, OverflowError) as exc:
            raise ValueError(str(exc)) from None
        self.pattern = source

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def _timed[T](self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        deadline = _deadline.get()
        left = BUDGET if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise PatternTimeout(self.pattern, BUDGET)
        try:
            return call(*args, timeout=left, concurrent=True, **kwargs)
        except TimeoutError:
            raise PatternTimeout(self.pattern, BUDGET) from None

    def search(self, string: str, pos: int = 0, endpos: int | None = None) -> Any:
        return self._timed(self._compiled.search, string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int | None = None) -> Any:
        return self._timed(self._compiled.match, string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int | None = None) -> Any:
        return self._timed(self._compiled.fullmatch, string, pos, endpos)

    def findall(self, string: str, pos: int = 0, endpos: int | None = None) -> list[Any]:
        return self._timed(self._compiled.findall, string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int | None = None) -> Iterator[Any]:
        """Matches one at a time; the whole iteration shares the budget."""
        found = self._timed(self._compiled.finditer, string, pos, endpos)
        while True:
            try:
                match = next(found)
            except StopIteration:
                return
            except TimeoutError:
                raise PatternTimeout(self.pattern, BUDGET) from None
            yield match
            deadline = _deadline.get()
            if deadline is not None and time.monotonic() > deadline:
                raise PatternTimeout(self.pattern, BUDGET)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        result: str = self._timed(self._compiled.sub, repl, string, count)
        return result

    def split(self, string: str, maxsplit: int = 0) -> list[Any]:
        return self._timed(self._compiled.split, string, maxsplit)
