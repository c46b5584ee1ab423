"""broad-except: an exception handler that catches everything and swallows it.

A handler is *broad* when it is bare (`except:`) or names `Exception` or `BaseException`
(also as `builtins.Exception`, and inside a tuple, however nested or starred), in `except` or
`except*`. `suppress(...)` / `contextlib.suppress(...)` with one of those among its arguments
(`*[Exception]` too) is broad as well.

A broad handler *swallows* unless its body has a `raise` statement or calls one of `sys.exit`,
`exit`, `quit`, `os._exit`, `os.abort`, `pytest.fail`, `pytest.exit`, `pytest.skip`,
`pytest.xfail`, `self.fail`, `self.skipTest`, in code that can run when the handler does: not
inside functions, classes or lambdas it defines, not after a `return`/`continue`/`break`/
`raise` of the same block, not in the dead branch of an `if`/`while` on a constant (`if
False:`). A handler that only logs swallows; with `allow-logging` a handler whose body makes a
logging call is accepted: `.debug/.info/.warning/.warn/.error/.exception/.critical/.fatal/.log`
on `logging`, on a logger name (`log`, `logger`, `LOG`, `_logger`, `audit_log`, also as an
attribute: `self.log`), on `logging.getLogger(...)`, or on a name or attribute the module binds
only to a logger (`loggers_in`: `audit = logging.getLogger("audit")`, `self.events =
getLogger()`); `traceback.print_exc`/`print_exception`, `warnings.warn`, or `print(...,
file=X)` with X not None. `suppress` always swallows.

A name the module binds only to a broad type is followed (`aliases_in`): `E = Exception`,
`AnyError = BaseException`, `BROAD = (OSError, Exception)`, `from builtins import Exception as
E`, an alias of an alias; `except E:`, `except (KeyError, E):` and `suppress(E)` are then broad.
So is a name bound only to `contextlib.suppress` (`suppressors_in`: `from contextlib import
suppress as quiet`, `cl.suppress` after `import contextlib as cl`). "The module" is the code read
with the handler: the file the transcript showed, else the fragment the output wrote. A name
bound in any other way too (a parameter, a class, another assignment, an import from elsewhere)
is not followed: which binding a handler sees then depends on scopes and on the order the code
runs in, or on another module.

Only what the output introduced counts (`judge`): handlers are matched between the code the
edit replaced and its new code by their header lines. What it judges is the Python it could
read; code in another language, or Python that does not parse, is not judged.

The parts: `_broad_except_handlers` (broad, swallowing, found in parsed code),
`_broad_except_bindings` (names bound to a broad type, a logger or `suppress`) and
`_broad_except_edits` (what an edit introduced); this module is the check.
"""

from __future__ import annotations

from redline.analyzers import Context, Example, Finding, Option, Verdict
from redline.analyzers.python import python_code
from redline.transcripts import Message

# Tests and the bench import these from the rule's module, where they were defined first.
from ._broad_except_bindings import aliases_in, loggers_in, suppressors_in
from ._broad_except_edits import judge
from ._broad_except_handlers import CANDIDATE

__all__ = [
    "ANALYZER",
    "CANDIDATE",
    "BroadExcept",
    "aliases_in",
    "judge",
    "loggers_in",
    "suppressors_in",
]


