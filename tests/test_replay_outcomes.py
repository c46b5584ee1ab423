"""Every sample's outcome: pass (a check judged code it wrote and found nothing), fail,
no_attempt (no code the checks could judge), error. Stored with the verdicts, recomputed by
recheck, worked out for runs stored before outcomes were, and shown by every report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.fakes.fixtures import serving
from tests.fakes.flaky import FlakyModel, RuleAwareModel
from tests.support import Cli

TASK = "aider-swallows-config-errors"
QUESTION = "Before I write this, which format are the config files in?"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-fake-key-0123456789")


def models(tmp_path: Path, **urls: str) -> Path:
    config = tmp_path / "redline.toml"
    config.write_text(
        "".join(
            f'[models.{name}]\nbase_url = "{url}/v1"\nwire = "openai-chat"\nmodel = "{name}-1"\n'
            'api_key_env = "FAKE_KEY"\nprice_in = 1.0\nprice_out = 2.0\n'
            for name, url in urls.items()
        )
    )
    return config


def replay(cli: Cli, config: Path, *args: str) -> dict[str, Any]:
    out = cli("replay", TASK, "--config", str(config), *args, "--json")
    return dict(json.loads(out.stdout))


def test_a_model_that_asks_instead_of_writing_scores_no_pass(cli: Cli, tmp_path: Path) -> None:
    cli("import", "--examples")
    with serving(FlakyModel(QUESTION)) as asks, serving(RuleAwareModel()) as writes:
        config = models(tmp_path, asks=asks.url, writes=writes.url)
        report = replay(cli, config, "-m", "asks", "-m", "writes", "-n", "3")
    rows = {r["model"]: r for r in report["summary"]}
    assert (rows["asks"]["passes"], rows["asks"]["no_attempts"], rows["asks"]["rate"]) == (
        0,
        3,
        0.0,
    )
    assert (rows["writes"]["passes"], rows["writes"]["no_attempts"]) == (0, 0)
    table = " ".join(cli("report").stdout.split())
    assert "no attempt" in table
    assert "3 of 6 samples never wrote code the checks could judge" in table


def test_recheck_works_the_outcomes_out_again(cli: Cli, tmp_path: Path) -> None:
    cli("import", "--examples")
    with serving(FlakyModel(QUESTION)) as asks:
        replay(cli, models(tmp_path, asks=asks.url), "-m", "asks", "-n", "2")
    run = cli.json("runs")["runs"][0]["id"]
    again = json.loads(
        cli("recheck", run, "-c", "regex:pattern=(?i)which;in=text", "--json").stdout
    )
    assert [s["outcome"] for s in again["samples"]] == ["fail", "fail"]
    back = json.loads(cli("recheck", run, "--json").stdout)
    assert [s["outcome"] for s in back["samples"]] == ["no_attempt", "no_attempt"]
    assert back["run"]["evaluation"] == 2


def test_cached_samples_keep_the_cost_the_prices_give_and_their_latency(
    cli: Cli, tmp_path: Path
) -> None:
    cli("import", "--examples")
    with serving(RuleAwareModel()) as a, serving(RuleAwareModel()) as b:
        config = models(tmp_path, a=a.url, b=b.url)
        first = replay(cli, config, "-m", "a", "-n", "2")
        second = replay(cli, config, "-m", "a", "-m", "b", "-n", "2")
        config.write_text(config.read_text().replace("price_out = 2.0", "price_out = 4.0"))
        third = replay(cli, config, "-m", "a", "-n", "2")
    (sent,) = first["cells"]
    cached = next(c for c in second["cells"] if c["model"] == "a")
    assert cached["from_cache"] == 2 and len(a.requests) == 2
    assert cached["cost"] == sent["cost"] > 0
    assert cached["latency_p50_ms"] == sent["latency_p50_ms"] is not None
    (repriced,) = third["cells"]
    tokens_in, tokens_out = repriced["input_tokens"], repriced["output_tokens"]
    assert repriced["cost"] == round((tokens_in * 1.0 + tokens_out * 4.0) / 1e6, 6)
    assert "the model has no prices configured" not in cli("report").stdout


def _as_before_steps(db: Path) -> None:
    """The store as redline left it before steps and outcomes (schema 6): no steps table, the
    answers' raw bodies in samples, verdicts without outcome or `judged`, passed when every
    check passed."""
    con = duckdb.connect(str(db))
    con.execute(
        "UPDATE samples SET raw = (SELECT raw FROM steps t WHERE t.run_id = samples.run_id AND "
        "t.task = samples.task AND t.model = samples.model AND t.variant = samples.variant AND "
        "t.sample = samples.sample AND t.step = 1)"
    )
    con.execute("DROP TABLE steps")
    indexes = ("samples_run", "samples_request_key", "verdicts_run")
    for index in indexes:  # DuckDB drops no column of a table an index depends on
        con.execute(f"DROP INDEX {index}")
    for table, column in (
        ("runs", "max_steps"),
        ("samples", "steps"),
        ("samples", "stop"),
        ("samples", "diverged"),
        ("verdicts", "outcome"),
    ):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("CREATE INDEX samples_run ON samples (run_id)")
    con.execute("CREATE INDEX samples_request_key ON samples (request_key)")
    con.execute("CREATE INDEX verdicts_run ON verdicts (run_id, evaluation)")
    for run_id, sample, verdicts in con.execute(
        "SELECT run_id, sample, verdicts FROM verdicts"
    ).fetchall():
        old = [{k: v for k, v in d.items() if k != "judged"} for d in json.loads(verdicts)]
        con.execute(  # `passed` said every check passed
            "UPDATE verdicts SET verdicts = ?, passed = ? WHERE run_id = ? AND sample = ?",
            [json.dumps(old), all(d["passed"] for d in old), run_id, sample],
        )
    con.execute("DELETE FROM schema_migrations WHERE name = 'm009_replay_steps'")
    con.close()


def test_a_run_stored_before_outcomes_reports_them_and_still_answers_from_the_cache(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    cli("import", "--examples")
    with serving(FlakyModel(QUESTION)) as asks:
        config = models(tmp_path, asks=asks.url)
        replay(cli, config, "-m", "asks", "-n", "2", "--max-steps", "1")
        _as_before_steps(db_path)
        report = cli.json("report")
        assert [s["outcome"] for s in report["samples"]] == ["no_attempt", "no_attempt"]
        assert report["run"]["max_steps"] is None
        assert report["summary"][0]["no_attempts"] == 2
        again = replay(cli, config, "-m", "asks", "-n", "2", "--max-steps", "1")
    assert again["cells"][0]["from_cache"] == 2 and len(asks.requests) == 2
