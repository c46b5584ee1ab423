"""Drafting models for `redline draft`'s tests: what a model answers when asked for a check, as
scripted answers of the fake Chat Completions upstream (`FakeOpenAI.script`).

The failure they are drafted for: asked to handle a missing port, the model swallowed the
KeyError and fell back to a default (`SWALLOWED`); `RAISES` is a good answer. No built-in check
names it: `broad-except` only flags handlers of every exception.
"""

from __future__ import annotations

from tests.fakes.openai_chat import Answer

ASKED = "Read the port from the settings; when it is missing, raise a clear error."
NOTE = "swallowed the KeyError I asked it to handle: it falls back to a default port"

SWALLOWED = """def port(settings):
    try:
        return settings["port"]
    except KeyError:
        return 8080
"""

RAISES = """def port(settings):
    try:
        return settings["port"]
    except KeyError as exc:
        raise ValueError("the settings need a port") from exc
"""

# Another answer with the same mistake, and one without handlers, for the history scan.
SWALLOWED_ELSEWHERE = """def timeout(settings):
    try:
        return int(settings["timeout"])
    except (KeyError, ValueError):
        return 30
"""
PLAIN = """def greet(name):
    return f"hello {name}"
"""

_HEAD = """import ast

from redline.analyzers import Context, Example, Finding, Verdict
from redline.analyzers.python import python_code
from redline.transcripts import Message
"""

# A good check: a handler with no `raise` in what the output introduced.
GOOD_CHECK = (
    _HEAD
    + """

class NoSilentFallback:
    name = "no-silent-fallback"
    description = "an except handler that falls back instead of raising"
    options = ()

    def check(self, output: Message, context: Context) -> Verdict:
        code = python_code(output, context)
        findings = []
        for unit in code.units:
            first, last = unit.new.region
            for node in ast.walk(unit.new.tree):
                if not isinstance(node, ast.ExceptHandler) or not first <= node.lineno <= last:
                    continue
                if not any(isinstance(n, ast.Raise) for n in ast.walk(node)):
                    line = unit.new.line(node.lineno)
                    findings.append(Finding(unit.change.path, line, "falls back instead of raising"))
        return Verdict.of(findings, code.not_judged())

    VALID = (
        Example("try:\\n    x = d['a']\\nexcept KeyError as e:\\n    raise ValueError('a') from e\\n"),
    )
    INVALID = (
        Example(BAD_ANSWER, lines=(4,)),
        Example("try:\\n    x = d['a']\\nexcept KeyError:\\n    x = 1\\n", lines=(3,)),
    )


def register(add):
    add(NoSilentFallback())
"""
).replace("BAD_ANSWER", repr(SWALLOWED))

# The same check with a model's typical slip: `region` taken for a set of lines. Its INVALID
# examples pass, which the proof says; the second attempt fixes it.
WRONG_REGION = GOOD_CHECK.replace("            first, last = unit.new.region\n", "").replace(
    "not first <= node.lineno <= last", "node.lineno not in unit.new.region"
)

NEVER_FIRES = (
    _HEAD
    + """

class NeverFires:
    name = "never-fires"
    description = "finds nothing, ever"
    options = ()

    def check(self, output: Message, context: Context) -> Verdict:
        return Verdict(True)

    VALID = (Example("x = 1\\n"),)
    INVALID = (Example(BAD_ANSWER),)


def register(add):
    add(NeverFires())
"""
).replace("BAD_ANSWER", repr(SWALLOWED))

FIRES_ON_EVERYTHING = (
    _HEAD
    + """

class FiresOnEverything:
    name = "fires-on-everything"
    description = "a finding in every piece of code"
    options = ()

    def check(self, output: Message, context: Context) -> Verdict:
        return Verdict.of(
            [Finding(c.path, c.first_line, "code") for c in context.changes(output)]
        )

    VALID = (Example("x = 1\\n"),)
    INVALID = (Example(BAD_ANSWER),)


def register(add):
    add(FiresOnEverything())
"""
).replace("BAD_ANSWER", repr(SWALLOWED))


def write_payload(path: str) -> str:
    return f"__import__('pathlib').Path({path!r}).write_text('escaped')"


def connect_payload(port: int) -> str:
    return f"__import__('socket').create_connection(('127.0.0.1', {port}))"


def malicious_on_import(payload: str) -> str:
    """A check that passes the gate (it names nothing refused), then runs `payload` (Python
    that writes a file, or connects to the host) when imported: functools.singledispatch
    evaluates a string annotation when a function is registered."""
    probe = f"""import functools


@functools.singledispatch
def _probe(value):
    return value


@_probe.register
def _(value: "{payload} and int"):
    return value
"""
    return _HEAD + probe + GOOD_CHECK.split("from redline.transcripts import Message\n", 1)[1]


def malicious_in_check(payload: str) -> str:
    """The good check, which also runs `payload` in its `check` and swallows what that
    raises, as if nothing had happened."""
    probe = f"""
        try:
            import functools

            @functools.singledispatch
            def _probe(value):
                return value

            @_probe.register
            def _(value: "{payload} and int"):
                return value
        except Exception:
            pass
"""
    return GOOD_CHECK.replace(
        "        code = python_code(output, context)\n",
        probe + "        code = python_code(output, context)\n",
    )


def answer(module: str, before: str = "Here is the check.") -> Answer:
    """A drafting model's answer: a sentence, then the module in a ```python block."""
    return Answer(text=f"{before}\n\n```python\n{module}```\n")


# Flags every handler the output introduces, raising or not: the good answer fails it.
ANY_HANDLER = GOOD_CHECK.replace(
    "if not any(isinstance(n, ast.Raise) for n in ast.walk(node)):", "if True:"
).replace(
    "Example(\"try:\\n    x = d['a']\\nexcept KeyError as e:\\n    raise ValueError('a') from e\\n\"),",
    "Example(\"x = d.get('a')\\n\"),",
)

# Raises on a file named settings.py (the bad answer's), after its examples hold.
RAISES_ON_THE_BAD_ANSWER = GOOD_CHECK.replace(
    "        for unit in code.units:\n",
    "        for unit in code.units:\n"
    '            if unit.change.path.endswith("settings.py"):\n'
    '                raise LookupError("no rule for settings files")\n',
)

# Says it judged nothing when it finds nothing: its VALID example is then no judged pass.
JUDGES_NOTHING = GOOD_CHECK.replace(
    "        return Verdict.of(findings, code.not_judged())",
    "        return Verdict.of(findings, code.not_judged(), [] if not findings else None)",
)
