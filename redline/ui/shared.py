"""What the web view's route modules share: the application's keys, the store gate, JSON in
and out, a known-good answer and a workspace as a request gives them. `server` builds the application from the route modules; they import only this."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from redline.analyzers import Registry
from redline.config import Location
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.replay import WorkspaceSpec
    from redline.transcripts import Store, TaskOutput

T = TypeVar("T")


class StoreGate:
    """Runs work on the store on one worker thread, opening it for each piece of work and
    closing it after: requests queue up rather than open the file side by side."""

    def __init__(self, db: Location) -> None:
        self.db = db
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="redline-ui-store")

    async def run(self, work: Callable[[Store], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._open_and_run, work)

    def _open_and_run(self, work: Callable[[Store], T]) -> T:
        from redline.transcripts import open_store

        with open_store(self.db) as store:
            return work(store)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


# Keys of the aiohttp application (the live view's is in live.py).
GATE = web.AppKey("gate", StoreGate)
TOKEN = web.AppKey("token", str)
ALLOWED_HOSTS = web.AppKey("allowed_hosts", set[str])
REGISTRY = web.AppKey("registry", Registry)


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(value, ensure_ascii=False, default=str),
        status=status,
        content_type="application/json",
    )


async def read_json(request: web.Request) -> dict[str, Any]:
    """A request's JSON object body, or a 400 saying what is wrong with it."""
    try:
        body = await request.json()
    except ValueError:
        raise RedlineError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise RedlineError("the request body must be a JSON object")
    return body


GOOD_PATH = "good.py"


def good_from_body(store: Store, given: Any, bad_code: list[dict[str, Any]]) -> TaskOutput | None:
    """The known-good output: pasted code (a file the output writes, as `redline check` reads
    a code file; text with a ``` fence is read as an answer's text), or another call's answer.
    Never a file path: a page cannot make the server read its files."""
    from redline.analyzers import call_output
    from redline.transcripts import Message, TaskOutput, Text, agents

    if given is None:
        return None
    if not isinstance(given, dict):
        raise RedlineError("good must be {code, path} or {call}")
    if given.get("call"):
        found = call_output(store.load_call(str(given["call"])))
        return TaskOutput(found.message, None, found.cut_off, f"call {found.label}")
    code = given.get("code")
    if not isinstance(code, str) or not code.strip():
        return None
    if "```" in code:
        return TaskOutput(Message("assistant", (Text(code),)), None, False, "pasted text")
    # The same file as the bad output's, so the checks compare like with like.
    path = str(given.get("path") or next((c["path"] for c in bad_code if c["path"]), GOOD_PATH))
    message = Message("assistant", (agents.written(path, code, "pasted"),))
    return TaskOutput(message, None, False, f"pasted code ({path})")


def workspace_from_body(given: Any) -> WorkspaceSpec | None:
    """The workspace a request asks for: `{folder, rev?, include?}`, as `flag --workspace`
    takes it (None: none asked for)."""
    from redline.replay import WorkspaceSpec

    if given is None:
        return None
    folder = given.get("folder") if isinstance(given, dict) else None
    rev = given.get("rev") if isinstance(given, dict) else None
    include = given.get("include", []) if isinstance(given, dict) else None
    if (
        not isinstance(folder, str)
        or not folder
        or not (rev is None or isinstance(rev, str))
        or not isinstance(include, list)
        or not all(isinstance(p, str) for p in include)
    ):
        raise RedlineError(
            "workspace must be {folder: a path, rev?: a revision, include?: [patterns]}"
        )
    return WorkspaceSpec(folder, rev or None, tuple(include))
