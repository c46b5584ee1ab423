"""Code written in an output's text: fenced blocks, aider SEARCH/REPLACE blocks, patches and
unified diffs, and tool calls spelled out in text by agents without native tool calling
(Cline's XML tags, OpenHands `<function=...>` blocks, Continue ```tool blocks).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redline.analyzers._model import CodeBlock, Edit, Extraction, Unparsed
from redline.analyzers.extract._diffs import (
    excerpt,
    filename,
    has_patch,
    looks_like_udiff,
    parse_patch,
    parse_search_replace,
    parse_udiff,
)
from redline.analyzers.extract._language import from_path, from_tag, guess
from redline.analyzers.extract._tools import from_arguments

_CLINE_TOOLS = "write_to_file|replace_in_file|apply_diff|insert_content|search_and_replace"
_CLINE = re.compile(rf"<({_CLINE_TOOLS})>(.*?)(?:</\1>|\Z)", re.S)
_TAG = re.compile(r"<(\w+)>\n?(.*?)\n?</\1>", re.S)
_OPENHANDS = re.compile(r"<function=([\w-]+)>(.*?)(?:</function>|\Z)", re.S)
_PARAMETER = re.compile(r"<parameter=(\w+)>\n?(.*?)\n?</parameter>", re.S)
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")


@dataclass(frozen=True, slots=True)
class Fence:
    info: str
    body: str
    first: int  # line index of the opening fence
    last: int  # line index of the closing fence (the last line, for an unclosed fence)
    closed: bool


def fences(lines: list[str]) -> list[Fence]:
    """Fenced code blocks, CommonMark-style: a closing fence uses the opening's character and
    is at least as long; an unclosed fence runs to the end (an output cut short)."""
    out = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match or (match.group(2)[0] == "`" and "`" in match.group(3)):
            i += 1
            continue
        indent, marker, info = len(match.group(1)), match.group(2), match.group(3).strip()
        close = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            body.append(line[min(indent, len(line) - len(line.lstrip(" \t"))) :])
            j += 1
        closed = j < len(lines)
        text = "\n".join(body) + ("\n" if body else "")
        out.append(Fence(info, text, i, min(j, len(lines) - 1), closed))
        i = j + 1
    return out


def from_text(text: str, cut_off: bool = False) -> Extraction:
    """`cut_off`: the output stopped at a length limit inside this text, so a diff that runs to
    its end is `truncated` (fences, patches and SEARCH/REPLACE blocks left open are marked so
    whatever it says)."""
    edits: list[Edit] = []
    blocks: list[CodeBlock] = []
    unparsed: list[Unparsed] = []
    text = _tool_tags(text, _CLINE, _cline_args, edits, blocks, unparsed)
    text = _tool_tags(text, _OPENHANDS, _openhands_args, edits, blocks, unparsed)
    lines = text.split("\n")
    found = fences(lines)

    aider_edits, aider_unparsed, spans = parse_search_replace(text, None, "aider")
    edits += aider_edits
    unparsed += aider_unparsed

    taken = [False] * len(lines)
    for a, b in spans:
        for k in range(a, b + 1):
            taken[k] = True
    for fence in found:
        if any(taken[fence.first : fence.last + 1]):
            continue
        for k in range(fence.first, fence.last + 1):
            taken[k] = True
        _fence(fence, lines, edits, blocks, unparsed)

    outside = "\n".join(line for k, line in enumerate(lines) if not taken[k])
    if has_patch(outside):
        e, u = parse_patch(outside, "apply_patch")
        edits += e
        unparsed += u
    elif looks_like_udiff(outside):
        e, u = parse_udiff(outside, "diff")
        last = max((k for k, line in enumerate(lines) if line.strip()), default=-1)
        if cut_off and e and last >= 0 and not taken[last]:
            e[-1] = dataclasses.replace(e[-1], truncated=True)
        edits += e
        unparsed += u
    return Extraction(tuple(edits), tuple(blocks), tuple(unparsed))


def _fence(
    fence: Fence,
    lines: list[str],
    edits: list[Edit],
    blocks: list[CodeBlock],
    unparsed: list[Unparsed],
) -> None:
    tag, _, rest = fence.info.partition(" ")
    body = fence.body
    if tag == "tool" and body.startswith("TOOL_NAME:"):
        name, args = _continue_args(body)
        found = from_arguments(name, args)
        edits += found.edits
        blocks += found.blocks
        unparsed += found.unparsed
        return
    cut = not fence.closed  # the output ends inside the fence
    if has_patch(body):
        e, u = parse_patch(body, "apply_patch")
        edits += e
        unparsed += u
        return
    if (tag in ("diff", "patch", "udiff") or looks_like_udiff(body)) and looks_like_udiff(body):
        e, u = parse_udiff(body, "diff")
        if cut and e:
            e[-1] = dataclasses.replace(e[-1], truncated=True)
        edits += e
        unparsed += u
        return
    language, path = _info(tag, rest)
    if path is None:
        path = _path_line_before(lines, fence.first)
    language = language or from_path(path) or guess(body, cut)
    blocks.append(CodeBlock(body, language, path, "fence", truncated=cut))


def _info(tag: str, rest: str) -> tuple[str | None, str | None]:
    """Language and path from a fence's info string: `python`, `python:src/a.py`,
    `py title="a.py"`, or a bare path `src/a.py`."""
    path = None
    attr = re.search(r"(?:title|file|filename|path)=[\"']?([^\"'\s]+)", rest)
    if attr:
        path = attr.group(1)
    if ":" in tag:
        tag, _, path = tag.partition(":")
    elif "." in tag and filename(tag):
        return from_path(tag), tag
    return from_tag(tag), path


def _path_line_before(lines: list[str], first: int) -> str | None:
    """aider's whole-file format names the file alone on the line before the fence."""
    k = first - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    if k < 0 or first - k > 2:
        return None
    return filename(lines[k])


