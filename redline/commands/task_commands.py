"""`redline flag`, `tasks`, `task show|rm`, `export`, `import`: turning bad calls into tasks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from redline.commands.shared import (
    DB_OPTION,
    FILE_OPTION,
    INCLUDE_OPTION,
    JSON_OPTION,
    NO_SANDBOX_OPTION,
    PLUGIN_OPTION,
    REV_OPTION,
    WORKSPACE_AT_CUT,
    print_json,
    user_errors,
    warn,
    warn_unsandboxed,
    workspace_spec,
)
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.analyzers import Registry
    from redline.replay import Flagged, Judged, Validation
    from redline.transcripts import ArchiveEntry, Store, Task, Workspace

CHECK_OPTION = typer.Option(
    ...,
    "--check",
    "-c",
    metavar="NAME[:OPTIONS]",
    help="A check that catches the failure; repeatable (as `redline check` takes them).",
)

# Exit code of a task the checks cannot justify (refused, not a usage mistake).
REFUSED = 1


def _registry(plugins: list[Path] | None) -> Registry:
    from redline.commands.shared import load_registry

    return load_registry(plugins)


def _print_judged(title: str, judged: tuple[Judged, ...]) -> None:
    from redline.commands.display import print_verdicts

    typer.echo(title)
    print_verdicts([j.check.spec for j in judged], [j.verdict for j in judged], indent="  ")


def _verdicts_json(validation: Validation) -> dict[str, Any]:
    from redline.analyzers import verdict_to_dict

    def each(judged: tuple[Judged, ...] | None) -> list[dict[str, Any]] | None:
        if judged is None:
            return None
        return [verdict_to_dict(j.check.spec, j.verdict) for j in judged]

    return {"output": each(validation.bad), "good_output": each(validation.good)}


def _forced(flagged: Flagged) -> str:
    """What a forced save overrode, in parentheses."""
    if flagged.refused is None:
        return ""
    overrode = []
    if flagged.duplicates:
        overrode.append(f"the same as {', '.join(flagged.duplicates)}")
    if not flagged.validation.catches:
        overrode.append("no check fails on its original output")
    return f" (forced: {'; '.join(overrode)})"


@user_errors
def flag(
    call: str = typer.Argument(..., help="The call where the model went wrong (id or prefix)."),
    check: list[str] = CHECK_OPTION,
    plugin: list[Path] | None = PLUGIN_OPTION,
    name: str | None = typer.Option(
        None,
        "--name",
        help="The task's name (default: made from the check and the conversation's title).",
    ),
    note: str = typer.Option("", "--note", help="What went wrong, in your words."),
    good: str | None = typer.Option(
        None,
        "--good",
        metavar="FILE_OR_CALL",
        help="A known-good output (a file `redline check` reads, or a call id): it must write code, and every check must pass on it.",
    ),
    tool_call: int | None = typer.Option(
        None,
        "--tool-call",
        min=1,
        metavar="N",
        help="Keep only the Nth tool call of the output as the known-bad output.",
    ),
    drop_last: int = typer.Option(
        0, "--drop-last", min=0, metavar="K", help="Cut the transcript K messages before the call."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Keep the task even if no check fails on the original output, or the call is a "
        "task already with the same cut and checks.",
    ),
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        metavar="DIR",
        help=f"The codebase the session worked in: the task keeps its files {WORKSPACE_AT_CUT}.",
    ),
    rev: str | None = REV_OPTION,
    include: list[str] | None = INCLUDE_OPTION,
    task_file: list[Path] | None = FILE_OPTION,
    no_sandbox: bool = NO_SANDBOX_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Make a task from a recorded call: its transcript, its bad output, the checks that catch it."""
    from redline.analyzers import runs_code
    from redline.commands.task_workspaces import print_workspace, workspace_json
    from redline.replay import checks_of, good_output, task_from_call
    from redline.replay import flag as flag_task
    from redline.transcripts import open_store, read_files

    spec = workspace_spec(workspace, rev, include)
    registry = _registry(plugin)
    # unknown checks and bad options fail before anything is read
    if no_sandbox and any(runs_code(c) for c in checks_of(check, registry)):
        warn_unsandboxed()
    files = read_files(task_file or [])
    with open_store(db) as store:
        found = store.load_call(call)
        good_out = good_output(store, good) if good is not None else None
        task = task_from_call(
            store,
            found,
            check,
            name=name,
            note=note,
            tool_call=tool_call,
            drop=drop_last,
            good=good_out,
            files=files,
        )
        flagged = flag_task(
            store, task, registry, force=force, workspace=spec, sandbox=not no_sandbox
        )
    validation = flagged.validation
    taken = flagged.workspace
    if as_json:
        print_json(
            {
                "task": task.name,
                "saved": flagged.saved,
                "duplicates": list(flagged.duplicates),
                "verdicts": _verdicts_json(validation),
                "workspace": workspace_json(taken.workspace if taken else None),
            }
        )
    else:
        _print_judged(f"checks on the original output ({task.output.source}):", validation.bad)
        if validation.good is not None and task.good is not None:
            _print_judged(f"checks on the known-good output ({task.good.source}):", validation.good)
        if flagged.saved:
            typer.echo(
                f"saved task {task.name}: {len(task.request.messages)} messages, "
                f"{len(task.checks)} check{'s' * (len(task.checks) != 1)}{_forced(flagged)}"
            )
            if taken is not None:
                print_workspace(taken.workspace, taken.revision_from)
    if flagged.refused is not None and not flagged.saved:
        typer.echo(f"error: {flagged.refused}", err=True)
        raise typer.Exit(REFUSED)


