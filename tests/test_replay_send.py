"""Sending replayed requests: retried with backoff on 429, 5xx, hangs and resets (Retry-After
honoured), never following a redirect, an error after the last attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from redline.replay.models import one_off
from redline.replay.send import Policy, Sender, Sent, retry_after
from tests.fakes.flaky import Behaviour, FlakyModel
from tests.fakes.server import ServerThread

BODY = {"model": "m", "messages": [{"role": "user", "content": "go"}]}


@pytest.fixture
def flaky() -> Iterator[FlakyModel]:
    fake = FlakyModel()
    with ServerThread(fake.app()) as server:
        fake.url = server.url
        yield fake


def send(fake: FlakyModel, policy: Policy, waits: list[float] | None = None) -> Sent:
    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    async def go() -> Sent:
        model = one_off(f"openai-chat:m@{fake.url}/v1")
        async with aiohttp.ClientSession() as session:
            return await Sender(session, policy, sleep=sleep).send(model, BODY)

    return asyncio.run(go())


def test_an_answer_comes_back_parsed(flaky: FlakyModel) -> None:
    sent = send(flaky, Policy())
    assert sent.error is None and sent.attempts == 1 and sent.http_status == 200
    assert sent.response is not None and "except Exception" in sent.response.message.text


def test_5xx_is_retried_with_growing_backoff(flaky: FlakyModel) -> None:
    flaky.script.extend([Behaviour("status", 500), Behaviour("status", 503)])
    waits: list[float] = []
    sent = send(flaky, Policy(backoff=1.0), waits)
    assert sent.response is not None and sent.attempts == 3
    assert len(waits) == 2 and 0.5 <= waits[0] < 1.5 and 1.0 <= waits[1] < 3.0


def test_429_waits_as_retry_after_says(flaky: FlakyModel) -> None:
    flaky.script.append(Behaviour("status", 429, {"Retry-After": "7"}))
    waits: list[float] = []
    sent = send(flaky, Policy(), waits)
    assert sent.response is not None and waits == [7.0]


def test_a_retry_after_longer_than_max_wait_ends_the_sample_at_once_saying_so(
    flaky: FlakyModel,
) -> None:
    flaky.script.append(Behaviour("status", 429, {"Retry-After": "3600"}))
    waits: list[float] = []
    sent = send(flaky, Policy(max_wait=120), waits)
    assert waits == [] and sent.response is None and sent.attempts == 1
    assert sent.error == (
        "upstream answered 429 and asked to wait 3600 s before trying again, longer than "
        "--max-wait (120 s); raise --max-wait to wait that long (after 1 attempt)"
    )
    assert len(flaky.requests) == 1


def test_a_retry_after_within_max_wait_is_waited_whole(flaky: FlakyModel) -> None:
    flaky.script.append(Behaviour("status", 429, {"Retry-After": "3600"}))
    waits: list[float] = []
    sent = send(flaky, Policy(max_wait=7200), waits)
    assert waits == [3600.0] and sent.response is not None


def test_a_long_wait_is_said_once_for_the_model(flaky: FlakyModel) -> None:
    flaky.script.extend([Behaviour("status", 429, {"Retry-After": "30"})] * 2)
    said: list[str] = []
    sent = send(flaky, Policy(notify=said.append), [])
    assert sent.response is not None
    assert said == [
        f"waiting 30 s before retrying openai-chat:m@{flaky.url}/v1: upstream answered 429 "
        "(Retry-After: 30)"
    ]


def test_a_short_wait_is_not_said(flaky: FlakyModel) -> None:
    flaky.script.append(Behaviour("status", 429, {"Retry-After": "1"}))
    said: list[str] = []
    send(flaky, Policy(notify=said.append), [])
    assert said == []


def test_retry_after_may_be_a_date() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_after_the_last_retry_it_is_an_error_not_a_failed_check(flaky: FlakyModel) -> None:
    flaky.script.extend([Behaviour("status", 500)] * 3)
    sent = send(flaky, Policy(retries=2), [])
    assert sent.response is None and sent.attempts == 3
    assert sent.error is not None and sent.error.startswith("upstream answered 500")
    assert "after 3 attempts" in sent.error and len(flaky.requests) == 3


def test_a_hang_times_out_and_is_retried(flaky: FlakyModel) -> None:
    flaky.script.append(Behaviour("hang", seconds=2.0))
    sent = send(flaky, Policy(timeout=0.3), [])
    assert sent.response is not None and sent.attempts == 2


def test_a_reset_connection_is_retried(flaky: FlakyModel) -> None:
    flaky.script.append(Behaviour("reset"))
    sent = send(flaky, Policy(), [])
    assert sent.response is not None and sent.attempts == 2


def test_a_client_error_is_not_retried(flaky: FlakyModel) -> None:
    flaky.script.append(Behaviour("status", 400))
    sent = send(flaky, Policy(), [])
    assert sent.attempts == 1 and sent.http_status == 400
    assert (
        sent.error
        == 'upstream answered 400: {"error": {"message": "flaky says 400", "type": "server_error"}}'
    )


def test_a_redirect_is_never_followed(flaky: FlakyModel) -> None:
    flaky.script.append(Behaviour("redirect", to="http://127.0.0.1:9/stolen"))
    sent = send(flaky, Policy(), [])
    assert sent.response is None and sent.http_status == 302 and len(flaky.requests) == 1


def test_an_answer_past_max_answer_is_not_read_further_and_is_an_error(
    flaky: FlakyModel,
) -> None:
    flaky.answer = "x" * 5000
    sent = send(flaky, Policy(max_answer=4096))
    assert sent.response is None and sent.raw == b"" and sent.attempts == 1
    assert sent.error == "the answer is larger than 4 KB; redline reads no further"


def test_an_answer_past_max_judged_is_an_error_not_a_verdict(flaky: FlakyModel) -> None:
    flaky.answer = "```python\n" + "x = 1\n" * 1000 + "```"
    sent = send(flaky, Policy(max_judged=2048))
    assert sent.response is None and sent.raw == b""
    assert sent.error is not None and sent.error.startswith("the answer holds 6")
    assert sent.error.endswith("KB of text and tool calls, more than the 2 KB redline judges")
