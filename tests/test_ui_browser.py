"""The web view in a real headless Chromium (Debian's `chromium`, driven by Playwright): from the
list to a flagged task and a run's report, without the terminal.

One browser and one server for the module; the store holds the demo's session, its drafting
call, task and run, and recorded conversations (one whose messages hold markup). Skipped only
when no chromium binary is installed (.ci/run installs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from redline.ui import UiServer, prepare
from tests.test_ui_fixtures import (
    CHROMIUM,
    CHROMIUM_ARGS,
    config_session,
    demo_store,
    hostile_session,
    looping_session,
    record,
    session,
)

TIMEOUT_MS = 10_000
LOOPING_TURNS = 60  # 126 rows: a side call and the agent's each turn, retries every tenth
LOOPING_TITLE = "Turn 1: the tests still fail."  # its first call is a side call

if not Path(CHROMIUM).is_file():
    pytest.skip(
        "no chromium binary (/usr/bin/chromium): `apt-get install chromium`, as .ci/run does",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is in the dev extras: make install"
)
expect = playwright_api.expect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    db = tmp_path_factory.mktemp("ui") / "ui.duckdb"
    demo_store(db)
    now = datetime.now(UTC)
    looped = looping_session(LOOPING_TURNS, now - timedelta(hours=2))
    record(db, looped + config_session(now - timedelta(hours=1)) + hostile_session(now))
    prepare(db, lambda _: None)
    with UiServer(db) as running:
        yield running


@pytest.fixture(scope="module")
def browser(server: UiServer) -> Iterator[Any]:
    # After the server: Playwright's sync API keeps an event loop running in this thread,
    # and the demo's replay starts one of its own.
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: UiServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(server.url + "/")
    yield opened
    context.close()
    assert errors == []


def rows(page: Any) -> Any:
    return page.locator("table.conversations tbody tr")


def open_conversation(page: Any, title_start: str) -> None:
    page.get_by_role("link", name=title_start).first.click()
    page.locator("section.call").first.wait_for()


def test_the_list_shows_every_conversation_newest_first(page: Any) -> None:
    rows(page).first.wait_for()
    # The demo's session and its drafting call (recorded like any call), and the three recorded.
    assert rows(page).count() == 5
    newest = rows(page).first.locator("a.title")
    assert newest.inner_text().startswith("Look at this: <script>window.pwned = 1</script>")
    assert page.locator("table.conversations img").count() == 0
    assert "1 task" in page.locator("table.conversations").inner_text()


def test_search_narrows_the_list_and_marks_what_it_found(page: Any) -> None:
    rows(page).first.wait_for()
    page.get_by_role("searchbox").fill("the LOADER handles")
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url("**q=the+LOADER+handles**")
    expect(rows(page)).to_have_count(1, timeout=TIMEOUT_MS)
    assert rows(page).locator("a.title").inner_text().startswith("Add error handling")
    assert rows(page).locator(".snippet mark").inner_text() == "the loader handles"


def test_a_conversation_is_a_timeline_of_what_each_call_added(page: Any) -> None:
    open_conversation(page, "Add error handling to the config loader")
    calls = page.locator("section.call")
    assert calls.count() == 2
    first = calls.nth(0)
    # The tool's result (sent with the second call) is shown under the tool call that asked.
    assert first.locator(".tool-call .tool-result").count() == 1
    assert "shown with its call above" in calls.nth(1).inner_text()
    assert first.locator("details.tools summary").inner_text() == "tools: write_file"
    assert first.locator("pre.code .tok-keyword", has_text="except").count() >= 1
    assert first.locator(".md strong").inner_text() == "wrap"
    assert "cache 1,024" in first.locator("header .stats").inner_text()
    assert first.locator("a.raw").get_attribute("href").startswith("/api/calls/")


def test_markup_in_a_message_shows_as_text(page: Any) -> None:
    open_conversation(page, "Look at this:")
    main = page.locator("main")
    assert "<script>window.pwned = 1</script>" in main.inner_text()
    assert '<img src=x onerror="window.pwned = 2">' in main.inner_text()
    assert main.locator("img").count() == 0 and main.locator("script").count() == 0
    assert page.evaluate("window.pwned") is None
    # A javascript: link is not made a link.
    assert main.locator("a", has_text="a link").count() == 0


def test_a_long_conversation_shows_its_ends_and_the_rest_on_demand(page: Any) -> None:
    open_conversation(page, LOOPING_TITLE)
    calls = page.locator("section.call")
    expect(calls).to_have_count(40)
    gap = page.locator(".gap")
    assert "86 more rows of calls not shown" in gap.inner_text()
    # The last rows are the end of the session: its last call is there.
    assert "Turn 60: the same fix again." in calls.last.inner_text()
    gap.get_by_role("button", name="Show the next 50").click()
    expect(calls).to_have_count(90)
    assert "36 more rows" in page.locator(".gap").inner_text()
    page.locator(".gap").get_by_role("button", name="Show the next 36").click()
    expect(calls).to_have_count(126)
    assert page.locator(".gap").count() == 0
    rows_shown = [int(r) for r in calls.evaluate_all("cs => cs.map(c => c.dataset.row)")]
    assert rows_shown == list(range(126))


def test_identical_retries_show_as_one_row_with_a_count(page: Any) -> None:
    open_conversation(page, LOOPING_TITLE)
    folded = page.locator("section.call", has=page.locator(".repeats"))
    expect(folded).to_have_count(2)  # of the six, the first view shows turn 10's and turn 60's
    last = folded.last
    assert last.locator(".repeats").inner_text() == "\u00d7 2"
    assert "identical calls" in last.inner_text() and "529" in last.inner_text()
    answered = last.locator("xpath=following-sibling::section[1]")
    assert "The same request as #" in answered.inner_text()
    # The agent's own call after a side call says which call it continues.
    assert "Continues #2." in page.locator("section.call").nth(3).inner_text()


def test_make_a_task_from_an_answer_that_swallows_errors(page: Any) -> None:
    open_conversation(page, "Add error handling to the config loader")
    page.locator("section.call").first.get_by_role("button", name="Make a task").click()
    form = page.locator("form.flag-form")
    # broad-except is ticked to begin with, and its verdict comes without asking.
    verdicts = form.locator(".verdicts")
    verdicts.locator(".verdict-list li.fail").wait_for()
    assert "FAIL broad-except" in verdicts.inner_text()
    hit = verdicts.locator("figure.file pre .line.hit")
    assert hit.count() == 1 and hit.get_attribute("data-line") == "7"
    assert "except Exception:" in hit.inner_text()
    form.get_by_label("note").fill("swallows a broken config")
    form.get_by_role("button", name="Save task").click()
    saved = form.locator(".saved a")
    saved.wait_for()
    name = saved.inner_text()
    assert name.startswith("broad-except-")
    page.get_by_role("link", name="Tasks").click()
    listed = page.locator(f'table.tasks tr[data-task="{name}"]')
    listed.wait_for()
    assert "swallows a broken config" in listed.inner_text()
    listed.get_by_role("link", name=name).click()
    page.locator("figure.file .line.hit").first.wait_for()
    assert "FAIL broad-except" in page.locator("main").inner_text()


def test_a_save_is_not_followed_by_an_error(page: Any) -> None:
    open_conversation(page, "Add error handling to the config loader")
    answer = page.locator("section.call").first
    answer.get_by_role("button", name="Make a task").click()
    form = page.locator("form.flag-form")
    form.locator(".verdict-list li.fail").wait_for()
    form.locator("input[name=drop_last]").fill("1")  # a cut of its own: another task
    # Typed, then saved at once: leaving the field asks for the checks again, after the save.
    form.locator("input[name=name]").fill("saved-once")
    form.get_by_role("button", name="Save task").click()
    form.locator(".saved").wait_for()
    page.wait_for_load_state("networkidle")
    assert form.locator(".error").count() == 0
    assert "FAIL broad-except" in form.locator(".verdicts").inner_text()
    assert form.locator(".saved").inner_text() == "Saved task saved-once."
    # The form made its task: saving again is not offered.
    expect(form.get_by_role("button", name="Save task")).to_be_disabled()
    # A new form on the same answer, cut the same way, says the task exists.
    form.get_by_role("button", name="Close").click()
    answer.get_by_role("button", name="Make a task").click()
    form.locator(".verdict-list li.fail").wait_for()
    form.locator("input[name=drop_last]").fill("1")
    form.locator("input[name=drop_last]").press("Tab")
    warning = form.locator(".duplicate")
    warning.get_by_role("link", name="saved-once").wait_for()
    assert "This call is a task already" in warning.inner_text()


def test_a_task_no_check_fails_on_is_refused(page: Any) -> None:
    open_conversation(page, "Add error handling to the config loader")
    page.locator("section.call").nth(1).get_by_role("button", name="Make a task").click()
    form = page.locator("form.flag-form")
    form.locator(".verdict-list li.pass").wait_for()
    form.get_by_role("button", name="Save task").click()
    refused = form.locator(".refused")
    refused.wait_for()
    assert "every check passes on the original output" in refused.inner_text()


def test_the_task_list_shows_the_latest_run_per_model_and_variant(page: Any) -> None:
    page.get_by_role("link", name="Tasks").click()
    cells = page.locator('table.tasks tr[data-task="demo"] .last-run .cell-line')
    expect(cells).to_have_count(2)
    baseline, strict = cells.nth(0).inner_text(), cells.nth(1).inner_text()
    assert baseline.startswith("stand-in · baseline ") and strict.startswith("stand-in · strict ")
    # Each its own count of judged samples (the demo's 10 a cell), never pooled into 20.
    assert baseline.endswith("/10") and strict.endswith("/10")
    assert (
        page.locator('table.tasks tr[data-task="demo"] .last-run a')
        .inner_text()
        .startswith("run of ")
    )


def test_a_runs_report_shows_its_grid_chart_and_samples(page: Any) -> None:
    page.get_by_role("link", name="Runs").click()
    page.locator("table.runs tbody tr a").first.click()
    page.locator("svg.chart").wait_for()
    grid = page.locator("table.grid")
    assert grid.locator("td.cell").count() == 2
    assert "samples passed" in grid.inner_text() and "95% interval" in grid.inner_text()
    assert page.locator("svg.chart rect.bar").count() == 2
    assert page.locator("svg.chart line.ci").count() >= 2
    assert "strict vs baseline" in page.locator("ul.comparisons").inner_text()
    assert "every time" in grid.inner_text()  # pass^k beside the rate
    assert page.locator("p.detectable").inner_text().startswith("With 1 task ×")
    failed = page.locator("details.sample.failed").first
    failed.locator("summary").click()
    assert failed.locator(".line.hit").count() >= 1


def test_new_calls_appear_while_the_proxy_records(page: Any, server: UiServer) -> None:
    rows(page).first.wait_for()
    page.locator("#live.on").wait_for()
    before = rows(page).count()
    answer = {"role": "assistant", "content": "Recorded just now."}
    asked = "A question asked while the page is open."
    record(server.db, session(asked, [answer], at=datetime.now(UTC)))
    # No eval here: the page's Content-Security-Policy forbids it, Playwright's too.
    expect(rows(page)).to_have_count(before + 1, timeout=TIMEOUT_MS)
    # Marked as new until the page is left.
    assert rows(page).first.locator("a.title").inner_text() == asked
    assert rows(page).first.get_attribute("class") == "fresh"


@pytest.fixture(scope="module")
def stepped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """A store with one run whose samples took steps or made no attempt: the Claude Code
    example task replayed to a model that reads first, then writes, and to one that only asks.
    The CLI runs in its own process: Playwright keeps an event loop in this thread."""
    import os
    import subprocess
    import sys

    from tests.fakes.agentic import CLAUDE_CODE, Say, serving_fake
    from tests.fakes.fixtures import serving

    def reads_then_writes(seen: Any) -> list[Any]:
        if seen.said == "Let me look first.":
            return [CLAUDE_CODE.write("config.py", "x = 1\n")]
        return [Say("Let me look first."), CLAUDE_CODE.read("config.py")]

    folder = tmp_path_factory.mktemp("stepped")
    db = folder / "stepped.duckdb"
    with (
        serving(serving_fake(CLAUDE_CODE, reads_then_writes)) as reader,
        serving(serving_fake(CLAUDE_CODE, lambda seen: [Say("Which format?")])) as asker,
    ):
        config = folder / "redline.toml"
        config.write_text(
            "".join(
                f'[models.{name}]\nbase_url = "{fake.url}"\nwire = "anthropic-messages"\n'
                f'model = "{name}-1"\napi_key_env = "STEPPED_KEY"\n'
                for name, fake in (("reader", reader), ("asker", asker))
            )
        )
        replay = ["replay", "claude-code-swallows-config-errors", "--config", str(config)]
        for args in (["import", "--examples"], [*replay, "-m", "reader", "-m", "asker", "-n", "1"]):
            done = subprocess.run(
                [sys.executable, "-m", "redline", *args, "--db", str(db)],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "STEPPED_KEY": reader.api_key},
            )
            assert done.returncode == 0, done.stderr
    prepare(db, lambda _: None)
    with UiServer(db) as running:
        yield running


def test_a_runs_samples_show_their_steps_and_their_no_attempts(
    stepped: UiServer, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stepped.url + "/#/runs")
    page.locator("table.runs tbody tr a").first.click()
    page.locator("svg.chart").wait_for()
    assert "never wrote code the checks could judge" in page.locator("p.no-attempts").inner_text()
    assert "1 no attempt" in page.locator("table.grid").inner_text()
    asked = page.locator("details.sample.no-attempt").first
    asked.locator("summary").click()
    assert "ended its turn without writing code" in asked.inner_text()
    read = page.locator("details.sample.passed").first
    read.locator("summary").click()
    steps = read.locator("ol.steps li")
    assert steps.count() == 2
    assert steps.nth(0).inner_text().startswith("Read /repo/config.py: not available")
    assert "not answered: the replay stops here" in steps.nth(1).inner_text()
    context.close()
    assert errors == []
