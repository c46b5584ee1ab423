"""The web view's screenshots (docs/browsing.md), taken in headless Chromium (Debian's `chromium`).

    .venv/bin/python docs/screenshots.py        # from the repository's root; writes docs/ui-*.png

The store is made for the pictures: the demo's session, task and run (`redline demo`), and a few
recorded agent sessions (tests/test_ui_fixtures.py), so every page has something to show.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from redline.ui import UiServer, prepare
from tests.test_ui_fixtures import (
    CHROMIUM,
    CHROMIUM_ARGS,
    config_session,
    demo_store,
    record,
    session,
    tool_call,
)

DOCS = Path(__file__).resolve().parent

PATCH = (
    "def retry(send, attempts=3):\n"
    "    for n in range(attempts):\n"
    "        try:\n"
    "            return send()\n"
    "        except Exception:\n"
    "            pass  # try again\n"
)


def scene(db: Path) -> None:
    demo_store(db)
    now = datetime.now(UTC)
    record(db, config_session(now - timedelta(hours=3)))
    record(
        db,
        session(
            "The upload sometimes times out. Make `send_chunk` retry three times.",
            [
                {
                    "role": "assistant",
                    "content": "I'll add a small `retry` helper and use it in `send_chunk`.",
                    "tool_calls": [tool_call("call_r1", "upload/retry.py", PATCH)],
                },
                {"role": "assistant", "content": "Done: `send_chunk` now retries 3 times."},
            ],
            agent="claude-cli/1.0.83 (external, cli)",
            at=now - timedelta(hours=1),
        ),
    )
    record(
        db,
        session(
            "Why does test_parse_headers fail on Windows?",
            [{"role": "assistant", "content": "Line endings: the fixture file has `\\r\\n`."}],
            agent="codex_cli_rs/0.24.0",
            at=now - timedelta(minutes=20),
        ),
    )
    prepare(db, lambda _: None)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="redline-shots-") as tmp:
        db = Path(tmp) / "shots.duckdb"
        scene(db)
        with UiServer(db) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(server.url + "/")
            page.locator("table.conversations tbody tr").first.wait_for()
            page.screenshot(path=DOCS / "ui-conversations.png")

            page.get_by_role("link", name="Add error handling to config.py").click()
            page.locator("section.call").first.wait_for()
            page.screenshot(path=DOCS / "ui-conversation.png")

            page.locator("section.call").first.get_by_role("button", name="Make a task").click()
            page.locator(".verdict-list li.fail").wait_for()
            page.locator("form.flag-form .verdicts figure.file").scroll_into_view_if_needed()
            page.locator("form.flag-form").screenshot(path=DOCS / "ui-make-task.png")

            page.get_by_role("link", name="Runs").click()
            page.locator("table.runs tbody tr a").first.click()
            page.locator("svg.chart").wait_for()
            page.screenshot(path=DOCS / "ui-report.png")
            browser.close()
    for name in ("conversations", "conversation", "make-task", "report"):
        path = DOCS / f"ui-{name}.png"
        print(f"wrote {path.relative_to(DOCS.parent)} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
