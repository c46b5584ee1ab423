"""`redline replay`, end to end against fake models: tasks rendered for each model's API, the
answers judged by the task's checks, the cache, errors kept apart, the report's numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import serving
from tests.fakes.flaky import Behaviour, FlakyModel, RuleAwareModel
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.openai_responses import FakeResponses
from tests.support import Cli

STRICT = RuleAwareModel.RULE + ": let every error reach the caller."


def model(name: str, wire: str, base_url: str, **extra: Any) -> str:
    lines = [
        f"[models.{name}]",
        f'base_url = "{base_url}"',
        f'wire = "{wire}"',
        f'model = "{name}-id"',
        'api_key_env = "FAKE_KEY"',
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "RULES.md"
    path.write_text(STRICT + "\n")
    return path


@pytest.fixture(autouse=True)
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-fake-key-0123456789")


@pytest.fixture
def strict_model(tmp_path: Path) -> Iterator[tuple[RuleAwareModel, Path]]:
    with serving(RuleAwareModel()) as fake:
        config = tmp_path / "redline.toml"
        config.write_text(
            model("strict", "openai-chat", fake.url + "/v1", price_in=1.0, price_out=2.0)
        )
        yield fake, config


def replay(cli: Cli, config: Path, *args: str, expect: int = 0) -> dict[str, Any]:
    result = cli("replay", "--config", str(config), *args, "--json", expect=expect)
    return json.loads(result.stdout) if expect == 0 else {}


def cell(
    report: dict[str, Any], task: str, variant: str, model: str | None = None
) -> dict[str, Any]:
    (found,) = [
        c
        for c in report["cells"]
        if c["task"] == task and c["variant"] == variant and model in (None, c["model"])
    ]
    return found


def test_a_variant_that_forbids_the_failure_passes_where_the_baseline_fails(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], rules: Path
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    report = replay(
        cli,
        config,
        "aider-swallows-config-errors",
        "-m",
        "strict",
        "-n",
        "3",
        "-p",
        f"strict={rules}",
    )
    base = cell(report, "aider-swallows-config-errors", "baseline")
    strict = cell(report, "aider-swallows-config-errors", "strict")
    assert (base["passes"], base["samples"]) == (0, 3)
    assert (strict["passes"], strict["samples"]) == (3, 3)
    (comparison,) = [c for c in report["comparisons"] if c["kind"] == "variant"]
    assert (comparison["a"], comparison["b"], comparison["these_tasks"]["method"]) == (
        "strict",
        "baseline",
        "fisher exact",
    )
    assert comparison["verdict"].startswith(
        "On this task, no evidence of a difference: strict passed 3/3, baseline 0/3"
    )
    assert len(fake.requests) == 6
    md = cli("report", "--format", "md").stdout
    assert "0/3" in md and "3/3" in md and comparison["verdict"] in md


def test_the_variant_text_is_in_what_was_sent(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], rules: Path
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    replay(
        cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "1", "-p", f"s={rules}"
    )
    baseline, variant = fake.requests
    assert STRICT not in json.dumps(baseline) and STRICT in json.dumps(variant)
    assert variant["model"] == "strict-id" and "stream" not in variant


@pytest.mark.parametrize("example", ["claude-code", "codex"])
def test_a_rules_variant_replaces_the_embedded_rules_file(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], rules: Path, example: str
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    name = f"{example}-swallows-config-errors"
    report = replay(cli, config, name, "-m", "strict", "-n", "2", "-p", f"v2={rules}:rules")
    assert cell(report, name, "baseline")["passes"] == 0
    assert cell(report, name, "v2")["passes"] == 2
    sent = json.dumps(fake.requests[-1])
    assert STRICT in sent
    assert "Never catch Exception or BaseException" not in sent  # the old CLAUDE.md text
    assert "Do not swallow exceptions" not in sent  # the old AGENTS.md text


def test_a_rules_variant_on_a_task_without_a_rules_file_is_an_error_before_sending(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], rules: Path
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    result = cli(
        "replay", "--config", str(config), "-m", "strict", "-p", f"v2={rules}:rules", expect=2
    )
    assert "task aider-swallows-config-errors: its transcript embeds no rules file" in result.stderr
    assert fake.requests == []


def test_a_claude_code_task_replays_to_chat_responses_and_anthropic_models(
    cli: Cli, tmp_path: Path
) -> None:
    cli("import", "--examples")
    with (
        serving(FakeOpenAI()) as chat,
        serving(FakeResponses()) as responses,
        serving(FakeAnthropic()) as anthropic,
    ):
        chat.api_key = responses.api_key = anthropic.api_key = "sk-test-fake-key-0123456789"
        config = tmp_path / "redline.toml"
        config.write_text(
            model("chat", "openai-chat", chat.url + "/v1")
            + model("resp", "openai-responses", responses.url + "/v1")
            + model("claude", "anthropic-messages", anthropic.url)
        )
        name = "claude-code-swallows-config-errors"
        report = replay(cli, config, name, "-m", "chat", "-m", "resp", "-m", "claude", "-n", "1")
    sent_chat = json.loads(chat.received[-1].body)
    assert sent_chat["messages"][0] == {
        "role": "system",
        "content": "You are Claude Code, a coding agent.",
    }
    assert sent_chat["tools"][0]["function"]["name"] == "Write"
    sent_resp = json.loads(responses.received[-1].body)
    assert sent_resp["instructions"] == "You are Claude Code, a coding agent."
    sent_claude = json.loads(anthropic.received[-1].body)
    assert sent_claude["system"][0]["text"] == "You are Claude Code, a coding agent."
    assert anthropic.received[-1].headers["x-api-key"] == "sk-test-fake-key-0123456789"
    for m in ("chat", "resp", "claude"):
        c = cell(report, name, "baseline", m)
        assert (c["samples"], c["errors"]) == (1, 0), c
    assert len([c for c in report["comparisons"] if c["kind"] == "model"]) == 3


def test_a_second_run_sends_nothing(cli: Cli, strict_model: tuple[RuleAwareModel, Path]) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    first = replay(cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "3")
    second = replay(cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "3")
    assert len(fake.requests) == 3
    assert cell(second, "aider-swallows-config-errors", "baseline")["from_cache"] == 3
    assert cell(first, "aider-swallows-config-errors", "baseline")["passes"] == 0
    assert cell(second, "aider-swallows-config-errors", "baseline")["passes"] == 0
    replay(cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "3", "--no-cache")
    assert len(fake.requests) == 6


def test_more_samples_send_only_the_new_ones(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path]
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    replay(cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "2")
    replay(cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "5")
    assert len(fake.requests) == 5


def test_failures_after_retries_are_errors_reported_apart(cli: Cli, tmp_path: Path) -> None:
    cli("import", "--examples")
    with serving(FlakyModel()) as fake:
        fake.script.extend([Behaviour("status", 500)] * 2)
        config = tmp_path / "redline.toml"
        config.write_text(model("flaky", "openai-chat", fake.url + "/v1"))
        report = replay(
            cli,
            config,
            "aider-swallows-config-errors",
            "-m",
            "flaky",
            "-n",
            "2",
            "--retries",
            "0",
            "--concurrency",
            "1",
        )
    c = cell(report, "aider-swallows-config-errors", "baseline")
    assert (c["passes"], c["samples"], c["errors"]) == (0, 0, 2)
    assert c["rate"] is None
    assert [e["error"][:22] for e in report["errors"]] == ["upstream answered 500:"] * 2


def test_a_task_that_cannot_be_rendered_is_an_error_and_the_rest_runs(
    cli: Cli, tmp_path: Path
) -> None:
    cli("import", "--examples")
    cli("export", "codex-swallows-config-errors", "--out", str(tmp_path / "t"))
    document = json.loads((tmp_path / "t" / "codex-swallows-config-errors.json").read_text())
    document["name"] = "unrenderable"
    # A thinking block inside a tool result: the Responses API has no way to say that.
    result = {
        "type": "tool_result",
        "call_id": "c1",
        "content": [{"type": "thinking", "text": "hm"}],
    }
    document["request"]["messages"].append({"role": "tool", "parts": [result]})
    (tmp_path / "bad.json").write_text(json.dumps(document))
    cli("import", str(tmp_path / "bad.json"))
    with serving(FakeResponses()) as responses:
        responses.api_key = "sk-test-fake-key-0123456789"
        config = tmp_path / "redline.toml"
        config.write_text(model("resp", "openai-responses", responses.url + "/v1"))
        report = replay(cli, config, "-m", "resp", "-n", "1", "--max-steps", "1")
    (error,) = report["errors"]
    assert error["task"] == "unrenderable"
    assert error["error"].startswith("the task cannot be rendered as openai-responses")
    assert cell(report, "codex-swallows-config-errors", "baseline")["samples"] == 1
    assert len(responses.received) == 3  # the three others


def test_a_dry_run_prints_tokens_and_cost_and_sends_nothing(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path]
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    out = json.loads(
        cli(
            "replay", "--config", str(config), "-m", "strict", "-n", "4", "--dry-run", "--json"
        ).stdout
    )
    assert out["sent"] == 0 and fake.requests == []
    (aider,) = [r for r in out["requests"] if r["task"] == "aider-swallows-config-errors"]
    assert aider["prompt_tokens"] > 20 and aider["tokens_estimated"] is True
    assert aider["samples"] == 4 and aider["cost"] > 0
    text = cli("replay", "--config", str(config), "-m", "strict", "--dry-run").stdout
    assert "nothing was sent" in text and "~" in text


def test_a_dry_run_says_the_smallest_difference_the_run_could_detect(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path]
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    args = ("replay", "--config", str(config), "-m", "strict", "-n", "4", "--dry-run")
    reach = json.loads(cli(*args, "--json").stdout)["detectable"]
    tasks = len(cli.json("tasks")["tasks"])
    assert (reach["tasks"], reach["samples"], reach["fewest_tasks"]) == (tasks, 4, 6)
    assert reach["source"] == "spread assumed: no earlier run of these tasks"
    assert reach["line"].startswith(f"With {tasks} tasks × 4 samples, no comparison can show")
    assert reach["line"] in " ".join(cli(*args).stdout.split())
    assert fake.requests == []


def test_a_dry_run_measures_the_spread_on_earlier_runs_of_the_tasks(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], rules: Path
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    replay(cli, config, "-m", "strict", "-n", "2", "-p", f"strict={rules}")
    sent = len(fake.requests)
    out = cli("replay", "--config", str(config), "-m", "strict", "--dry-run", "--json").stdout
    reach = json.loads(out)["detectable"]
    assert reach["source"] == "spread measured on 1 earlier run of these tasks"
    assert len(fake.requests) == sent


def test_a_report_says_what_its_run_could_detect(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], rules: Path
) -> None:
    _, config = strict_model
    cli("import", "--examples")
    report = replay(cli, config, "-m", "strict", "-n", "3", "-p", f"strict={rules}")
    reach = report["detectable"]
    assert reach["source"] == "spread measured on this run"
    assert reach["line"] in " ".join(cli("report").stdout.split())
    assert all(row["pass_k"] is not None for row in report["summary"])


def test_a_missing_key_is_one_line_before_anything_is_sent(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, config = strict_model
    monkeypatch.delenv("FAKE_KEY")
    cli("import", "--examples")
    result = cli("replay", "--config", str(config), "-m", "strict", expect=2)
    assert (
        result.stderr.strip()
        == "error: model strict needs its API key in $FAKE_KEY, which is not set "
        '(api_key_env = "" in its redline.toml table sends none)'
    )
    assert fake.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "nope"], "unknown model 'nope'; configured models: strict"),
        (["-m", "openai-chat:x"], "unknown model 'openai-chat:x'"),
        (["-m", "strict", "-p", "x=missing.md"], "missing.md does not exist"),
        (["-m", "strict", "no-such-task"], "no task matches 'no-such-task'"),
    ],
)
def test_bad_arguments_are_one_line(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path], args: list[str], message: str
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    result = cli("replay", "--config", str(config), *args, expect=2)
    (line,) = result.stderr.strip().splitlines()
    assert message in line, line
    assert fake.requests == []


def test_recheck_judges_stored_answers_again_without_sending(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path]
) -> None:
    fake, config = strict_model
    cli("import", "--examples")
    replay(cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "2")
    run = cli.json("runs")["runs"][0]["id"]
    report = json.loads(
        cli("recheck", run[:8], "-c", "regex:pattern=never-written", "--json").stdout
    )
    assert report["run"]["evaluation"] == 1
    assert cell(report, "aider-swallows-config-errors", "baseline")["passes"] == 2
    assert report["tasks"][0]["checks"] == ["regex:pattern=never-written"]
    assert len(fake.requests) == 2


def test_recheck_judges_the_tasks_still_stored_and_names_the_removed_ones(
    cli: Cli, strict_model: tuple[RuleAwareModel, Path]
) -> None:
    _fake, config = strict_model
    cli("import", "--examples")
    kept, removed = "aider-swallows-config-errors", "codex-swallows-config-errors"
    replay(cli, config, kept, removed, "-m", "strict", "-n", "1")
    run = cli.json("runs")["runs"][0]["id"]
    cli("task", "rm", removed)
    result = cli("recheck", run, "--json")
    assert f"not judged again: task {removed} (no longer stored" in result.stderr
    report = json.loads(result.stdout)
    assert report["run"]["evaluation"] == 1
    assert cell(report, kept, "baseline")["samples"] == 1
    assert cell(report, removed, "baseline")["samples"] == 0
    cli("task", "rm", kept)
    gone = cli("recheck", run, expect=2)
    assert f"no task of run {run} is stored any more" in gone.stderr


def test_runs_lists_each_run(cli: Cli, strict_model: tuple[RuleAwareModel, Path]) -> None:
    _fake, config = strict_model
    cli("import", "--examples")
    replay(cli, config, "aider-swallows-config-errors", "-m", "strict", "-n", "2")
    (run,) = cli.json("runs")["runs"]
    assert run["status"] == "finished" and run["models"] == ["strict"]
    assert run["variants"] == ["baseline"] and run["results"] == 2 and run["errors"] == 0


def test_a_run_whose_every_sample_errored_says_so_in_each_comparison(
    cli: Cli, tmp_path: Path
) -> None:
    cli("import", "--examples")
    rules = tmp_path / "strict.md"
    rules.write_text("Never swallow errors.")
    with serving(FlakyModel()) as fake:
        fake.script.extend([Behaviour("status", 400)] * 4)
        report = cli.json(
            "replay",
            "aider-swallows-config-errors",
            "-m",
            f"openai-chat:flaky-1@{fake.url}/v1",
            "-n",
            "2",
            "-p",
            f"strict={rules}",
        )
    (comparison,) = report["comparisons"]
    assert comparison["verdict"] == (
        "Neither strict nor baseline has a judged sample (every one was an error): "
        "nothing to compare."
    )
