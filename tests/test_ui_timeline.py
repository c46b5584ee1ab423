"""A conversation's timeline on a long session (issue 23): an agent that looped, with side calls
and retries in the same session, comes a page at a time, each call with what it added
relative to its place in the message tree, identical retries as one row, every page bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from redline.transcripts import open_store
from redline.ui import UiServer
from tests.test_ui import Client
from tests.test_ui_fixtures import SIDE_TOOLS, looping_session, record, session

TURNS = 30  # a side call and a main call each, and two overloaded retries every tenth turn
ROWS = 2 * TURNS + TURNS // 10  # the retries of a turn fold into one row


@pytest.fixture
def looping(db_path: Path) -> str:
    """The looping session in the test's database; returns its conversation's id."""
    record(db_path, looping_session(TURNS, datetime.now(UTC) - timedelta(hours=1)))
    with open_store(db_path) as store:
        (conversation,) = store.conversations()
    return conversation.id


@pytest.fixture
def ui(db_path: Path, looping: str) -> Iterator[Client]:
    with UiServer(db_path) as server:
        yield Client(server)


def every_row(db: Path, conversation: str) -> list[Any]:
    with open_store(db) as store:
        return store.browse.timeline(conversation, limit=200, last=0).calls


def test_a_long_conversation_shows_its_first_and_last_rows_first(ui: Client, looping: str) -> None:
    page = ui.json(f"/api/conversations/{looping}")
    assert page["rows"] == ROWS and page["conversation"]["calls"] == 2 * TURNS + 2 * (TURNS // 10)
    shown = [c["row"] for c in page["calls"]]
    assert shown == [*range(20), *range(ROWS - 20, ROWS)]


def test_the_rows_between_come_on_demand(ui: Client, looping: str) -> None:
    page = ui.json(f"/api/conversations/{looping}?offset=20&limit=15&last=0")
    assert [c["row"] for c in page["calls"]] == list(range(20, 35))
    assert page["rows"] == ROWS


def test_a_bad_page_is_a_400(ui: Client, looping: str) -> None:
    status, _, body = ui.request("GET", f"/api/conversations/{looping}?offset=-1")
    assert status == 400 and "offset cannot be negative" in json.loads(body)["error"]


def test_identical_retries_are_one_row_with_a_count(db_path: Path, looping: str) -> None:
    rows = every_row(db_path, looping)
    folded = [r for r in rows if r.repeats > 1]
    assert len(folded) == TURNS // 10
    retry = folded[0]
    assert retry.repeats == 2 and retry.http_status == 529 and retry.answer is None
    assert retry.last_id != retry.id and retry.last_at > retry.started_at
    # The request they re-sent, answered at last: it adds nothing, but its answer.
    answered = rows[retry.row + 1]
    assert answered.added == [] and answered.kept == answered.messages
    assert answered.parent_seq == retry.seq and answered.continues_previous
    assert answered.answer is not None and answered.answer["role"] == "assistant"


def test_a_call_after_a_side_call_continues_its_own_thread(db_path: Path, looping: str) -> None:
    rows = every_row(db_path, looping)
    side, main = rows[4], rows[5]  # turn 3: the side call, then the agent's own
    assert main.parent_seq == rows[3].seq and not main.continues_previous
    assert not main.rewritten and main.kept == main.messages - 1
    (added,) = main.added  # the tool's result, and nothing of the side call
    assert added["role"] == "tool"
    # The side call asks its own question under its own system message: a branch.
    assert side.rewritten and side.kept == 1
    assert [m["parts"][0]["text"] for m in side.added] == ["Turn 3: the tests still fail."]


def test_a_tool_list_is_sent_once_however_often_it_returns(db_path: Path, looping: str) -> None:
    rows = every_row(db_path, looping)
    listed = [(r.row, [t["name"] for t in r.tools]) for r in rows if r.tools is not None]
    assert listed == [(0, ["report"]), (1, ["write_file"])]
    # The agent's first call has other tools than the side call before it; after that, each
    # call has its parent's.
    assert [r.row for r in rows if r.tools_changed] == [1]


def test_tools_changed_back_name_the_call_that_showed_them(db_path: Path) -> None:
    answers = [{"role": "assistant", "content": f"Step {n}."} for n in range(3)]
    calls = session("Plan, then work.", answers)
    # The agent switches to a plan mode's tools and back, in one thread.
    body = json.loads(calls[1].request_body)
    calls[1] = replace(calls[1], request_body=json.dumps({**body, "tools": SIDE_TOOLS}).encode())
    record(db_path, calls)
    with open_store(db_path) as store:
        (conversation,) = store.conversations()
    first, plan, back = every_row(db_path, conversation.id)
    assert plan.tools is not None and plan.tools_changed and plan.tools_from is None
    assert back.tools is None and back.tools_changed and back.tools_from == first.seq


def test_long_messages_are_cut_and_a_page_stops_at_its_size_bound(db_path: Path) -> None:
    told = "x = 1\n" * 20_000  # 120 KB, the tool's same answer every turn
    record(db_path, looping_session(25, datetime.now(UTC), result=told))
    with UiServer(db_path) as server:
        client = Client(server)
        (conversation,) = client.json("/api/conversations")["conversations"]
        path = f"/api/conversations/{conversation['id']}"
        pages = []
        for query in ("", "?limit=200&last=0", "?limit=0&last=200"):
            status, _, body = client.request("GET", path + query)
            assert status == 200 and len(body) < 2_000_000
            pages.append(json.loads(body))
    everything = pages[1]
    # Asked for every row, it stops at its bound; the rest comes with the next request.
    assert 1 < len(everything["calls"]) < everything["rows"]
    results = [
        m["parts"][0]["content"]
        for c in everything["calls"]
        for m in c["added"]
        if m["role"] == "tool"
    ]
    assert results and all(len(r) < 60_000 for r in results)
    assert results[0].endswith("more characters: the call's raw JSON has them all]")
    # The last rows, asked from the end, come from the end.
    assert pages[2]["calls"][-1]["row"] == pages[2]["rows"] - 1
