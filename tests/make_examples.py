"""Make the example task files shipped in transcripts/examples/, the way a user makes tasks:
agent-shaped sessions recorded through the proxy from fake models, flagged, exported.

    .venv/bin/python -m tests.make_examples

Nothing here is real user data: the sessions come from tests/agents.py and the fakes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from redline import config
from redline.cli import app
from redline.proxy import ProxyRunner, Route, ThreadedProxy
from tests.agents import (
    CAREFUL,
    SWALLOWING,
    aider_reply,
    aider_session,
    call_ids,
    claude_code_session,
    codex_session,
    write_block,
)
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fixtures import serving
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.openai_responses import FakeResponses
from tests.support import Cli

EXAMPLES = Path(__file__).parent.parent / "transcripts" / "examples"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "examples.duckdb"
        os.environ["REDLINE_DB"] = str(db)
        good = Path(tmp) / "config.py"
        good.write_text(CAREFUL)
        os.chdir(tmp)  # so the good output's source reads "file config.py"
        with (
            serving(FakeAnthropic()) as anthropic,
            serving(FakeResponses()) as responses,
            serving(FakeOpenAI()) as chat,
        ):
            runner = ProxyRunner(
                [
                    Route.parse("/anthropic", anthropic.url),
                    Route.parse("/responses", responses.url),
                    Route.parse("/chat", chat.url),
                ],
                config.spool_dir(db),
                "127.0.0.1",
                0,
            )
            with ThreadedProxy(runner) as proxy:
                claude_code_session(anthropic, proxy.url + "/anthropic", [write_block(SWALLOWING)])
                codex_session(responses, proxy.url + "/responses", responses.api_key, SWALLOWING)
                aider_session(chat, proxy.url + "/chat", aider_reply(CAREFUL, SWALLOWING))
                proxy.flush()
        cli = Cli()
        claude, codex, aider = call_ids(cli)
        notes = {
            "claude-code-swallows-config-errors": (
                claude,
                "Claude Code was told (CLAUDE.md) never to catch Exception, and wrapped the "
                "config loader in `except Exception: return {}`.",
            ),
            "codex-swallows-config-errors": (
                codex,
                "Codex was told (AGENTS.md) not to swallow exceptions, and patched in a broad "
                "`except Exception`.",
            ),
            "aider-swallows-config-errors": (
                aider,
                "Asked to make the loader never fail, aider hid every error behind "
                "`except Exception: return {}`.",
            ),
        }
        for name, (call, note) in notes.items():
            cli(
                "flag",
                call,
                "-c",
                "broad-except",
                "--name",
                name,
                "--note",
                note,
                "--good",
                good.name,
            )
        result = CliRunner().invoke(app, ["export", "--out", str(EXAMPLES)])
        print(result.output, end="")


if __name__ == "__main__":
    main()
