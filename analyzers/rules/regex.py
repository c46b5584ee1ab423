"""regex: forbid or require a pattern in the output's code or text.

`in=code` (default) searches the code the output writes (every edit and code block, any
language); `in=text` searches the output's text as written, fenced blocks included, reasoning
excluded; `in=all` both. With `mode=forbid` (default) a match is a finding, but in code only a
match that starts on a line the output introduced (not carried over from the code it replaced).
With `mode=require` the check fails when nothing in scope matches. Python `re` syntax; flags
inline, e.g. `(?i)`; `.` does not match a newline unless `(?s)`.

What it judges is code: with `in=code` or `in=all` every piece of code the output wrote, with
`in=text` the code its text holds (fenced blocks, diffs, SEARCH/REPLACE). Text without code (a
question, a summary) is searched, and a forbidden match there is a finding, but it is not code
the check judged: an output that wrote none is no attempt, and `mode=require` asks nothing of
it.
"""

from __future__ import annotations

from redline.analyzers import Context, Example, Finding, Option, Pattern, Verdict
from redline.transcripts import Message, Text


def _line_of(text: str, index: int) -> tuple[int, str]:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text.count("\n", 0, index) + 1, text[start : end if end >= 0 else len(text)]


class Regex:
    name = "regex"
    description = "forbid or require a regular expression in the output's code or text"
    options = (
        Option(
            "pattern", "regex", None, "the regular expression (Python re syntax)", required=True
        ),
        Option(
            "mode",
            "choice",
            "forbid",
            "forbid: each match is a finding; require: a finding when nothing matches",
            ("forbid", "require"),
        ),
        Option("in", "choice", "code", "where to search", ("code", "text", "all")),
    )

    def check(self, output: Message, context: Context) -> Verdict:
        pattern: Pattern = context.options["pattern"]
        scope = context.options.get("in", "code")
        require = context.options.get("mode") == "require"
        findings: list[Finding] = []
        matched = False
        in_code = scope in ("code", "all")
        code = context.changes(output) if in_code else context.changes_in_text(output)
        judged = [c.path for c in code]
        unparsed = context.unjudged(output) if in_code else []
        if in_code:
            for change in code:
                added = {line for line, _ in change.added_lines()}
                for match in pattern.finditer(change.after):
                    matched = True
                    n, text = _line_of(change.after, match.start())
                    line = change.first_line + n - 1
                    if line in added:
                        findings.append(
                            Finding(
                                change.path,
                                line,
                                f"matches forbidden /{pattern.pattern}/",
                                text.strip(),
                            )
                        )
        if scope in ("text", "all"):
            for part in output.parts:
                if not isinstance(part, Text):
                    continue
                for match in pattern.finditer(part.text):
                    matched = True
                    n, text = _line_of(part.text, match.start())
                    findings.append(
                        Finding("<text>", n, f"matches forbidden /{pattern.pattern}/", text.strip())
                    )
        if require:
            if matched or not judged:  # an output that wrote no code is asked nothing
                return Verdict.of([], unparsed, judged)
            return Verdict.of(
                [
                    Finding(
                        None,
                        None,
                        f"nothing in the output's {scope} matches required /{pattern.pattern}/",
                    )
                ],
                unparsed,
                judged,
            )
        return Verdict.of(findings, unparsed, judged)

    VALID = (
        Example("x = 1\n", options="pattern=eval\\("),
        Example("y = eval(s)\nz = 2\n", before="y = eval(s)\n", options="pattern=eval\\("),
        Example("def f(a, b): return a\n", options="pattern=def f\\(a, b\\):;mode=require"),
    )
    INVALID = (
        Example("x = 1\ny = eval(s)\n", options="pattern=eval\\(", lines=(2,)),
        Example("x = 1\n", options='{"pattern": "timeout=\\\\d+", "mode": "require"}'),
    )


ANALYZER = Regex()
