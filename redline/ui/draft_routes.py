"""Drafting a check from the "Make a task" form: `redline draft`, in the web view.

POST /api/calls/{id}/draft    {note, model, good?: {code, path} | {call}, attempts?}: the draft
                              as `redline draft --json` prints it, and `saved` (201 when a
                              check held and was saved to the checks folder, and added to
                              this server's checks; 422 when none held)

The model is one of `redline.toml` or `WIRE:MODEL_ID@BASE_URL`, its key read from the server's
environment. The store is read first (the call, the good answer, the history) and let go; the
drafting (minutes, maybe) runs on a thread of its own, through a recording proxy of its own,
so the page's other requests go on meanwhile.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from redline.errors import RedlineError
from redline.ui.shared import GATE, REGISTRY, good_from_body, json_response, read_json

if TYPE_CHECKING:
    from redline.replay import Drafted
    from redline.transcripts import Store

MAX_ATTEMPTS = 10


async def draft_check(request: web.Request) -> web.Response:
    from redline import config
    from redline.proxy import recording
    from redline.replay import (
        case_from_call,
        code_of,
        config_path,
        draft,
        header,
        history_of,
        load_config,
        resolve_models,
        save_check,
    )

    body = await read_json(request)
    call_id, registry = request.match_info["id"], request.app[REGISTRY]
    note, model = body.get("note"), body.get("model")
    if not isinstance(note, str) or not note.strip():
        raise RedlineError("give a note: what the model did wrong, in your words")
    if not isinstance(model, str) or not model.strip():
        raise RedlineError("give the model that drafts: a model of redline.toml, or WIRE:MODEL@URL")
    attempts = body.get("attempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise RedlineError(f"attempts must be a whole number from 1 to {MAX_ATTEMPTS}")
    if not 1 <= attempts <= MAX_ATTEMPTS:
        raise RedlineError(f"attempts must be a whole number from 1 to {MAX_ATTEMPTS}")
    (spec,) = resolve_models([model.strip()], load_config(config_path()))

    def read(store: Store) -> tuple[Any, Any]:  # the case, the history to scan
        found = store.load_call(call_id)
        bad_code = code_of(found.response.message) if found.response is not None else []
        good = good_from_body(store, body.get("good"), bad_code)
        case = case_from_call(store, call_id, note, [good] if good else [], registry)
        return case, history_of(store, case)

    case, history = await request.app[GATE].run(read)
    spool = config.spool_dir(request.app[GATE].db)

    def work() -> Drafted:
        with recording(spec.base_url, spool) as base_url:
            return draft(case, replace(spec, base_url=base_url), attempts=attempts, history=history)

    drafted = await asyncio.get_running_loop().run_in_executor(None, work)
    kept = drafted.kept
    path = flag = None
    if kept is not None and kept.module is not None and kept.proof is not None:
        name = kept.proof.name or "drafted"
        saved = save_check(
            kept.module,
            name,
            out=None,
            folder=config.checks_dir(),
            header=header(spec.name, case, kept),
        )
        registry.load_file(saved)  # on the loop's thread: the form may choose it at once
        path = str(saved)
        flag = f"redline flag {case.call} -c {name} --note {shlex.quote(note)}"
    result = drafted.to_json(case.call, spec.name, path, flag)
    return json_response({**result, "saved": path is not None}, 201 if path else 422)


def routes(app: web.Application) -> None:
    app.router.add_post("/api/calls/{id}/draft", draft_check)