@user_errors
def tasks_command(as_json: bool = JSON_OPTION, db: str | None = DB_OPTION) -> None:
    """List the tasks: name, origin call, model, wire format, checks, created."""
    from redline.commands.display import make_console, print_table
    from redline.commands.shared import report_ingest
    from redline.transcripts import open_store

    with open_store(db) as store:
        report_ingest(store)
        listed = store.tasks()
    if as_json:
        print_json({"tasks": [t.to_json() for t in listed]})
        return
    if not listed:
        typer.echo("No tasks yet. Flag a call that went wrong: redline flag CALL -c CHECK")
        return
    print_table(
        make_console(),
        [
            ("task", "id"),
            ("from call", "opt"),
            ("model", ""),
            ("wire", "opt"),
            ("created (UTC)", "opt"),
            ("checks", "fill"),
        ],
        [
            [
                t.name,
                t.origin_call or "(imported)",
                t.model or "",
                t.wire or "",
                f"{t.created_at:%Y-%m-%d %H:%M}",
                ", ".join(t.checks),
            ]
            for t in listed
        ],
    )


task_app = typer.Typer(help="One task: show it or remove it.", no_args_is_help=True)


@task_app.command("show")
@user_errors
def task_show(
    name: str = typer.Argument(..., help="A task name (or a unique prefix of one)."),
    last: int = typer.Option(
        4, "--last", min=0, help="Show the last N messages of the transcript (0: all)."
    ),
    plugin: list[Path] | None = PLUGIN_OPTION,
    no_sandbox: bool = NO_SANDBOX_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Show a task: its transcript's end, outputs, workspace and its checks' verdicts now."""
    from redline.commands.task_workspaces import workspace_json
    from redline.replay import validate_stored
    from redline.transcripts import open_store, task_to_file

    registry = _registry(plugin)
    if no_sandbox:
        warn_unsandboxed()
    with open_store(db) as store:
        task = store.task(name)
        workspace = store.workspace(task.name)
        validation = validate_stored(store, task, registry, sandbox=not no_sandbox)
    if as_json:
        print_json(
            {
                "task": task_to_file(task),
                "verdicts": _verdicts_json(validation),
                "workspace": workspace_json(workspace),
            }
        )
        return
    _show_task(task, validation, last, workspace)


def _show_task(task: Task, validation: Validation, last: int, workspace: Workspace | None) -> None:
    from rich.markup import escape

    from redline.commands.display import make_console, render_message
    from redline.commands.task_workspaces import workspace_lines
    from redline.transcripts import Message

    console = make_console()
    p = task.provenance
    console.print(f"[bold]task {escape(task.name)}[/]  {task.wire}  model {task.model or '-'}")
    origin = f"call {p.call}" if p.call else "imported"
    when = f" recorded {p.recorded_at:%Y-%m-%d %H:%M} UTC" if p.recorded_at else ""
    console.print(f"from {origin}{when}; created {task.created_at:%Y-%m-%d %H:%M} UTC")
    if task.note:
        console.print(f"note: {escape(task.note)}")
    if task.files:
        listed = ", ".join(f"{f.path} ({len(f.data):,} bytes)" for f in task.files)
        console.print(f"its own files: {escape(listed)}")
    cut = []
    if task.drop_last:
        cut.append(f"cut {task.drop_last} messages before the call")
    if task.tool_call:
        cut.append(f"only tool call {task.tool_call} of the output kept")
    if cut:
        console.print("; ".join(cut))
    if workspace is not None:
        for line in workspace_lines(workspace):
            console.print(escape(line), highlight=False)
        for warning in workspace.warnings:
            console.print(f"  [yellow]note:[/] {escape(warning)}", highlight=False)
    messages = task.request.messages
    shown = messages[-last:] if last else messages
    if task.request.system and not last:
        console.print(render_message(Message("system", task.request.system), "system"))
    if len(shown) < len(messages):
        console.print(
            f"[dim]... {len(messages) - len(shown)} earlier messages (--last 0 shows all)[/]"
        )
    for m in shown:
        console.print(render_message(m))
    reason = task.output.finish_reason or "no finish reason"
    console.print(render_message(task.output.message, f"known-bad output ({reason})"))
    _print_judged("checks on the known-bad output:", validation.bad)
    if task.good is not None and validation.good is not None:
        console.print(render_message(task.good.message, f"known-good output ({task.good.source})"))
        _print_judged("checks on the known-good output:", validation.good)
    if not validation.catches:
        warn("no check fails on this task's known-bad output any more: the checks changed")
    if not validation.good_passes:
        warn(
            "this task's known-good output no longer passes (a check fails on it, or none "
            "judges its code): the checks changed"
        )


@task_app.command("rm")
@user_errors
def task_rm(
    name: str = typer.Argument(..., help="The task's exact name."),
    db: str | None = DB_OPTION,
) -> None:
    """Remove a task (its transcript stays recorded)."""
    from redline.transcripts import open_store

    with open_store(db) as store:
        store.delete_task(name)
    typer.echo(f"removed task {name}")


@user_errors
def export(
    names: list[str] | None = typer.Argument(None, help="Tasks to export (default: all)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="The folder to write task files to (created if missing)."
    ),
    db: str | None = DB_OPTION,
) -> None:
    """Write tasks as JSON files, their workspaces as archives beside them, secrets masked."""
    from redline.commands.task_workspaces import archive_name, pack_workspace
    from redline.transcripts import ArchiveEntry, open_store

    with open_store(db) as store:
        chosen = names or sorted(t.name for t in store.tasks())
        if not chosen:
            raise RedlineError("there are no tasks to export; flag a call first (`redline flag`)")
        tasks = [store.task(n) for n in chosen]
        packed = {t.name: p for t in tasks if (p := pack_workspace(store, t.name)) is not None}
    entries = {name: ArchiveEntry(archive_name(name), p.sha256) for name, p in packed.items()}
    documents, masked = _masked_documents(tasks, entries)
    files = {name: _dumps_bytes(document) for name, document in documents.items()}
    files.update({archive_name(name): p.data for name, p in packed.items()})
    _write_all(out, files)
    archives = f" and {len(packed)} workspace archive{'s' * (len(packed) != 1)}" if packed else ""
    typer.echo(
        f"wrote {len(documents)} task file{'s' * (len(documents) != 1)}{archives} to {out}; "
        + (
            f"masked {masked} secret{'s' * (masked != 1)} (look for [masked:...] in the files)"
            if masked
            else "no secrets found in them"
        )
    )
    in_files = sum(p.masked for p in packed.values())
    if in_files:
        where = sorted(f for p in packed.values() for f in p.masked_files)
        typer.echo(
            f"masked {in_files} secret{'s' * (in_files != 1)} in workspace files: "
            + ", ".join(where)
        )


def _dumps_bytes(document: dict[str, Any]) -> bytes:
    from redline.transcripts import dumps_task_file

    return dumps_task_file(document).encode("utf-8")


def _masked_documents(
    tasks: list[Task], entries: dict[str, ArchiveEntry]
) -> tuple[dict[str, dict[str, Any]], int]:
    """Each task's file document (listing its workspace archive), with secrets in its
    messages, outputs, note, provenance and own text files masked (not in its checks: a
    check's pattern is the user's own text, and masking it would change what it catches)."""
    from redline.transcripts import mask_json, task_to_file

    documents: dict[str, dict[str, Any]] = {}
    masked = 0
    for task in tasks:
        document = task_to_file(task, entries.get(task.name))
        for key in ("request", "output", "good_output", "note", "provenance"):
            if document.get(key) is not None:
                document[key], count = mask_json(document[key])
                masked += count
        for entry in document.get("files", ()):  # text files; bytes in base64 are kept
            if "text" in entry:
                entry["text"], count = mask_json(entry["text"])
                masked += count
        documents[f"{task.name}.json"] = document
    return documents, masked


def _write_all(out: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file or none: each goes to a temporary name first, renamed at the end."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RedlineError(f"cannot create the folder {out}: {exc.strerror}") from None
    staged: list[tuple[Path, Path]] = []
    try:
        for filename, data in files.items():
            # Not mkstemp: its files are private (0600), and a task file is for sharing.
            temporary = out / f".{filename}.{os.getpid()}.tmp"
            with open(temporary, "wb") as f:
                staged.append((temporary, out / filename))
                f.write(data)
    except OSError as exc:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise RedlineError(f"cannot write task files to {out}: {exc.strerror}") from None
    for temporary, final in staged:
        temporary.replace(final)
    return [final for _, final in staged]


@user_errors
def import_command(
    paths: list[Path] | None = typer.Argument(
        None, help="Task files, or folders of them (*.json)."
    ),
    examples: bool = typer.Option(
        False, "--examples", help="Import the example tasks redline ships."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Overwrite same-named tasks whose content differs."
    ),
    plugin: list[Path] | None = PLUGIN_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Import task files and their workspaces; all of them, or none when any is invalid."""
    from redline.commands.task_workspaces import read_archive
    from redline.errors import TaskFilesInvalid
    from redline.transcripts import example_files, open_store, read_task_files

    if not paths and not examples:
        raise RedlineError("give task files or folders to import, or --examples")
    files = _task_files(paths or []) + (example_files() if examples else [])
    registry = _registry(plugin)
    unknown: dict[str, set[str]] = {}

    def vet(task: Task, source: str) -> None:
        missing = _untrusted_checks(task, source, registry)
        if missing:
            unknown[task.name] = missing

    try:
        loaded = read_task_files(files, vet)
    except TaskFilesInvalid as exc:
        if len(exc.errors) > 1:  # each one on a line of its own, then the count
            for error in exc.errors:
                typer.echo(f"error: {error}", err=True)
        raise
    tasks = [one.task for one in loaded]
    # Every archive is checked whole before anything is written: refused, nothing is imported.
    workspaces = {
        one.task.name: read_archive(file, one.workspace)
        for one, file in zip(loaded, files, strict=True)
        if one.workspace is not None
    }
    for name, missing in sorted(unknown.items()):
        warn(
            f"task {name} uses check {', '.join(sorted(missing))}, not registered here; "
            "replaying it needs --plugin or the package that provides it"
        )
    with open_store(db) as store:
        added, unchanged = _save_all(store, tasks, replace, workspaces)
    with_workspace = f" ({len(workspaces)} with a workspace)" if workspaces else ""
    typer.echo(
        f"imported {added} task{'s' * (added != 1)}"
        + (f"; {unchanged} already present, unchanged" if unchanged else "")
        + (with_workspace if added else "")
    )


def _untrusted_checks(task: Task, source: str, registry: Registry) -> set[str]:
    """A task file's checks are read as `--check` would read them: a spec that cannot run
    (bad syntax, an unknown option, a pattern that does not compile) refuses the file. A check
    not registered here may be a plugin the sender has: its names are returned."""
    from redline.analyzers import parse_check, spec_name
    from redline.errors import TaskFileError

    known = set(registry.names())
    missing = set()
    for i, spec in enumerate(task.checks):
        try:
            name = spec_name(spec)
            if name in known:
                parse_check(spec, registry)
            else:
                missing.add(name)
        except RedlineError as exc:
            raise TaskFileError(source, f"checks[{i}]", str(exc)) from None
    return missing


def _task_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise RedlineError(f"{path} holds no task files (*.json)")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise RedlineError(f"{path} does not exist")
    return files


def _save_all(
    store: Store,
    tasks: list[Task],
    replace: bool,
    workspaces: dict[str, tuple[Workspace, dict[str, bytes]]],
) -> tuple[int, int]:
    """Save in one transaction, so nothing is half-imported."""
    from redline.errors import TaskExists

    try:
        return store.save_tasks(tasks, replace_existing=replace, workspaces=workspaces)
    except TaskExists as exc:
        raise RedlineError(
            f"a task named {exc.name!r} exists already with other content; "
            "import with --replace to overwrite it"
        ) from None


def register(app: typer.Typer) -> None:
    app.command("flag")(flag)
    app.command("tasks")(tasks_command)
    app.add_typer(task_app, name="task")
    app.command("export")(export)
    app.command("import")(import_command)
