"""The `redline scan` JSON examples (docs/json.md) have exactly the keys the command prints."""

from __future__ import annotations

from pathlib import Path

from redline.proxy import ThreadedProxy
from tests.agents import (
    SWALLOWING,
    calls_by_time,
    claude_code_turns,
    says,
    write_block,
)
from tests.fakes import anthropic as fa
from tests.fakes.anthropic import FakeAnthropic
from tests.support import Cli
from tests.test_docs import documented_json, key_paths

RAISES = """
class Raises:
    name = "raises"
    description = "Always raises."
    options = ()

    def check(self, output, context):
        raise ValueError("oops")


def register(add):
    add(Raises())
"""


def test_the_scan_json_examples_have_exactly_the_keys_scan_prints(
    fake_anthropic: FakeAnthropic, anthropic_proxy: ThreadedProxy, cli: Cli, tmp_path: Path
) -> None:
    claude_code_turns(
        fake_anthropic,
        anthropic_proxy.url,
        ([write_block(SWALLOWING)], says("No, don't catch all exceptions: you ignored CLAUDE.md")),
        ([fa.Text("Sorry.")], says("Go on.")),
    )
    anthropic_proxy.flush()
    first, _ = calls_by_time(cli)
    cli("flag", first, "-c", "broad-except")
    plugin = tmp_path / "raises.py"
    plugin.write_text(RAISES)
    scanned = cli.json("scan", "-c", "broad-except", "-c", "raises", "--plugin", str(plugin))
    assert scanned["calls"] and scanned["errors"]
    assert key_paths(documented_json("scan")) == key_paths(scanned)
    corrected = cli.json("scan", "--corrections")
    assert corrected["corrections"]
    assert key_paths(documented_json("scan-corrections")) == key_paths(corrected)
    both = cli.json("scan", "-c", "broad-except", "--corrections")
    assert set(both) == set(documented_json("scan")) | {"corrections"}
