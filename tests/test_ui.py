"""The web view's server: each JSON endpoint, the security rules, the store it browses."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from redline.analyzers import default_registry
from redline.transcripts import open_store
from redline.ui import UiServer
from redline.ui.server import CSP, STATIC, TOKEN_HEADER
from tests.support import Cli
from tests.test_ui_fixtures import (
    HOSTILE,
    SWALLOWING,
    config_session,
    hostile_session,
    record,
    recorded,  # noqa: F401
    session,
)


class Client:
    """Plain HTTP to the server, with any Host header and token a test wants."""

    def __init__(self, server: UiServer) -> None:
        self.server = server

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        host: str | None = None,
        token: str | None = "own",
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        headers = {"Host": host or f"127.0.0.1:{self.server.port}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers[TOKEN_HEADER] = self.server.token if token == "own" else token
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            connection.request(method, path, data, headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def json(self, path: str, body: Any = None, expect: int = 200) -> Any:
        status, _, data = self.request("GET" if body is None else "POST", path, body)
        assert status == expect, data
        return json.loads(data)


@pytest.fixture
def ui(recorded: Path) -> Iterator[Client]:  # noqa: F811
    with UiServer(recorded) as server:
        yield Client(server)


def conversation_titled(client: Client, start: str) -> dict[str, Any]:
    listed = client.json("/api/conversations")["conversations"]
    (found,) = [c for c in listed if (c["title"] or "").startswith(start)]
    return dict(found)


def first_call(client: Client, start: str = "Add error handling") -> dict[str, Any]:
    conversation = conversation_titled(client, start)
    return dict(client.json(f"/api/conversations/{conversation['id']}")["calls"][0])


# -- the conversation list ------------------------------------------------------------------


def test_the_list_gives_conversations_newest_first_with_their_totals(ui: Client) -> None:
    page = ui.json("/api/conversations")
    assert page["total"] == 2 and page["offset"] == 0 and page["limit"] == 50
    newest, older = page["conversations"]
    assert newest["title"].startswith("Look at this") and older["calls"] == 2
    assert older["client"] == "aider" and newest["client"] == "claude-cli"
    assert older["input_tokens"] == 2401 and older["cache_read_tokens"] == 2048


def test_the_list_pages_by_offset_and_limit(ui: Client) -> None:
    second = ui.json("/api/conversations?limit=1&offset=1")
    assert second["total"] == 2
    assert [c["title"][:10] for c in second["conversations"]] == ["Add error "]
    past = ui.json("/api/conversations?limit=1&offset=5")
    assert past["conversations"] == [] and past["total"] == 2


def test_the_list_filters_by_agent_model_wire_and_dates(ui: Client) -> None:
    assert ui.json("/api/conversations?client=aider")["total"] == 1
    assert ui.json("/api/conversations?model=gpt-test&wire=openai-chat")["total"] == 2
    assert ui.json("/api/conversations?model=other")["total"] == 0
    today = datetime.now(UTC).date()
    assert ui.json(f"/api/conversations?since={today + timedelta(days=1)}")["total"] == 0
    assert ui.json(f"/api/conversations?until={today - timedelta(days=1)}")["total"] == 0
    assert ui.json(f"/api/conversations?since={today}&until={today}")["total"] == 2


def test_search_finds_text_in_any_message_whatever_its_case(ui: Client) -> None:
    found = ui.json("/api/conversations?q=the%20LOADER%20handles")
    assert [c["title"][:9] for c in found["conversations"]] == ["Add error"]
    assert found["conversations"][0]["snippet"] == "Done: the loader handles `every` error now."


def test_search_reads_tool_calls_and_results_only_when_asked(ui: Client) -> None:
    assert ui.json("/api/conversations?q=except%20Exception:")["total"] == 0
    found = ui.json("/api/conversations?q=except%20Exception:&tools=1")
    assert found["total"] == 1
    assert "except Exception:" in found["conversations"][0]["snippet"]


def test_a_bad_filter_is_a_400_in_json(ui: Client) -> None:
    status, headers, body = ui.request("GET", "/api/conversations?since=yesterday")
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"error": "since is a date, YYYY-MM-DD, not 'yesterday'"}


def test_facets_count_conversations_per_agent_model_and_wire(ui: Client) -> None:
    facets = ui.json("/api/facets")
    assert facets["clients"] == [
        {"value": "aider", "conversations": 1},
        {"value": "claude-cli", "conversations": 1},
    ]
    assert facets["models"] == [{"value": "gpt-test", "conversations": 2}]
    assert facets["wires"] == [{"value": "openai-chat", "conversations": 2}]


def test_has_a_task_filters_on_tasks_flagged_from_the_conversation(ui: Client) -> None:
    call = first_call(ui)
    ui.json("/api/tasks", {"call": call["id"], "checks": ["broad-except"]}, expect=201)
    assert [c["title"][:9] for c in ui.json("/api/conversations?task=yes")["conversations"]] == [
        "Add error"
    ]
    assert ui.json("/api/conversations?task=no")["total"] == 1


# -- a conversation ---------------------------------------------------------------------------


def test_each_call_of_a_timeline_shows_only_what_it_added(ui: Client) -> None:
    conversation = conversation_titled(ui, "Add error")
    timeline = ui.json(f"/api/conversations/{conversation['id']}")
    first, second = timeline["calls"]
    assert [m["role"] for m in first["added"]] == ["system", "user"]
    assert first["tools"][0]["name"] == "write_file" and first["kept"] == 0
    # The second call re-sent the system prompt, the question and the answer: only the tool's
    # result is new, and the tool list, unchanged, is not shown again.
    assert second["kept"] == 3 and not second["rewritten"] and second["tools"] is None
    assert second["added"] == [
        {
            "role": "tool",
            "parts": [{"type": "tool_result", "call_id": "call_1", "content": "Wrote it."}],
        }
    ]
    assert second["answer"]["parts"][0]["text"].startswith("Done:")
    assert first["usage"]["cache_read_tokens"] == 1024 and first["timings"]["ttfb_ms"] == 420.0


def test_a_request_that_rewrites_the_history_says_so(db_path: Path) -> None:
    answer = {"role": "assistant", "content": "First."}
    exchanges = session("Start.", [answer, answer])
    # The agent compacted: the second request drops the first answer and asks again. Its
    # session header keeps it in the same conversation.
    body = json.loads(exchanges[1].request_body)
    body["messages"] = [body["messages"][0], {"role": "user", "content": "Summary, go on."}]
    session_header = ("x-claude-code-session-id", "s-1")
    exchanges = [
        replace(x, request_headers=[*x.request_headers, session_header]) for x in exchanges
    ]
    exchanges[1] = replace(exchanges[1], request_body=json.dumps(body).encode())
    record(db_path, exchanges)
    with open_store(db_path) as store:
        (conversation,) = store.conversations()
        first, second = store.browse.timeline(conversation.id).calls
    assert not first.rewritten
    assert second.rewritten and second.kept == 1
    assert [m["parts"][0]["text"] for m in second.added] == ["Summary, go on."]


def test_the_raw_exchange_is_what_redline_show_json_prints(ui: Client, cli: Cli) -> None:
    call = first_call(ui)
    assert ui.json(f"/api/calls/{call['id']}") == cli.json("show", call["id"])


def test_an_unknown_conversation_is_a_404_in_json(ui: Client) -> None:
    status, _, body = ui.request("GET", "/api/conversations/ZZZZ")
    assert status == 404 and json.loads(body) == {"error": "no conversation matches 'ZZZZ'"}


# -- checks and tasks -------------------------------------------------------------------------


def test_the_checks_are_listed_with_their_options(ui: Client) -> None:
    listed = {a["name"]: a for a in ui.json("/api/checks")["analyzers"]}
    assert {"broad-except", "placeholder", "regex"} <= set(listed)
    options = {o["name"]: o for o in listed["broad-except"]["options"]}
    assert options["allow-logging"]["type"] == "bool"
    assert listed["regex"]["origin"] == "built-in"


def test_a_plugins_checks_are_listed_and_run(recorded: Path, tmp_path: Path) -> None:  # noqa: F811
    plugin = tmp_path / "mine.py"
    plugin.write_text(
        "from redline.analyzers import Finding, Verdict\n"
        "class Loud:\n"
        "    name = 'no-json'\n"
        "    description = 'Fails when the output mentions json.'\n"
        "    options = ()\n"
        "    def check(self, output, context):\n"
        "        hit = 'json' in output.text + ''.join(c.arguments for c in output.tool_calls)\n"
        "        return Verdict.of([Finding(None, None, 'json!')] if hit else [])\n"
        "def register(add):\n"
        "    add(Loud())\n"
    )
    with UiServer(recorded, default_registry([plugin])) as server:
        client = Client(server)
        names = [a["name"] for a in client.json("/api/checks")["analyzers"]]
        assert "no-json" in names
        call = first_call(client)
        tried = client.json(f"/api/calls/{call['id']}/check", {"checks": ["no-json"]})
        assert tried["verdicts"]["output"][0]["passed"] is False


def test_checks_run_live_on_an_output_say_where_and_save_nothing(ui: Client) -> None:
    call = first_call(ui)
    tried = ui.json(f"/api/calls/{call['id']}/check", {"checks": ["broad-except"]})
    assert tried["saved"] is False and tried["catches"] is True
    (verdict,) = tried["verdicts"]["output"]
    assert verdict["check"] == "broad-except" and not verdict["passed"]
    (finding,) = tried["output"]["findings"]
    assert (finding["path"], finding["line"]) == ("config.py", 7)
    (code,) = [c for c in tried["output"]["code"] if c["path"] == "config.py"]
    assert code["code"] == SWALLOWING and code["first_line"] == 1
    assert tried["task"].startswith("broad-except-")
    assert ui.json("/api/tasks")["tasks"] == []


def test_a_task_is_saved_when_a_check_fails_on_the_output(ui: Client) -> None:
    call = first_call(ui)
    made = ui.json(
        "/api/tasks",
        {"call": call["id"], "checks": ["broad-except"], "name": "swallowed", "note": "why"},
        expect=201,
    )
    assert made["saved"] is True and made["task"] == "swallowed" and made["refused"] is None
    (listed,) = ui.json("/api/tasks")["tasks"]
    assert listed["name"] == "swallowed" and listed["origin_call"] == call["id"]
    assert listed["note"] == "why" and listed["last_run"] is None


def test_a_task_no_check_fails_on_is_refused_unless_forced(ui: Client) -> None:
    call = first_call(ui)
    body = {"call": call["id"], "checks": ["regex:pattern=never-written"], "name": "nothing"}
    refused = ui.json("/api/tasks", body, expect=422)
    assert refused["saved"] is False and "every check passes" in refused["refused"]
    assert ui.json("/api/tasks")["tasks"] == []
    forced = ui.json("/api/tasks", {**body, "force": True}, expect=201)
    assert forced["saved"] is True


def test_a_task_the_same_as_one_kept_is_refused_unless_forced(ui: Client) -> None:
    call = first_call(ui)
    body = {"call": call["id"], "checks": ["broad-except"]}
    first = ui.json("/api/tasks", body, expect=201)
    tried = ui.json(f"/api/calls/{call['id']}/check", body)
    assert tried["duplicates"] == [first["task"]]
    refused = ui.json("/api/tasks", body, expect=422)
    assert refused["saved"] is False and refused["duplicates"] == [first["task"]]
    assert "a task already" in refused["refused"]
    assert len(ui.json("/api/tasks")["tasks"]) == 1
    assert ui.json("/api/tasks", {**body, "force": True}, expect=201)["saved"] is True


def test_a_pasted_good_output_that_fails_a_check_refuses_the_task_even_forced(ui: Client) -> None:
    call = first_call(ui)
    bad_good = {"code": SWALLOWING}
    body = {"call": call["id"], "checks": ["broad-except"], "good": bad_good, "force": True}
    refused = ui.json("/api/tasks", body, expect=422)
    assert "fails on the known-good output (pasted code (config.py))" in refused["refused"]
    good = "import json\n\n\ndef load_config(path):\n    return json.load(open(path))\n"
    saved = ui.json("/api/tasks", {**body, "good": {"code": good}}, expect=201)
    assert saved["good_passes"] is True
    assert saved["verdicts"]["good_output"][0]["passed"] is True
    assert saved["good_output"]["source"] == "pasted code (config.py)"


def test_another_calls_answer_is_no_good_output_when_it_wrote_no_code(ui: Client) -> None:
    call = first_call(ui)
    conversation = conversation_titled(ui, "Add error")
    second = ui.json(f"/api/conversations/{conversation['id']}")["calls"][1]  # "Done."
    body = {"call": call["id"], "checks": ["broad-except"], "good": {"call": second["id"]}}
    refused = ui.json("/api/tasks", body, expect=422)
    assert refused["good_output"]["source"] == f"call {second['id']}"
    assert refused["good_passes"] is False and refused["saved"] is False
    assert "wrote no code the checks could judge" in refused["refused"]


def test_a_bad_check_is_a_400_and_nothing_is_saved(ui: Client) -> None:
    call = first_call(ui)
    status, _, body = ui.request("POST", "/api/tasks", {"call": call["id"], "checks": ["nope"]})
    assert status == 400 and "unknown check 'nope'" in json.loads(body)["error"]
    assert ui.json("/api/tasks")["tasks"] == []


def test_a_task_shows_its_transcript_outputs_and_verdicts(ui: Client) -> None:
    call = first_call(ui)
    ui.json("/api/tasks", {"call": call["id"], "checks": ["broad-except"], "name": "t"}, expect=201)
    shown = ui.json("/api/tasks/t")
    assert shown["task"]["name"] == "t" and shown["catches"] is True
    assert [m["role"] for m in shown["task"]["request"]["messages"]] == ["system", "user"]
    assert shown["output"]["findings"][0]["line"] == 7
    assert shown["good_output"] is None


# -- runs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from tests.test_ui_fixtures import demo_store

    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    return db, demo_store(db)


def test_runs_are_listed_and_a_report_is_the_report_json(demo: tuple[Path, str], cli: Cli) -> None:
    db, run_id = demo
    with UiServer(db) as server:
        client = Client(server)
        (listed,) = client.json("/api/runs")["runs"]
        assert listed["id"] == run_id and listed["variants"] == ["baseline", "strict"]
        report = client.json(f"/api/runs/{run_id[:8]}/report")
    assert report == cli.json("report", run_id, "--format", "json", "--db", str(db))
    assert {s["variant"] for s in report["summary"]} == {"baseline", "strict"}


# -- security ---------------------------------------------------------------------------------


def test_the_task_list_gives_the_latest_run_per_model_and_variant(
    demo: tuple[Path, str],
) -> None:
    db, run_id = demo
    with UiServer(db) as server:
        client = Client(server)
        (task,) = client.json("/api/tasks")["tasks"]
        report = client.json(f"/api/runs/{run_id}/report")
    last = task["last_run"]
    assert last["run"] == run_id
    # One cell per model and variant, as the report has them: never pooled into one count.
    assert last["cells"] == [
        {
            "model": s["model"],
            "variant": s["variant"],
            "passes": s["passes"],
            "judged": s["samples"],
        }
        for s in report["summary"]
    ]
    assert [c["variant"] for c in last["cells"]] == ["baseline", "strict"]


def test_only_127_0_0_1_and_localhost_on_its_port_are_answered(ui: Client) -> None:
    port = ui.server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert ui.request("GET", "/api/facets", host=host)[0] == 200
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1", f"localhost.evil:{port}"):
        status, headers, body = ui.request("GET", "/api/conversations", host=host)
        assert status == 421, host
        assert b"Look at this" not in body and headers["Content-Security-Policy"] == CSP


def test_the_server_listens_on_127_0_0_1_only(ui: Client) -> None:
    addresses = [
        a for a in socket.getaddrinfo(socket.gethostname(), None) if a[0] == socket.AF_INET
    ]
    others = {a[4][0] for a in addresses} - {"127.0.0.1"}
    for address in others:
        with pytest.raises(OSError), socket.create_connection((address, ui.server.port), 1):
            pass


def test_a_change_without_the_token_is_refused(ui: Client) -> None:
    call = first_call(ui)
    body = {"call": call["id"], "checks": ["broad-except"]}
    for token in (None, "", "wrong"):
        status, _, answer = ui.request("POST", "/api/tasks", body, token=token)
        assert status == 403 and "token" in json.loads(answer)["error"]
    assert ui.json("/api/tasks")["tasks"] == []
    assert ui.request("POST", "/api/tasks", body)[0] == 201


def test_the_page_carries_the_token_and_a_content_security_policy(ui: Client) -> None:
    status, headers, body = ui.request("GET", "/", token=None)
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert f'<meta name="redline-token" content="{ui.server.token}">' in page
    assert headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    # Nothing from a transcript is in the page itself, and it runs no inline script.
    assert "Look at this" not in page and not re.search(r"<script(?![^>]*\bsrc=)", page)


def test_transcript_text_reaches_the_page_only_as_json(ui: Client) -> None:
    _, headers, body = ui.request("GET", "/api/conversations")
    assert headers["Content-Type"].startswith("application/json")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(body)["conversations"][0]["title"].startswith(HOSTILE[:40])


def test_the_scripts_never_turn_text_into_html() -> None:
    for script in STATIC.glob("*.js"):
        source = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{script.name} uses {sink}"


def test_static_files_are_served_by_plain_name_only(ui: Client) -> None:
    assert ui.request("GET", "/static/app.js")[0] == 200
    for path in ("/static/..%2Fserver.py", "/static/.hidden", "/static/index.html", "/nope"):
        assert ui.request("GET", path)[0] == 404, path


# -- live ---------------------------------------------------------------------------------------


def test_new_calls_are_announced_while_the_proxy_records(ui: Client, recorded: Path) -> None:  # noqa: F811
    connection = http.client.HTTPConnection("127.0.0.1", ui.server.port, timeout=20)
    connection.request("GET", "/api/events")
    response = connection.getresponse()
    assert response.headers["Content-Type"] == "text/event-stream"
    try:
        assert _next_event(response)["calls"] == 3
        record(recorded, hostile_session())
        assert _next_event(response)["calls"] == 4
    finally:
        connection.close()


def _next_event(response: http.client.HTTPResponse) -> dict[str, Any]:
    data = None
    while True:
        line = response.readline().decode()
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n" and data is not None:
            return dict(data)


def test_the_ui_does_not_hold_the_database_between_requests(ui: Client, recorded: Path) -> None:  # noqa: F811
    ui.json("/api/conversations")
    # Another process can open the file for writing at once (DuckDB locks it while open).
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    subprocess.run([sys.executable, "-c", code, str(recorded)], check=True, timeout=30)


# -- the store's browse -------------------------------------------------------------------------


def test_the_search_index_takes_in_only_new_calls(db_path: Path) -> None:
    record(db_path, config_session())
    with open_store(db_path) as store:
        assert store.browse.pending() == 2
        assert store.browse.refresh_index().added == 2
        assert store.browse.refresh_index().added == 0
    record(db_path, hostile_session())
    with open_store(db_path) as store:
        assert store.browse.pending() == 1
        assert store.browse.conversations(text="pwned").total == 1


def test_the_search_index_is_rebuilt_when_its_shape_changes(db_path: Path) -> None:
    record(db_path, config_session())
    with open_store(db_path) as store:
        store.browse.refresh_index()
        store.con.execute("UPDATE browse_meta SET version = 0")
        assert store.browse.pending() == 2
        assert store.browse.conversations(text="the loader handles").total == 1


# -- the command --------------------------------------------------------------------------------


def test_redline_ui_serves_the_database_given_with_db(recorded: Path, tmp_path: Path) -> None:  # noqa: F811
    process = subprocess.Popen(
        [sys.executable, "-m", "redline", "ui", "--port", "0", "--db", str(recorded)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_env(), "REDLINE_DB": str(tmp_path / "other.duckdb")},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert url, line
        connection = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        connection.request("GET", "/api/conversations")
        page = json.loads(connection.getresponse().read())
        connection.close()
        assert page["total"] == 2
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_a_port_in_use_is_one_line_and_exit_code_2(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("ui", "--port", str(port), expect=2)
    assert result.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is in use; choose another with --port"
    )


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
