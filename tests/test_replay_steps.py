"""Replay past the first step, on tasks flagged from sessions recorded through the proxy as
Claude Code, Codex CLI and a chat client make them: a tool call that is not an edit is answered
(from the transcript before the cut, else "not available") and the model asked again, until it
edits, ends its turn or reaches --max-steps; every sample gets an outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agents import CAREFUL, SWALLOWING
from tests.fakes import anthropic as fa
from tests.fakes import openai_chat as fc
from tests.fakes import openai_responses as fr
from tests.fakes.agentic import (
    CHAT,
    CLAUDE_CODE,
    SHAPES,
    Call,
    Fail,
    Say,
    Seen,
    Shape,
    serving_fake,
)
from tests.fakes.fixtures import recording_proxy, serving
from tests.step_sessions import FLAGGED_CALL, HELPERS, PLANTED, claude_read, record
from tests.support import Cli

QUESTION = "Before I write this, which format are the config files in?"
RULE = "STRICT: no except Exception"
KEY = "sk-test-fake-key-0123456789"


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", KEY)


def flagged(cli: Cli, db_path: Path, shape: Shape) -> str:
    """The session recorded as `shape`'s agent makes it, its third call flagged; the task."""
    fake = {"claude-code": fa.FakeAnthropic, "codex": fr.FakeResponses, "chat": fc.FakeOpenAI}
    with serving(fake[shape.name]()) as upstream:
        upstream.api_key = KEY
        with recording_proxy(db_path, ("", upstream.url)) as proxy:
            record(shape, upstream, proxy.url)
            proxy.flush()
    calls = []
    for conversation in cli.json("ls")["conversations"]:
        calls += cli.json("ls", conversation["id"])["calls"]
    ordered = sorted(calls, key=lambda c: (c["started_at"], c["id"]))
    assert len(ordered) == 5
    cli("flag", ordered[FLAGGED_CALL]["id"], "-c", "broad-except", "--name", shape.name)
    return shape.name


def replay_to(cli: Cli, tmp_path: Path, shape: Shape, fake: Any, *args: str) -> dict[str, Any]:
    """`redline replay` of the shape's task to `fake`, serving: the report's JSON."""
    fake.api_key = KEY
    base = fake.url if shape.wire == "anthropic-messages" else fake.url + "/v1"
    config = tmp_path / "redline.toml"
    config.write_text(
        f'[models.m]\nbase_url = "{base}"\nwire = "{shape.wire}"\nmodel = "m-1"\n'
        'api_key_env = "FAKE_KEY"\nprice_in = 1.0\nprice_out = 2.0\n'
    )
    out = cli("replay", shape.name, "--config", str(config), "-m", "m", *args, "--json")
    return dict(json.loads(out.stdout))


def replayed(
    cli: Cli, tmp_path: Path, shape: Shape, policy: Any, *args: str
) -> tuple[dict[str, Any], Any]:
    """`redline replay` of the shape's task to a fake of its API answering with `policy`: the
    report's JSON, and the fake (what it received)."""
    with serving(serving_fake(shape, policy)) as fake:
        return replay_to(cli, tmp_path, shape, fake, *args), fake


def samples(report: dict[str, Any], variant: str = "baseline") -> list[dict[str, Any]]:
    return [s for s in report["samples"] if s["variant"] == variant]


def bodies(fake: Any) -> list[str]:
    return [r.body.decode() for r in fake.received]


@pytest.fixture(params=list(SHAPES))
def shape(request: pytest.FixtureRequest, cli: Cli, db_path: Path) -> Iterator[Shape]:
    chosen = SHAPES[request.param]
    flagged(cli, db_path, chosen)
    yield chosen


def asks(seen: Seen) -> list[Any]:
    return [Say(QUESTION)]


LOOK = "Let me look first."


def reads_then_writes(shape: Shape, path: str = "config.py") -> Any:
    """Reads `path` first; then writes config.py: carefully when the request carries RULE."""

    def policy(seen: Seen) -> list[Any]:
        if seen.said == LOOK and seen.called(shape.read(path)):
            code = CAREFUL if RULE in seen.body else SWALLOWING
            return [Say("Now the change."), shape.write("config.py", code)]
        return [Say(LOOK), shape.read(path)]

    return policy


