"""The docs stay true: README.md and the docs/ pages document every command with an example,
their generated parts are what `make docs` writes, their links lead somewhere, and the JSON
examples have exactly the keys the commands print."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import openai
import pytest

from redline.proxy import ThreadedProxy
from tests.fakes.openai_chat import Answer, FakeOpenAI
from tests.support import Cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
PAGES = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
DOCS = "\n".join([README, *PAGES.values()])
FENCE = re.compile(r"^(`{3,}).*?^\1$", re.S | re.M)


def _generator() -> ModuleType:
    """docs/generate.py, the script `make docs` runs."""
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _generator()


def documented_json(name: str) -> Any:
    found = re.findall(rf"<!-- json: {re.escape(name)} -->\s*```json\n(.*?)```", DOCS, re.S)
    assert len(found) == 1, (
        f"the docs hold {len(found)} JSON examples marked `<!-- json: {name} -->`"
    )
    return json.loads(found[0])


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


def anchors(text: str) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces
    as hyphens, a repeated heading numbered."""
    seen: Counter[str] = Counter()
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return found


def test_every_command_has_a_section_with_an_example() -> None:
    for name in generate.commands():
        top = name.split()[1]
        pages = [p for p, t in PAGES.items() if re.search(rf"^#+ `redline {top}`", t, re.M)]
        assert len(pages) == 1, f"{len(pages)} docs pages have a section for `redline {top}`"
        assert re.search(rf"^{name}\b", PAGES[pages[0]], re.M), (
            f"docs/{pages[0]} has no example of `{name}`"
        )


def test_the_generated_parts_of_the_pages_are_what_make_docs_writes() -> None:
    regions = generate.expected_regions()
    for name, text in PAGES.items():
        assert generate.render(text, regions) == text, f"docs/{name} is stale: run `make docs`"


def test_every_command_and_built_in_check_has_its_generated_region_once() -> None:
    assert generate.missing(PAGES.values(), generate.expected_regions()) == []
    held = Counter(m["key"] for text in PAGES.values() for m in generate.REGION.finditer(text))
    assert [key for key, n in held.items() if n > 1] == []


def test_a_generated_region_naming_no_command_or_check_is_refused() -> None:
    page = "<!-- make docs: options redline nothing -->\n<!-- end make docs -->\n"
    with pytest.raises(generate.StaleRegion, match="redline nothing"):
        generate.render(page, generate.expected_regions())


def test_the_readme_starts_with_make_demo_then_make_test() -> None:
    quick = README[README.index("## Quick start") :]
    commands = re.search(r"```sh\n(\S+ \S+)[^\n]*\n(\S+ \S+)", quick)
    assert commands and commands.groups() == ("make demo", "make test")


def test_the_readme_links_every_docs_page() -> None:
    for name in PAGES:
        assert re.search(rf"\]\(docs/{re.escape(name)}[)#]", README), f"README.md omits {name}"


def test_the_readme_stays_what_a_person_reads_first() -> None:
    assert len(README.encode()) < 12 * 1024, "README.md grew: move the reference into docs/"


def test_every_link_between_the_pages_leads_somewhere() -> None:
    pages = {ROOT / "README.md": README} | {ROOT / "docs" / n: t for n, t in PAGES.items()}
    for page, text in pages.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", text)):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name} links to {target}: no such file"
            if anchor and linked.suffix == ".md":
                assert anchor in anchors(linked.read_text()), (
                    f"{page.name} links to {target}: no such heading"
                )


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


CALL_KEYS = ("tool", "arguments", "kind", "source", "size", "error", "note")


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
    # The example shows an error, losses, a tool call and a first step that parted from the
    # original; this run (aider: no tools) had none of them, which only removes keys.
    assert real <= documented
    assert documented - real <= {
        "errors.[].task",
        "errors.[].model",
        "errors.[].variant",
        "errors.[].sample",
        "errors.[].error",
        "tasks.[].losses.gpt-x",
        "samples.[].diverged.step",
        "samples.[].diverged.why",
        *(f"samples.[].steps.[].calls.[].{k}" for k in CALL_KEYS),
    }
