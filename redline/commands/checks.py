"""`redline check` and `redline analyzers`: run checks on model outputs, list the checks."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from redline.commands.display import print_verdicts
from redline.commands.shared import (
    DB_OPTION,
    FILE_HELP,
    NO_SANDBOX_HELP,
    describe,
    fail,
    load_registry,
    warn,
    warn_unsandboxed,
)
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.analyzers import Check, Output, Verdict

CHECK_HELP = (
    "A check to run, NAME or NAME:OPTIONS; repeatable. OPTIONS is key=value pairs separated by "
    "';' (\\; for a literal ;) or a JSON object, e.g. 'regex:pattern=except \\(A, B\\):' or "
    '\'regex:{"pattern": "a;b"}\'.'
)


def check_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files to check: code (.py), response bodies (.json), streams (.sse), text (.md).",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option(
            "--check", "-c", help=CHECK_HELP, metavar="NAME[:OPTIONS]", show_default=False
        ),
    ] = None,
    call: Annotated[
        str | None,
        typer.Option(
            "--call",
            help="Check the output of this recorded call (id or prefix).",
            metavar="ID",
            show_default=False,
        ),
    ] = None,
    plugin: Annotated[
        list[Path] | None,
        typer.Option(
            "--plugin",
            help="Load analyzers from this Python file; repeatable.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            help="A project folder for checks that run code: its git HEAD (or its files now), the transcript's own edits, then the answer's.",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    task_file: Annotated[
        list[Path] | None,
        typer.Option("--file", help=FILE_HELP, metavar="PATH", show_default=False),
    ] = None,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help=NO_SANDBOX_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
    db: str | None = DB_OPTION,
) -> None:
    """Run checks on a recorded output or on files; exit 0 if all pass, 1 if any finds something."""
    from redline.analyzers import load_call, load_file, parse_check, prepared, run_checks, runs_code
    from redline.transcripts import read_files

    try:
        if not check:
            raise RedlineError(
                "give at least one --check NAME[:OPTIONS]; `redline analyzers` lists them"
            )
        if call is not None and files:
            raise RedlineError("give either --call ID or files, not both")
        if call is None and not files:
            raise RedlineError("nothing to check: give --call ID or one or more files")
        registry = load_registry(plugin)
        checks = [parse_check(spec, registry) for spec in check]
        own = read_files(task_file or [])
        outputs = [load_call(call, db)] if call is not None else [load_file(p) for p in files or ()]
        if no_sandbox and any(runs_code(c) for c in checks):
            warn_unsandboxed()
        with contextlib.ExitStack() as stack:
            environment = stack.enter_context(prepared(None, None, own, sandbox=not no_sandbox))
            if workspace is not None:
                from redline.replay import folder_environment

                one = outputs[0].request if len(outputs) == 1 else None  # at its cut
                environment, taken = folder_environment(
                    workspace, own, stack, sandbox=not no_sandbox, request=one
                )
                for line in taken.warnings:
                    warn(line)
            results = [
                (
                    output,
                    run_checks(
                        checks,
                        output.message,
                        output.request,
                        cut_off=output.cut_off,
                        environment=environment,
                    ),
                )
                for output in outputs
            ]
    except RedlineError as error:
        raise fail(describe(error)) from None
    if as_json:
        typer.echo(
            json.dumps(_json(results, checks, len(outputs) > 1), indent=2, ensure_ascii=False)
        )
    else:
        _print(results, checks, len(outputs) > 1)
    if not all(v.passed for _, verdicts in results for v in verdicts):
        raise typer.Exit(1)


def _json(
    results: list[tuple[Output, list[Verdict]]], checks: list[Check], many: bool
) -> dict[str, Any]:
    from redline.analyzers import verdict_to_dict

    verdicts = []
    for output, found in results:
        for check, verdict in zip(checks, found, strict=True):
            entry = verdict_to_dict(check.spec, verdict)
            if many:
                entry = {"input": output.label, **entry}
            verdicts.append(entry)
    return {"verdicts": verdicts}


def _print(results: list[tuple[Output, list[Verdict]]], checks: list[Check], many: bool) -> None:
    for output, found in results:
        if many:
            typer.echo(f"== {output.label}")
        print_verdicts([c.spec for c in checks], found)


def analyzers_command(
    plugin: Annotated[
        list[Path] | None,
        typer.Option(
            "--plugin",
            help="Load analyzers from this Python file too; repeatable.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    db: str | None = DB_OPTION,
) -> None:
    """List the checks `redline check --check` accepts, with their options."""
    from redline.analyzers import describe_option
    from redline.config import checks_dir

    try:
        registry = load_registry(plugin)
    except RedlineError as error:
        raise fail(describe(error)) from None
    folder = checks_dir()
    if as_json:
        listing = [
            {
                "name": a.name,
                "description": a.description,
                "origin": registry.origin(a.name),
                "options": [describe_option(o) for o in a.options],
            }
            for a in registry
        ]
        typer.echo(json.dumps({"analyzers": listing, "checks_folder": str(folder)}, indent=2))
        return
    width = max(len(a.name) for a in registry)
    for a in registry:
        origin = "" if registry.origin(a.name) == "built-in" else f"  [{registry.origin(a.name)}]"
        typer.echo(f"{a.name:<{width}}  {a.description}{origin}")
        for o in a.options:
            d = describe_option(o)
            kind = "|".join(o.choices) if o.choices else o.type
            default = "required" if o.required else f"default {json.dumps(d['default'])}"
            typer.echo(f"{'':<{width}}    {o.name} ({kind}, {default}): {o.help}")
    typer.echo(
        f"\nYour checks folder: {folder} (every command loads each *.py file there as a "
        "plugin; `redline draft` saves the checks it proves there)"
    )


def register(app: typer.Typer) -> None:
    """Add `check` and `analyzers` to `app`."""
    app.command("check")(check_command)
    app.command("analyzers")(analyzers_command)
