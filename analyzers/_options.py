"""`--check NAME[:OPTIONS]`: reading a check's name and options from one argument.

OPTIONS is either a JSON object (`regex:{"pattern": "a, b: c"}`) or `key=value` pairs separated
by `;`. A value runs from the first `=` of its pair to the next `;`; `\\;` stands for a literal
`;` (harmless in a regex, where `\\;` already means `;`). Text and regex values are taken
verbatim, commas, colons and spaces included; the values of boolean, whole-number and choice
options, and every key, may have spaces around them (`; mode = require`). A boolean option may
be named alone to mean true (`allow-logging`). Option names may be written with `-` or `_`; an
option given twice (in either spelling) is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from redline.analyzers._analyzer import Analyzer
from redline.analyzers._model import Option
from redline.analyzers._patterns import Pattern
from redline.errors import RedlineError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def split_spec(spec: str) -> tuple[str, str]:
    """`NAME[:OPTIONS]` -> (NAME, OPTIONS); only the first colon separates them."""
    name, _, options = spec.partition(":")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise RedlineError(
            f"bad check {spec!r}: write NAME or NAME:OPTIONS, e.g. broad-except:allow-logging"
        )
    return name, options


def split_pairs(text: str) -> list[str]:
    """Split on `;` not preceded by a backslash; `\\;` becomes `;`."""
    pairs: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("\\;", i):
            current.append(";")
            i += 2
            continue
        if text[i] == ";":
            pairs.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    pairs.append("".join(current))
    return [p for p in pairs if p.strip()]


def raw_options(name: str, text: str) -> list[tuple[str, Any]]:
    """(key, value) pairs as written, in order, repeats included."""
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text, object_pairs_hook=_Pairs)
        except (ValueError, RecursionError) as error:
            raise RedlineError(f"options of check {name!r} are not valid JSON: {error}") from None
        if not isinstance(value, _Pairs):
            raise RedlineError(f"options of check {name!r} must be a JSON object")
        return [(k, _plain(v)) for k, v in value]
    raw: list[tuple[str, Any]] = []
    for pair in split_pairs(text):
        key, eq, value = pair.partition("=")
        raw.append((key.strip(), value if eq else True))
    return raw


class _Pairs(list[tuple[str, Any]]):
    """A JSON object read as its (key, value) pairs, so that a repeated key can be seen."""


def _plain(value: Any) -> Any:
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_options(analyzer: Analyzer, text: str) -> dict[str, Any]:
    """Every declared option of `analyzer`, from `text` or its default; typed and validated.
    An option given twice is an error, however its name is spelled (`-` or `_`)."""
    declared = {o.name: o for o in analyzer.options}
    values: dict[str, Any] = {}
    for key, value in raw_options(analyzer.name, text):
        option = declared.get(str(key).strip().replace("_", "-"))
        if option is None:
            known = ", ".join(declared) or "none"
            raise RedlineError(
                f"unknown option {key!r} for check {analyzer.name!r}; its options: {known}"
            )
        if option.name in values:
            raise RedlineError(
                f"option {option.name!r} of check {analyzer.name!r} is given twice; give it once"
            )
        values[option.name] = convert(analyzer.name, option, value)
    for option in analyzer.options:
        if option.name not in values:
            if option.required:
                raise RedlineError(
                    f"check {analyzer.name!r} needs option {option.name!r}, e.g. "
                    f"--check '{analyzer.name}:{option.name}=...'"
                )
            values[option.name] = option.default
    return values


def convert(check: str, option: Option, value: Any) -> Any:
    where = f"option {option.name!r} of check {check!r}"
    if option.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise RedlineError(f"{where} is true or false, not {value!r}")
    if value is True:
        raise RedlineError(f"{where} needs a value: {option.name}=...")
    if option.type == "int":
        try:
            return int(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise RedlineError(f"{where} is a whole number, not {value!r}") from None
    if not isinstance(value, str):
        raise RedlineError(f"{where} is text, not {json.dumps(value)}")
    if option.type == "regex":
        try:
            return Pattern(value)
        except ValueError as error:
            raise RedlineError(f"{where} is not a valid regular expression: {error}") from None
    if option.type == "choice":
        if value.strip() not in option.choices:
            raise RedlineError(f"{where} is one of {', '.join(option.choices)}, not {value!r}")
        return value.strip()
    return value


def describe(option: Option) -> Mapping[str, Any]:
    """The JSON form `redline analyzers --json` prints."""
    default = option.default
    return {
        "name": option.name,
        "type": option.type,
        "help": option.help,
        "default": default.pattern if isinstance(default, Pattern | re.Pattern) else default,
        "choices": list(option.choices),
        "required": option.required,
    }
