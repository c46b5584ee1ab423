"""python-syntax: the Python code the output leaves behind parses.

Judged where it can be known: a whole file the output writes (compiled, so `return` outside a
function counts too), and an edit placed in a file the transcript showed that parsed before the
edit. A fragment whose file the transcript does not show is judged only if it parses neither on
its own nor with the repairs of `_python` (dedent, synthetic block openers): then it is listed
as unparsed, since its surroundings are unknown. With `blocks`, a fenced block tagged as Python
that does not parse is a finding too. Code the output was cut off in is not judged (listed):
it was never finished, so whether it would have parsed is unknown.
"""

from __future__ import annotations

import warnings

from redline.analyzers import Context, Example, Finding, Option, Unparsed, Verdict
from redline.analyzers.python import Broken, PythonUnit, python_code
from redline.transcripts import Message


def _compile_error(unit: PythonUnit) -> Finding | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(unit.new.text, unit.change.path, "exec", dont_inherit=True)
    except SyntaxError as error:
        line = unit.new.line(error.lineno) if error.lineno else None
        bad = unit.new.text.split("\n")[error.lineno - 1].strip() if error.lineno else ""
        return Finding(unit.change.path, line, f"does not compile: {error.msg}", bad)
    except (ValueError, MemoryError, RecursionError) as error:
        return Finding(unit.change.path, None, f"does not compile: {error}", "")
    return None


class PythonSyntax:
    name = "python-syntax"
    description = "the Python code the output leaves behind parses"
    options = (Option("blocks", "bool", False, "also require fenced ```python blocks to parse"),)

    def check(self, output: Message, context: Context) -> Verdict:
        findings: list[Finding] = []
        code = python_code(output, context)
        unparsed: list[Unparsed] = list(code.skipped)
        judged: list[str] = []
        for change, result in code.results:
            if isinstance(result, PythonUnit) and result.new.cut is not None:
                note = result.cut_note()
                unparsed += [note] if note is not None else []
                continue
            if isinstance(result, PythonUnit | Broken) or (
                change.kind == "block" and context.options.get("blocks") and not change.truncated
            ):
                judged.append(change.path)
            if isinstance(result, Broken):
                findings.append(
                    Finding(
                        change.path,
                        result.line,
                        f"does not parse: {result.message}",
                        result.snippet,
                    )
                )
            elif isinstance(result, PythonUnit):
                error = _compile_error(result) if result.whole_file else None
                if error is not None:
                    findings.append(error)
            elif change.kind == "block" and context.options.get("blocks") and not change.truncated:
                findings.append(
                    Finding(
                        change.path, None, "a ```python block that does not parse", result.fragment
                    )
                )
            else:
                unparsed.append(result)
        return Verdict.of(findings, unparsed, judged)

    VALID = (
        Example("def f():\n    return 1\n"),
        Example(
            "        return 2\n",
            before="        return 1\n",
            note="a fragment that parses dedented",
        ),
        Example(
            "    except ValueError:\n        pass\n", before="    except KeyError:\n        pass\n"
        ),
    )
    INVALID = (
        Example("def f(:\n    return 1\n", lines=(1,)),
        Example("x = 1\nreturn x\n", lines=(2,), note="compiles, not just parses"),
    )


ANALYZER = PythonSyntax()
