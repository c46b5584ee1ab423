"""OpenAI Responses streams: the events of `POST /v1/responses` with `stream: true` (and of its
WebSocket turns) folded back into the response body they stand for. `openai_responses.reassemble`
parses that body as a non-streamed response."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redline.transcripts.model import JSON
from redline.transcripts.sse import SSEEvent

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


@dataclass
class Assembled:
    """A stream's response body, whether a terminal event came, the error it reported, and
    the events outside the `response.*` namespace (kept verbatim)."""

    body: JSON
    terminal: bool
    error: str | None
    unknown: list[Any] = field(default_factory=list)


# Streamed text: event prefix -> (list in the item, index key, field, type of a new entry).
_TEXT_EVENTS = {
    "response.output_text": ("content", "content_index", "text", "output_text"),
    "response.refusal": ("content", "content_index", "refusal", "refusal"),
    "response.reasoning_summary_text": ("summary", "summary_index", "text", "summary_text"),
    "response.reasoning_text": ("content", "content_index", "text", "reasoning_text"),
}
# Streamed parts: event prefix -> (list in the item, index key).
_PART_EVENTS = {
    "response.content_part": ("content", "content_index"),
    "response.reasoning_summary_part": ("summary", "summary_index"),
}
# Streamed item fields: event prefix -> field.
_FIELD_EVENTS = {
    "response.function_call_arguments": "arguments",
    "response.custom_tool_call_input": "input",
}


def _slot(item: JSON, key: str, index: Any, new: JSON) -> JSON | None:
    """The entry `item[key][index]`, created (as a copy of `new`) when missing."""
    if not isinstance(index, int) or index < 0:
        return None
    entries = item.get(key)
    if not isinstance(entries, list):
        entries = item[key] = []
    while len(entries) <= index:
        entries.append(dict(new))
    return entries[index] if isinstance(entries[index], dict) else None


def _error_text(err: Any) -> str:
    if isinstance(err, Mapping):
        code, message = err.get("code"), err.get("message", "")
        return f"{code}: {message}" if code else str(message)
    return str(err)


def _grow(target: JSON, field: str, phase: str, data: Mapping[str, Any]) -> None:
    """A `.delta` event appends to `target[field]`; a `.done` event sets its final value."""
    if phase == "delta":
        target[field] = str(target.get(field) or "") + str(data.get("delta", ""))
    elif isinstance(data.get(field), str):
        target[field] = data[field]


def _apply(items: dict[int, JSON], kind: str, data: Mapping[str, Any]) -> bool:
    """Apply a delta-carrying event to the item it names; False when it is not one."""
    prefix, _, phase = kind.rpartition(".")
    item = items.get(data.get("output_index"))  # type: ignore[arg-type]
    if prefix in _TEXT_EVENTS and phase in ("delta", "done"):
        key, index_key, field, new_type = _TEXT_EVENTS[prefix]
        entry = (
            _slot(item, key, data.get(index_key), {"type": new_type}) if item is not None else None
        )
        if entry is not None:
            _grow(entry, field, phase, data)
        return True
    if prefix in _PART_EVENTS and phase in ("added", "done"):
        key, index_key = _PART_EVENTS[prefix]
        entry = _slot(item, key, data.get(index_key), {}) if item is not None else None
        if entry is not None and isinstance(data.get("part"), Mapping):
            entry.clear()
            entry.update(data["part"])
        return True
    if prefix in _FIELD_EVENTS and phase in ("delta", "done"):
        field = _FIELD_EVENTS[prefix]
        if item is not None:
            _grow(item, field, phase, data)
        return True
    return False


def assemble(events: list[SSEEvent]) -> Assembled:
    """`output_item.done` is authoritative for its `output_index`; items that never got one are
    built from `output_item.added` and their deltas. The terminal event's response gives id,
    status and usage; when its `output` is empty (the ChatGPT backend) the accumulated items
    are used. `error` / `response.error` events and `response.failed` set the error. Other
    `response.*` events only report progress of what `output_item.done` carries."""
    from redline.transcripts import fastjson  # here: see anthropic_messages.reassemble

    base: JSON = {}
    added: dict[int, JSON] = {}
    done: dict[int, JSON] = {}
    unknown: list[Any] = []
    terminal = False
    error: str | None = None
    for ev in events:
        try:
            data = fastjson.loads(ev.data)
        except ValueError:
            continue
        if not isinstance(data, Mapping):
            continue
        kind = str(data.get("type") or ev.event)
        index = data.get("output_index")
        item = data.get("item")
        if (
            kind == "response.output_item.added"
            and isinstance(index, int)
            and isinstance(item, Mapping)
        ):
            added[index] = json.loads(json.dumps(item))
        elif (
            kind == "response.output_item.done"
            and isinstance(index, int)
            and isinstance(item, Mapping)
        ):
            done[index] = dict(item)
        elif kind in ("response.created", "response.in_progress", "response.queued"):
            if not terminal and isinstance(data.get("response"), Mapping):
                base = dict(data["response"])
        elif kind in TERMINAL:
            terminal = True
            base = dict(data.get("response") or {})
            if kind == "response.failed":
                error = _error_text(base.get("error") or "response failed")
        elif kind in ("error", "response.error"):
            error = _error_text(data.get("error") or data)
        elif not _apply(added, kind, data) and not kind.startswith("response."):
            unknown.append(dict(data))
    if not base.get("output"):
        base["output"] = [done.get(i) or added[i] for i in sorted(added.keys() | done.keys())]
    return Assembled(base, terminal, error, unknown)
