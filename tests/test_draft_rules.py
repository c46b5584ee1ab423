"""What a drafted check may be (read from its source before anything of it runs), and how a
drafting model's answer is read: the gate and the answer's parsing, without a sandbox."""

from __future__ import annotations

import pytest

from redline.replay.draft_prompt import Unreadable, module_in
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


def test_the_commands_history_default_is_the_librarys() -> None:
    # The command line keeps its own copy (importing replay would slow `redline --help`).
    from redline.commands.draft import HISTORY as COMMAND
    from redline.replay.drafting import HISTORY

    assert COMMAND == HISTORY
