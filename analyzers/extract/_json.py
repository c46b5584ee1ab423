"""Tool-call arguments as sent: JSON, and the three other shapes they arrive in.

* JSON text (the normal case);
* a JSON string holding the JSON object (an Anthropic `input` given as a string);
* a Python literal (`{'path': 'a.py'}`): what a parser leaves when an upstream sent the
  arguments as an object instead of a string and the object was turned into text;
* JSON cut short (a length limit hit mid-call, a stream that stopped): `partial` reads the
  prefix, keeping every member completed before the cut and the string being written at it.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MAX_DEPTH = 64


def decode_arguments(raw: str) -> Any:
    """The decoded arguments, or None when they are not JSON (nor one of the shapes above)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return _python_literal(raw)
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            inner = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return inner if isinstance(inner, dict | list) else value
    return value


def _python_literal(raw: str) -> Any:
    text = raw.strip()
    if not (text.startswith("{") and text.endswith("}")) or len(text) > 1_000_000:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) and all(isinstance(k, str) for k in value) else None


@dataclass(frozen=True, slots=True)
class Partial:
    """JSON read up to where it was cut. `value` holds every member completed before the cut;
    `cut` is the key path of the string being written when it was cut (its text so far is in
    `value`), or None when the cut fell elsewhere (inside a key, a number, between members)."""

    value: Any
    cut: tuple[str | int, ...] | None


class _Malformed(Exception):
    pass


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.cut: tuple[str | int, ...] | None = None
        self.ended = False

    def ws(self) -> bool:
        """Skip whitespace; False at the end of the text."""
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1
        if self.i >= len(self.s):
            self.ended = True
            return False
        return True

    def value(self, path: tuple[str | int, ...], depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _Malformed
        if not self.ws():
            return _MISSING
        ch = self.s[self.i]
        if ch == "{":
            return self.obj(path, depth)
        if ch == "[":
            return self.array(path, depth)
        if ch == '"':
            text, complete = self.string()
            if not complete:
                self.cut = path
            return text
        return self.scalar()

    def obj(self, path: tuple[str | int, ...], depth: int) -> Any:
        out: dict[str, Any] = {}

        def member() -> None:
            if self.s[self.i] != '"':
                raise _Malformed
            key, complete = self.string()
            if not complete or not self.ws():
                self.ended = True
                return
            if self.s[self.i] != ":":
                raise _Malformed
            self.i += 1
            item = self.value((*path, key), depth + 1)
            if item is not _MISSING:
                out[key] = item

        self.items("}", member)
        return out

    def array(self, path: tuple[str | int, ...], depth: int) -> Any:
        out: list[Any] = []

        def element() -> None:
            item = self.value((*path, len(out)), depth + 1)
            if item is not _MISSING:
                out.append(item)

        self.items("]", element)
        return out

    def items(self, close: str, read: Callable[[], None]) -> None:
        """The members of an object or array, `read` one at a time, up to `close` or the end
        of the text."""
        self.i += 1
        while self.ws():
            if self.s[self.i] == close:
                self.i += 1
                return
            read()
            if self.ended or not self.ws():
                return
            if self.s[self.i] == ",":
                self.i += 1
            elif self.s[self.i] != close:
                raise _Malformed

    def string(self) -> tuple[str, bool]:
        """The string starting at the quote under the cursor, decoded; False when the text ends
        inside it (a dangling escape is dropped)."""
        start = self.i
        j = self.i + 1
        while j < len(self.s):
            ch = self.s[j]
            if ch == "\\":
                j += 2
                continue
            if ch == '"':
                self.i = j + 1
                return self._decode(self.s[start : j + 1]), True
            j += 1
        self.i = len(self.s)
        self.ended = True
        body = self.s[start + 1 :]
        for trim in range(7):  # an escape cut in half: `\`, `\u00`...
            try:
                return self._decode('"' + body[: len(body) - trim] + '"'), False
            except _Malformed:
                continue
        raise _Malformed

    @staticmethod
    def _decode(quoted: str) -> str:
        try:
            value = json.loads(quoted)
        except ValueError:
            raise _Malformed from None
        if not isinstance(value, str):
            raise _Malformed
        return value

    def scalar(self) -> Any:
        j = self.i
        while j < len(self.s) and self.s[j] not in ",]} \t\r\n":
            j += 1
        token = self.s[self.i : j]
        if j >= len(self.s):
            self.i = j
            self.ended = True
            return _MISSING  # a number or literal may be cut: not kept
        self.i = j
        try:
            return json.loads(token)
        except ValueError:
            raise _Malformed from None


_MISSING = object()


def partial(raw: str) -> Partial | None:
    """`raw` read as a JSON object cut short; None when it is malformed in another way (or not
    an object at all)."""
    reader = _Reader(raw)
    try:
        if not reader.ws() or reader.s[reader.i] != "{":
            return None
        value = reader.value((), 0)
    except _Malformed:
        return None
    if not reader.ended:
        return None  # complete JSON followed by junk, or not cut at all
    return Partial(value, reader.cut)
