"""`redline scan`: checks over the recorded history, and the answers the user corrected."""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from redline.commands.shared import (
    DB_OPTION,
    FILE_OPTION,
    JSON_OPTION,
    NO_SANDBOX_OPTION,
    PLUGIN_OPTION,
    print_json,
    user_errors,
    warn,
    warn_unsandboxed,
)
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.replay import Correction, Hit, ScanResult
    from redline.transcripts import ScanCall


@user_errors
def scan_command(
    check: list[str] | None = typer.Option(
        None,
        "--check",
        "-c",
        metavar="NAME[:OPTIONS]",
        help="A check to run over every recorded answer; repeatable (as `redline check` takes them).",
    ),
    corrections: bool = typer.Option(
        False,
        "--corrections",
        help="List the answers the next turn corrected (rejected, interrupted, 'no, don't...').",
    ),
    plugin: list[Path] | None = PLUGIN_OPTION,
    since: str | None = typer.Option(
        None, "--since", metavar="WHEN", help="Only calls since then: 7d, 12h, 30m or an ISO date."
    ),
    conversation: str | None = typer.Option(
        None, "--conversation", metavar="ID", help="Only this conversation (id or prefix)."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        metavar="PATTERN",
        help="Only calls to models matching this (a glob such as 'claude-*', else a substring).",
    ),
    min_score: int = typer.Option(
        2, "--min-score", min=1, metavar="N", help="List corrections scoring at least N."
    ),
    limit: int = typer.Option(
        20,
        "--limit",
        min=0,
        metavar="N",
        help="List at most N answers with findings, the worst first, grouped by conversation "
        "(0: all; --json always lists all).",
    ),
    jobs: int = typer.Option(
        0,
        "--jobs",
        "-j",
        min=0,
        metavar="N",
        help="Worker processes judging answers (0: one per core).",
    ),
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        metavar="DIR",
        help="A project folder for checks that run code: its git HEAD (or its files now), each transcript's own edits, then the answer's.",
    ),
    task_file: list[Path] | None = FILE_OPTION,
    no_sandbox: bool = NO_SANDBOX_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Run checks over every recorded answer, or find the answers the user corrected."""
    from redline.analyzers import prepared, runs_code
    from redline.commands.shared import load_registry, report_ingest
    from redline.replay import Selection, folder_environment, parse_since
    from redline.transcripts import open_store, read_files

    if not check and not corrections:
        raise RedlineError(
            "give --check NAME[:OPTIONS] (see `redline analyzers`), --corrections, or both"
        )
    selection = Selection(
        since=None if since is None else parse_since(since),
        conversation=conversation,
        model=model,
    )
    checks = []
    plugin_files: list[str] = []
    if check:
        from redline.analyzers import parse_check

        registry = load_registry(plugin)
        checks = [parse_check(spec, registry) for spec in check]
        plugin_files = [str(p) for p in registry.plugin_files]
    own = read_files(task_file or [])
    code = any(runs_code(c) for c in checks)
    if no_sandbox and code:
        warn_unsandboxed()
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack, open_store(db) as store:
        report_ingest(store)
        environment = None
        if code and workspace is not None:
            environment, taken = folder_environment(workspace, own, stack, sandbox=not no_sandbox)
            for line in taken.warnings:
                warn(line)
        elif code:
            environment = stack.enter_context(prepared(None, None, own, sandbox=not no_sandbox))
        result = None
        if checks:
            from redline.replay import scan

            bar = _ProgressBar()
            try:
                result = scan(
                    store,
                    checks,
                    selection,
                    plugins=plugin_files,
                    jobs=jobs,
                    progress=bar.update,
                    environment=environment,
                )
            except KeyboardInterrupt:
                bar.stop()
                typer.echo(
                    "interrupted: the verdicts judged so far are kept; "
                    "run the same command again to go on",
                    err=True,
                )
                raise typer.Exit(130) from None
            bar.stop()
            out.update(result.to_json())
        found = None
        if corrections:
            from redline.replay import find_corrections

            found = find_corrections(store, selection, min_score=min_score)
            out["corrections"] = [c.to_json() for c in found]
    if as_json:
        print_json(out)
        return
    if result is not None:
        _print_scan(result, limit)
    if found is not None:
        if result is not None:
            typer.echo("")
        _print_corrections(found, min_score)


def _client(call: ScanCall) -> str:
    return (call.client or "").split(" ")[0]


def _heading(call: ScanCall, flagged: tuple[str, ...]) -> str:
    mark = f"  [flagged: {', '.join(flagged)}]" if flagged else ""
    fields = [
        call.id,
        f"{call.started_at:%Y-%m-%d %H:%M}",
        call.model or "-",
        _client(call) or "-",
        call.title or "",
    ]
    return "  ".join(fields).rstrip() + mark


# Answers listed per conversation before the rest of it is summed up in one line.
PER_CONVERSATION = 3


def _print_scan(result: ScanResult, limit: int) -> None:
    from redline.replay import by_conversation

    names = ", ".join(k.check.spec for k in result.checks)
    answers = f"{result.scanned:,} answer{'s' * (result.scanned != 1)}"
    groups = by_conversation(result.hits)
    where = f" in {len(groups):,} conversation{'s' * (len(groups) != 1)}" if groups else ""
    typer.echo(
        f"scanned {answers} with {names}: {len(result.hits):,} with findings{where} "
        f"({result.cached:,} verdicts from the cache, {result.judged:,} judged now)"
    )
    checks = " ".join(f"-c {shlex.quote(k.check.spec)}" for k in result.checks)
    shown = 0
    for i, group in enumerate(groups):
        if limit and shown >= limit:
            rest = groups[i:]
            hidden = sum(len(g.hits) for g in rest)
            typer.echo("")
            typer.echo(
                f"{len(rest):,} more conversation{'s' * (len(rest) != 1)} with {hidden:,} "
                f"answer{'s' * (hidden != 1)} with findings; --limit 0 lists them all"
            )
            break
        count = len(group.hits)
        typer.echo("")
        typer.echo(
            f"conversation {group.conversation_id or '-'}: {count:,} answer{'s' * (count != 1)} "
            f"with findings{', the worst first' * (count > 1)}"
        )
        room = count if not limit else min(PER_CONVERSATION, limit - shown)
        for hit in group.hits[:room]:
            _print_hit(hit)
        shown += min(room, count)
        if count > room:
            typer.echo(
                f"  ... {count - room:,} more in this conversation: redline scan {checks} "
                f"--conversation {group.conversation_id} --limit 0"
            )
    for error in result.errors:
        typer.echo(f"error: call {error.call_id}: {error.error}", err=True)


def _print_hit(hit: Hit) -> None:
    typer.echo("  " + _heading(hit.call, hit.flagged))
    for verdict in hit.verdicts:
        for f in verdict["findings"]:
            where = f"{f['path']}:{f['line']}" if f["path"] and f["line"] else f["path"]
            typer.echo(f"    {verdict['check']}  {where or 'output'}  {f['message']}")
    typer.echo(f"    {hit.flag_command}")


def _print_corrections(found: list[Correction], min_score: int) -> None:
    typer.echo(
        f"{len(found)} answer{'s' * (len(found) != 1)} the next turn corrected "
        f"(score {min_score} or more), strongest first"
    )
    for c in found:
        typer.echo("")
        typer.echo(f"score {c.score}  {_heading(c.call, c.flagged)}")
        typer.echo(f"  answer:  {c.output or '(empty)'}")
        if c.said:
            typer.echo(f"  then:    {c.said}")
        signals = ", ".join(f'{s.name} ({s.weight}) "{s.evidence}"' for s in c.signals)
        typer.echo(f"  signals: {signals}")
        typer.echo(f"  redline flag {c.call.id} -c CHECK")


class _ProgressBar:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("judging answers"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("scan", total=total)
        self._bar.update(self._task, completed=done)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)
