"""Prompt variants: the same task with a changed system prompt or project rules file.

`--prompt-variant NAME=FILE[:MODE]`, MODE one of:

* `append` (default): the file's text is added to the system prompt (one is created if the
  transcript has none: Anthropic's top-level `system`, Responses' `instructions`, or a system
  message for Chat Completions);
* `replace`: the file's text replaces the system prompt;
* `rules`: the file's text replaces the project rules file the agent embedded in the transcript.
  That is where a user's rules really live: each agent embeds its rules file in the first user
  message its own way, and `redline.transcripts.agents` knows where (`replace_rules`).

The baseline, the task as recorded, always runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from redline.errors import RedlineError
from redline.transcripts import Message, Request, Text, agents

Mode = Literal["append", "replace", "rules"]
MODES: tuple[Mode, ...] = ("append", "replace", "rules")
BASELINE = "baseline"


@dataclass(frozen=True, slots=True)
class Variant:
    """A named change to the prompt; the baseline has no mode and no text."""

    name: str
    mode: Mode | None = None
    path: str | None = None
    text: str = ""

    @property
    def sha256(self) -> str | None:
        return None if self.mode is None else hashlib.sha256(self.text.encode()).hexdigest()

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "mode": self.mode, "path": self.path, "sha256": self.sha256}


def parse_variant(spec: str) -> Variant:
    """`NAME=FILE[:MODE]`, its file read now (a variant keeps its text, not only its path)."""
    name, eq, rest = spec.partition("=")
    name = name.strip()
    if not eq or not name or not rest:
        raise RedlineError(f"--prompt-variant {spec!r} should look like NAME=FILE[:MODE]")
    if name == BASELINE:
        raise RedlineError("'baseline' is the task as recorded; give the variant another name")
    path, mode = rest, "append"
    head, colon, tail = rest.rpartition(":")
    if colon and tail in MODES:
        path, mode = head, tail
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if colon and Path(head).expanduser().exists():  # FILE:typo rather than a missing file
            raise RedlineError(
                f"--prompt-variant {name}: {tail!r} is not a mode; give one of "
                f"{', '.join(MODES)} (e.g. {name}={head}:{MODES[0]})"
            ) from None
        raise RedlineError(f"--prompt-variant {name}: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RedlineError(f"--prompt-variant {name}: cannot read {path}: {exc}") from None
    if not text.strip():
        raise RedlineError(f"--prompt-variant {name}: {path} is empty")
    return Variant(name, mode, path, text)  # type: ignore[arg-type]


def apply(variant: Variant, request: Request, task: str) -> Request:
    """The request as `variant` changes it; a `rules` variant on a transcript that embeds no
    rules file is an error naming the task."""
    if variant.mode is None:
        return request
    if variant.mode == "rules":
        return _replace_rules(request, variant, task)
    return _system(request, variant.text.rstrip("\n"), append=variant.mode == "append")


def _system(request: Request, text: str, *, append: bool) -> Request:
    if request.system is not None:
        system = (*request.system, Text(text)) if append else (Text(text),)
        return replace(request, system=system)
    messages = list(request.messages)
    if messages and messages[0].role in ("system", "developer"):
        first = messages[0]
        if append and first.parts and isinstance(last := first.parts[-1], Text):
            # Into the last text, so a system message written as one string stays one.
            grown = Text(last.text + "\n\n" + text, last.extra)
            messages[0] = Message(first.role, (*first.parts[:-1], grown), first.extra)
        elif append:
            messages[0] = Message(first.role, (*first.parts, Text(text)), first.extra)
        else:
            messages[0] = Message(first.role, (Text(text),), first.extra)
        return replace(request, messages=tuple(messages))
    return replace(request, system=(Text(text),))


def _replace_rules(request: Request, variant: Variant, task: str) -> Request:
    replaced, found = agents.replace_rules(request, variant.text.rstrip("\n"))
    if not found:
        names = " or ".join(agents.rules_file_names())
        raise RedlineError(
            f"task {task}: its transcript embeds no rules file (no {names} block), so "
            f"--prompt-variant {variant.name}:rules has nothing to replace"
        )
    return replaced
