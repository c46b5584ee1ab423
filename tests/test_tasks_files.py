"""Task files: `redline export` writes one JSON file per task, secrets masked; `redline import`
reads them back on another machine, whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redline.proxy import ThreadedProxy
from tests.agents import CAREFUL, SWALLOWING, call_ids, claude_code_session, write_block
from tests.fakes.anthropic import FakeAnthropic
from tests.support import Cli

OPENAI_KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2


@pytest.fixture
def two_tasks(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, tmp_path: Path
) -> list[str]:
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(SWALLOWING)])
    leaky = SWALLOWING.replace("import json\n", f'import json\n\nAPI_KEY = "{OPENAI_KEY}"\n')
    claude_code_session(fake_anthropic, anthropic_proxy.url, [write_block(leaky)], session="s-2")
    anthropic_proxy.flush()
    first, second = call_ids(cli)
    good = tmp_path / "good.py"
    good.write_text(CAREFUL)
    cli("flag", first, "-c", "broad-except", "--name", "plain", "--good", str(good))
    cli(
        "flag",
        second,
        "-c",
        "broad-except",
        "-c",
        "regex:pattern=open\\(",
        "--name",
        "leaky",
        "--force",
    )
    return ["leaky", "plain"]


def shown(cli: Cli, name: str, db: Path | None = None) -> dict[str, Any]:
    extra = ["--db", str(db)] if db else []
    return dict(cli.json("task", "show", name, *extra)["task"])


def test_export_writes_one_file_per_task(two_tasks: list[str], cli: Cli, tmp_path: Path) -> None:
    out = cli("export", "--out", str(tmp_path / "bench")).stdout
    assert "wrote 2 task files" in out
    assert sorted(p.name for p in (tmp_path / "bench").iterdir()) == ["leaky.json", "plain.json"]
    document = json.loads((tmp_path / "bench" / "plain.json").read_text())
    assert document["format_version"] == 1
    assert document["checks"] == ["broad-except"]
    assert document["request"]["wire"] == "anthropic-messages"
    assert document["good_output"]["source"].startswith("file ")


def test_export_then_import_into_a_fresh_database_gives_identical_tasks(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    cli("export", "plain", "--out", str(tmp_path / "bench"))
    other = tmp_path / "other.duckdb"
    assert "imported 1 task" in cli("import", str(tmp_path / "bench"), "--db", str(other)).stdout
    assert shown(cli, "plain", other) == shown(cli, "plain")


def test_export_masks_secrets_and_keeps_the_code_around_them(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    out = cli("export", "leaky", "--out", str(tmp_path / "bench")).stdout
    assert "masked 1 secret (look for [masked:...] in the files)" in out
    text = (tmp_path / "bench" / "leaky.json").read_text()
    assert OPENAI_KEY not in text
    (part,) = json.loads(text)["output"]["message"]["parts"]
    content = json.loads(part["arguments"])["content"]
    assert 'API_KEY = "[masked:openai-key]"' in content
    assert content.replace('API_KEY = "[masked:openai-key]"\n', "").endswith(
        SWALLOWING.split("import json\n", 1)[1]
    )


def test_importing_the_same_file_twice_changes_nothing(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    cli("export", "--out", str(tmp_path / "bench"))
    other = tmp_path / "other.duckdb"
    cli("import", str(tmp_path / "bench"), "--db", str(other))
    again = cli("import", str(tmp_path / "bench"), "--db", str(other)).stdout
    assert "imported 0 tasks; 2 already present, unchanged" in again


def test_a_same_named_task_with_other_content_needs_replace(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    cli("export", "plain", "--out", str(tmp_path / "bench"))
    path = tmp_path / "bench" / "plain.json"
    document = json.loads(path.read_text())
    document["note"] = "edited by a colleague"
    path.write_text(json.dumps(document))
    result = cli("import", str(path), expect=2)
    assert "exists already with other content; import with --replace" in result.stderr
    assert shown(cli, "plain")["note"] == ""
    cli("import", str(path), "--replace")
    assert shown(cli, "plain")["note"] == "edited by a colleague"


def _file(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["request"]["messages"][0].update(role="robot"),
            "field `request.messages[0].role`",
        ),
        (lambda d: d.update(checks="broad-except"), "field `checks`"),
        (
            lambda d: d.update(format_version=2),
            "newer than this redline reads (1); upgrade redline",
        ),
        (lambda d: d.pop("output"), "'output' is a required property"),
        (lambda d: d["transcript"].update(drop_last=-1), "field `transcript.drop_last`"),
    ],
)
def test_a_bad_file_names_the_file_and_the_field_and_imports_nothing(
    two_tasks: list[str], cli: Cli, tmp_path: Path, change: Any, message: str
) -> None:
    cli("export", "--out", str(tmp_path / "bench"))
    document = json.loads((tmp_path / "bench" / "plain.json").read_text())
    change(document)
    document["name"] = "changed"
    bad = _file(tmp_path / "bench", "plain.json", document)
    other = tmp_path / "other.duckdb"
    result = cli("import", str(tmp_path / "bench"), "--db", str(other), expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {bad}: ") and message in line, line
    assert cli.json("tasks", "--db", str(other))["tasks"] == []


def test_truncated_json_is_one_line_and_imports_nothing(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    cli("export", "--out", str(tmp_path / "bench"))
    path = tmp_path / "bench" / "plain.json"
    path.write_text(path.read_text()[:200])
    other = tmp_path / "other.duckdb"
    result = cli("import", str(tmp_path / "bench"), "--db", str(other), expect=2)
    assert f"error: {path}: not valid JSON" in result.stderr
    assert cli.json("tasks", "--db", str(other))["tasks"] == []


def test_two_files_with_one_task_name_are_refused(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    cli("export", "plain", "--out", str(tmp_path / "bench"))
    copy = tmp_path / "bench" / "copy.json"
    copy.write_text((tmp_path / "bench" / "plain.json").read_text())
    other = tmp_path / "other.duckdb"
    result = cli("import", str(tmp_path / "bench"), "--db", str(other), expect=2)
    assert "both hold a task named 'plain'" in result.stderr
    assert cli.json("tasks", "--db", str(other))["tasks"] == []


def test_export_to_a_folder_that_cannot_be_made_is_one_line(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = cli("export", "--out", str(blocker / "bench"), expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot create the folder")


def test_import_of_a_missing_path_is_one_line(cli: Cli, tmp_path: Path) -> None:
    result = cli("import", str(tmp_path / "nowhere.json"), expect=2)
    assert result.stderr.strip() == f"error: {tmp_path / 'nowhere.json'} does not exist"


def test_an_imported_task_with_an_unknown_check_is_imported_with_a_warning(
    two_tasks: list[str], cli: Cli, tmp_path: Path
) -> None:
    cli("export", "plain", "--out", str(tmp_path / "bench"))
    path = tmp_path / "bench" / "plain.json"
    document = json.loads(path.read_text())
    document["checks"] = ["my-team-check:strict=true"]
    path.write_text(json.dumps(document))
    other = tmp_path / "other.duckdb"
    result = cli("import", str(path), "--db", str(other))
    assert "uses check my-team-check, not registered here" in result.stderr
    assert [t["name"] for t in cli.json("tasks", "--db", str(other))["tasks"]] == ["plain"]


def test_the_shipped_examples_import_and_hold(cli: Cli) -> None:
    out = cli("import", "--examples").stdout
    assert "imported 3 tasks" in out
    listed = {t["name"]: t for t in cli.json("tasks")["tasks"]}
    assert {t["wire"] for t in listed.values()} == {
        "anthropic-messages",
        "openai-chat",
        "openai-responses",
    }
    for name in listed:
        verdicts = cli.json("task", "show", name)["verdicts"]
        assert [v["passed"] for v in verdicts["output"]] == [False], name
        assert [v["passed"] for v in verdicts["good_output"]] == [True], name


def test_export_masks_the_note_and_the_client_too(cli: Cli, tmp_path: Path) -> None:
    example = json.loads(
        (
            Path(__file__).parent.parent / "transcripts/examples/aider-swallows-config-errors.json"
        ).read_text()
    )
    example["note"] = f"it printed {OPENAI_KEY} back at me"
    example["provenance"]["client"] = f"aider/0.86 (key {OPENAI_KEY})"
    cli("import", str(_file(tmp_path, "task.json", example)))
    out = cli("export", "--out", str(tmp_path / "bench")).stdout
    assert "masked 2 secrets" in out
    text = (tmp_path / "bench" / "aider-swallows-config-errors.json").read_text()
    assert OPENAI_KEY not in text
    document = json.loads(text)
    assert document["note"] == "it printed [masked:openai-key] back at me"
    assert document["provenance"]["client"] == "aider/0.86 (key [masked:openai-key])"


@pytest.mark.parametrize(
    "title",
    [
        f"Use {OPENAI_KEY} for the loader",
        "use key c4a1f0e29b7d4e2a8f1c0b3d5e7f9a1b to call the api",
        "token 9f86d081884c7d659a2feaa0c55ad015 fix it",
        "AKIAIOSFODNN7QWERTYU loader",
    ],
)
def test_a_task_name_made_from_a_title_holds_no_piece_of_a_key(title: str) -> None:
    from redline.transcripts import suggest_name

    name = suggest_name(("broad-except",), title, set())
    pieces = {p for p in title.lower().replace("-", " ").split() if len(p) > 12}
    pieces |= {p[:8] for p in pieces}
    assert not any(piece in name for piece in pieces), name
    assert name.startswith("broad-except")


def test_a_task_name_made_from_a_plain_title_keeps_its_words() -> None:
    from redline.transcripts import suggest_name

    assert suggest_name(("broad-except",), "Fix the config loader v2", set()) == (
        "broad-except-fix-config-loader-v2"
    )
