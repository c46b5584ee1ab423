"""Reading what was recorded stays quick and honest: the readable `show` of a call with
thousands of messages, or one enormous message, prints a bounded amount and says what it left
out; a stream that ends without its end marker is `incomplete` with an error saying why
(issue 13, defect 10: 27 s for 50,000 messages, 326 s for one 33 MB message; a null error)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from redline import config
from redline.commands.display import SHOWN_CHARS, SHOWN_MESSAGES
from redline.proxy import ThreadedProxy
from redline.transcripts import RawExchange, SpoolWriter, new_id
from tests.reliability.support import Upstream, chat_body, completion, request
from tests.support import Cli


def recorded_call(db_path: Path, messages: list[dict[str, str]], cli: Cli) -> str:
    """A call with these request messages, spooled as the proxy would; its id."""
    body = json.dumps({"model": "gpt-test", "messages": messages}).encode()
    json_type = [("Content-Type", "application/json")]
    x = RawExchange(
        new_id(),
        datetime.now(UTC),
        "POST",
        "/v1/chat/completions",
        "",
        "http://upstream",
        json_type,
        body,
        200,
        json_type,
        completion("the answer"),
        1.0,
        2.0,
        "complete",
    )
    writer = SpoolWriter(config.spool_dir(db_path))
    writer.append([x])
    writer.close()
    [conv] = cli.json("ls")["conversations"]
    [call] = cli.json("ls", conv["id"])["calls"]
    return str(call["id"])


def test_show_of_a_call_with_hundreds_of_messages_prints_the_last_ones_and_says_so(
    db_path: Path, cli: Cli
) -> None:
    n = 600
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"} for i in range(n)
    ]
    call = recorded_call(db_path, messages, cli)
    out = cli("show", call).output
    assert f"{n - SHOWN_MESSAGES:,} earlier messages not shown" in out
    assert f"message {n - SHOWN_MESSAGES}\n" not in out and f"message {n - 1}" in out
    assert "the answer" in out
    everything = cli("show", call, "--last", "0").output
    assert "message 0" in everything and "earlier messages" not in everything


def test_show_of_one_huge_message_cuts_it_and_says_how_much_more_there_is(
    db_path: Path, cli: Cli
) -> None:
    huge = "y" * 3_000_000
    call = recorded_call(db_path, [{"role": "user", "content": huge}], cli)
    out = cli("show", call).output
    assert f"{len(huge) - SHOWN_CHARS:,} more characters not shown" in out
    assert len(out) < 4 * SHOWN_CHARS
    assert cli.json("show", call)["request"]["messages"][0]["parts"][0]["text"] == huge


def test_a_stream_that_ends_without_its_end_marker_is_incomplete_with_an_error_saying_why(
    upstream: Upstream, proxy: ThreadedProxy, cli: Cli
) -> None:
    reply = request(
        proxy.url, body=chat_body("cut short", stream=True), headers={"X-Behave": "no-done"}
    )
    assert reply.status == 200
    proxy.flush()
    [conv] = cli.json("ls")["conversations"]
    [call] = cli.json("ls", conv["id"])["calls"]
    shown = cli.json("show", call["id"])
    assert shown["status"] == "incomplete"
    assert "ended without its end marker (data: [DONE])" in shown["error"]
