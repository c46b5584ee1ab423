"""An example plugin, the one docs/writing-checks.md shows: forbid print() in the code an output adds.

Load it with `redline check --plugin tests/corpus/plugins/no_print.py --check no-print FILE`.
"""

from collections.abc import Callable

from redline.analyzers import Analyzer, Context, Example, Finding, Option, Verdict
from redline.transcripts.model import Message


class NoPrint:
    name = "no-print"
    description = "print() calls in the Python code the output adds"
    options = (Option("allow-stderr", "bool", False, "permit print(..., file=sys.stderr)"),)

    def check(self, output: Message, context: Context) -> Verdict:
        findings = []
        for change in context.changes(output):
            if change.language != "python":
                continue
            for line, text in change.added_lines():
                if "print(" in text and not (context.options["allow-stderr"] and "file=" in text):
                    findings.append(Finding(change.path, line, "print() call", text.strip()))
        return Verdict.of(findings)

    VALID = (Example("import logging\nlogging.info('x')\n"),)
    INVALID = (Example("x = 1\nprint(x)\n", lines=(2,)),)


def register(add: Callable[[Analyzer], None]) -> None:
    add(NoPrint())
