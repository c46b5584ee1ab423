"""Checks and tasks: the registry, checks tried live on a call, tasks made under `flag`'s rules.

GET  /api/checks                      every check (plugins too) and its options
POST /api/calls/{id}/check            {checks, tool_call?, drop_last?}: verdicts, now
POST /api/tasks                       {call, checks, name?, note?, tool_call?, drop_last?,
                                       force?, good?: {code, path} | {call},
                                       workspace?: {folder, rev?, include?}}: save or refuse
GET  /api/tasks                       the task list
GET  /api/tasks/{name}                one task: transcript, outputs, checks' verdicts, workspace
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from redline.analyzers import Context, Registry
from redline.errors import RedlineError
from redline.replay import code_of, findings, verdicts
from redline.ui.shared import (
    GATE,
    REGISTRY,
    good_from_body,
    json_response,
    read_json,
    workspace_from_body,
)

if TYPE_CHECKING:
    from redline.transcripts import Store


def checks_listing(registry: Registry) -> list[dict[str, Any]]:
    """What `redline analyzers --json` lists."""
    from redline.analyzers import describe_option

    return [
        {
            "name": a.name,
            "description": a.description,
            "origin": registry.origin(a.name),
            "options": [dict(describe_option(o)) for o in a.options],
        }
        for a in registry
    ]


async def list_checks(request: web.Request) -> web.Response:
    return json_response({"analyzers": checks_listing(request.app[REGISTRY])})


def _specs(body: dict[str, Any]) -> list[str]:
    specs = body.get("checks")
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise RedlineError("checks must be a list of NAME[:OPTIONS] strings")
    return specs


def _whole(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RedlineError(f"{key} must be a whole number of at least 0")
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key) or ""
    if not isinstance(value, str):
        raise RedlineError(f"{key} must be text")
    return value


def _judge(store: Store, registry: Registry, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The task the call would make, and the checks' verdicts on its outputs: `flag`'s rules
    (`redline.replay.flag`), with nothing saved unless `save`."""
    from redline.replay import checks_of, flag, task_from_call

    specs = _specs(body)
    checks_of(specs, registry)  # unknown checks and bad options, before anything else
    call = store.load_call(call_id)
    tool_call = _whole(body, "tool_call")
    if tool_call == 0:
        tool_call = None
    name = _text(body, "name").strip() or None
    task = task_from_call(
        store,
        call,
        specs,
        name=name,
        note=_text(body, "note"),
        tool_call=tool_call,
        drop=_whole(body, "drop_last") or 0,
    )
    context = Context(task.request)  # the request's files read once, for both outputs
    bad_code = code_of(task.output.message, context)
    good = good_from_body(store, body.get("good"), bad_code)
    if good is not None:
        task = replace(task, good=good)
    # As `redline flag`: kept when the checks hold, or forced while a good output passes.
    save = bool(body.get("save"))
    flagged = flag(
        store,
        task,
        registry,
        force=bool(body.get("force")),
        save=save,
        workspace=workspace_from_body(body.get("workspace")) if save else None,
    )
    validation, checks = flagged.validation, list(flagged.checks)
    refused = None if flagged.refused is None else str(flagged.refused)
    saved = flagged.saved
    taken = flagged.workspace
    on_bad = verdicts(checks, [j.verdict for j in validation.bad])
    on_good = (
        None if validation.good is None else verdicts(checks, [j.verdict for j in validation.good])
    )
    return {
        "task": task.name,
        "saved": saved,
        "refused": refused,
        "duplicates": list(flagged.duplicates),
        "catches": validation.catches,
        "good_passes": validation.good_passes,
        "verdicts": {"output": on_bad, "good_output": on_good},
        "workspace": None if taken is None or not saved else taken.workspace.summary(),
        "output": {
            "source": task.output.source,
            "code": bad_code,
            "findings": findings(on_bad),
        },
        "good_output": None
        if good is None
        else {
            "source": good.source,
            "code": code_of(good.message, context),
            "findings": findings(on_good or []),
        },
    }


async def try_checks(request: web.Request) -> web.Response:
    """Run checks on a call's output as a task would judge it; nothing is saved."""
    body = await read_json(request)
    body["save"] = False
    call_id, registry = request.match_info["id"], request.app[REGISTRY]
    result = await request.app[GATE].run(lambda store: _judge(store, registry, call_id, body))
    return json_response(result)


async def make_task(request: web.Request) -> web.Response:
    """Save a task, or say why not (refused: 422, with the verdicts)."""
    body = await read_json(request)
    call_id = body.get("call")
    if not isinstance(call_id, str) or not call_id:
        raise RedlineError("give the call to make the task from")
    body["save"] = True
    registry = request.app[REGISTRY]
    result = await request.app[GATE].run(lambda store: _judge(store, registry, call_id, body))
    return json_response(result, 201 if result["saved"] else 422)


async def list_tasks(request: web.Request) -> web.Response:
    def work(store: Store) -> dict[str, Any]:
        last = store.runs.last_runs()
        return {
            "tasks": [
                {**t.to_json(), "last_run": last[t.name].to_json() if t.name in last else None}
                for t in store.tasks()
            ]
        }

    return json_response(await request.app[GATE].run(work))


async def show_task(request: web.Request) -> web.Response:
    from redline.replay import validate
    from redline.transcripts import task_to_file

    name, registry = request.match_info["name"], request.app[REGISTRY]

    def work(store: Store) -> dict[str, Any]:
        task = store.task(name)
        document = task_to_file(task)
        stored = store.workspace(task.name)
        workspace = None if stored is None else stored.summary()
        try:
            validation = validate(task, registry)
        except RedlineError as exc:  # a check this server does not have (a plugin's)
            return {
                "task": document,
                "error": str(exc),
                "output": None,
                "good_output": None,
                "workspace": workspace,
            }
        checks = [j.check for j in validation.bad]
        on_bad = verdicts(checks, [j.verdict for j in validation.bad])
        on_good = (
            None
            if validation.good is None
            else verdicts(checks, [j.verdict for j in validation.good])
        )
        context = Context(task.request)
        return {
            "task": document,
            "catches": validation.catches,
            "good_passes": validation.good_passes,
            "verdicts": {"output": on_bad, "good_output": on_good},
            "workspace": workspace,
            "output": {
                "code": code_of(task.output.message, context),
                "findings": findings(on_bad),
            },
            "good_output": None
            if task.good is None
            else {
                "code": code_of(task.good.message, context),
                "findings": findings(on_good or []),
            },
        }

    return json_response(await request.app[GATE].run(work))


def routes(app: web.Application) -> None:
    app.router.add_get("/api/checks", list_checks)
    app.router.add_post("/api/calls/{id}/check", try_checks)
    app.router.add_post("/api/tasks", make_task)
    app.router.add_get("/api/tasks", list_tasks)
    app.router.add_get("/api/tasks/{name}", show_task)
