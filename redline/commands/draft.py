"""`redline draft`: a check drafted by a model from a failure, proven in the sandbox, saved; or,
with a workspace or files of the task's own, a `run` check proven by running it, printed in
the `redline flag` command that uses it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from redline.commands.shared import (
    DB_OPTION,
    FILE_OPTION,
    INCLUDE_OPTION,
    JSON_OPTION,
    MODELS_FILE_OPTION,
    PLUGIN_OPTION,
    REV_OPTION,
    WORKSPACE_AT_CUT,
    describe,
    print_json,
    user_errors,
    workspace_spec,
)
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.replay import Attempt, Case, Drafted, Scanned, WorkspaceSpec

# The default of --history (replay.drafting.HISTORY: the surface is loaded only when a command
# runs, so `redline --help` stays quick).
HISTORY = 500
# Exit code when no draft held (refused, not a usage mistake).
REFUSED = 1


@user_errors
def draft_command(
    call: str = typer.Argument(..., help="The call where the model went wrong (id or prefix)."),
    note: str = typer.Option(
        ..., "--note", help="What the model did wrong, in your words: the check is drafted from it."
    ),
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        metavar="MODEL",
        help="The model that drafts: a model from redline.toml, or WIRE:MODEL_ID@BASE_URL.",
    ),
    good: list[str] | None = typer.Option(
        None,
        "--good",
        metavar="FILE_OR_CALL",
        help="A known-good answer the check must pass on (a file `redline check` reads, or a call id); repeatable.",
    ),
    attempts: int = typer.Option(
        3,
        "--attempts",
        min=1,
        metavar="N",
        help="Answers to ask for at most, each told why the one before was refused.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        metavar="FILE",
        help="Write the check to this new file (default: your checks folder, which every command loads).",
    ),
    keep_failed: Path | None = typer.Option(
        None,
        "--keep-failed",
        metavar="DIR",
        help="When no draft holds, write each one here with why it was refused, to fix by hand.",
    ),
    history: int = typer.Option(
        HISTORY,
        "--history",
        min=0,
        metavar="N",
        help="Run the check over the last N recorded answers and say how many it flags (0: none).",
    ),
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        metavar="DIR",
        help=f"The codebase the session worked in, its files {WORKSPACE_AT_CUT}: the model "
        "may then propose a `run` check instead, proven by running it there (needs --good).",
    ),
    rev: str | None = REV_OPTION,
    include: list[str] | None = INCLUDE_OPTION,
    task_file: list[Path] | None = FILE_OPTION,
    plugin: list[Path] | None = PLUGIN_OPTION,
    config: Path | None = MODELS_FILE_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Have a model draft a check from a failure; keep it only when the sandbox proves it."""
    from redline import config as paths
    from redline.commands.shared import load_registry
    from redline.proxy import recording
    from redline.replay import (
        DraftFailed,
        case_from_call,
        config_path,
        draft,
        good_output,
        history_of,
        load_config,
        resolve_models,
    )
    from redline.transcripts import open_store, read_files

    if out is not None and out.exists():
        raise RedlineError(f"{out} exists; give --out a new file (a draft never overwrites one)")
    where = workspace_spec(workspace, rev, include)
    files = read_files(task_file or [])
    (spec,) = resolve_models([model], load_config(config if config is not None else config_path()))
    registry = load_registry(plugin)
    with open_store(db) as store:
        goods = [good_output(store, source) for source in dict.fromkeys(good or [])]
        case = case_from_call(store, call, note, goods, registry, workspace=where, files=files)
        recorded = history_of(store, case, history)
    if not as_json:
        if case.workspace is not None:
            from redline.commands.task_workspaces import print_workspace

            print_workspace(case.workspace.workspace, case.workspace.revision_from)
        either = " (or a `run` check: the model may propose either)" if case.runnable else ""
        typer.echo(
            f"drafting a check{either} for call {case.call} with {spec.name} "
            f"(up to {attempts} attempt{'s' * (attempts != 1)}; each draft is judged in the sandbox)"
        )

    def shown(attempt: Attempt) -> None:
        if not as_json:
            _print_attempt(attempt, len(case.good))

    try:
        with recording(spec.base_url, paths.spool_dir(paths.location(db))) as base_url:
            drafted = draft(
                case,
                replace(spec, base_url=base_url),
                attempts=attempts,
                history=recorded,
                on_attempt=shown,
            )
    except DraftFailed as failed:
        kept = _keep(failed.attempts, keep_failed, case.call)
        raise RedlineError(describe(failed) + kept) from None
    attempt = drafted.kept
    if attempt is None or attempt.proof is None or attempt.kind is None:
        kept_note = _keep(drafted.attempts, keep_failed, case.call)
        if as_json:
            print_json(drafted.to_json(case.call, spec.name, None, None))
        typer.echo(
            f"error: no draft held after {len(drafted.attempts)} "
            f"attempt{'s' * (len(drafted.attempts) != 1)}; nothing was written{kept_note}",
            err=True,
        )
        raise typer.Exit(REFUSED)
    if attempt.run is not None:
        _run_kept(drafted, attempt.run, case, spec.name, note, good, where, task_file, as_json)
        return
    from redline.replay import flag_command, header, save_check

    assert attempt.module is not None
    name = attempt.proof.name or "drafted"
    path = save_check(
        attempt.module,
        name,
        out=out,
        folder=paths.checks_dir(),
        header=header(spec.name, case, attempt),
    )
    flag = flag_command(
        case.call,
        name,
        note,
        plugin=None if out is None else str(path),
        good=good[0] if good else None,
    )
    if as_json:
        print_json(drafted.to_json(case.call, spec.name, str(path), flag))
        return
    if drafted.scanned is not None:
        _print_scanned(drafted.scanned, recorded.total)
    saved_in = "" if out is not None else " (your checks folder: every command loads it)"
    typer.echo(f"saved check {name} to {path}{saved_in}")
    typer.echo(f"use it:  {flag}")


