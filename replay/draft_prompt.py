"""What a drafting model is told, and how its answer is read.

    Case                           what a check is drafted from: the user's request, the bad
                                   answer's code, the note, good answers, the names taken
    system_prompt()                the instructions, the plugin API and one built-in rule
    first_message(case)            the case, as the first user message
    feedback(reason)               the next user message after a draft was refused
    module_in(text, cut_off)       the one Python module an answer holds (Unreadable if not)

The plugin API is read from the code (the names a drafted check may import, each with its
signature and the first line of its docstring), so it cannot drift from what the checks see;
the example is the built-in `regex` rule's source.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from redline.analyzers import Change
from redline.replay.draft_rules import ALLOWED_IMPORTS
from redline.transcripts import Message, Request

# The longest text of the user's request the prompt quotes (its start and its end).
MAX_ASKED = 6000
# The longest piece of code the prompt quotes.
MAX_CODE = 20000


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer a drafted check is judged on: its message, whether it was cut off, and where
    it came from (`call 01J...`, `file good.py`)."""

    message: Message
    cut_off: bool
    label: str
    code: tuple[Change, ...]  # what checks see of it


@dataclass(frozen=True, slots=True)
class Case:
    """What a check is drafted from. `request` is the transcript the bad answer answered (the
    context every answer is judged in); `taken` lists the names of the checks there are."""

    call: str
    model: str | None
    asked: str
    note: str
    request: Request | None
    bad: Answer
    good: tuple[Answer, ...]
    taken: Mapping[str, str]  # name -> where it comes from ("built-in", "plugin file PATH")


class Unreadable(Exception):
    """The answer holds no module to judge; the message says why, as the model is told."""


_INSTRUCTIONS = """\
You write checks for redline, a tool that turns the moments a coding model let its user down into
benchmark tasks. A check is a Python plugin: it reads the code a model's answer wrote and reports
findings. A task keeps a check only when the check fails on the bad answer and passes on good ones;
then the same check judges every other model's answer to the same request.

You are shown an answer where a model went wrong, what its user asked, and the user's note on what
was wrong. Write a check that fails on that answer for the reason the note gives, and passes on
code that does what the user asked without that mistake.

Answer with exactly one Python module, in one ```python block. The module:
- defines one check class with `name` (lowercase letters, digits and '-'; not a name already
  taken), `description` (one line), `options = ()` and `check(self, output, context) -> Verdict`;
- judges the code the answer introduced, not code carried over from before (`context.changes(output)`
  and `change.added_lines()`, or the regions `python_code(output, context)` gives), and says what
  it judged: `Verdict.of(findings, unparsed, judged=[the paths of the code it read])` (a pass is
  a judged pass: an answer whose code the check did not read does not pass it);
- catches the mistake in any code like it, not only this answer's exact text: do not match the bad
  answer's literal lines;
- keeps `VALID` and `INVALID` tuples of `Example` beside the check: at least one of each, the bad
  answer's code among the INVALID ones, code that does what the user asked among the VALID ones;
- ends with `def register(add): add(TheCheck())`;
- only defines things when imported: no I/O, no printing, no network, no programs; it imports only
  what reading code needs: {imports}.

Prefer a static check: one that reads the code and finds what the note describes. redline loads
your module in a sandbox and keeps it only when it loads, registers one check, its examples hold,
it fails on the bad answer and passes on every good answer; if it does not, you are told why and
asked again.
"""


def system_prompt() -> str:
    imports = ", ".join(
        name if allowed is None else f"{name} ({', '.join(sorted(allowed))})"
        for name, allowed in ALLOWED_IMPORTS.items()
    )
    return "\n".join(
        [
            _INSTRUCTIONS.format(imports=imports),
            "## The plugin API",
            "",
            *_api(),
            "",
            "## A built-in rule, for its shape: `regex`",
            "",
            *_fenced(_example_rule(), "python"),
        ]
    )


def first_message(case: Case) -> str:
    # The first line is what `redline ls` shows as the drafting conversation's title.
    title = " ".join(case.note.split())
    lines = [f"Draft a check for call {case.call}: {title}", ""]
    lines += ["## What the user asked", "", _clip(case.asked.strip(), MAX_ASKED) or "(not found)"]
    who = f", model {case.model}" if case.model else ""
    lines += ["", f"## The answer that went wrong (call {case.call}{who})", ""]
    lines += ["The code it wrote, as a check sees it (`context.changes(output)`):", ""]
    lines += _code(case.bad.code)
    lines += ["", "## The user's note: what was wrong", "", case.note.strip()]
    for n, good in enumerate(case.good, 1):
        lines += ["", f"## Good answer {n} ({good.label}): the check must pass on it", ""]
        lines += _code(good.code)
    lines += ["", "## Check names already taken", "", ", ".join(case.taken) or "(none)"]
    return "\n".join(lines)


