"""Server-sent events, parsed as the WHATWG spec says (the framing all three APIs use)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# SSE lines end at CR LF, CR or LF only: str.splitlines would also break inside a JSON string at
# U+2028, U+0085, form feeds... which JSON leaves unescaped.
_LINE_END = re.compile(r"\r\n|\r|\n")


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
    # The last piece ends no line (it is "" when the text ends with a line end): it cannot
    # close an event, so it is left out.
    for line in _LINE_END.split(text)[:-1]:
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
