"""Every command on a lake, as on a file: listing, showing, checking, scanning, flagging,
replaying, judging again, reporting, exporting, and the web view (its search included)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redline import config
from redline.cli import app
from redline.ui import UiServer
from tests.fakes.openai_chat import FakeOpenAI
from tests.postgres import LakeSetup
from tests.support import Cli
from tests.test_ui_fixtures import config_session, record


def recorded(lake: LakeSetup) -> config.Lake:
    where = config.location(lake.url)
    assert isinstance(where, config.Lake)
    record(where, config_session(datetime.now(UTC) - timedelta(hours=1)))  # type: ignore[arg-type]
    return where


def swallowing_call(cli: Cli) -> str:
    """The call whose answer swallows errors, found as a user would: check each call."""
    (conversation,) = cli.json("ls")["conversations"]
    for call in cli.json("ls", conversation["id"])["calls"]:
        result = cli.runner.invoke(app, ["check", "-c", "broad-except", "--call", call["id"]])
        assert result.exit_code in (0, 1), result.output
        if result.exit_code == 1:  # a check found something
            return str(call["id"])
    raise AssertionError("no call of the session swallows errors")


def test_every_command_works_on_a_lake(
    lake: LakeSetup, cli: Cli, fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: Any
) -> None:
    recorded(lake)
    call = swallowing_call(cli)
    shown = cli.json("show", call)
    assert shown["id"] == call
    scanned = cli.json("scan", "-c", "broad-except")
    assert call in json.dumps(scanned)
    cli("flag", call, "-c", "broad-except", "--name", "lake-task")
    assert [t["name"] for t in cli.json("tasks")["tasks"]] == ["lake-task"]
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    model = f"openai-chat:gpt-test@{fake_openai.url}/v1"  # type: ignore[attr-defined]
    cli("replay", "--model", model, "--samples", "2", "--json")
    (run,) = cli.json("runs")["runs"]
    cli("recheck", run["id"])
    report = cli.json("report")
    assert report["run"]["id"] == run["id"] and report["run"]["evaluation"] == 1
    cli("export", "lake-task", "--out", str(tmp_path / "tasks"))
    assert list((tmp_path / "tasks").glob("*.json"))


def test_the_web_view_browses_and_searches_a_lake(lake: LakeSetup) -> None:
    where = recorded(lake)
    with UiServer(where) as server:
        base = f"http://127.0.0.1:{server.port}"

        def get(path: str) -> Any:
            with urllib.request.urlopen(base + path, timeout=60) as answer:
                return json.loads(answer.read())

        (listed,) = get("/api/conversations")["conversations"]
        assert listed["title"].startswith("Add error handling")
        found = get("/api/conversations?" + urllib.parse.urlencode({"q": "the LOADER handles"}))
        assert [c["id"] for c in found["conversations"]] == [listed["id"]]
        timeline = get(f"/api/conversations/{listed['id']}")
        assert len(timeline["calls"]) == listed["calls"]
