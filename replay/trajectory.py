"""One sample of a replay, step by step.

A step sends the transcript so far and reads the answer. When the answer calls tools instead of
editing, replay answers the calls (`redline.replay.tool_answers`) and asks again, as the agent
would have, until the model

* edits: that step ends the sample (every call and edit of that step is the model's own; what
  it would have done after is not asked),
* ends its turn without a tool call,
* is cut off (a length limit), or
* reaches the step limit (`--max-steps`).

The answer judged is every assistant part of every step, in order. Each step is a request of
its own: looked up in the cache by its rendered body and sample index, sent when not there,
counted in tokens, cost and latency, and written as soon as it is answered, so a replay stopped
in the middle of a sample's steps resumes at the step it stopped at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from redline.analyzers import extract
from redline.replay.jobs import Job
from redline.replay.rendering import render, request_key, usage
from redline.replay.send import Sender
from redline.replay.tool_answers import Answerer, Served, answerer
from redline.replay.tool_calls import parted
from redline.replay.writer import Writer
from redline.transcripts import (
    Message,
    Task,
    ToolCall,
    ToolResult,
    agents,
    canonical_json,
    mask_text,
    message_from_dict,
    message_to_dict,
    wire,
)

__all__ = ["DEFAULT_MAX_STEPS", "STOPS", "Stepper", "Stop", "Walked"]

DEFAULT_MAX_STEPS = 8

Stop = Literal["edited", "ended", "cut_off", "max_steps", "error"]
STOPS: frozenset[str] = frozenset({"edited", "ended", "cut_off", "max_steps", "error"})


@dataclass(frozen=True, slots=True)
class Walked:
    """What a sample's steps came to. `steps` are the stored rows of its steps, in order;
    `pending` those not yet handed to the writer (the last, stored with the sample). `output`
    is every assistant part of every step (None when a step failed: nothing is judged);
    `diverged` how its first step parted from the original output (None: it did the same)."""

    steps: tuple[dict[str, Any], ...]
    pending: tuple[dict[str, Any], ...]
    output: Message | None
    cut_off: bool
    stop: Stop
    error: str | None
    diverged: str | None


@dataclass(frozen=True, slots=True)
class _Answered:
    row: dict[str, Any]
    message: Message | None


def _edits(message: Message) -> bool:
    """True when the answer edits a file (a tool that edits, or an edit in its text)."""
    if any(agents.tool_use(c).kind == "edit" for c in message.tool_calls):
        return True
    return bool(extract(message).edits)


def _summary(call: ToolCall, use: agents.ToolUse) -> str:
    """What a call asked, in a few words: a path, a pattern, a command."""
    if use.kind == "read" and use.path:
        window = ""
        if use.limit is not None:
            first = use.first_line or 1
            window = f" lines {first}-{first + use.limit - 1}"
        elif use.first_line:
            window = f" from line {use.first_line}"
        return use.path + window
    if use.kind in ("list", "search"):
        where = f" in {use.path}" if use.path else ""
        return f"{use.pattern or ''}{where}".strip() or use.path or ""
    if use.kind == "command" and use.command:
        text = use.command
    elif use.kind == "edit":
        text = use.path or "a patch"
    else:
        text = call.arguments
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


def _call(call: ToolCall, served: Served | None) -> dict[str, Any]:
    use = agents.tool_use(call)
    return {
        "tool": call.name,
        "arguments": _summary(call, use),
        "kind": use.kind,
        "source": None if served is None else served.source,
        "size": None if served is None else served.size,
        "error": None if served is None else served.is_error,
        "note": "" if served is None else served.note,
    }


class Stepper:
    """Takes each sample of a run through its steps (one instance per run)."""

    def __init__(
        self,
        run_id: str,
        sender: Sender,
        cache: Mapping[str, Mapping[str, Any]],
        writer: Writer,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        temperature: float | None = None,
    ) -> None:
        self.run_id, self.sender, self.cache, self.writer = run_id, sender, cache, writer
        self.max_steps, self.temperature = max_steps, temperature
        self._tasks: dict[str, tuple[Answerer, str | None]] = {}

    def _of(self, task: Task) -> tuple[Answerer, str | None]:
        """The task's answering chain, and its recorded working directory."""
        if task.name not in self._tasks:
            start = agents.session_start(task.request)
            self._tasks[task.name] = (answerer(task), start.cwd if start else None)
        return self._tasks[task.name]

    async def walk(self, job: Job) -> Walked:
        assert job.body is not None, "a job without a body is an error, not a sample to walk"
        request, body, key = job.request, job.body, job.key
        rows: list[dict[str, Any]] = []
        parts: list[Any] = []
        diverged: str | None = None
        answering, cwd = self._of(job.task)
        for number in range(1, self.max_steps + 1):
            if number > 1:
                try:
                    body = render(request, job.model, self.temperature)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    error = f"step {number} cannot be rendered as {job.model.wire}: {exc}"
                    return Walked(tuple(rows), (), None, False, "error", error, diverged)
                key = request_key(job.model, body, job.sample)
            answered = await self._answer(job, number, key, body)
            rows.append(answered.row)
            message = answered.message
            if message is None:
                error = answered.row["error"]
                return Walked(tuple(rows), (rows[-1],), None, False, "error", error, diverged)
            parts += message.parts
            if number == 1:
                diverged = parted(job.task.output.message, message, cwd)
            stop = self._stop(message, bool(answered.row["cut_off"]), number)
            if stop is not None:
                answered.row["calls"] = json.dumps([_call(c, None) for c in message.tool_calls])
                output = Message("assistant", tuple(parts))
                cut = bool(answered.row["cut_off"])
                return Walked(tuple(rows), (rows[-1],), output, cut, stop, None, diverged)
            served = [answering.answer(c) for c in message.tool_calls]
            calls = zip(message.tool_calls, served, strict=True)
            answered.row["calls"] = json.dumps([_call(c, s) for c, s in calls])
            self.writer.add_step(answered.row)
            results = [
                ToolResult(c.id, s.content, s.is_error)
                for c, s in zip(message.tool_calls, served, strict=True)
            ]
            fmt = wire.get(request.wire or "openai-chat")
            request = replace(
                request, messages=(*request.messages, message, *fmt.answering(results))
            )
        raise AssertionError("unreachable: the last step always stops")  # pragma: no cover

    def _stop(self, message: Message, cut_off: bool, number: int) -> Stop | None:
        if _edits(message):
            return "edited"
        if cut_off:
            return "cut_off"
        if not message.tool_calls:
            return "ended"
        if number >= self.max_steps:
            return "max_steps"
        return None

    async def _answer(self, job: Job, number: int, key: str, body: dict[str, Any]) -> _Answered:
        """The step's answer: from the cache (its cost from the model's prices now), else sent."""
        model = job.model
        hit = self.cache.get(key)
        if hit is not None:
            message = message_from_dict(json.loads(hit["output"]))
            cost = model.cost(hit["input_tokens"], hit["output_tokens"])
            return _Answered(
                self._row(job, number, key, **hit, cost=cost, from_cache=True), message
            )
        sent = await self.sender.send(model, body)
        if sent.response is None:
            error = mask_text(sent.error or "no answer").text
            raw = mask_text(sent.raw.decode("utf-8", "replace")).text.encode() if sent.raw else None
            row = self._row(
                job,
                number,
                key,
                status="error",
                error=error if number == 1 else f"step {number}: {error}",
                http_status=sent.http_status,
                attempts=sent.attempts,
                raw=raw,
                latency_ms=sent.latency_ms,
            )
            return _Answered(row, None)
        response = sent.response
        input_tokens, output_tokens, estimated = usage(model, body, response)
        row = self._row(
            job,
            number,
            key,
            http_status=sent.http_status,
            attempts=sent.attempts,
            output=canonical_json(message_to_dict(response.message)),
            finish_reason=response.finish_reason,
            cut_off=wire.is_cut_off(response.finish_reason, model.wire),
            raw=sent.raw,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens_estimated=estimated,
            latency_ms=sent.latency_ms,
            cost=model.cost(input_tokens, output_tokens),
        )
        return _Answered(row, response.message)

    def _row(self, job: Job, number: int, key: str, **fields: Any) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "task": job.task.name,
            "model": job.model.name,
            "variant": job.variant.name,
            "sample": job.sample,
            "step": number,
            "request_key": key,
            "created_at": datetime.now(UTC),
            "status": "ok",
            "error": None,
            "http_status": None,
            "attempts": 0,
            "output": None,
            "finish_reason": None,
            "cut_off": None,
            "raw": None,
            "input_tokens": None,
            "output_tokens": None,
            "tokens_estimated": None,
            "latency_ms": None,
            "cost": None,
            "from_cache": False,
            "calls": None,
            **fields,
        }
