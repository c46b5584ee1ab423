"""A store made by an earlier release opens in this one: no DuckDB or schema change strands a
user's data. `tests/fixtures/stores/` keeps one store per release, made by `redline demo --db`
(calls, a task, a finished run), compressed; add the new release's store when one is cut."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard

from tests.support import Cli

STORES = Path(__file__).parent / "fixtures" / "stores"


@pytest.fixture(params=sorted(p.name for p in STORES.glob("*.duckdb.zst")))
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "old.duckdb"
    path.write_bytes(zstandard.ZstdDecompressor().decompress((STORES / request.param).read_bytes()))
    return path


def test_a_store_from_an_earlier_release_lists_its_calls_tasks_and_runs(
    old_store: Path, cli: Cli
) -> None:
    calls = cli.json("ls", "--db", str(old_store))["conversations"]
    assert calls, "the demo recorded a conversation"
    (task,) = cli.json("tasks", "--db", str(old_store))["tasks"]
    assert task["name"] == "demo" and task["checks"] == ["broad-except"]
    (run,) = cli.json("runs", "--db", str(old_store))["runs"]
    assert run["status"] == "finished" and run["results"] == 20


def test_a_store_from_an_earlier_release_still_reports_its_run(old_store: Path, cli: Cli) -> None:
    (run,) = cli.json("runs", "--db", str(old_store))["runs"]
    report = cli("report", run["id"], "--db", str(old_store), "--format", "json").stdout
    assert '"baseline"' in report and '"strict"' in report
