"""`redline draft`: a check drafted by a model from a failure, proven in the sandbox, saved."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from redline.commands.shared import (
    DB_OPTION,
    JSON_OPTION,
    PLUGIN_OPTION,
    describe,
    print_json,
    user_errors,
)
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.replay import Attempt, Scanned

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
    plugin: list[Path] | None = PLUGIN_OPTION,
    config: Path | None = typer.Option(
        None,
        "--config",
        help="The models file (default: ./redline.toml, else the user config dir).",
    ),
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
    from redline.transcripts import open_store

    if out is not None and out.exists():
        raise RedlineError(f"{out} exists; give --out a new file (a draft never overwrites one)")
    (spec,) = resolve_models([model], load_config(config if config is not None else config_path()))
    registry = load_registry(plugin)
    with open_store(db) as store:
        goods = [good_output(store, source) for source in dict.fromkeys(good or [])]
        case = case_from_call(store, call, note, goods, registry)
        recorded = history_of(store, case, history)
    if not as_json:
        typer.echo(
            f"drafting a check for call {case.call} with {spec.name} "
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
    if attempt is None or attempt.module is None or attempt.proof is None:
        kept_note = _keep(drafted.attempts, keep_failed, case.call)
        if as_json:
            print_json(drafted.to_json(case.call, spec.name, None, None))
        typer.echo(
            f"error: no draft held after {len(drafted.attempts)} "
            f"attempt{'s' * (len(drafted.attempts) != 1)}; nothing was written{kept_note}",
            err=True,
        )
        raise typer.Exit(REFUSED)
    from redline.replay import header, save_check

    name = attempt.proof.name or "drafted"
    path = save_check(
        attempt.module,
        name,
        out=out,
        folder=paths.checks_dir(),
        header=header(spec.name, case, attempt),
    )
    flag = f"redline flag {case.call} -c {name} --note {shlex.quote(note)}"
    if out is not None:
        flag += f" --plugin {shlex.quote(str(path))}"
    if good:
        flag += f" --good {shlex.quote(good[0])}"
    if as_json:
        print_json(drafted.to_json(case.call, spec.name, str(path), flag))
        return
    if drafted.scanned is not None:
        _print_scanned(drafted.scanned, recorded.total)
    where = "" if out is not None else " (your checks folder: every command loads it)"
    typer.echo(f"saved check {name} to {path}{where}")
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
        typer.echo(
            f"attempt {attempt.number}: holds: {proof.name} loads, its {proof.valid} VALID and "
            f"{proof.invalid} INVALID examples hold, it fails on the bad answer; {good}"
        )
        for f in proof.bad_findings:
            typer.echo(f"  on the bad answer: {f['path']}:{f['line']}  {f['message']}")
        return
    reason = (attempt.reason or "").replace("\n", "\n    ")
    typer.echo(f"attempt {attempt.number}: refused: {reason}")
    if attempt.module is None and attempt.answer.strip():
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