def _tool_tags(
    text: str,
    pattern: re.Pattern[str],
    arguments: Callable[[str], Mapping[str, object]],
    edits: list[Edit],
    blocks: list[CodeBlock],
    unparsed: list[Unparsed],
) -> str:
    """Read tool calls written as tags; return the text with them blanked out (newlines kept,
    so line positions of the rest stay meaningful)."""
    out = []
    pos = 0
    for match in pattern.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        out.append("\n" * match.group(0).count("\n"))
        name = match.group(1)
        closing = "</function>" if pattern is _OPENHANDS else f"</{name}>"
        if not match.group(0).endswith(closing):
            unparsed.append(
                Unparsed(None, f"<{name}> without its closing tag", excerpt(match.group(2)))
            )
            continue
        found = from_arguments(name, arguments(match.group(2)))
        edits += found.edits
        blocks += found.blocks
        unparsed += found.unparsed
    out.append(text[pos:])
    return "".join(out)


def _cline_args(inner: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _TAG.finditer(inner)}


def _openhands_args(inner: str) -> dict[str, object]:
    args: dict[str, object] = {m.group(1): m.group(2) for m in _PARAMETER.finditer(inner)}
    for key in ("insert_line", "start", "end"):
        value = args.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            args[key] = int(value)
    return args


def _continue_args(body: str) -> tuple[str, dict[str, str]]:
    lines = body.split("\n")
    name = lines[0].partition(":")[2].strip()
    args: dict[str, str] = {}
    key: str | None = None
    value: list[str] = []
    for line in lines[1:]:
        if key is None and line.startswith("BEGIN_ARG:"):
            key, value = line.partition(":")[2].strip(), []
        elif key is not None and line.strip() == "END_ARG":
            args[key] = "\n".join(value)
            key = None
        elif key is not None:
            value.append(line)
    return name, args
