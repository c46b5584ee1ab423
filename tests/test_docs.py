"""README.md stays true: every command is documented, and the JSON examples have the real keys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai
import pytest
import typer

from redline.cli import app
from redline.proxy import ThreadedProxy
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.support import Cli

README = (Path(__file__).parent.parent / "README.md").read_text()


def documented_json(name: str) -> Any:
    found = re.search(rf"<!-- json: {re.escape(name)} -->\s*```json\n(.*?)```", README, re.S)
    assert found, f"README.md has no JSON example marked `<!-- json: {name} -->`"
    return json.loads(found.group(1))


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of dicts, looking into the first element of lists."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("raw", "params", "extra", "parameters", "data"):  # free-form by design
                paths.add(prefix + k)
                continue
            paths.add(prefix + k)
            paths |= key_paths(v, prefix + k + ".")
    elif isinstance(value, list) and value:
        for item in value:
            paths |= key_paths(item, prefix + "[].")
    return paths


def test_every_command_is_documented_with_an_example() -> None:
    group = typer.main.get_command(app)
    for name in group.commands:  # type: ignore[attr-defined]
        assert f"### `redline {name}`" in README, f"README.md has no section for `redline {name}`"
        assert re.search(rf"^redline {name}\b", README, re.M), (
            f"README.md has no example of `redline {name}`"
        )


def test_readme_starts_with_make_demo_then_make_test() -> None:
    quick = README[README.index("## Quick start") :]
    commands = re.search(r"```sh\n(\S+ \S+)[^\n]*\n(\S+ \S+)", quick)
    assert commands and commands.groups() == ("make demo", "make test")


def test_the_json_examples_have_exactly_the_keys_the_commands_print(
    fake_openai: FakeOpenAI, proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_openai.script.append(
        Answer(text="Let me look first.", tool_calls=[("read_file", '{"path": "config.py"}')])
    )
    c = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake_openai.api_key, max_retries=0)
    c.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "developer", "content": "rules"}, {"role": "user", "content": "go"}],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "read_file",
                    "description": "Read a file.",
                    "parameters": {"type": "object"},
                },
            }
        ],
    )
    proxy.flush()
    listing = cli.json("ls")
    conversation = cli.json("ls", listing["conversations"][0]["id"])
    shown = cli.json("show", conversation["calls"][0]["id"])
    for name, real in (("ls", listing), ("ls-conversation", conversation), ("show", shown)):
        assert key_paths(documented_json(name)) == key_paths(real), name


def test_the_task_json_examples_have_exactly_the_keys_the_commands_print(cli: Cli) -> None:
    cli("import", "--examples")
    listing = cli.json("tasks")
    shown = cli.json("task", "show", "claude-code-swallows-config-errors")["task"]
    assert key_paths(documented_json("tasks")) == key_paths(listing)
    documented = documented_json("task-file")
    assert key_paths(documented) <= key_paths(shown) | {"good_output.message.parts.[].text"}
    assert {k for k in key_paths(shown) if "." not in k} == set(documented)


def test_the_run_json_examples_have_exactly_the_keys_the_commands_print(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.fixtures import serving
    from tests.fakes.flaky import RuleAwareModel

    cli("import", "--examples")
    with serving(RuleAwareModel()) as fake:
        config = tmp_path / "redline.toml"
        config.write_text(
            f'[models.m]\nbase_url = "{fake.url}/v1"\nwire = "openai-chat"\nmodel = "m"\n'
            'api_key_env = ""\nprice_in = 1.0\nprice_out = 2.0\n'
        )
        rules = tmp_path / "RULES.md"
        rules.write_text(RuleAwareModel.RULE)
        cli(
            "replay",
            "aider-swallows-config-errors",
            "--config",
            str(config),
            "-m",
            "m",
            "-n",
            "2",
            "-p",
            f"strict={rules}",
        )
    report = cli.json("report")
    assert key_paths(documented_json("runs")) == key_paths(cli.json("runs"))
    documented = key_paths(documented_json("report"))
    real = key_paths(report)
    # The example shows an error and losses; this run had neither, which only removes keys.
    assert real <= documented
    assert documented - real <= {
        "errors.[].task",
        "errors.[].model",
        "errors.[].variant",
        "errors.[].sample",
        "errors.[].error",
        "tasks.[].losses.gpt-x",
    }
