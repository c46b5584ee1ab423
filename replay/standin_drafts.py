"""What the stand-in model answers when asked to draft a check (`redline draft`, the demo).

It is not a model: it knows one failure, an error swallowed or turned into a silent fallback,
and writes one canned check for it, `no-silent-fallback` (an `except` handler the code adds
whose body never raises). It recognises a drafting request by its instructions ("You write
checks for redline"), reads the user's note, and answers:

* when the note speaks of swallowed errors, exceptions, handlers or fallbacks: the check, with
  the bad answer's code (its first file after "## The answer that went wrong", as an edit of the
  code it replaced when it was one) among its INVALID examples, under a name not in "## Check
  names already taken";
* otherwise: that it can only draft that one check, in plain text (no code block, so the draft
  is refused, as a real model's would be).

A later turn of the same conversation (the reason a draft was refused) gets the same answer:
the stand-in cannot fix a check.
"""

from __future__ import annotations

import re

DRAFTING = re.compile(r"\AYou write checks for redline\b")
# What a note says when the failure is one the stand-in's check catches.
_SWALLOWED = re.compile(
    r"swallow|silenc|suppress|fall(?:s|ing)?[ -]?back|default|\bexcept|exception|"
    r"error handling|handler|ignor\w* (?:the |an |any )?(?:errors?|exceptions?)",
    re.IGNORECASE,
)
NAME = "no-silent-fallback"

_CHECK = '''"""{name}: an except handler the code adds that never raises: the error is swallowed or
turned into a silent fallback. Drafted by the redline stand-in model, not a real model."""

import ast

from redline.analyzers import Context, Example, Finding, Verdict
from redline.analyzers.python import python_code
from redline.transcripts import Message


def _raises(handler: ast.ExceptHandler) -> bool:
    return any(isinstance(node, ast.Raise) for node in ast.walk(handler))


class NoSilentFallback:
    name = {name!r}
    description = "an except handler the code adds that never raises (a swallowed error)"
    options = ()

    def check(self, output: Message, context: Context) -> Verdict:
        code = python_code(output, context)
        findings = []
        for unit in code.units:
            first, last = unit.new.region
            for node in ast.walk(unit.new.tree):
                if isinstance(node, ast.ExceptHandler) and first <= node.lineno <= last:
                    if not _raises(node):
                        line = unit.new.line(node.lineno)
                        snippet = unit.new.text.split("\\n")[node.lineno - 1].strip()
                        findings.append(
                            Finding(unit.change.path, line, "the handler never raises", snippet)
                        )
        return Verdict.of(findings, code.not_judged(), [u.change.path for u in code.units])

    VALID = (
        Example("def load(path):\\n    with open(path) as f:\\n        return f.read()\\n"),
        Example(
            "try:\\n    value = settings['port']\\n"
            "except KeyError as exc:\\n    raise ValueError('no port') from exc\\n"
        ),
    )
    INVALID = (
        Example("try:\\n    value = settings['port']\\nexcept KeyError:\\n    value = 8080\\n"),
        Example({bad}),
    )


def register(add):
    add(NoSilentFallback())
'''


def is_drafting(system: str) -> bool:
    return bool(DRAFTING.match(system))


def answer(prompt: str) -> str:
    """The stand-in's answer text to a drafting request whose first user message is `prompt`."""
    note = _section(prompt, "## The user's note")
    if not _SWALLOWED.search(note[:2000]):
        return (
            "I can only draft one check, for swallowed errors and silent fallbacks; this note "
            "describes another failure. Ask a real model (--model WIRE:MODEL@URL)."
        )
    taken = {n.strip() for n in _section(prompt, "## Check names already taken").split(",")}
    name = NAME
    n = 2
    while name in taken:
        name, n = f"{NAME}-{n}", n + 1
    code = _first_code(_section(prompt, "## The answer that went wrong"))
    bad, replaced = code or ("try:\n    pass\nexcept Exception:\n    pass\n", None)
    example = repr(bad) if replaced is None else f"{bad!r}, before={replaced!r}"
    module = _CHECK.format(name=name, bad=example)
    return f"Here is a check for the swallowed error, `{name}`:\n\n```python\n{module}```\n"


def _section(text: str, heading: str) -> str:
    """The text under the first heading that starts with `heading`, up to the next `## `."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(heading):
            body = []
            for rest in lines[i + 1 :]:
                if rest.startswith("## "):
                    break
                body.append(rest)
            return "\n".join(body).strip()
    return ""


def _first_code(text: str) -> tuple[str, str | None] | None:
    """The code of the first file in `text` (as the prompt shows it: a fenced block, or "It
    replaced:" a block "with:" a block) and the code it replaced, if it was an edit."""
    blocks: list[tuple[str, str]] = []  # (the line before the fence, the code)
    fence: str | None = None
    before = ""
    body: list[str] = []
    for line in text.split("\n"):
        if fence is None:
            if line.startswith("```"):
                fence, body, said = line[: len(line) - len(line.lstrip("`"))], [], before
            elif line.startswith("### ") and blocks:
                break  # the next file
            before = line
        elif line.strip() == fence:
            blocks.append((said, "\n".join(body) + "\n"))
            fence = None
        else:
            body.append(line)
    if not blocks:
        return None
    if blocks[0][0].startswith("It replaced") and len(blocks) > 1:
        return blocks[1][1], blocks[0][1]
    return blocks[0][1], None
