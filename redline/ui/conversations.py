"""Conversations: the list (filters, search, pages), one conversation's timeline, a raw call.

GET /api/conversations?q=&tools=1&client=&model=&wire=&since=&until=&task=yes|no&offset=&limit=
GET /api/facets                       the values the filters offer
GET /api/conversations/{id}?offset=&limit=&last=
                                      a page of the timeline: each call with what it added
                                      (rows from offset, at most limit, and the last rows)
GET /api/calls/{id}                   one call as `redline show --json` prints it
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from redline.errors import RedlineError
from redline.ui.shared import GATE, json_response

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise RedlineError(f"{name} is a date, YYYY-MM-DD, not {value!r}") from None
    return day.replace(tzinfo=UTC)


def _int(value: str | None, name: str, default: int, most: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise RedlineError(f"{name} is a whole number, not {value!r}") from None
    if number < 0:
        raise RedlineError(f"{name} cannot be negative")
    return min(number, most) if most is not None else number


def filters(query: Any) -> dict[str, Any]:
    """The list's filters from a query string (also what the page puts in its address)."""
    task = query.get("task") or None
    if task not in (None, "yes", "no"):
        raise RedlineError(f"task is yes or no, not {task!r}")
    until = _date(query.get("until"), "until")
    return {
        "text": query.get("q", ""),
        "tools": query.get("tools") in ("1", "true", "yes", "on"),
        "client": query.get("client") or None,
        "model": query.get("model") or None,
        "wire": query.get("wire") or None,
        "since": _date(query.get("since"), "since"),
        # `until` names the last day shown: conversations that started before the next one.
        "until": None if until is None else until + timedelta(days=1),
        "has_task": None if task is None else task == "yes",
        "offset": _int(query.get("offset"), "offset", 0),
        "limit": _int(query.get("limit"), "limit", PAGE_SIZE, MAX_PAGE_SIZE) or PAGE_SIZE,
    }


async def list_conversations(request: web.Request) -> web.Response:
    chosen = filters(request.query)
    page = await request.app[GATE].run(lambda store: store.browse.conversations(**chosen))
    return json_response(page.to_json())


async def facets(request: web.Request) -> web.Response:
    return json_response(await request.app[GATE].run(lambda store: store.browse.facets()))


async def timeline(request: web.Request) -> web.Response:
    prefix, query = request.match_info["id"], request.query
    # What is not given is the store's default: a first view, its first rows and its last.
    rows = {k: _int(query[k], k, 0) for k in ("offset", "limit", "last") if query.get(k)}
    found = await request.app[GATE].run(lambda store: store.browse.timeline(prefix, **rows))
    return json_response(found.to_json())


async def raw_call(request: web.Request) -> web.Response:
    """The whole exchange, as `redline show --json` prints it."""
    prefix = request.match_info["id"]
    call = await request.app[GATE].run(lambda store: store.load_call(prefix).to_json())
    return json_response(call)


def routes(app: web.Application) -> None:
    app.router.add_get("/api/conversations", list_conversations)
    app.router.add_get("/api/facets", facets)
    app.router.add_get("/api/conversations/{id}", timeline)
    app.router.add_get("/api/calls/{id}", raw_call)
