"""How Python fragments are read: as is, dedented, with synthetic block openers, inside the
file the transcript showed; and reported unparsed, never guessed, when none of that works."""

from __future__ import annotations

import pytest

from redline.analyzers import Change, Context, Unparsed, parse_check
from redline.analyzers._python import Broken, PythonUnit, read_change, repair
from redline.transcripts.model import Message
from tests.corpus import assistant, call


def fragment(after: str, before: str = "") -> PythonUnit | Broken | Unparsed:
    return read_change(Change("a.py", "python", before, after, "replace"))


@pytest.mark.parametrize(
    ("code", "synthetic"),
    [
        ("x = 1\n", 0),
        ("        return x\n", 0),
        ("            send()\n        except OSError:\n            retry()\n", 1),
        ("    except ValueError:\n        pass\n", 2),
        ("    else:\n        y = 2\n", 2),
        ("        a()\n    b()\nc()\n", 2),
    ],
)
def test_repairs_parse_and_count_their_synthetic_lines(code: str, synthetic: int) -> None:
    repaired = repair(code)
    assert repaired is not None
    assert repaired[2] == synthetic


def test_a_fragment_ending_in_an_open_block_gets_a_pass() -> None:
    repaired = repair("def f(x):\n    if x:\n")
    assert repaired is not None and repaired[0].endswith("pass")


def test_a_fragment_ending_inside_a_try_gets_a_finally_not_a_handler() -> None:
    repaired = repair("try:\n    connect()\n    send()\n")
    assert repaired is not None
    assert "finally:" in repaired[0] and "except" not in repaired[0]


def test_a_fragment_starting_inside_an_expression_is_unparsed() -> None:
    result = fragment('    "b": 2,\n}\nprint(d)\n')
    assert isinstance(result, Unparsed)
    assert "does not parse on its own" in result.reason


def test_line_numbers_skip_the_synthetic_lines() -> None:
    output = assistant(
        call(
            "Edit",
            {
                "file_path": "a.py",
                "old_string": "x",
                "new_string": "        go()\n    except Exception:\n        pass",
            },
        )
    )
    check = parse_check("broad-except")
    verdict = check.analyzer.check(output, Context(options=check.options))
    assert [f.line for f in verdict.findings] == [2]


def test_a_whole_file_that_does_not_parse_is_broken_for_python_syntax_and_unjudged_otherwise() -> (
    None
):
    output = assistant(
        call(
            "Write", {"file_path": "a.py", "content": "try:\n    x(\nexcept Exception:\n    pass\n"}
        )
    )
    syntax = parse_check("python-syntax")
    broad = parse_check("broad-except")
    context = Context()
    assert not syntax.analyzer.check(output, context.with_options(syntax.options)).passed
    verdict = broad.analyzer.check(output, context.with_options(broad.options))
    assert verdict.passed and verdict.unparsed and "does not parse" in verdict.unparsed[0].reason


def test_an_edit_that_breaks_a_file_the_transcript_showed_is_a_syntax_finding() -> None:
    change = Change(
        "a.py",
        "python",
        "    return 1",
        "    return (1",
        "replace",
        2,
        "def f():\n    return 1\n",
        "def f():\n    return (1\n",
    )
    result = read_change(change)
    assert isinstance(result, Broken) and result.line == 2


def test_python_syntax_does_not_guess_about_fragments() -> None:
    output = assistant(
        call("Edit", {"file_path": "a.py", "old_string": "a", "new_string": '    "k": 1,\n}'})
    )
    check = parse_check("python-syntax")
    verdict = check.analyzer.check(output, Context(options=check.options))
    assert verdict.passed and len(verdict.unparsed) == 1


def test_python_syntax_blocks_option_judges_tagged_blocks() -> None:
    output = Message("assistant", assistant("```python\ndef f(:\n```\n").parts)
    check = parse_check("python-syntax:blocks")
    verdict = check.analyzer.check(output, Context(options=check.options))
    assert not verdict.passed


def test_non_python_code_is_not_read_as_python() -> None:
    output = assistant(
        call("Write", {"file_path": "a.js", "content": "try { x() } catch (e) {}\n"})
    )
    check = parse_check("broad-except")
    verdict = check.analyzer.check(output, Context(options=check.options))
    assert verdict.passed and verdict.unparsed == ()


def test_handler_lines_fall_back_to_libcst_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    from redline.analyzers._python import Chunk

    code = "class A:\n    def f(self):\n        try:\n            g()\n        except Exception:\n            pass\n"
    output = assistant(call("Write", {"file_path": "a.py", "content": code}))
    check = parse_check("broad-except")
    monkeypatch.setattr(Chunk, "in_order", lambda self, kind: [])
    verdict = check.analyzer.check(output, Context(options=check.options))
    assert [f.line for f in verdict.findings] == [5]
