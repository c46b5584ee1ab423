"""placeholder: code the output elided instead of writing.

A line the output introduced (any language) is a placeholder when its comment (after `#`,
`//`, `/*`, `*`, `<!--` or `--`) says code was left out: `... existing code ...`, `rest of the
code unchanged`, `previous implementation remains`, `omitted for brevity`, `your code here`,
`TODO: implement`, or is nothing but `...`; or when the line is `pass` or `...` with a `TODO`,
`FIXME` or `implement` comment. Lines carried over from the code the edit replaced do not count,
nor do sketches meant to hold such markers (Continue's `edit_existing_file`).
"""

from __future__ import annotations

import re

from redline.analyzers._context import Context
from redline.analyzers._model import Example, Finding, Option, Verdict
from redline.transcripts.model import Message, Text

_COMMENT = re.compile(r"(?:#|//|/\*|<!--|^\s*\*|(?:^|\s)--)\s*(.*)$")
_ELIDED = re.compile(
    r"(?ix)"
    r"^\.{3}\s*$|^…\s*$"
    r"|\.{3}\s*\(?\s*(?:existing|rest|remaining|previous|other|original|same|unchanged|more|keep)"
    r"|(?:existing|remaining|previous|original|other|unchanged)\s+(?:code|implementation|methods?"
    r"|functions?|logic|content|imports|lines|tests|body|fields|handlers)\b"
    r"|rest\s+of\s+(?:the\s+)?(?:code|file|function|class|implementation|method|module|body|tests)"
    r"|(?:code|implementation|everything\s+else|logic)\s+(?:remains?|stays?|is)\s+"
    r"(?:the\s+same|unchanged|as\s+(?:before|is))"
    r"|(?:omitted|elided|truncated|shortened)\s+for\s+brevity"
    r"|(?:your|the)\s+(?:code|implementation|logic)\s+(?:goes\s+)?here"
    r"|\bimplement(?:ation)?\s+(?:goes\s+)?here\b"
    r"|\btodo\b:?\s*implement"
)
_STUB = re.compile(r"^\s*(?:pass|\.\.\.)\s*(?:#|//)\s*.*\b(?:TODO|FIXME|implement)", re.I)


def placeholder(line: str, extra: re.Pattern[str] | None) -> bool:
    if _STUB.search(line) or (extra is not None and extra.search(line)):
        return True
    comment = _COMMENT.search(line)
    return bool(comment and _ELIDED.search(comment.group(1).strip().rstrip("*/->").strip()))


class Placeholder:
    name = "placeholder"
    description = "elided code such as '# ... existing code ...' or 'pass  # TODO implement'"
    options = (
        Option("pattern", "regex", None, "one more regex that marks a placeholder line"),
        Option("blocks", "bool", True, "judge standalone code blocks too, not only file edits"),
    )

    def check(self, output: Message, context: Context) -> Verdict:
        extra = context.options.get("pattern")
        findings = []
        for change in context.changes(output):
            if change.kind == "lazy" or (
                change.kind == "block" and not context.options.get("blocks", True)
            ):
                continue
            for line, text in change.added_lines():
                if placeholder(text, extra):
                    findings.append(
                        Finding(
                            change.path,
                            line,
                            "elided code: a placeholder instead of the code",
                            text.strip(),
                        )
                    )
        return Verdict.of(findings)

    VALID = (
        Example("def f():\n    # compute the total\n    return sum(xs)\n"),
        Example("x = compute()  # TODO: cache this\n"),
        Example(
            "def f():\n    # ... existing code ...\n    return 2\n",
            before="def f():\n    # ... existing code ...\n    return 1\n",
            note="the marker was already in the file",
        ),
    )
    INVALID = (
        Example("def f():\n    # ... existing code ...\n    return 1\n", lines=(2,)),
        Example("class A:\n    # rest of the code remains unchanged\n    x = 1\n", lines=(2,)),
        Example("def g():\n    pass  # TODO implement\n", lines=(2,)),
        Example("function f() {\n  // ... rest of the code ...\n}\n", path="a.js", lines=(2,)),
        Example(Message("assistant", (Text("```python\ndef f():\n    ...  # TODO\n```\n"),))),
    )


ANALYZER = Placeholder()