class BroadExcept:
    name = "broad-except"
    description = (
        "an except clause (or contextlib.suppress) that catches everything and swallows it"
    )
    options = (
        Option("allow-logging", "bool", False, "accept a broad handler whose body logs the error"),
    )

    def check(self, output: Message, context: Context) -> Verdict:
        code = python_code(output, context)
        unparsed = code.not_judged()
        findings: list[Finding] = []
        for unit in code.units:
            findings += judge(unit, bool(context.options.get("allow-logging")), unparsed)
        findings.sort(key=lambda f: (f.path or "", f.line or 0))
        return Verdict.of(findings, unparsed, (unit.change.path for unit in code.units))

    VALID = (
        Example("try:\n    run()\nexcept ValueError:\n    pass\n", note="a narrow handler"),
        Example("try:\n    run()\nexcept Exception:\n    log.exception('x')\n    raise\n"),
        Example("try:\n    run()\nexcept Exception as e:\n    raise RuntimeError('x') from e\n"),
        Example("try:\n    run()\nexcept BaseException:\n    sys.exit(1)\n"),
        Example(
            "try:\n    run()\nexcept Exception:\n    logger.exception('boom')\n",
            options="allow-logging",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    pass\nprint('x')\n",
            before="try:\n    run()\nexcept Exception:\n    pass\n",
            note="the handler was already there",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    logging.getLogger(__name__).error('x')\n",
            options="allow-logging",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    pass\n    cleanup()\n",
            before="try:\n    run()\nexcept Exception:\n    pass\n",
            note="a line added to a handler that already swallowed",
        ),
        Example("E = ValueError\ntry:\n    run()\nexcept E:\n    pass\n", note="narrow alias"),
        Example("class E(Exception):\n    pass\n\ntry:\n    run()\nexcept E:\n    pass\n"),
        Example(
            "E = Exception\nif strict:\n    E = ValueError\ntry:\n    run()\nexcept E:\n    pass\n",
            note="bound to a narrow type too: which one the handler sees is not followed",
        ),
        Example(
            "E = Exception\n\ndef f(E):\n    try:\n        run()\n    except E:\n        pass\n",
            note="also bound as a parameter: not followed",
        ),
        Example(
            "from errors import E\ntry:\n    run()\nexcept E:\n    pass\n",
            note="imported from another module",
        ),
        Example(
            "E = Exception\ntry:\n    run()\nexcept E:\n    pass\n",
            before="E = Exception\ntry:\n    run(\nexcept E:\n    pass\n",
            note="the old code does not parse: its handlers are read from the text, aliases too",
        ),
        Example(
            "audit = logging.getLogger('audit')\ntry:\n    run()\nexcept Exception:\n"
            "    audit.warning('x')\n",
            options="allow-logging",
            note="a logger stored under another name",
        ),
        Example(
            "class Job:\n    def __init__(self):\n        self.events = logging.getLogger('jobs')\n\n"
            "    def run(self):\n        try:\n            step()\n        except Exception:\n"
            "            self.events.error('failed')\n",
            options="allow-logging",
            note="a logger stored in an attribute",
        ),
    )
    INVALID = (
        Example("try:\n    run()\nexcept:\n    pass\n", lines=(3,)),
        Example(
            "try:\n    run()\nexcept Exception:\n    return None\n    raise\n",
            lines=(3,),
            note="a raise after return never runs",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    if False:\n        raise\n",
            lines=(3,),
            note="a raise under `if False:` never runs",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    catalog.error('x')\n",
            options="allow-logging",
            lines=(3,),
            note="`catalog` is no logger",
        ),
        Example("with suppress(*[Exception]):\n    run()\n", lines=(1,)),
        Example(
            "try:\n    run()\nexcept ((OSError, Exception), KeyError):\n    pass\n", lines=(3,)
        ),
        Example("try:\n    run()\nexcept Exception:\n    x = None\n", lines=(3,)),
        Example("try:\n    run()\nexcept (OSError, Exception) as e:\n    print(e)\n", lines=(3,)),
        Example("try:\n    run()\nexcept* BaseException:\n    pass\n", lines=(3,)),
        Example("with contextlib.suppress(Exception):\n    run()\n", lines=(1,)),
        Example("try:\n    run()\nexcept Exception:\n    logger.exception('boom')\n", lines=(3,)),
        Example(
            "try:\n    run()\nexcept Exception:\n    def later():\n        raise\n    defer(later)\n",
            lines=(3,),
            note="a raise inside a nested function does not run in the handler",
        ),
        Example(
            "try:\n    run()\nexcept Exception:\n    pass\n",
            before="try:\n    run()\nexcept Exception:\n    raise\n",
            lines=(3,),
            note="the edit made an existing handler swallow",
        ),
        Example(
            "def a():\n    return x()\n\ndef b():\n    try:\n        y()\n    except Exception:\n"
            "        pass\n",
            before="def a():\n    try:\n        return x()\n    except Exception:\n        pass\n\n"
            "def b():\n    try:\n        y()\n    except Exception:\n        raise\n",
            lines=(7,),
            note="one swallowing handler deleted, another made to swallow: same count, a finding",
        ),
        Example("E = Exception\ntry:\n    run()\nexcept E:\n    pass\n", lines=(4,)),
        Example(
            "from builtins import BaseException as Any\ntry:\n    run()\nexcept Any:\n    pass\n",
            lines=(4,),
        ),
        Example(
            "BROAD = (OSError, Exception)\ntry:\n    run()\nexcept BROAD:\n    return None\n",
            lines=(4,),
            note="a tuple bound to a name",
        ),
        Example(
            "E = Exception\nANY = (KeyError, E)\ntry:\n    run()\nexcept (ValueError, ANY):\n"
            "    pass\n",
            lines=(5,),
            note="an alias of an alias, inside the handler's tuple",
        ),
        Example("E = Exception\nwith suppress(E):\n    run()\n", lines=(2,)),
        Example(
            "from contextlib import suppress as quiet\nwith quiet(Exception):\n    run()\n",
            lines=(2,),
            note="suppress imported under another name",
        ),
        Example(
            "audit = open_audit_trail()\ntry:\n    run()\nexcept Exception:\n"
            "    audit.warning('x')\n",
            options="allow-logging",
            lines=(4,),
            note="`audit` is bound to something other than a logger",
        ),
        Example(
            "#!/usr/bin/env python3\ntry:\n    run()\nexcept Exception:\n    pass\n",
            path="bin/tool",
            lines=(4,),
            note="no .py name, a Python shebang line",
        ),
    )


ANALYZER = BroadExcept()
