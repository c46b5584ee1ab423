"""The answer's code laid out in a folder, as the `run` check runs it.

With a workspace, the folder is a fresh copy of it: the answer's edits are applied in order
(every edit of every step, as the checks see them), and a code block that names its file is
written there whole; a block that names none cannot be placed and is not judged. Without one,
the folder starts empty: the answer's file writes are made in it, and each block is written
under the name it gives, else `answer.<ext>` by its language (`answer.py`, `answer_2.py`...).

An edit that does not apply (its text is not there, no such file, a path outside the folder,
cut off by the output's end) is a finding: the answer cannot be run as written. The task's own
files are written last, so an answer cannot replace its inputs or expected outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from redline.analyzers import (
    CodeBlock,
    Edit,
    Environment,
    Extraction,
    Finding,
    Unparsed,
    apply_edits,
    transcript_edits,
)
from redline.analyzers.extract import extension
from redline.transcripts import OwnFile, Request


@dataclass(frozen=True, slots=True)
class Laid:
    """`written`: the paths of the answer's code placed in the folder, in order (what the check
    judged); `problems`: the edits that did not apply; `unplaced`: blocks it could not place."""

    written: tuple[str, ...]
    problems: tuple[Finding, ...]
    unplaced: tuple[Unparsed, ...]


def lay_out(
    extraction: Extraction,
    environment: Environment,
    folder: Path,
    request: Request | None,
    cwd: str | None,
) -> Laid:
    """Copy the workspace into `folder` (which must not exist), place the answer's code in it,
    then the task's files. A workspace taken before the session (`before_cut`) first gets the
    transcript's own edits, those that apply: the files as the model saw them."""
    environment.copy_workspace(folder)
    has_workspace = environment.workspace is not None
    if has_workspace and environment.before_cut and request is not None:
        apply_edits(transcript_edits(request), folder, cwd)  # the transcript's, not judged
    edits = list(extraction.edits)
    unplaced: list[Unparsed] = []
    taken = {e.path for e in edits}
    for block in extraction.blocks:
        if block.path:
            edits.append(_whole(block, block.path))
        elif has_workspace:
            unplaced.append(
                Unparsed(
                    f"<block {block.index}>",
                    "a code block that names no file: it has no place in the workspace",
                    _first_line(block.code),
                )
            )
        else:
            name = _answer_name(block, taken)
            taken.add(name)
            edits.append(_whole(block, name))
    missed = apply_edits(edits, folder, cwd)
    problems = [
        Finding(
            m.path,
            None,
            f"the answer cannot be run as written: its edit of {m.path} does not apply "
            f"({m.reason}{_hint(m.reason, has_workspace)})",
            _first_line(m.edit.before or m.edit.after),
        )
        for m in missed
    ]
    problems += _place_files(environment.files, folder)
    return Laid(tuple(dict.fromkeys(e.path for e in edits)), tuple(problems), tuple(unplaced))


def _whole(block: CodeBlock, path: str) -> Edit:
    return Edit(path, "", block.code, block.language, "write", truncated=block.truncated)


def _answer_name(block: CodeBlock, taken: Iterable[str]) -> str:
    """`answer.<ext>` by the block's language, `answer_2.<ext>` for the second, and so on."""
    suffix = extension(block.language)
    used = set(taken)
    name, n = f"answer.{suffix}", 2
    while name in used:
        name, n = f"answer_{n}.{suffix}", n + 1
    return name


def _hint(reason: str, has_workspace: bool) -> str:
    if reason == "no such file" and not has_workspace:
        return "; the task has no workspace: flag it with --workspace to edit a project's files"
    return ""


def _first_line(text: str) -> str:
    line = next((s for s in text.split("\n") if s.strip()), "")
    return line if len(line) <= 200 else line[:199] + "…"


def _place_files(files: Iterable[OwnFile], folder: Path) -> list[Finding]:
    """The task's files, over whatever the answer wrote; a path that leaves the folder through
    a link the workspace or the answer made is refused."""
    root = folder.resolve()
    refused = []
    for f in files:
        target = folder / f.path
        if target.is_symlink():
            target.unlink()
        if not target.parent.resolve().is_relative_to(root):
            refused.append(_unplaced(f, "its folder leads out through a link"))
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.data)
            target.chmod(0o755 if f.executable else 0o644)
        except OSError as error:  # a folder where the file goes, a file where a folder does
            refused.append(_unplaced(f, error.strerror or str(error)))
    return refused


def _unplaced(f: OwnFile, why: str) -> Finding:
    return Finding(
        f.path, None, f"the task's file {f.path} cannot be placed beside the answer ({why})"
    )
