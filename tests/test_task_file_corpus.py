"""Task files from someone else are untrusted: every malformed file of the corpus in
tests/fixtures/bad-task-files/ (made by tests/make_bad_task_files.py: names that escape a folder,
NUL, long unicode, wrong types, deep nesting, future and non-integer versions, bad UTF-8, a BOM,
duplicate keys, a list or null at the top, checks that cannot run...) is refused with one line
naming the file, and nothing is imported (issue 22, item 7)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support import Cli

CORPUS = Path(__file__).parent / "fixtures" / "bad-task-files"
FILES = sorted(CORPUS.glob("*.json"))
EXAMPLE = (
    Path(__file__).parent.parent / "transcripts" / "examples" / "aider-swallows-config-errors.json"
)


def test_the_corpus_holds_every_kind_the_issue_lists() -> None:
    names = {f.stem for f in FILES}
    assert len(names) >= 47
    for kind in (
        "name-traversal",
        "name-nul",
        "name-long-unicode",
        "name-number",
        "deep-nesting-lists",
        "format-version-future",
        "format-version-float",
        "bad-utf8",
        "bom",
        "duplicate-key-top",
        "top-level-list",
        "top-level-null",
    ):
        assert kind in names


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_a_malformed_task_file_is_refused_in_one_line_and_nothing_is_imported(
    cli: Cli, path: Path
) -> None:
    result = cli("import", str(path), expect=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    assert len(lines[0]) < 600, lines[0]  # says what is wrong, does not echo the file
    assert "Traceback" not in result.output
    assert cli.json("tasks")["tasks"] == []


def test_a_folder_of_malformed_files_names_every_one_and_imports_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "shared"
    shutil.copytree(CORPUS, folder)
    good = folder / "a-good-one.json"
    shutil.copy(EXAMPLE, good)
    result = cli("import", str(folder), expect=2)
    for path in folder.glob("*.json"):
        if path != good:
            assert f"error: {path}: " in result.stderr, path
    assert str(good) not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {len(FILES)} of {len(FILES) + 1} task files are invalid; nothing was imported"
    )
    assert cli.json("tasks")["tasks"] == []


def test_two_files_holding_one_task_name_are_both_named(cli: Cli, tmp_path: Path) -> None:
    for copy in ("one.json", "two.json"):
        shutil.copy(EXAMPLE, tmp_path / copy)
    result = cli("import", str(tmp_path), expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert str(tmp_path / "one.json") in line and str(tmp_path / "two.json") in line
    assert "both hold a task named 'aider-swallows-config-errors'" in line
    assert cli.json("tasks")["tasks"] == []


def test_the_example_the_corpus_starts_from_imports(cli: Cli, tmp_path: Path) -> None:
    document = json.loads(EXAMPLE.read_text())
    document["name"] = "corpus-base"
    path = tmp_path / "base.json"
    path.write_text(json.dumps(document))
    assert "imported 1 task" in cli("import", str(path)).stdout


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("created-at-not-a-time", "field `created_at`: 'yesterday afternoon' is not an ISO 8601"),
        ("drop-last-huge", "field `transcript.drop_last`: "),
        ("checks-regex-unbalanced", "field `checks[0]`: option 'pattern' of check 'regex' is not"),
        ("checks-unknown-option", "field `checks[0]`: unknown option 'nope' for check"),
        ("wire-unknown", "field `request.wire`: 'carrier-pigeon' is none of"),
        ("extra-top-level-field", "'run_this' is not a field of the task file format"),
        ("duplicate-key-top", "the key 'name' appears twice in one object"),
        ("format-version-float", "field `format_version`: should be integer"),
        ("nan", "NaN is not a JSON value"),
        ("bom", "starts with a byte order mark"),
        ("deep-nesting-lists", "nested more than 64 levels deep"),
    ],
)
def test_the_line_names_the_field_at_fault(cli: Cli, kind: str, said: str) -> None:
    result = cli("import", str(CORPUS / f"{kind}.json"), expect=2)
    assert said in result.stderr, result.stderr
