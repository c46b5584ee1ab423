"""One HTTP exchange exactly as it crossed the proxy: the record every capture path builds.

The reverse proxy, the WebSocket relay and the mitmproxy addon all produce a `RawExchange`
(through `redline.proxy.capture`, which removes secrets); the spool writes it as one line and
`parse_exchange` reads it. Nothing here touches a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Headers = list[tuple[str, str]]


def new_id(at: datetime | None = None) -> str:
    """A time-sortable id (ULID): ids of later exchanges sort after earlier ones."""
    # Imported here: python-ulid costs tens of milliseconds to import, and most commands
    # never make an id.
    from ulid import ULID

    return str(ULID.from_datetime(at) if at else ULID())


@dataclass(frozen=True, slots=True)
class RawExchange:
    """One finished HTTP exchange exactly as it crossed the proxy, secrets already removed.

    `outcome` is `complete`, `incomplete` (cut by either side; `error` says which) or `error`
    (no answer from upstream). Times are UTC; `ttfb_ms`/`duration_ms` count from the
    moment the proxy received the request. Bodies are the bytes as sent, still compressed if
    they were.
    """

    id: str
    started_at: datetime
    method: str
    path: str
    query: str
    upstream: str
    request_headers: Headers
    request_body: bytes
    status: int | None
    response_headers: Headers
    response_body: bytes
    ttfb_ms: float | None
    duration_ms: float
    outcome: str
    error: str | None = None
    client: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of a header, by case-insensitive name."""
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None
