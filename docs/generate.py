"""Write the parts of the docs/ pages that are read from the code, so they cannot drift from it.

    .venv/bin/python docs/generate.py            # rewrite them (what `make docs` runs)
    .venv/bin/python docs/generate.py --check    # change nothing; exit 1 naming stale pages

A page marks each generated region with a pair of comments; only what lies between them is
rewritten, so the prose around it stays the page's own:

    <!-- make docs: options redline ls -->
    ...written by this script...
    <!-- end make docs -->

Keys:

* `options redline CMD`: the command's usage and its arguments and options, read from the same
  click objects that its `--help` prints;
* `checks`: the table of built-in checks and what each finds;
* `check NAME`: a built-in check's description, its options and its VALID and INVALID examples
  (the examples are those its tests run, as Fixit does for its rules).

Every command and every built-in check must have its region on some page (which page is the
page's choice). `tests/test_docs.py` fails while a page differs from what this writes.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, like docs/screenshots.py

from redline.analyzers import Analyzer, Example, Option, default_registry  # noqa: E402
from redline.cli import app  # noqa: E402
from redline.transcripts import Message, Text, ToolCall  # noqa: E402

DOCS = ROOT / "docs"
REGION = re.compile(
    r"(?P<open><!-- make docs: (?P<key>[^\n]*?) -->\n)(?P<body>.*?)(?P<close><!-- end make docs -->)",
    re.S,
)
LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".sql": "sql"}


class StaleRegion(Exception):
    """A page holds a region for a command or check the code no longer has."""


# --- the commands ------------------------------------------------------------------------------


def commands() -> dict[str, Any]:
    """Every command `redline --help` leads to, by its full name (`redline task show`)."""
    found: dict[str, Any] = {}

    def walk(command: Any, name: str) -> None:
        if isinstance(command, TyperGroup):
            for sub, child in command.commands.items():
                walk(child, f"{name} {sub}")
        else:
            found[name] = command

    walk(typer.main.get_command(app), "redline")
    return found


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _value_name(param: TyperOption) -> str:
    if param.metavar:
        return param.metavar
    kind = param.type
    choices = getattr(kind, "choices", None)
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    names = {"int": "N", "int range": "N", "float": "NUMBER", "float range": "NUMBER"}
    return names.get(kind.name, "TEXT" if kind.name in ("str", "text") else kind.name.upper())


def _bounds(param: TyperOption) -> str:
    low, high = getattr(param.type, "min", None), getattr(param.type, "max", None)
    if low is not None and high is not None:
        return f"From {low:g} to {high:g}."
    if low is not None:
        return f"At least {low:g}."
    if high is not None:
        return f"At most {high:g}."
    return ""


def _default(param: TyperOption) -> str:
    if isinstance(param.show_default, str):
        return f"Default: the {param.show_default}."
    value = param.default
    if not param.show_default or value in (None, False, "", [], ()):
        return ""
    value = getattr(value, "value", value)  # an Enum's choice, as typed on the command line
    return f"Default: `{value}`."


def _argument(param: TyperArgument) -> str:
    name = (param.metavar or param.name or "").upper()
    name += "..." if param.nargs == -1 else ""
    return name if param.required else f"[{name}]"


def options_region(name: str, command: Any) -> str:
    """A command's usage line, then a table of its arguments and options, as `--help` has them."""
    arguments = [p for p in command.params if isinstance(p, TyperArgument)]
    options = [p for p in command.params if isinstance(p, TyperOption)]
    usage = " ".join([name, "[OPTIONS]", *(_argument(p) for p in arguments)])
    rows = [f"`{usage}`: {command.help.strip().splitlines()[0]}", ""]
    rows += ["| argument or option | what it does |", "|---|---|"]
    for argument in arguments:
        rows.append(f"| `{_argument(argument)}` | {_cell(argument.help or '')} |")
    for option in options:
        spelled = ", ".join(f"`{o}`" for o in (*option.opts, *option.secondary_opts))
        if not option.is_flag:
            spelled += f" `{_value_name(option)}`"
        notes = [option.help or "", _bounds(option), _default(option)]
        if option.required:
            notes.append("Required.")
        if option.envvar:
            notes.append(f"Also read from `${option.envvar}`.")
        rows.append(f"| {_cell(spelled)} | {_cell(' '.join(n for n in notes if n))} |")
    return "\n".join(rows) + "\n"


# --- the built-in checks -----------------------------------------------------------------------


def builtin_checks() -> dict[str, Analyzer]:
    registry = default_registry(entry_points=False)
    return {analyzer.name: analyzer for analyzer in registry}


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _option_row(option: Option) -> str:
    kind = " \\| ".join(f"`{c}`" for c in option.choices) if option.choices else option.type
    if option.minimum is not None or option.maximum is not None:
        low = "" if option.minimum is None else option.minimum
        high = "" if option.maximum is None else option.maximum
        kind += f" {low}–{high}"
    if option.required:
        default = "required"
    elif option.default is None:
        default = "none"
    else:
        shown = getattr(option.default, "pattern", option.default)  # a compiled regex
        default = f"`{json.dumps(shown) if not isinstance(shown, str) else shown}`"
    return f"| `{option.name}` | {kind} | {_cell(default)} | {_cell(option.help)} |"


