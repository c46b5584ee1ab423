"""`redline demo` shows the whole loop offline: record, flag, draft a check, replay, report."""

from __future__ import annotations

from pathlib import Path

from tests.support import Cli, sandbox_unavailable


def test_the_demo_runs_the_loop_and_the_rules_variant_helps(cli: Cli, db_path: Path) -> None:
    out = cli("demo").stdout
    for step in (
        "redline proxy --upstream",
        "redline ls",
        "redline flag",
        "redline replay",
        "redline report",
    ):
        assert step in out, step
    assert "broad-except  FAIL" in out and "saved task demo" in out
    assert "redline draft" in out
    if sandbox_unavailable() is None:
        assert "no-silent-fallback  FAIL  config.py" in out
        assert "proven in the sandbox" in out
    else:
        assert "(skipped: drafted checks are judged only in the sandbox" in out
    assert "stand-in │ baseline │" in out and "stand-in │ strict   │" in out
    assert "On this task, strict passed more often than baseline" in " ".join(out.split())
    assert not db_path.exists()  # the demo keeps to its own temporary database


def test_the_demo_can_keep_its_data(cli: Cli, tmp_path: Path) -> None:
    kept = tmp_path / "demo.duckdb"
    cli("demo", "--db", str(kept))
    (task,) = cli.json("tasks", "--db", str(kept))["tasks"]
    assert task["name"] == "demo"
    (run,) = cli.json("runs", "--db", str(kept))["runs"]
    assert run["variants"] == ["baseline", "strict"] and run["results"] == 20
    result = cli("demo", "--db", str(kept), expect=2)
    assert "exists; give --db a new file" in result.stderr
