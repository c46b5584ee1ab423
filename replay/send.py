"""Sending replayed requests: a bound on concurrency, a timeout per attempt, retries with
exponential backoff and jitter on what is worth retrying (429, 5xx, timeouts, connections reset),
`Retry-After` honoured up to `Policy.max_wait` (a longer one ends the sample at once, as an error
that says so; a replay never sleeps for an hour unasked), and a wait of `NOTICE` seconds or more
said (`Policy.notify`), once for a model however many of its requests wait together. Redirects
are never followed. An answer is read up to `Policy.max_answer` bytes (decoded) and judged up to
`Policy.max_judged` bytes of what the model wrote: past either it is an error that says so, so
a runaway or hostile upstream cannot take the machine's memory (the checks' parsers need some
hundreds of bytes for each byte of code). A request that still fails is an error, never a failed
check. The model's API key is masked in whatever comes back before anything
reads it (an upstream that refuses a key often quotes it): it never reaches an error line, a
stored answer or a report."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from redline.replay.models import ModelSpec
from redline.transcripts import (
    Credentials,
    Response,
    canonical_json,
    message_to_dict,
    parse_sse,
    wire,
)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
# The longest wait before a retry, unless the user says otherwise (`--max-wait`).
MAX_WAIT = 120.0
# A wait this long or longer is said (`Policy.notify`); shorter ones are routine backoff.
NOTICE = 2.0
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Policy:
    """How hard to try: `retries` after the first attempt, each attempt `timeout` seconds, a
    wait before a retry at most `max_wait` seconds. `notify` is told, as a line, what a long
    wait is for."""

    concurrency: int = 16
    timeout: float = 300.0
    retries: int = 4
    backoff: float = 1.0  # the first backoff, doubled each retry (with jitter)
    max_backoff: float = 30.0
    max_wait: float = MAX_WAIT
    notify: Callable[[str], None] | None = None
    # The most of an answer read (a stream's events, as they are framed), and the most of what
    # the model wrote (its text, reasoning and tool calls) that is judged: far past any model's
    # output limit (128k tokens is some 0.5 MB of text; its stream some 30 MB of events).
    max_answer: int = 64 * MB
    max_judged: int = 4 * MB


@dataclass(frozen=True, slots=True)
class Sent:
    """What came back: an answer (`response`), or an `error` after every attempt."""

    response: Response | None
    raw: bytes
    http_status: int | None
    error: str | None
    latency_ms: float
    attempts: int


class _Retry(Exception):
    """An attempt worth trying again: why (`brief`: the upstream's status, else the reason),
    and how long the upstream asked to wait."""

    def __init__(
        self,
        reason: str,
        after: float | None = None,
        status: int | None = None,
        brief: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.after, self.status, self.brief = after, status, brief or reason


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Sender:
    """Sends requests for a replay over one pooled session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: Policy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.session, self.policy, self.sleep = session, policy, sleep
        self.rng = rng or random.Random()
        self.limit = asyncio.Semaphore(policy.concurrency)
        self._said_until: dict[str, float] = {}  # model -> when the wait last said ends

    async def send(self, model: ModelSpec, body: dict[str, Any]) -> Sent:
        fmt = wire.get(model.wire)
        key = model.key()
        headers = {"Content-Type": "application/json", **fmt.auth_headers(key)}
        secret = Credentials([key] if key else [])
        data = json.dumps(body).encode()
        attempts = 0
        t0 = time.perf_counter()
        last: _Retry | None = None
        async with self.limit:
            while True:
                attempts += 1
                started = time.perf_counter()
                try:
                    return await self._attempt(
                        model, data, headers, body, started, attempts, secret
                    )
                except _Retry as retry:
                    last = retry
                if attempts > self.policy.retries:
                    break
                if last.after is not None and last.after > self.policy.max_wait:
                    last = _Retry(
                        f"{last.brief} and asked to wait {last.after:g} s before trying again, "
                        f"longer than --max-wait ({self.policy.max_wait:g} s); raise --max-wait "
                        "to wait that long",
                        status=last.status,
                    )
                    break
                delay = self._delay(attempts, last.after)
                self._say(model.name, delay, last)
                await self.sleep(delay)
        return Sent(
            None,
            b"",
            last.status,
            f"{last} (after {attempts} attempt{'s' * (attempts != 1)})",
            (time.perf_counter() - t0) * 1000,
            attempts,
        )

    def _delay(self, attempt: int, after: float | None) -> float:
        if after is not None:
            return after
        base: float = min(self.policy.max_backoff, self.policy.backoff * 2.0 ** (attempt - 1))
        jittered = base * (0.5 + self.rng.random())  # jitter around the exponential step
        return min(jittered, self.policy.max_wait)

    def _say(self, model: str, delay: float, why: _Retry) -> None:
        """Say a long wait, unless one said for this model lasts as long (requests in flight
        together wait together: one line for them all)."""
        notify = self.policy.notify
        if notify is None or delay < NOTICE:
            return
        now = time.monotonic()
        if now < self._said_until.get(model, 0.0):
            return
        self._said_until[model] = now + delay
        asked = f" (Retry-After: {why.after:g})" if why.after is not None else ""
        notify(f"waiting {delay:.0f} s before retrying {model}: {why.brief}{asked}")

    async def _attempt(
        self,
        model: ModelSpec,
        data: bytes,
        headers: dict[str, str],
        body: dict[str, Any],
        started: float,
        attempts: int,
        secret: Credentials,
    ) -> Sent:
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout)
        try:
            async with self.session.post(
                model.endpoint, data=data, headers=headers, timeout=timeout, allow_redirects=False
            ) as reply:
                read = await _read(reply, self.policy.max_answer)
                status = reply.status
                after = retry_after(reply.headers.get("Retry-After"))
                content_type = reply.headers.get("Content-Type", "")
        except TimeoutError:
            raise _Retry(f"no answer within {self.policy.timeout:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            why, _ = secret.text(f"the connection failed: {exc or type(exc).__name__}")
            raise _Retry(why) from None
        latency = (time.perf_counter() - started) * 1000
        if read is None:
            error = f"the answer is larger than {_size(self.policy.max_answer)}; redline reads no further"
            return Sent(None, b"", status, error, latency, attempts)
        raw, _ = secret.data(read)
        if status in RETRY_STATUS:
            raise _Retry(
                f"upstream answered {status}: {_excerpt(raw)}",
                after,
                status,
                f"upstream answered {status}",
            )
        if status >= 300:
            error = f"upstream answered {status}: {_excerpt(raw)}"
            return Sent(None, raw, status, error, latency, attempts)
        try:
            response = _parse(
                model, raw, "text/event-stream" in content_type or bool(body.get("stream"))
            )
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            error = f"the answer could not be read as {model.wire}: {exc}"
            return Sent(None, raw, status, error, latency, attempts)
        written = len(canonical_json(message_to_dict(response.message)))
        if written > self.policy.max_judged:
            error = (
                f"the answer holds {_size(written)} of text and tool calls, more than the "
                f"{_size(self.policy.max_judged)} redline judges"
            )
            return Sent(None, b"", status, error, latency, attempts)
        return Sent(response, raw, status, None, latency, attempts)


def _size(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB else f"{n / 1024:.3g} KB"


async def _read(reply: aiohttp.ClientResponse, most: int) -> bytes | None:
    """The body, decoded, or None once it passes `most` bytes (the rest is not read)."""
    body = bytearray()
    async for chunk in reply.content.iter_any():
        body += chunk
        if len(body) > most:
            reply.close()
            return None
    return bytes(body)


def _parse(model: ModelSpec, raw: bytes, stream: bool) -> Response:
    fmt = wire.get(model.wire)
    if stream:
        result = fmt.reassemble(parse_sse(raw.decode("utf-8", "replace")))
        if result.error:
            raise ValueError(f"the stream carried an error: {result.error}")
        if not result.complete:
            raise ValueError("the stream ended before the answer did")
        return result.response
    return fmt.parse_response(json.loads(raw))


def _excerpt(raw: bytes) -> str:
    text = " ".join(raw[:300].decode("utf-8", "replace").split())
    return text or "(no body)"