def feedback(reason: str) -> str:
    return (
        f"Your module was not kept: {reason}\n\n"
        "Fix it, and answer with the whole module again, in one ```python block."
    )


def module_in(text: str, cut_off: bool = False) -> str:
    """The module in one ```python (or untagged) block of `text`."""
    if cut_off:
        raise Unreadable(
            "your answer was cut off (the output limit) before it ended; write a shorter module"
        )
    blocks = [code for language, code in _blocks(text) if language in _PYTHON]
    if not blocks:
        raise Unreadable("your answer has no ```python block; answer with the module in one")
    if len(blocks) > 1:
        raise Unreadable(
            f"your answer has {len(blocks)} ```python blocks; answer with exactly one module"
        )
    return blocks[0]


_PYTHON = {"", "python", "py", "python3", "py3"}


def _blocks(text: str) -> Iterator[tuple[str, str]]:
    """(language, code) of each fenced block, read line by line (no regex over the answer). A
    block left open runs to the end."""
    fence: str | None = None
    language = ""
    body: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is None:
            mark = stripped[:1]
            if mark in ("`", "~") and stripped.startswith(mark * 3):
                fence = mark * (len(stripped) - len(stripped.lstrip(mark)))
                language = stripped[len(fence) :].strip().split(" ")[0].lower()
                body = []
        elif stripped.startswith(fence) and not stripped.lstrip(fence[0]):
            yield language, "\n".join(body) + "\n"
            fence = None
        else:
            body.append(line)
    if fence is not None:
        yield language, "\n".join(body) + "\n"


def _fenced(code: str, language: str) -> list[str]:
    """`code` in a fence longer than any run of backticks in it."""
    longest = run = 0
    for char in code:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return [fence + language, code.rstrip("\n"), fence]


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters left out ...]\n{text[-half:]}"


def _code(changes: Sequence[Change]) -> list[str]:
    lines: list[str] = []
    for change in changes:
        kind = {"write": "a whole file", "block": "a code block", "delete": "a deletion"}
        what = kind.get(change.kind, "an edit")
        language = change.language or "unknown language"
        cut = "; the answer was cut off inside it" if change.truncated else ""
        lines.append(
            f"### `{change.path}` ({language}, {what}, from line {change.first_line}{cut})"
        )
        if change.before and change.kind not in ("write", "block"):
            lines += [
                "It replaced:",
                *_fenced(_clip(change.before, MAX_CODE), change.language or ""),
            ]
            lines.append("with:")
        lines += [*_fenced(_clip(change.after, MAX_CODE), change.language or ""), ""]
    return lines or ["(no code)"]


# -- the API, read from the code --------------------------------------------------------------------


def _api() -> Iterator[str]:
    for module_name in ("redline.analyzers", "redline.analyzers.python", "redline.transcripts"):
        module = importlib.import_module(module_name)
        allowed = ALLOWED_IMPORTS[module_name]
        names = sorted(allowed) if allowed is not None else list(getattr(module, "__all__", ()))
        yield f"### from {module_name} import ..."
        yield ""
        if module_name == "redline.analyzers.python" and module.__doc__:
            yield from _fenced(inspect.cleandoc(module.__doc__), "")
            yield ""
        for name in names:
            yield from _describe(name, getattr(module, name))
        yield ""


def _describe(name: str, value: object) -> Iterator[str]:
    doc = inspect.getdoc(value) or ""
    first = doc.split("\n\n")[0].replace("\n", " ")
    yield f"- `{name}{_signature(value)}`" + (f": {first}" if first else "")
    if not inspect.isclass(value):
        return
    for attribute, member in inspect.getmembers(value):
        if attribute.startswith("_") or not (
            inspect.isfunction(member) or isinstance(member, property)
        ):
            continue
        if getattr(member, "__qualname__", "").split(".")[0] not in (name, ""):
            continue  # inherited from elsewhere
        text = inspect.getdoc(member) or ""
        first = text.split("\n\n")[0].replace("\n", " ")
        shown = "" if isinstance(member, property) else _signature(member)
        yield f"  - `.{attribute}{shown}`" + (f": {first}" if first else "")


def _signature(value: object) -> str:
    if not callable(value) or getattr(value, "_is_protocol", False):
        return ""
    try:
        signature = str(inspect.signature(value))
    except (TypeError, ValueError):
        return ""
    signature = _QUOTED.sub(r"\1\2", signature).removesuffix(" -> None")
    return signature.replace("self, ", "").replace("(self)", "()")


# An annotation as `from __future__ import annotations` leaves it: 'str | None'.
_QUOTED = re.compile(r"(: |-> )'([^']*)'")


def _example_rule() -> str:
    """The `regex` rule's source, read as a file (the rules are loaded by name, not imported)."""
    spec = importlib.util.find_spec("redline.analyzers.rules.regex")
    if spec is None or spec.origin is None:
        return ""
    return Path(spec.origin).read_text(encoding="utf-8")