def _fence(body: str, language: str = "") -> str:
    """`body` in a fence longer than any run of backticks inside it."""
    runs = [len(r) for r in re.findall(r"`+", body)]
    ticks = "`" * max(3, max(runs, default=0) + 1)
    return f"{ticks}{language}\n{body.rstrip(chr(10))}\n{ticks}"


def _edit(before: str, after: str) -> str:
    """The edit as a diff with the whole of both sides as context."""
    old, new = before.splitlines(), after.splitlines()
    lines = difflib.unified_diff(old, new, lineterm="", n=max(len(old), len(new)))
    return "\n".join(line for line in lines if not line.startswith(("---", "+++", "@@")))


def _example_output(example: Example) -> list[str]:
    """How the example is shown: the code it writes, the edit it makes, or the message."""
    output = example.output
    if isinstance(output, Message):
        return list(_message(output))
    language = LANGUAGES.get(Path(example.path).suffix, "")
    if example.before is None:
        return [f"Writes `{example.path}`:", "", _fence(output, language)]
    return [f"Edits `{example.path}`:", "", _fence(_edit(example.before, output), "diff")]


def _message(message: Message) -> Iterator[str]:
    for n, part in enumerate(message.parts):
        if n:
            yield ""
        if isinstance(part, Text):
            yield from ("Text:", "", _fence(part.text, "markdown"))
        elif isinstance(part, ToolCall):
            try:
                arguments = json.dumps(json.loads(part.arguments), indent=2)
            except ValueError:
                arguments = part.arguments
            yield from (f"The tool call `{part.name}`:", "", _fence(arguments, "json"))


def _example(analyzer: Analyzer, example: Example, valid: bool) -> list[str]:
    verdict = "**Passes**" if valid else "**Fails**"
    if example.lines:
        where = ", ".join(str(n) for n in sorted(set(example.lines)))
        verdict += f" (line {where})" if len(set(example.lines)) == 1 else f" (lines {where})"
    if example.options:
        verdict += f" as `{analyzer.name}:{example.options}`"
    if example.note:
        verdict += f": {example.note}"
    return [verdict + ".", "", *_example_output(example), ""]


def check_region(analyzer: Analyzer) -> str:
    """The check's description and options, then its examples folded under a summary."""
    rows = [f"### `{analyzer.name}`", "", _sentence(analyzer.description), ""]
    if analyzer.options:
        rows += ["| option | type | default | what it does |", "|---|---|---|---|"]
        rows += [_option_row(o) for o in analyzer.options]
    else:
        rows.append("No options.")
    valid, invalid = getattr(analyzer, "VALID", ()), getattr(analyzer, "INVALID", ())
    if valid or invalid:
        summary = f"Examples: {len(valid)} it passes, {len(invalid)} it fails (each runs as a test)"
        rows += ["", "<details>", f"<summary>{summary}</summary>", ""]
        # The examples exactly as the tests run them: `ruff format` must not restyle them.
        rows += ["<!-- fmt: off -->", ""]
        for group, is_valid in ((valid, True), (invalid, False)):
            for example in group:
                rows += _example(analyzer, example, is_valid)
        rows += ["<!-- fmt: on -->", "</details>"]
    return "\n".join(rows).rstrip("\n") + "\n"


def checks_region(analyzers: Iterable[Analyzer]) -> str:
    rows = ["| check | what it finds |", "|---|---|"]
    rows += [f"| [`{a.name}`](#{a.name}) | {_cell(_sentence(a.description))} |" for a in analyzers]
    return "\n".join(rows) + "\n"


# --- the pages ---------------------------------------------------------------------------------


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def expected_regions() -> dict[str, str]:
    """Every region the pages must hold, by key, with the text this script writes in it."""
    checks = builtin_checks()
    regions = {f"options {name}": options_region(name, c) for name, c in commands().items()}
    regions["checks"] = checks_region(checks.values())
    regions |= {f"check {name}": check_region(a) for name, a in checks.items()}
    return regions


def render(text: str, regions: dict[str, str]) -> str:
    """`text` with each of its generated regions rewritten."""

    def fill(match: re.Match[str]) -> str:
        key = match["key"]
        if key not in regions:
            raise StaleRegion(f"no command or built-in check is called {key!r}")
        return match["open"] + regions[key] + match["close"]

    return REGION.sub(fill, text)


def missing(texts: Iterable[str], regions: dict[str, str]) -> list[str]:
    """The keys no page holds a region for."""
    held = {m["key"] for text in texts for m in REGION.finditer(text)}
    return sorted(set(regions) - held)


def main(argv: list[str]) -> int:
    check_only = argv == ["--check"]
    if argv and not check_only:
        print("usage: docs/generate.py [--check]", file=sys.stderr)
        return 2
    regions = expected_regions()
    texts = {page: page.read_text() for page in pages()}
    try:
        rendered = {page: render(text, regions) for page, text in texts.items()}
    except StaleRegion as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = [page for page in texts if rendered[page] != texts[page]]
    absent = missing(texts.values(), regions)
    for key in absent:
        print(f"error: no page holds `<!-- make docs: {key} -->`: add it", file=sys.stderr)
    if check_only:
        for page in stale:
            print(f"{page.relative_to(ROOT)} is not what `make docs` writes", file=sys.stderr)
        return 1 if stale or absent else 0
    for page in stale:
        page.write_text(rendered[page])
        print(f"wrote {page.relative_to(ROOT)}")
    if not stale:
        print("docs/ is what the code says already")
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
