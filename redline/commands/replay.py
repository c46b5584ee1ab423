"""`redline replay`, `runs`, `report`, `recheck`: tasks sent to models and variants, judged."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from redline.commands.shared import (
    DB_OPTION,
    JSON_OPTION,
    NO_SANDBOX_OPTION,
    PLUGIN_OPTION,
    print_json,
    user_errors,
    warn_unsandboxed,
)
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.replay import Detectable, Estimate, Progress

FORMATS = ("table", "md", "json", "html")
# What runs unsandboxed in a replay under --no-sandbox.
REPLAYED = "the commands replayed models ask for, and the code checks run, run"


def _registry(plugins: list[Path] | None) -> Any:
    from redline.commands.shared import load_registry

    return load_registry(plugins)


@user_errors
def replay_command(
    tasks: list[str] | None = typer.Argument(None, help="Tasks to replay (default: every task)."),
    model: list[str] = typer.Option(
        [],
        "--model",
        "-m",
        metavar="MODEL",
        help="A model from redline.toml, or WIRE:MODEL_ID@BASE_URL; repeatable.",
    ),
    samples: int = typer.Option(
        3, "--samples", "-n", min=1, help="Samples per task, model and variant."
    ),
    prompt_variant: list[str] = typer.Option(
        [],
        "--prompt-variant",
        "-p",
        metavar="NAME=FILE[:MODE]",
        help="A variant: FILE appended to the system prompt (append), replacing it (replace), or replacing the rules file the agent embedded (rules); repeatable.",
    ),
    max_steps: int = typer.Option(
        8,
        "--max-steps",
        min=1,
        help="Steps per sample at most: a tool call that is not an edit is answered and the model asked again, until it edits or ends its turn (1: the first answer only).",
    ),
    concurrency: int = typer.Option(16, "--concurrency", min=1, help="Requests in flight at most."),
    temperature: float | None = typer.Option(
        None, "--temperature", min=0.0, help="Sampling temperature (default: the task's own)."
    ),
    timeout: float = typer.Option(
        300.0, "--timeout", min=1.0, help="Seconds to wait for one answer."
    ),
    retries: int = typer.Option(
        4, "--retries", min=0, help="Retries on 429, 5xx, timeouts and resets."
    ),
    max_wait: float = typer.Option(
        120.0,
        "--max-wait",
        min=0.0,
        help="Seconds to wait before a retry at most; an upstream asking longer (Retry-After) ends that sample as an error.",
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="Send everything, even what was answered before (and run again the commands of checks that run code).",
    ),
    jobs: int = typer.Option(
        0,
        "--jobs",
        "-j",
        min=0,
        metavar="N",
        help="Checks that run code (run) running at once (0: one per core).",
    ),
    no_sandbox: bool = typer.Option(
        False,
        "--no-sandbox",
        help="Run the commands replayed models ask for, and the answers' code that checks run, on this machine as you, without the sandbox (where it cannot start); the run records it.",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print requests, tokens, estimated cost and the smallest difference the run could detect; send nothing.",
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
    """Replay tasks to models and prompt variants, judge the answers, report pass rates."""
    from redline.replay import (
        Policy,
        Settings,
        config_path,
        load_config,
        parse_variant,
        plan,
        replay,
        resolve_models,
        with_baseline,
    )
    from redline.transcripts import open_store

    variants = [parse_variant(v) for v in prompt_variant]
    configured = load_config(config if config is not None else config_path())
    models = resolve_models(model, configured, keys=not dry_run)
    registry = _registry(plugin)
    with open_store(db) as store:
        chosen = tasks or sorted(t.name for t in store.tasks())
        if not chosen:
            raise RedlineError(
                "there are no tasks yet; make one with `redline flag`, or `redline import --examples`"
            )
        task_list = [store.task(name) for name in chosen]
        path = store.location
        if dry_run:
            from redline.replay import reach

            can_show = reach(store, chosen, samples)
    if dry_run:
        from redline.replay import estimate

        planned = plan(task_list, models, with_baseline(variants), samples, temperature)
        _print_dry_run(estimate(planned), can_show, as_json, max_steps)
        return
    progress_bar = _ProgressBar(quiet=as_json)
    settings = Settings(
        samples=samples,
        temperature=temperature,
        policy=Policy(
            concurrency=concurrency,
            timeout=timeout,
            retries=retries,
            max_wait=max_wait,
            notify=progress_bar.say,
        ),
        use_cache=not no_cache,
        max_steps=max_steps,
        jobs=jobs,
        sandboxed=not no_sandbox,
    )
    if no_sandbox:
        warn_unsandboxed(REPLAYED)
    try:
        with _terminated_as_interrupt():
            run_id = replay(
                path,
                task_list,
                models,
                variants,
                registry,
                settings,
                on_progress=progress_bar.update,
                on_start=progress_bar.start,
            )
    except KeyboardInterrupt as stopped:
        progress_bar.stop()
        done = progress_bar.last
        kept = f"{done.done} of {done.total} samples kept" if done else "finished samples kept"
        how = "terminated" if isinstance(stopped, _Terminated) else "interrupted"
        typer.echo(f"{how}: {kept}; run the same command again to resume", err=True)
        raise typer.Exit(143 if isinstance(stopped, _Terminated) else 130) from None
    progress_bar.stop()
    with open_store(path, ingest=False) as store:
        _print_report(store, run_id, "json" if as_json else "table", None)
    last = progress_bar.last
    if last is not None and not as_json:
        typer.echo(
            f"run {run_id}: {last.total} samples, {last.cached} from the cache, "
            f"{last.total - last.cached - last.errors} sent and answered, {last.errors} errors"
        )


class _Terminated(KeyboardInterrupt):
    """SIGTERM (`timeout`, CI, a service manager), handled as Ctrl-C is."""


@contextlib.contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """While a replay runs, SIGTERM stops it as Ctrl-C does: what finished is kept and the run
    is marked interrupted, where the default would end the process with the run left
    `running`."""

    def terminated(signum: int, frame: object) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminated)
    except ValueError:  # not the main thread (a test's runner): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _ProgressBar:
    """A progress bar on a terminal; nothing when piped or printing JSON."""

    def __init__(self, *, quiet: bool) -> None:
        self.enabled = sys.stderr.isatty() and not quiet
        self.last: Progress | None = None
        self._bar: Any = None
        self._task: Any = None

    def start(self, run_id: str, progress: Progress) -> None:
        self.last = progress
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn(f"run {run_id}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("replay", total=progress.total, detail="")

    def say(self, line: str) -> None:
        """A line on stderr (above the bar, while it shows)."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            typer.echo(line, err=True)

    def update(self, progress: Progress) -> None:
        self.last = progress
        if self._bar is not None:
            detail = (
                f"pass {progress.passed}  fail {progress.failed}  no attempt "
                f"{progress.no_attempts}  error {progress.errors}  cached {progress.cached}"
            )
            self._bar.update(self._task, completed=progress.done, detail=detail)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _print_dry_run(
    estimates: list[Estimate], can_show: Detectable, as_json: bool, max_steps: int
) -> None:
    if as_json:
        print_json(
            {
                "requests": [e.to_json() for e in estimates],
                "sent": 0,
                "detectable": can_show.to_json(),
            }
        )
        return
    from redline.commands.display import make_console, print_table

    def tokens(e: Estimate) -> str:
        if e.prompt_tokens is None:
            return "-"
        return ("~" if e.estimated else "") + f"{e.prompt_tokens:,}"

    print_table(
        make_console(),
        [
            ("task", "id"),
            ("model", ""),
            ("variant", ""),
            ("messages", "opt"),
            ("prompt tokens", ""),
            ("samples", ""),
            ("est. cost", ""),
            ("endpoint", "fill"),
        ],
        [
            [
                e.task,
                e.model,
                e.variant,
                str(e.messages),
                tokens(e),
                str(e.samples),
                "-" if e.cost is None else f"${e.cost:.4f}",
                e.error or e.endpoint,
            ]
            for e in estimates
        ],
    )
    costs = [e.cost for e in estimates if e.cost is not None]
    total = f"${sum(costs):.4f}" if costs else "unknown (no prices in redline.toml)"
    first = sum(e.samples for e in estimates)
    # A sample that calls tools sends one request per step: the first ones are all we can count.
    steps = (
        f" (a sample whose model calls tools sends up to {max_steps}, one per step: "
        f"at most {first * max_steps})"
        if max_steps > 1
        else ""
    )
    typer.echo(
        f"{first} first requests{steps}, estimated cost of the first requests {total}; nothing "
        "was sent. ~ marks token counts estimated with cl100k_base, not the model's own tokenizer."
    )
    typer.echo(can_show.to_json()["line"])


