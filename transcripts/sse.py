"""Server-sent events, parsed as the WHATWG spec says (the framing all three APIs use)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str  # "message" when the stream gave no `event:` line
    data: str


def parse_sse(text: str) -> list[SSEEvent]:
    """Parse a whole SSE body. An event not closed by a blank line is dropped, as a client would:
    a stream cut mid-event never delivered that event."""
    events: list[SSEEvent] = []
    event = ""
    data: list[str] = []
    has_data = False
    for line in text.splitlines():
        if line == "":
            if has_data:
                events.append(SSEEvent(event or "message", "\n".join(data)))
            event, data, has_data = "", [], False
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
            has_data = True
    return events
