"""placeholder: only a comment that stands for left-out code is one (alone, or on a stub); a
comment that mentions such words, a note after real code, or a marker inside a string literal is
not (cases from an adversarial review, p01-p25, and from issue 15)."""

from __future__ import annotations

import pytest

from redline.analyzers import Context, Example, parse_check
from redline.analyzers.testing import example_output


def flagged(code: str, path: str = "a.py") -> list[int | None]:
    check = parse_check("placeholder")
    verdict = check.analyzer.check(
        example_output(Example(code, path=path)), Context(options=check.options)
    )
    return [f.line for f in verdict.findings]


@pytest.mark.parametrize(
    ("code", "path"),
    [
        (
            "def f():\n    # Note: the existing code path is slow; we bypass it\n    return fast()\n",
            "a.py",
        ),
        (
            "def f():\n    # Use the previous implementation as a fallback when needed\n    return g()\n",
            "a.py",
        ),
        ('url = "http://example.com/#... existing code ..."\n', "a.py"),
        ('s = "a -- rest of the code"\n', "a.py"),
        ("def f(x):\n    return x  # TODO: implement validation\n", "a.py"),
        ("def f():\n    pass  # nothing to implement: abstract base\n", "a.py"),
        ("x = 1  # TODO: implement caching later\n", "a.py"),
        ("a = b -- c  # decrement twice\n", "a.py"),
        ("# Implementation\ndef f():\n    return 1\n", "a.py"),
        ("#\n/**\n * Docs.\n */\n", "a.js"),
        ("const s = '// ... rest of the code ...';\n", "a.js"),
        ("const url = `http://x/#... existing code ...`;\n", "a.ts"),
        ("x = '''\n# ... existing code ...\n'''\n", "a.py"),
        ("for x in xs:\n    pass  # remaining items are ignored\n", "a.py"),
        ("def f():\n    raise NotImplementedError  # unsupported on Windows\n", "a.py"),
        ("if x:\n    pass\n# TODO: handle y\ny()\n", "a.py"),
        (
            "class P(ABC):\n    @abstractmethod\n    def f(self):\n        pass\n"
            "        # TODO: implement\n",
            "a.py",
        ),
        ("# Other settings\nDEBUG = True\n", "a.py"),
        ("# implementation is the same as in the parent class, so call super\nx = 1\n", "a.py"),
        ("# tests are slow on CI\ndef test_a():\n    assert f()\n", "a.py"),
    ],
    ids=[
        "p19",
        "p20",
        "p10",
        "p11",
        "p25",
        "p23",
        "p06",
        "p22",
        "header",
        "empty-comments",
        "js-string",
        "template",
        "triple",
        "stub-note-about-data",
        "notimplemented-reason",
        "todo-after-the-block",
        "abstract-todo-line-after-stub",
        "section-label",
        "same-as-parent-sentence",
        "noun-are-sentence",
    ],
)
def test_not_a_placeholder(code: str, path: str) -> None:
    assert flagged(code, path) == []


@pytest.mark.parametrize(
    ("code", "path", "line"),
    [
        ("def f():\n    # ... existing code ...\n    return 1\n", "a.py", 2),
        ("def f():\n    pass  # TODO: implement\n", "a.py", 2),
        ("def f():\n    ...  # implement me\n", "a.py", 2),
        ("function f() {\n  /* ... rest of the code ... */\n}\n", "a.js", 2),
        ("def f():\n    # Rest of the implementation stays the same\n    return 1\n", "a.py", 2),
        ("def f():\n    # (rest of code unchanged)\n    return 1\n", "a.py", 2),
        ("def f():\n    # …\n    return 1\n", "a.py", 2),
        ("def f():\n    # keep existing logic here\n    return 1\n", "a.py", 2),
        ("def f():\n    # same as before\n    return 1\n", "a.py", 2),
        ("SELECT 1;\n-- rest of the query unchanged\n", "q.sql", 2),
        ("<div>\n  <!-- ... existing markup ... -->\n</div>\n", "a.html", 2),
        ("/**\n * ... other methods ...\n */\nclass A {}\n", "a.java", 2),
        ("render(); // ... rest of the code ...\n", "a.js", 1),
        ("return (\n  <div>{/* ... existing code ... */}</div>\n);\n", "a.tsx", 2),
        ("  {/* ... existing code ... */}\n", "a.tsx", 1),
        ("def f():\n    raise NotImplementedError('xz')  # TODO: support xz\n", "a.py", 2),
        ("def f():\n    ...  # and so forth\n", "a.py", 2),
        ("def f():\n    pass  # to be implemented\n", "a.py", 2),
        ("def f():\n    pass  # ...\n", "a.py", 2),
        ("def f():\n    pass\n    # TODO\n", "a.py", 3),
        ("# ... other settings ...\nDEBUG = True\n", "a.py", 1),
    ],
    ids=[
        "p01",
        "p02",
        "p03",
        "p05",
        "p07",
        "p08",
        "p09",
        "p12",
        "p15",
        "p21",
        "html",
        "javadoc",
        "after-code",
        "jsx-inline",
        "jsx",
        "notimplemented-with-message-todo",
        "stub-and-so-forth",
        "stub-to-be-implemented",
        "stub-bare-ellipsis-comment",
        "todo-line-after-stub",
        "dotted-family-any-noun",
    ],
)
def test_a_placeholder(code: str, path: str, line: int | None) -> None:
    assert flagged(code, path) == ([line] if line else [])