def _print_report(store: Any, run_id: str, fmt: str, out: Path | None) -> None:
    import json

    from redline.replay import build_report

    report = build_report(store, run_id)
    if fmt == "table":
        from redline.commands.display import make_console
        from redline.replay import render_table

        render_table(report, make_console())
        return
    if fmt == "json":
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "md":
        from redline.replay import render_markdown

        text = render_markdown(report)
    else:
        from redline.replay import render_html

        text = render_html(report)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RedlineError(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {out}", err=True)


@user_errors
def runs_command(as_json: bool = JSON_OPTION, db: str | None = DB_OPTION) -> None:
    """List replay runs, newest first."""
    from redline.commands.display import make_console, print_table
    from redline.transcripts import open_store

    with open_store(db) as store:
        listed = store.runs.list()
    if as_json:
        print_json({"runs": [r.to_json() for r in listed]})
        return
    if not listed:
        typer.echo("No runs yet. Replay your tasks: redline replay --model MODEL")
        return
    print_table(
        make_console(),
        [
            ("run", "id"),
            ("started (UTC)", "opt"),
            ("status", ""),
            ("samples", ""),
            ("errors", "opt"),
            ("cached", "opt"),
            ("models × variants", "fill"),
        ],
        [
            [
                r.id,
                f"{r.started_at:%Y-%m-%d %H:%M}",
                r.status,
                str(r.sent),
                str(r.errors),
                str(r.from_cache),
                f"{', '.join(r.models)} × {', '.join(r.variants)} "
                f"on {len(r.tasks)} task{'s' * (len(r.tasks) != 1)}",
            ]
            for r in listed
        ],
    )


@user_errors
def report_command(
    run: str | None = typer.Argument(None, help="A run id or prefix (default: the latest run)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, md, json or html."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write to this file instead of printing."
    ),
    as_json: bool = typer.Option(False, "--json", help="The same as --format json."),
    db: str | None = DB_OPTION,
) -> None:
    """Report a run: pass rates with intervals, paired comparisons, tokens, cost."""
    from redline.transcripts import open_store

    if as_json:
        fmt = "json"
    if fmt not in FORMATS:
        raise RedlineError(f"--format {fmt!r} is none of {', '.join(FORMATS)}")
    if fmt == "table" and out is not None:
        raise RedlineError("--out needs --format md, json or html")
    with open_store(db) as store:
        run_id = store.runs.resolve(run)
        _print_report(store, run_id, fmt, out)


@user_errors
def recheck_command(
    run: str = typer.Argument(..., help="A run id or prefix."),
    check: list[str] | None = typer.Option(
        None,
        "--check",
        "-c",
        metavar="NAME[:OPTIONS]",
        help="Judge with these checks instead of each task's own; repeatable.",
    ),
    jobs: int = typer.Option(
        0,
        "--jobs",
        "-j",
        min=0,
        metavar="N",
        help="Checks that run code (run) running at once (0: one per core).",
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="Run again the commands of checks that run code, even on answers they judged before.",
    ),
    no_sandbox: bool = NO_SANDBOX_OPTION,
    plugin: list[Path] | None = PLUGIN_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Judge a run's stored answers again (new or changed checks); nothing is sent."""
    from redline.replay import recheck
    from redline.transcripts import open_store

    registry = _registry(plugin)
    if no_sandbox:
        warn_unsandboxed()
    with open_store(db) as store:
        run_id = store.runs.resolve(run)
        path = store.location
    done = recheck(
        path, run_id, registry, check, jobs=jobs, sandbox=not no_sandbox, use_cache=not no_cache
    )
    with open_store(path, ingest=False) as store:
        if done.missing:
            typer.echo(
                f"not judged again: task{'s' * (len(done.missing) > 1)} "
                f"{', '.join(done.missing)} (no longer stored; `redline import` to bring "
                f"{'them' if len(done.missing) > 1 else 'it'} back)",
                err=True,
            )
        if not as_json:
            typer.echo(f"run {run_id}: evaluation {done.evaluation}")
        _print_report(store, run_id, "json" if as_json else "table", None)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
    app.command("runs")(runs_command)
    app.command("report")(report_command)
    app.command("recheck")(recheck_command)
