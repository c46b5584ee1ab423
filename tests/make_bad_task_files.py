"""Make the malformed task files of tests/fixtures/bad-task-files/: one file for each way a task
file from someone else can be wrong (issue 22: names that escape a folder, NUL, long unicode,
wrong types, deep nesting, future and non-integer versions, bad UTF-8, a BOM, duplicate keys,
a list or null at the top, checks that cannot run...). `redline import` must refuse every one
with one line and import nothing (tests/test_task_file_corpus.py); a new field of the format
is tried against all of them.

    .venv/bin/python -m tests.make_bad_task_files

Each file starts from a shipped example and breaks one thing; the file name says what.
"""

from __future__ import annotations

import codecs
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
FOLDER = HERE / "fixtures" / "bad-task-files"
BASE = HERE.parent / "transcripts" / "examples" / "aider-swallows-config-errors.json"

Doc = dict[str, Any]


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """Set the field at a dotted path (list indices as numbers)."""

    def change(d: Doc) -> None:
        *parents, last = path.split(".")
        target: Any = d
        for step in parents:
            target = target[int(step)] if step.isdigit() else target[step]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _drop(path: str) -> Callable[[Doc], None]:
    def change(d: Doc) -> None:
        *parents, last = path.split(".")
        target: Any = d
        for step in parents:
            target = target[int(step)] if step.isdigit() else target[step]
        del target[last]

    return change


# Lists this deep; objects a tenth of it (any depth past ~1,000 breaks a naive reader).
DEEP = 200_000

# Files made by changing the document: name -> change.
CHANGED: dict[str, Callable[[Doc], None]] = {
    "name-traversal": _set("name", "../../../etc/cron.d/x"),
    "name-slash": _set("name", "a/b"),
    "name-absolute": _set("name", "/tmp/task"),
    "name-backslash": _set("name", "..\\..\\x"),
    "name-dots-only": _set("name", ".."),
    "name-nul": _set("name", "task\u0000.json"),
    "name-newline": _set("name", "task\nerror: fake line"),
    "name-long-unicode": _set("name", "\u00e9" * 10_000),
    "name-fullwidth": _set("name", "\uff54\uff41\uff53\uff4b"),
    "name-empty": _set("name", ""),
    "name-too-long": _set("name", "a" * 65),
    "name-uppercase": _set("name", "Task"),
    "name-number": _set("name", 42),
    "name-null": _set("name", None),
    "format-version-future": _set("format_version", 2),
    "format-version-huge": _set("format_version", 10**30),
    "format-version-float": _set("format_version", 1.0),
    "format-version-true": _set("format_version", True),
    "format-version-string": _set("format_version", "1"),
    "format-version-zero": _set("format_version", 0),
    "format-version-missing": _drop("format_version"),
    "wire-unknown": _set("request.wire", "carrier-pigeon"),
    "wire-number": _set("request.wire", 7),
    "extra-top-level-field": _set("run_this", "rm -rf ~"),
    "extra-request-field": _set("request.api_base", "http://evil.example"),
    "extra-part-field": _set("request.messages.1.parts.0.onload", "x"),
    "extra-transcript-field": _set("transcript.keep", True),
    "extra-provenance-field": _set("provenance.machine", "x"),
    "checks-empty": _set("checks", []),
    "checks-not-a-list": _set("checks", "broad-except"),
    "checks-number": _set("checks", [1]),
    "checks-regex-unbalanced": _set("checks", ["regex:pattern=("]),
    "checks-unknown-option": _set("checks", ["broad-except:nope=1"]),
    "checks-bad-spec": _set("checks", ["!!!"]),
    "checks-bad-option-json": _set("checks", ['regex:{"pattern": ']),
    "drop-last-huge": _set("transcript.drop_last", 10**30),
    "drop-last-float": _set("transcript.drop_last", 1.5),
    "drop-last-negative": _set("transcript.drop_last", -1),
    "tool-call-zero": _set("transcript.tool_call", 0),
    "tool-call-huge": _set("transcript.tool_call", 10**30),
    "created-at-not-a-time": _set("created_at", "yesterday afternoon"),
    "created-at-number": _set("created_at", 1_700_000_000),
    "recorded-at-not-a-time": _set("provenance.recorded_at", "2026-13-45T99:00:00"),
    "role-unknown": _set("request.messages.0.role", "robot"),
    "part-type-unknown": _set("request.messages.0.parts.0.type", "script"),
    "messages-empty": _set("request.messages", []),
    "request-missing": _drop("request"),
    "output-not-an-object": _set("output", "except Exception: pass"),
    "good-output-a-list": _set("good_output", []),
    "lone-surrogate": _set("request.messages.1.parts.0.text", "\ud800 half a character"),
}


def _dump(d: Doc) -> str:
    return json.dumps(d, indent=2, ensure_ascii=True)


def _texts(base: Doc) -> dict[str, bytes]:
    """Files that are not a changed document: the bytes themselves are wrong."""
    valid = _dump(base)
    deep_note = valid.replace(
        '"note": ' + json.dumps(base["note"]), '"note": ' + "[" * DEEP + "]" * DEEP, 1
    )
    duplicate_top = valid.replace('"name": ', '"name": "innocent",\n  "name": ', 1)
    duplicate_nested = valid.replace('"wire": ', '"wire": "openai-chat",\n    "wire": ', 1)
    return {
        "top-level-list": b"[" + valid.encode() + b"]",
        "top-level-null": b"null",
        "top-level-string": b'"broad-except"',
        "top-level-number": b"1",
        "empty-file": b"",
        "whitespace-only": b"  \n\t\n",
        "truncated": valid.encode()[: len(valid) // 2],
        "trailing-garbage": valid.encode() + b"\n{}",
        "bad-utf8": valid.replace("Make it never fail.", "Make it \udcff never fail.").encode(
            "utf-8", "surrogateescape"
        ),
        "bom": codecs.BOM_UTF8 + valid.encode(),
        "utf16": valid.encode("utf-16"),
        "nan": valid.replace('"params": {}', '"params": {"temperature": NaN}', 1).encode(),
        "infinity": valid.replace(
            '"params": {}', '"params": {"temperature": Infinity}', 1
        ).encode(),
        "duplicate-key-top": duplicate_top.encode(),
        "duplicate-key-nested": duplicate_nested.encode(),
        "deep-nesting-lists": deep_note.encode(),
        "deep-nesting-objects": valid.replace(
            '"params": {}', '"params": ' + '{"a":' * (DEEP // 10) + "1" + "}" * (DEEP // 10), 1
        ).encode(),
        "huge-number-literal": valid.replace(
            '"params": {}', '"params": {"seed": 1' + "0" * 5000 + "}", 1
        ).encode(),
    }


def main() -> None:
    base = json.loads(BASE.read_text(encoding="utf-8"))
    base["name"] = "corpus-base"
    FOLDER.mkdir(parents=True, exist_ok=True)
    for old in FOLDER.glob("*.json"):
        old.unlink()
    files: dict[str, bytes] = {}
    for name, change in CHANGED.items():
        document = copy.deepcopy(base)
        change(document)
        files[name] = _dump(document).encode("utf-8", "surrogatepass")
    files.update(_texts(base))
    for name, data in sorted(files.items()):
        (FOLDER / f"{name}.json").write_bytes(data)
    print(f"wrote {len(files)} files to {FOLDER}")


if __name__ == "__main__":
    main()
