"""What a drafted check may be (read from its source before anything of it runs), and how a
drafting model's answer is read: the gate and the answer's parsing, without a sandbox."""

from __future__ import annotations

import re

import pytest

from redline.replay.draft_prompt import MAX_RUN, Proposal, Unreadable, module_in, proposal_in
from redline.replay.draft_rules import gate
from tests.fakes import drafting


def test_a_check_that_only_defines_things_passes_the_gate() -> None:
    assert gate(drafting.GOOD_CHECK) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import os\n", "line 1: it imports os; a drafted check may import only __future__"),
        ("import socket\n", "it imports socket"),
        ("from subprocess import run\n", "it imports subprocess"),
        ("import redline.analyzers\n", "`import redline.analyzers`; write `from redline"),
        ("from redline.analyzers import sandbox\n", "it imports sandbox from redline.analyzers"),
        ("from redline.transcripts import open_store\n", "it imports open_store"),
        ("from typing import get_type_hints\n", "it imports 'get_type_hints'"),
        ("from re import *\n", "`from re import *`"),
        ("from . import sibling\n", "a relative import"),
        ("print('loaded')\n", "line 1: it runs code when imported (a top-level expr"),
        ("for i in range(3):\n    pass\n", "a top-level for in its module"),
        ("class C:\n    print('x')\n", "a top-level expr in its class C"),
        ("X = open('/etc/passwd').read()\n", "it uses 'open'"),
        ("X = eval('1')\n", "it uses 'eval'"),
        ("X = __import__('os')\n", "it uses '__import__'"),
        ("import typing\nX = typing.sys\n", "it reaches the attribute 'sys'"),
        ("X = ().__class__.__base__.__subclasses__()\n", "'__base__'"),
        (
            "def f(o, n):\n    return getattr(o, n)\n",
            "getattr() with a name that is not written out",
        ),
        ("def f(o):\n    return getattr(o, '__globals__')\n", "'__globals__'"),
        ("def f(:\n", "it does not parse: line 1"),
    ],
)
def test_the_gate_refuses_what_a_check_has_no_business_doing(source: str, problem: str) -> None:
    problems = gate(source)
    assert any(problem in p for p in problems), problems


def test_type_checking_imports_and_docstrings_are_no_code_on_import() -> None:
    source = (
        '"""A check."""\n'
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from redline.transcripts import Message\n"
        "class C:\n"
        '    """Doc."""\n'
        "    name = 'c'\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
    )
    assert gate(source) == []


def test_a_huge_module_is_refused_unread() -> None:
    assert gate("x = 1\n" * 20000) == ["it is longer than 64 KB; a check is much shorter"]


def test_the_module_is_the_one_python_block_of_the_answer() -> None:
    text = f"Here it is.\n\n```python\n{drafting.GOOD_CHECK}```\n\nUse it with:\n```sh\nredline flag\n```\n"
    assert module_in(text) == drafting.GOOD_CHECK


def test_a_longer_fence_holds_a_module_with_a_fence_inside() -> None:
    module = 'DOC = """\n```python\nx = 1\n```\n"""\n'
    assert module_in(f"````python\n{module}````\n") == module


@pytest.mark.parametrize(
    ("text", "cut_off", "reason"),
    [
        ("No code here.", False, "no ```python block"),
        ("```python\nx = 1\n```\n```py\ny = 2\n```\n", False, "2 ```python blocks"),
        ("```python\nx = 1\n", True, "cut off"),
    ],
)
def test_an_answer_without_exactly_one_module_is_unreadable(
    text: str, cut_off: bool, reason: str
) -> None:
    with pytest.raises(Unreadable, match=reason):
        module_in(text, cut_off)


def run_block(*lines: str) -> str:
    return "A test shows it:\n\n```redline-run\n" + "\n".join(lines) + "\n```\n"


def test_a_run_check_is_the_one_line_of_the_one_redline_run_block() -> None:
    text = run_block("", "  run:cmd=python3 -m unittest -q; timeout=120  ", "")
    assert proposal_in(text, runnable=True) == Proposal(
        "run", "run:cmd=python3 -m unittest -q; timeout=120"
    )


def test_a_module_is_still_read_when_a_run_check_may_be_proposed() -> None:
    text = f"```python\n{drafting.GOOD_CHECK}```\n"
    assert proposal_in(text, runnable=True) == Proposal("module", drafting.GOOD_CHECK)


def test_a_run_check_is_no_answer_when_none_was_offered() -> None:
    with pytest.raises(Unreadable, match="no ```python block"):
        proposal_in(run_block("run:cmd=true"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            run_block("run:cmd=true") + f"```python\n{drafting.GOOD_CHECK}```\n",
            "a ```redline-run block and a ```python (or unmarked) block",
        ),
        (run_block("run:cmd=true") + run_block("run:cmd=false"), "2 ```redline-run blocks"),
        (run_block("run:cmd=true", "run:cmd=false"), "holds 2 lines; it holds one"),
        (run_block(), "holds 0 lines"),
        (run_block("-c 'run:cmd=true'"), "starts with \"-c 'run:cmd=true'\""),
        (run_block("run:cmd=" + "x" * MAX_RUN), f"longer than {MAX_RUN} characters"),
        ("No code here.", "no ```python block"),
    ],
    ids=["both", "two-runs", "two-lines", "empty", "quoted", "too-long", "nothing"],
)
def test_an_answer_without_exactly_one_module_or_run_check_is_unreadable(
    text: str, reason: str
) -> None:
    with pytest.raises(Unreadable, match=re.escape(reason)):
        proposal_in(text, runnable=True)


def test_a_cut_off_answer_is_unreadable_whatever_it_holds() -> None:
    with pytest.raises(Unreadable, match="cut off"):
        proposal_in(run_block("run:cmd=true"), cut_off=True, runnable=True)


def test_the_commands_history_default_is_the_librarys() -> None:
    # The command line keeps its own copy (importing replay would slow `redline --help`).
    from redline.commands.draft import HISTORY as COMMAND
    from redline.replay.drafting import HISTORY

    assert COMMAND == HISTORY
