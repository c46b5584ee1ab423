"""The web view's "Draft a check": `redline draft` from the "Make a task" form, the stand-in
model drafting, the sandbox proving; the saved check offered in the form at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redline import config
from redline.replay import StandInServer
from redline.ui import UiServer
from tests.support import needs_sandbox
from tests.test_ui import Client, first_call
from tests.test_ui_fixtures import CHROMIUM, CHROMIUM_ARGS, recorded  # noqa: F401

pytestmark = needs_sandbox


@pytest.fixture
def standin() -> Iterator[str]:
    """The stand-in model, as a one-off model spec."""
    with StandInServer() as server:
        yield f"openai-chat:redline-stand-in@{server.url}"


@pytest.fixture
def served(recorded: Path) -> Iterator[UiServer]:  # noqa: F811
    with UiServer(recorded) as server:
        yield server


def test_a_drafted_check_that_holds_is_saved_and_offered_at_once(
    served: UiServer, standin: str
) -> None:
    ui = Client(served)
    call = first_call(ui)
    body = {"note": "swallowed every error", "model": standin}
    drafted = ui.json(f"/api/calls/{call['id']}/draft", body, expect=201)
    assert drafted["saved"] is True
    assert [a["held"] for a in drafted["attempts"]] == [True]
    path = config.checks_dir() / "no_silent_fallback.py"
    assert drafted["check"]["path"] == str(path) and path.is_file()
    listed = {c["name"]: c for c in ui.json("/api/checks")["analyzers"]}
    assert listed["no-silent-fallback"]["origin"] == f"plugin file {path}"
    task = {"call": call["id"], "checks": ["no-silent-fallback"], "name": "drafted"}
    assert ui.json("/api/tasks", task, expect=201)["saved"] is True


def test_a_draft_that_never_holds_is_a_422_and_nothing_is_saved(
    served: UiServer, standin: str
) -> None:
    ui = Client(served)
    call = first_call(ui)
    body = {"note": "the port belongs in the environment", "model": standin, "attempts": 1}
    drafted = ui.json(f"/api/calls/{call['id']}/draft", body, expect=422)
    assert drafted["saved"] is False and drafted["check"] is None
    assert "no ```python block" in drafted["attempts"][0]["reason"]
    assert not config.checks_dir().exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"note": "x"}, "give the model that drafts"),
        ({"model": "m"}, "give a note"),
        ({"note": "x", "model": "openai-chat:m@http://127.0.0.1:9/v1", "attempts": 0}, "attempts"),
        ({"note": "x", "model": "no-such-model"}, "unknown model 'no-such-model'"),
    ],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(
    served: UiServer, body: dict[str, Any], error: str
) -> None:
    ui = Client(served)
    call = first_call(ui)
    answer = ui.json(f"/api/calls/{call['id']}/draft", body, expect=400)
    assert error in answer["error"]


def test_the_draft_button_saves_a_check_and_ticks_it_in_the_form(
    served: UiServer, standin: str
) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip("no chromium binary (/usr/bin/chromium): `apt-get install chromium`")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(served.url + "/")
        page.locator("table.conversations tbody tr a", has_text="Add error handling").click()
        page.locator("section.call").first.get_by_role("button", name="Make a task").click()
        form = page.locator("form.flag-form")
        form.locator(".verdict-list li").first.wait_for()
        form.get_by_label("note").fill("swallowed every error")
        form.locator("[name=draft-model]").fill(standin)
        form.get_by_role("button", name="Draft a check").click()
        form.locator(".drafted .saved").wait_for()
        assert "attempt 1: holds: no-silent-fallback" in form.locator(".drafted").inner_text()
        ticked = form.locator('input[name=check][value="no-silent-fallback"]')
        assert ticked.is_checked()
        form.locator(".verdict-list li.fail", has_text="no-silent-fallback").wait_for()
        browser.close()
    assert errors == []
