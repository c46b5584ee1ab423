"""Replay runs and their reports.

GET /api/runs                         newest first, as `redline runs --json`
GET /api/runs/{id}/report             the report JSON (docs/json.md), as
                                      `redline report --format json`
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from redline.ui.shared import GATE, json_response

if TYPE_CHECKING:
    from redline.transcripts import Store


async def list_runs(request: web.Request) -> web.Response:
    def work(store: Store) -> dict[str, Any]:
        return {"runs": [r.to_json() for r in store.runs.list()]}

    return json_response(await request.app[GATE].run(work))


async def report(request: web.Request) -> web.Response:
    from redline.replay import build_report

    prefix = request.match_info["id"]

    def work(store: Store) -> dict[str, Any]:
        return build_report(store, store.runs.resolve(prefix))

    return json_response(await request.app[GATE].run(work))


def routes(app: web.Application) -> None:
    app.router.add_get("/api/runs", list_runs)
    app.router.add_get("/api/runs/{id}/report", report)