# -- outcomes -------------------------------------------------------------------------------------


def test_a_model_that_only_asks_a_question_makes_no_attempt(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    report, fake = replayed(cli, tmp_path, shape, asks, "-n", "2")
    assert [s["outcome"] for s in report["samples"]] == ["no_attempt", "no_attempt"]
    (cell,) = report["cells"]
    assert (cell["passes"], cell["samples"], cell["no_attempts"], cell["rate"]) == (0, 2, 2, 0.0)
    (row,) = report["summary"]
    assert (row["passes"], row["samples"], row["no_attempts"]) == (0, 2, 2)
    first = report["samples"][0]
    assert first["stop"] == "ended" and first["passed"] is False
    assert first["reason"] == "ended its turn without writing code the checks could judge"
    assert len(fake.received) == 2


def test_a_model_that_reads_first_then_writes_bad_code_fails_after_two_steps(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    report, fake = replayed(cli, tmp_path, shape, reads_then_writes(shape), "-n", "1")
    (sample,) = report["samples"]
    assert (sample["outcome"], sample["stop"]) == ("fail", "edited")
    assert [f["check"] for f in sample["findings"]] == ["broad-except"]
    first, second = sample["steps"]
    (read,) = first["calls"]
    assert (read["kind"], read["source"], read["note"]) == ("read", "transcript", "the same call")
    (write,) = second["calls"]
    assert (write["kind"], write["source"]) == ("edit", None)  # the replay stops at the edit
    assert len(fake.received) == 2
    served = fake.received[1].body.decode()
    assert "def load(path):" in served and "return json.load(f)" in served  # what was recorded


def test_the_strict_rules_variant_of_that_model_passes(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    rules = tmp_path / "RULES.md"
    rules.write_text(RULE + ": let every error reach the caller.\n")
    mode = "append" if shape is CHAT else "rules"  # the chat client embeds no rules file
    report, _ = replayed(
        cli, tmp_path, shape, reads_then_writes(shape), "-n", "2", "-p", f"strict={rules}:{mode}"
    )
    assert [s["outcome"] for s in samples(report)] == ["fail", "fail"]
    assert [s["outcome"] for s in samples(report, "strict")] == ["pass", "pass"]
    strict = next(r for r in report["summary"] if r["variant"] == "strict")
    assert (strict["rate"], strict["steps_p50"], strict["max_steps_hit"]) == (1.0, 2, 0)


def test_a_model_that_writes_at_once_passes_or_fails_in_one_step(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    report, fake = replayed(
        cli, tmp_path, shape, lambda seen: [shape.write("config.py", CAREFUL)], "-n", "1"
    )
    (sample,) = report["samples"]
    assert (sample["outcome"], len(sample["steps"]), sample["diverged"]) == ("pass", 1, None)
    assert len(fake.received) == 1


# -- what answers a tool call ---------------------------------------------------------------------


def test_a_read_of_a_file_the_transcript_wrote_gets_what_it_wrote(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    report, fake = replayed(cli, tmp_path, shape, reads_then_writes(shape, "helpers.py"), "-n", "1")
    (sample,) = report["samples"]
    (read,) = sample["steps"][0]["calls"]
    assert (read["source"], read["note"]) == (
        "transcript",
        "the file as the transcript's edits left it",
    )
    served = fake.received[1].body.decode()
    shown = claude_read(HELPERS) if shape is CLAUDE_CODE else HELPERS
    assert json.dumps(shown)[1:-1] in served
    assert sample["outcome"] == "fail"


def test_an_unknown_tool_is_answered_not_available_and_the_run_goes_on(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    def policy(seen: Seen) -> list[Any]:
        if seen.called(shape.unknown):
            return [Say(f"I could not deploy: {seen.results[0][0][:60]}")]
        return [shape.unknown]

    report, fake = replayed(cli, tmp_path, shape, policy, "-n", "1")
    (sample,) = report["samples"]
    (call,) = sample["steps"][0]["calls"]
    assert (call["tool"], call["source"], call["error"]) == (
        shape.unknown.name,
        "unavailable",
        True,
    )
    assert sample["outcome"] == "no_attempt" and len(sample["steps"]) == 2
    said = fake.received[1].body.decode()
    assert f"{shape.unknown.name} is not available in this replay" in said


def test_a_model_that_loops_is_cut_at_max_steps_and_makes_no_attempt(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    report, fake = replayed(
        cli,
        tmp_path,
        shape,
        lambda seen: [Say(LOOK), shape.read("config.py")],
        "-n",
        "1",
        "--max-steps",
        "3",
    )
    (sample,) = report["samples"]
    assert (sample["outcome"], sample["stop"], len(sample["steps"])) == (
        "no_attempt",
        "max_steps",
        3,
    )
    tool = shape.read("config.py").name
    assert sample["reason"] == (
        "reached --max-steps 3 without writing code the checks could judge, making the same "
        f"{tool} call at every step"
    )
    assert report["cells"][0]["max_steps_hit"] == 1 and report["run"]["max_steps"] == 3
    assert len(fake.received) == 3


def test_several_steps_then_several_edits_are_all_judged_in_order(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    bad_helper = (
        "def default_path():\n    try:\n        return cfg()\n    except Exception:\n"
        "        return None\n"
    )

    def policy(seen: Seen) -> list[Any]:
        if seen.said == LOOK and seen.called(shape.read("config.py")):
            return [Say("Run the tests."), shape.run("pytest -q")]
        if seen.called(shape.run("pytest -q")):
            return [shape.write("config.py", CAREFUL), shape.write("helpers.py", bad_helper)]
        if seen.called(shape.write("config.py", CAREFUL)):
            raise AssertionError("the replay asked again after the model edited")
        return [Say(LOOK), shape.read("config.py")]

    report, fake = replayed(cli, tmp_path, shape, policy, "-n", "1")
    (sample,) = report["samples"]
    assert [len(s["calls"]) for s in sample["steps"]] == [1, 1, 2]
    assert [c["source"] for c in sample["steps"][1]["calls"]] == ["unavailable"]
    assert [c["path"].rsplit("/", 1)[-1] for c in sample["code"]] == ["config.py", "helpers.py"]
    (finding,) = sample["findings"]
    assert finding["path"].endswith("helpers.py") and sample["outcome"] == "fail"
    assert len(fake.received) == 3


def test_nothing_recorded_after_the_cut_reaches_a_replay(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    report, fake = replayed(cli, tmp_path, shape, reads_then_writes(shape, "notes.md"), "-n", "1")
    (sample,) = report["samples"]
    (read,) = sample["steps"][0]["calls"]
    assert read["source"] == "unavailable"
    sent = bodies(fake)
    assert len(sent) == 2 and not any(PLANTED in body for body in sent)
    assert "notes.md cannot be read in this replay" in sent[1]


@pytest.mark.parametrize("name", ["codex", "chat"])
def test_arguments_that_are_not_json_are_answered_as_a_tool_error(
    cli: Cli, db_path: Path, tmp_path: Path, name: str
) -> None:
    shape = SHAPES[name]
    flagged(cli, db_path, shape)
    broken = Call(shape.read("config.py").name, '{"path": "config.py", "cmd": "cat con')

    def policy(seen: Seen) -> list[Any]:
        if seen.results and "not valid JSON" in seen.results[0][0]:
            return [shape.write("config.py", CAREFUL)]
        return [broken]

    report, _ = replayed(cli, tmp_path, shape, policy, "-n", "1")
    (sample,) = report["samples"]
    (call,) = sample["steps"][0]["calls"]
    assert (call["source"], call["error"]) == ("invalid", True)
    assert sample["outcome"] == "pass" and len(sample["steps"]) == 2


# -- where the replay went its own way ----------------------------------------------------------


def test_a_replay_that_reads_where_the_original_wrote_says_it_parted_at_step_one(
    cli: Cli, tmp_path: Path, shape: Shape
) -> None:
    report, _ = replayed(cli, tmp_path, shape, reads_then_writes(shape), "-n", "1")
    (sample,) = report["samples"]
    diverged = sample["diverged"]
    assert diverged["step"] == 1
    assert diverged["why"].startswith("read ") and "where the original edited" in diverged["why"]


# -- the cache, with steps ------------------------------------------------------------------------


def test_an_interrupted_trajectory_resumes_without_sending_its_finished_steps(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    flagged(cli, db_path, CHAT)
    healthy = reads_then_writes(CHAT)

    def failing(seen: Seen) -> list[Any]:
        return [Fail(500)] if seen.said == LOOK else healthy(seen)

    with serving(serving_fake(CHAT, failing)) as fake:
        first = replay_to(cli, tmp_path, CHAT, fake, "-n", "1", "--retries", "0")
        (sample,) = first["samples"]
        assert sample["outcome"] == "error"
        assert sample["error"].startswith("step 2: upstream answered 500")
        assert len(fake.received) == 2
        fake.policy = healthy
        second = replay_to(cli, tmp_path, CHAT, fake, "-n", "1")
        (sample,) = second["samples"]
        assert sample["outcome"] == "fail" and sample["from_cache"] is False
        assert [s["from_cache"] for s in sample["steps"]] == [True, False]
        assert len(fake.received) == 3  # only the second step was sent again
        third = replay_to(cli, tmp_path, CHAT, fake, "-n", "1")
    assert third["samples"][0]["from_cache"] is True and len(fake.received) == 3
    assert third["cells"][0]["cost"] == second["cells"][0]["cost"] > 0


def test_each_step_counts_in_tokens_and_cost(cli: Cli, db_path: Path, tmp_path: Path) -> None:
    flagged(cli, db_path, CHAT)
    report, _ = replayed(cli, tmp_path, CHAT, reads_then_writes(CHAT), "-n", "1")
    (sample,) = report["samples"]
    (cell,) = report["cells"]
    steps = sample["steps"]
    assert len(steps) == 2 and all(s["input_tokens"] > 0 for s in steps)
    assert cell["input_tokens"] == sum(s["input_tokens"] for s in steps)
    assert cell["output_tokens"] == sum(s["output_tokens"] for s in steps)
    assert cell["cost"] == round(
        (cell["input_tokens"] * 1.0 + cell["output_tokens"] * 2.0) / 1e6, 6
    )


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", ["0", "-2"])
def test_max_steps_below_one_is_a_usage_error(cli: Cli, steps: str) -> None:
    result = cli(
        "replay", "-m", "openai-chat:m@http://127.0.0.1:9/v1", "--max-steps", steps, expect=2
    )
    (line,) = result.stderr.strip().splitlines()
    assert "--max-steps" in line and "not in the range x>=1" in line


def test_max_steps_one_judges_the_first_answer_only(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    flagged(cli, db_path, CLAUDE_CODE)
    report, fake = replayed(
        cli, tmp_path, CLAUDE_CODE, reads_then_writes(CLAUDE_CODE), "-n", "1", "--max-steps", "1"
    )
    (sample,) = report["samples"]
    assert (sample["outcome"], sample["stop"]) == ("no_attempt", "max_steps")
    assert len(fake.received) == 1


def test_a_sample_with_steps_has_exactly_the_keys_docs_json_md_shows(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    from tests.test_docs import documented_json, key_paths

    flagged(cli, db_path, CLAUDE_CODE)
    report, _ = replayed(cli, tmp_path, CLAUDE_CODE, reads_then_writes(CLAUDE_CODE), "-n", "1")
    (sample,) = report["samples"]
    assert key_paths(sample) == key_paths(documented_json("report")["samples"][0])


def test_a_claude_code_task_replays_past_the_first_step_to_another_api(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    from tests.fakes.agentic import AgenticChat, AgenticResponses

    flagged(cli, db_path, CLAUDE_CODE)
    for fake_class, wire in ((AgenticChat, "openai-chat"), (AgenticResponses, "openai-responses")):
        with serving(fake_class(reads_then_writes(CLAUDE_CODE))) as fake:
            fake.api_key = KEY
            config = tmp_path / "redline.toml"
            config.write_text(
                f'[models.m]\nbase_url = "{fake.url}/v1"\nwire = "{wire}"\nmodel = "m-1"\n'
                'api_key_env = "FAKE_KEY"\n'
            )
            out = cli("replay", "claude-code", "--config", str(config), "-m", "m", "-n", "1")
            report = cli.json("report")
        (sample,) = report["samples"]
        assert (sample["outcome"], len(sample["steps"])) == ("fail", 2), (wire, out.stdout)
        assert sample["steps"][0]["calls"][0]["source"] == "transcript"
        assert "return json.load(f)" in fake.received[1].body.decode()
