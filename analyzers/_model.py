"""The plain data of the checks: what extraction finds and what an analyzer returns.

    Extraction              what a model output wrote
     ├── Edit               a change to one file: `before` replaced by `after`
     ├── CodeBlock          standalone code (a fenced block, a shell heredoc script)
     └── Unparsed           a fragment that could not be read; reported, never judged
    Verdict                 what one analyzer concluded about one output, and what it judged
     └── Finding            one offending place: path, line, message, snippet

All of it is frozen; analyzers (`_analyzer.Analyzer`) are pure functions of (output, context).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from redline.transcripts import Message

EditKind = Literal["write", "replace", "insert", "delete", "lazy"]


@dataclass(frozen=True, slots=True)
class Edit:
    """A change the output makes to one file.

    kind: `write`: `after` is the whole new file (Write, create, Add File); `replace`: `before`
    (a fragment of the file, "" when unknown) becomes `after`; `insert`: `after` is inserted
    (at `start_line` when known); `delete`: the file is removed; `lazy`: `after` is a sketch
    with elisions that the agent's tool merges (Continue `edit_existing_file`).
    `start_line` is the line where `after` begins in the new file, when the output says so.
    `origin` names the form it came from: a tool name, "aider", "apply_patch", "diff"...
    `truncated`: the output was cut off inside this edit (a length limit, tool-call arguments
    that stop mid-string, a SEARCH/REPLACE block without its end): `after` is only the start of
    what the output meant to write, and the code at its end may continue past the cut.
    """

    path: str
    before: str
    after: str
    language: str | None = None
    kind: EditKind = "replace"
    replace_all: bool = False
    start_line: int | None = None
    origin: str = ""
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """Code the output shows or runs without saying which part of a file it replaces: a fenced
    block (with the path aider's whole-file format names, if any) or a script run in a shell.
    `truncated`: the output was cut off inside it (a fence never closed), as for `Edit`."""

    code: str
    language: str | None
    path: str | None = None
    origin: str = "fence"
    index: int = 0  # 1-based position among the output's blocks, for naming them
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Unparsed:
    """Something that looked like code or an edit but could not be read. Checks list these and
    judge nothing about them."""

    path: str | None
    reason: str
    fragment: str = ""


@dataclass(frozen=True, slots=True)
class Extraction:
    edits: tuple[Edit, ...] = ()
    blocks: tuple[CodeBlock, ...] = ()
    unparsed: tuple[Unparsed, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One offending place. `line` is 1-based in the file when the file position is known (new
    files, diffs with line numbers, edits located in a file the transcript read), else counted
    from the first line of the edit's new text; None where there is no line (a tool call)."""

    path: str | None
    line: int | None
    message: str
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """`passed` is True when there are no findings. `unparsed` lists fragments the check could
    not read: they were not judged either way.

    `judged` names the code the check looked at: the paths of the files (`<block N>` for a
    standalone block, `<Bash call 1>` for a command) whose code it judged, in order. `()` says
    it judged nothing: the output wrote no code this check reads (a question, a read, a file in
    another language), and a verdict without findings is then no pass. `None` says the check
    does not tell (a plugin written before checks said so): redline then counts the output as
    judged when it wrote any code (see `judgement`).
    """

    passed: bool
    findings: tuple[Finding, ...] = ()
    unparsed: tuple[Unparsed, ...] = ()
    judged: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        findings: list[Finding] | tuple[Finding, ...],
        unparsed: Any = (),
        judged: Iterable[str] | None = None,
    ) -> Verdict:
        """A verdict from its findings; `judged` is deduplicated, its order kept."""
        named = None if judged is None else tuple(dict.fromkeys(judged))
        return cls(not findings, tuple(findings), tuple(unparsed), named)


OptionType = Literal["bool", "str", "int", "regex", "choice"]


@dataclass(frozen=True, slots=True)
class Option:
    """An option an analyzer accepts. `regex` values are compiled (a bad pattern is a usage
    error) and handed to the analyzer as a `Pattern`: `re.Pattern`'s reading methods, each
    under a time limit (`_patterns.py`: options come from shared task files too)."""

    name: str
    type: OptionType
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True, slots=True)
class Example:
    """A VALID or INVALID example kept beside a rule; each one runs as a test.

    `output` is either Python source, checked as a new file `path` (or, with `before`, as a
    Claude Code `Edit` replacing `before` with it), or a whole model output `Message`.
    `options` is the option text as written after `NAME:` on the command line. `lines`, for an
    INVALID example, lists the lines the findings must be on.
    """

    output: str | Message
    options: str = ""
    before: str | None = None
    path: str = "example.py"
    lines: tuple[int, ...] = ()
    note: str = ""