def _run_kept(
    drafted: Drafted,
    run: str,
    case: Case,
    model: str,
    note: str,
    good: list[str] | None,
    where: WorkspaceSpec | None,
    task_file: list[Path] | None,
    as_json: bool,
) -> None:
    """A `run` check held: no file to write, a command to give. Not run over the history."""
    from redline.replay import flag_command

    flag = flag_command(
        case.call,
        run,
        note,
        good=good[0] if good else None,
        workspace=where,
        files=[str(p) for p in task_file or []],
    )
    if as_json:
        print_json(drafted.to_json(case.call, model, None, flag))
        return
    typer.echo(
        "it is a `run` check: nothing to save (it is the line below), and it was not run over "
        "the recorded history (its command would run on every answer; `redline scan -c "
        "RUN_CHECK --workspace DIR` does that when you want it)"
    )
    typer.echo(f"use it:  {flag}")


def _keep(attempts: tuple[Attempt, ...], folder: Path | None, call: str) -> str:
    """Write the refused drafts when asked; the words that say where."""
    if not attempts:
        return ""
    if folder is None:
        return " (--keep-failed DIR keeps the drafts)"
    from redline.replay import keep_drafts

    written = keep_drafts(attempts, folder, call)
    return f"; the drafts are in {folder} ({', '.join(p.name for p in written)})"


def _print_attempt(attempt: Attempt, goods: int) -> None:
    proof = attempt.proof
    if attempt.holds and proof is not None:
        good = (
            f"passes on the {goods} good answer{'s' * (goods != 1)}"
            if goods
            else "no good answer was given (--good makes sure it passes on one)"
        )
        if attempt.run is not None:
            typer.echo(f"attempt {attempt.number}: holds: {attempt.run}")
            typer.echo(f"  it fails on the bad answer and {good}")
        else:
            typer.echo(
                f"attempt {attempt.number}: holds: {proof.name} loads, its {proof.valid} VALID "
                f"and {proof.invalid} INVALID examples hold, it fails on the bad answer; {good}"
            )
        for f in proof.bad_findings:
            at = f"{f['path']}:{f['line']}  " if f["path"] is not None else ""
            typer.echo(f"  on the bad answer: {at}{f['message']}")
            for line in (f.get("snippet") or "").splitlines()[-3:] if attempt.run else ():
                typer.echo(f"    {line}")
        return
    reason = (attempt.reason or "").replace("\n", "\n    ")
    proposed = f" `{attempt.run}`:" if attempt.run is not None else ""
    typer.echo(f"attempt {attempt.number}: refused:{proposed} {reason}")
    if attempt.kind is None and attempt.answer.strip():
        said = " ".join(attempt.answer.split())
        typer.echo(f"  it said: {said[:300]}{'...' if len(said) > 300 else ''}")


def _print_scanned(scanned: Scanned, total: int) -> None:
    others = f"{scanned.scanned} other recorded answer{'s' * (scanned.scanned != 1)}"
    if total > scanned.scanned and scanned.stopped is None:
        others += f" (the last {scanned.scanned} of {total}; --history N reads more)"
    line = f"over the recorded history: it flags {scanned.flagged} of {others}"
    if scanned.errors:
        line += f", and raised on {scanned.errors}"
    typer.echo(line)
    if scanned.scanned and scanned.flagged == scanned.scanned:
        typer.echo("  it flags every one: look at them before you use it")
    for e in scanned.examples:
        f = e.get("finding") or {}
        title = f"  ({e['title']})" if e.get("title") else ""
        typer.echo(f"  {e['id']}  {f.get('path')}:{f.get('line')}  {f.get('message')}{title}")
    if scanned.stopped:
        typer.echo(f"  the scan stopped early: {scanned.stopped}")


def register(app: typer.Typer) -> None:
    app.command("draft")(draft_command)
