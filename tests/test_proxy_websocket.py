"""The Responses API over a WebSocket, as recent Codex versions use it, through the proxy."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from redline.proxy import ThreadedProxy
from tests.fakes import http
from tests.fakes.fixtures import CODEX_TOOLS, only_call, recording_proxy, serving, shown_calls
from tests.fakes.openai_responses import Answer, FakeResponses
from tests.support import Cli

TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}


def create(**body: Any) -> str:
    """A `response.create` frame as Codex sends it: the request body's fields at the top."""
    return json.dumps(
        {
            "type": "response.create",
            "model": "gpt-5-codex",
            "instructions": "You are Codex, a coding agent.",
            "tools": CODEX_TOOLS,
            "store": False,
            **body,
        }
    )


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def converse(url: str, api_key: str, *frames: str) -> list[list[str]]:
    """Send each frame on one WebSocket, waiting for its turn to end; the frames of each turn."""

    async def run() -> list[list[str]]:
        headers = {
            "Authorization": f"Bearer {api_key}",
            "OpenAI-Beta": "responses_websockets=2026-02-06",
            "session_id": "019a-codex-session",
        }
        turns: list[list[str]] = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{url}/v1/responses", headers=headers) as ws,
        ):
            for frame in frames:
                await ws.send_str(frame)
                turn: list[str] = []
                async for msg in ws:
                    assert msg.type == aiohttp.WSMsgType.TEXT, msg
                    turn.append(msg.data)
                    if json.loads(msg.data)["type"] in TERMINAL:
                        break
                turns.append(turn)
        return turns

    return asyncio.run(run())


async def last_event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    async for msg in ws:
        event = json.loads(msg.data)
        if event["type"] in TERMINAL:
            return dict(event)
    raise AssertionError("the WebSocket closed before the turn ended")


def events(turn: list[str]) -> list[dict[str, Any]]:
    return [json.loads(frame) for frame in turn]


def test_frames_pass_through_unchanged_both_ways(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy
) -> None:
    frame = create(input=[user("List the files.")])
    direct = converse(fake_responses.url, fake_responses.api_key, frame)
    proxied = converse(responses_proxy.url, fake_responses.api_key, frame)
    assert proxied == direct
    assert fake_responses.frames == [frame, frame]
    assert events(proxied[0])[-1]["type"] == "response.completed"


def test_each_turn_is_recorded_as_a_websocket_call_of_the_responses_wire(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_responses.script.append(Answer(text="Here are the files.", reasoning="Just list them."))
    (turn,) = converse(
        responses_proxy.url,
        fake_responses.api_key,
        create(input=[user("List the files.")], include=["reasoning.encrypted_content"]),
    )
    responses_proxy.flush()
    shown = only_call(cli)
    assert (shown["method"], shown["wire"], shown["status"]) == (
        "WEBSOCKET",
        "openai-responses",
        "complete",
    )
    completed = events(turn)[-1]["response"]
    assert shown["response"]["id"] == completed["id"]
    text = "".join(e["delta"] for e in events(turn) if e["type"] == "response.output_text.delta")
    thinking, answer = shown["response"]["message"]["parts"]
    assert (thinking["text"], thinking["redacted"]) == (
        "Just list them.",
        completed["output"][0]["encrypted_content"],
    )
    assert answer["text"] == text == "Here are the files."
    assert shown["usage"]["input_tokens"] == completed["usage"]["input_tokens"]


def test_a_turn_with_previous_response_id_and_only_new_items_joins_the_first_turns_conversation(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    fake_responses.script.extend(
        [
            Answer(calls=[("exec_command", '{"cmd": "ls"}')]),
            Answer(text="There are two files."),
        ]
    )

    async def two_turns() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"{responses_proxy.url}/v1/responses",
                headers={"Authorization": f"Bearer {fake_responses.api_key}"},
            ) as ws,
        ):
            await ws.send_str(create(input=[user("List the files.")]))
            first = await last_event(ws)
            call = first["response"]["output"][0]
            output = {"type": "function_call_output", "call_id": call["call_id"], "output": "a b"}
            await ws.send_str(create(previous_response_id=first["response"]["id"], input=[output]))
            await last_event(ws)

    asyncio.run(two_turns())
    responses_proxy.flush()
    convs = cli.json("ls")["conversations"]
    assert [conv["calls"] for conv in convs] == [2]
    first, second = shown_calls(cli)
    assert [m["role"] for m in second["request"]["messages"]] == ["tool"]
    assert second["request"]["params"]["previous_response_id"] == first["response"]["id"]
    assert second["response"]["message"]["parts"][0]["text"] == "There are two files."


def test_an_error_frame_ends_the_turn_and_records_it_as_failed(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy, cli: Cli
) -> None:
    (turn,) = converse(
        responses_proxy.url,
        fake_responses.api_key,
        create(previous_response_id="resp_forgotten", input=[user("Go on.")]),
    )
    (error,) = events(turn)
    assert error["type"] == "error"
    responses_proxy.flush()
    shown = only_call(cli)
    assert shown["status"] == "error"
    assert "previous_response_not_found" in shown["error"]


def test_a_refused_upgrade_is_passed_back_so_the_client_can_fall_back_to_http(
    db_path: Path,
) -> None:
    with (
        serving(FakeResponses(websocket=False)) as fake,
        recording_proxy(db_path, ("", fake.url)) as proxy,
    ):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            converse(proxy.url, fake.api_key, create(input=[user("hi")]))
        assert caught.value.status == 405
        with openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=fake.api_key, max_retries=0) as c:
            answer = c.responses.create(model="gpt-5-codex", input="hi")
    assert answer.output_text.startswith("You said:")


def test_a_refused_handshake_comes_back_with_the_upstreams_error_body(
    fake_responses: FakeResponses, responses_proxy: ThreadedProxy
) -> None:
    handshake = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Authorization": "Bearer sk-wrong",
    }
    direct = http.request("GET", f"{fake_responses.url}/v1/responses", None, handshake)
    proxied = http.request("GET", f"{responses_proxy.url}/v1/responses", None, handshake)
    assert direct.status == 401
    assert (proxied.status, proxied.body) == (direct.status, direct.body)
    assert proxied.headers["content-type"] == direct.headers["content-type"]
