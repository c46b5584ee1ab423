"""`redline demo`: the whole loop, offline, narrated, in a temporary database.

1. a stand-in model server starts on 127.0.0.1 (shipped with redline; not a real model);
2. a short agent-shaped session goes through redline's proxy and is recorded: the agent's
   project rules (an AGENTS.md it embeds, as Codex does) say nothing about exceptions, and the
   model wraps a config loader in `except Exception: return {}`;
3. that call is flagged with `broad-except`, which is proven to catch it;
4. the stand-in drafts a check from the failure (`redline draft`), which the sandbox proves
   before it is kept (skipped, saying why, where the sandbox cannot start);
5. the task is replayed with and without a rules variant that forbids swallowing errors;
6. the report says whether the rule helped.

Each step prints the command a user would type. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from redline import config
from redline.errors import RedlineError
from redline.transcripts import Message, Request, Text, Tool, ToolResult, agents, wire

# The demo's agent embeds its project rules as Codex does.
CODEX = agents.get("codex")
RULES_FILE = str(CODEX.rules_file)

RULES_BEFORE = "Use type hints. Keep functions short."
RULES_AFTER = (
    "Use type hints. Keep functions short.\n"
    "Never catch Exception: let errors propagate to the caller."
)
SAMPLES = 10

WRITE_FILE = Tool(
    "write_file",
    "Write a file in the repository.",
    {
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"],
    },
)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "redline-demo-agent/1"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        answer: dict[str, Any] = json.loads(reply.read())
    return answer


def record_session(base_url: str) -> None:
    """A two-call agent loop over Chat Completions: the model writes a file with a tool, the
    agent reports back."""
    fmt = wire.get("openai-chat")
    messages = [
        Message("system", (Text("You are a coding agent. Use write_file to change files."),)),
        Message("user", (Text(CODEX.embed_rules("/repo", RULES_BEFORE)),)),
        Message("user", (Text("Add error handling to config.py's loader."),)),
    ]
    for _ in range(2):
        body = fmt.render_request(Request("demo-model", tuple(messages), tools=(WRITE_FILE,)))
        answer = fmt.parse_response(_post(fmt.endpoint(base_url), body)).message
        messages.append(answer)
        for call in answer.tool_calls:
            messages.append(Message("tool", (ToolResult(call.id, "Wrote config.py."),)))
        if not answer.tool_calls:
            break


DRAFT_NOTE = "swallowed every error and returned empty settings"


def draft_step(
    db: Path, call: str, model_url: str, folder: Path, show: Callable[[str], None]
) -> None:
    """`redline draft` on the flagged call with the stand-in: its check proven in the sandbox
    and saved into `folder`."""
    from redline.analyzers import default_registry
    from redline.proxy import recording
    from redline.replay import case_from_call, draft, one_off, save_check
    from redline.transcripts import open_store

    with open_store(db) as store:
        case = case_from_call(store, call, DRAFT_NOTE, [], default_registry(entry_points=False))
    model = one_off(f"openai-chat:redline-stand-in@{model_url}")
    try:
        with recording(model.base_url, config.spool_dir(db)) as base_url:
            drafted = draft(case, replace(model, base_url=base_url), attempts=1)
    except RedlineError as error:  # the sandbox cannot start here
        show(f"   (skipped: {error})")
        return
    kept = drafted.kept
    if kept is None or kept.module is None or kept.proof is None:
        show(f"   refused: {drafted.attempts[-1].reason}")
        return
    name = kept.proof.name or "drafted"
    for f in kept.proof.bad_findings[:1]:
        show(f"   {name}  FAIL  {f['path']}:{f['line']}  {f['message']}")
    path = save_check(kept.module, name, out=None, folder=folder)
    show(
        f"   proven in the sandbox (it loads, its {kept.proof.valid + kept.proof.invalid} examples "
        f"hold, it fails on the bad answer) and saved to {path}"
    )


def run(
    say: Callable[[str], None],
    show: Callable[[str], None],
    report: Callable[[dict[str, Any]], None],
    keep: Path | None = None,
) -> str:
    """Run the demo; `say` narrates, `show` prints a command's output, `report` prints the
    run's report. With `keep`, the demo's data goes to that database (a new one) instead of
    a temporary one. Returns the run id."""
    from redline.analyzers import default_registry
    from redline.proxy import ProxyRunner, Route, ThreadedProxy
    from redline.replay import (
        Policy,
        Settings,
        StandInServer,
        build_report,
        flag,
        one_off,
        parse_variant,
        replay,
        task_from_call,
    )
    from redline.transcripts import open_store

    with tempfile.TemporaryDirectory(prefix="redline-demo-") as tmp:
        db = keep or Path(tmp) / "demo.duckdb"
        if keep is None:
            say(f"A throwaway database: {db} (your own data is not touched).")
        elif keep.exists():
            raise RedlineError(f"{keep} exists; give --db a new file for the demo to keep")
        else:
            say(f"The demo's data goes to {db}; explore it afterwards with --db {db}.")
        with StandInServer(seed=7) as standin:
            say(
                f"1. A stand-in model answers on {standin.url}: not a real model, it writes "
                "one config loader and follows a rule against swallowed errors only sometimes."
            )
            runner = ProxyRunner(
                [Route.parse("", standin.url.removesuffix("/v1"))],
                config.spool_dir(db),
                "127.0.0.1",
                0,
            )
            with ThreadedProxy(runner) as proxy:
                say(
                    f"2. The recording proxy:   redline proxy --upstream {standin.url.removesuffix('/v1')}"
                )
                say(
                    f"   An agent session through it (OPENAI_BASE_URL={proxy.url}/v1), with an "
                    f"{RULES_FILE} that says nothing about exceptions:"
                )
                record_session(proxy.url + "/v1")
                proxy.flush()
            with open_store(db) as store:
                (conversation,) = store.conversations()
                calls = store.calls(conversation.id)
                bad = calls[0]
                say("   redline ls")
                show(f"   {conversation.id}  {len(calls)} calls  {conversation.title}")
                say(f"   redline show {bad.id[:10]}   # the model wrote: {bad.preview}")
                say(f"3. Flag it:   redline flag {bad.id[:10]} -c broad-except --name demo")
                registry = default_registry(entry_points=False)
                task = task_from_call(store, store.load_call(bad.id), ["broad-except"], name="demo")
                flagged = flag(store, task, registry)
                if flagged.refused is not None:
                    raise flagged.refused
                for judged in flagged.validation.bad:
                    for f in judged.verdict.findings:
                        show(f"   {judged.check.spec}  FAIL  {f.path}:{f.line}  {f.message}")
                show("   saved task demo: the check catches the failure it was made from")
            say(
                "4. Or have a model draft the check from the failure, proven in a sandbox before "
                f'it is kept:\n   redline draft {bad.id[:10]} --note "{DRAFT_NOTE}" '
                f"--model openai-chat:redline-stand-in@{standin.url}"
            )
            draft_step(db, bad.id, standin.url, Path(tmp) / "checks", show)
            rules = Path(tmp) / RULES_FILE
            rules.write_text(RULES_AFTER + "\n")
            say(
                f"5. Replay it, {SAMPLES} samples, as recorded and with a stricter {RULES_FILE}:\n"
                f"   redline replay demo --model openai-chat:redline-stand-in@{standin.url} "
                f"-n {SAMPLES} --prompt-variant strict={RULES_FILE}:rules"
            )
            model = replace(one_off(f"openai-chat:redline-stand-in@{standin.url}"), name="stand-in")
            run_id = replay(
                db,
                [task],
                [model],
                [parse_variant(f"strict={rules}:rules")],
                registry,
                Settings(samples=SAMPLES, policy=Policy(concurrency=4)),
            )
            say("6. The report:   redline report")
            with open_store(db, ingest=False) as store:
                report(build_report(store, run_id))
        say(
            "That is the loop. With your own agent: `redline proxy --upstream URL`, work as usual, "
            "`redline flag` the call that went wrong, then `redline replay --model ...` whenever "
            "a new model or a rules change comes along."
        )
        return run_id
