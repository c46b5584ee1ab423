"""run: the answer's code, run. A command runs on it in the sandbox; its exit status, and its
output when asked, decide.

The answer's code is laid out in a folder of its own (`_run_folder`): with a workspace, a fresh
copy with the answer's edits applied; without one, an empty folder with its code written as
files; the task's own files beside it. `cmd` runs there by `sh -c`, in the sandbox: no network,
nothing outside the folder writable, the host's system folders read-only (its interpreters and
tools), a clean environment, time and memory limits. The folder is the command's current
folder, at the working directory the transcript recorded (so absolute paths hold), else at
`/workspace`. It passes when the command exits with `expect` and, when `output` is given, its
combined output (stdout and stderr, as the sandbox keeps it: the start and the end of a long
one) matches that regex, searched anywhere in it.

A finding carries the exit status, the last lines of output and the time taken; a timeout or a
kill at a limit says so; an edit that does not apply is a finding too, and the command then does
not run. What it judges is the code it placed: an answer with no code (a question, only reads)
is not run and judged nothing, so it is no attempt, never a pass. `--no-sandbox` runs the
command on the host, keeping the limits, and the finding says so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from redline.analyzers import Context, Environment, Example, Finding, Option, Ran, Verdict, sandbox
from redline.transcripts import Message, RedlineError, agents

from ._run_folder import lay_out

# The end of the output a finding keeps.
TAIL_LINES = 30
TAIL_CHARS = 3000


def tail(text: str) -> str:
    """The last lines of `text`: at most TAIL_LINES, at most TAIL_CHARS."""
    lines = text.rstrip("\n").split("\n")[-TAIL_LINES:]
    kept = "\n".join(lines)
    return kept if len(kept) <= TAIL_CHARS else "…" + kept[-TAIL_CHARS + 1 :]


def venv_mounts(text: str) -> tuple[tuple[Path, ...], dict[str, str]]:
    """The folders a prepared virtualenv needs read-only in the sandbox (itself, and the
    Python it was made from when that is not under /usr), and the environment that puts it
    first: `PATH` and `VIRTUAL_ENV`."""
    if not text.strip():
        return (), {}
    venv = Path(text.strip()).expanduser().absolute()
    config = venv / "pyvenv.cfg"
    if not config.is_file():
        raise RedlineError(
            f"option 'venv' of check 'run': {venv} is no virtualenv (it has no pyvenv.cfg); "
            "make one with `python3 -m venv` and install the task's dependencies in it"
        )
    mounts = [venv]
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            prefix = Path(value.strip()).parent
            if prefix.is_dir() and prefix != Path("/") and not prefix.is_relative_to("/usr"):
                mounts.append(prefix)
    return tuple(mounts), {"PATH": f"{venv}/bin:{sandbox.PATH}", "VIRTUAL_ENV": str(venv)}


def execute(
    command: str, folder: Path, options: dict[str, Any], environment: Environment, cwd: str | None
) -> sandbox.Result:
    """`command` on `folder`, in the sandbox unless the environment says otherwise."""
    limits = sandbox.Limits(seconds=float(options["timeout"]))
    mounts, env = venv_mounts(options.get("venv") or "")
    if not environment.sandbox:
        return sandbox.run_unsandboxed(command, folder, limits, env=env)
    where = sandbox.workdir(cwd)
    return sandbox.run(command, folder, limits, workdir=where, env=env, read_only=mounts)


class Run:
    name = "run"
    description = "a command run on the answer's code in the sandbox exits as expected"
    runs_code = True
    version = "1"
    options = (
        Option(
            "cmd",
            "str",
            None,
            "the command, run by sh -c in the sandbox, in the folder holding the answer's code",
            required=True,
        ),
        Option(
            "timeout",
            "int",
            60,
            "seconds the command may run before it is killed",
            minimum=1,
            maximum=3600,
        ),
        Option("expect", "int", 0, "the exit status that means pass", minimum=0, maximum=255),
        Option(
            "output",
            "regex",
            None,
            "a regex the combined output (stdout and stderr) must match, searched anywhere",
        ),
        Option(
            "venv",
            "str",
            None,
            "a prepared virtualenv, mounted read-only with its bin first on PATH",
        ),
    )

    def check(self, output: Message, context: Context) -> Verdict:
        options = dict(context.options)
        command = str(options["cmd"]).strip()
        if not command:
            raise RedlineError("check 'run' needs a command: run:cmd=COMMAND")
        environment = context.environment or Environment()
        extraction = context.extraction(output)
        unjudged = context.unjudged(output)
        if not extraction.edits and not extraction.blocks:
            return Verdict.of([], unjudged, ())  # no code: nothing to run, no attempt
        start = agents.session_start(context.request) if context.request is not None else None
        cwd = start.cwd if start is not None else None
        with tempfile.TemporaryDirectory(prefix="redline-run-") as tmp:
            folder = Path(tmp) / "answer"
            laid = lay_out(extraction, environment, folder, context.request, cwd)
            unparsed = [*unjudged, *laid.unplaced]
            if laid.problems or not laid.written:
                return Verdict.of(laid.problems, unparsed, laid.written)
            result = execute(command, folder, options, environment, cwd)
        return self._verdict(command, options, result, laid.written, unparsed)

    def _verdict(
        self,
        command: str,
        options: dict[str, Any],
        result: sandbox.Result,
        judged: tuple[str, ...],
        unparsed: list[Any],
    ) -> Verdict:
        last = tail(result.output)
        ran = Ran(
            command, result.summary, result.exit_status, result.seconds, result.sandboxed, last
        )
        took = f"after {result.seconds:.1f} s"
        findings = []
        expect = options["expect"]
        if result.killed is not None:
            findings.append(Finding(None, None, f"`{command}` was {result.summary} ({took})", last))
        elif result.exit_status != expect:
            findings.append(
                Finding(
                    None,
                    None,
                    f"`{command}` ended with {result.summary}, not exit {expect} ({took})",
                    last,
                )
            )
        pattern = options.get("output")
        if result.killed is None and pattern is not None and not pattern.search(result.output):
            findings.append(
                Finding(
                    None,
                    None,
                    f"the output of `{command}` does not match /{pattern.pattern}/ ({took})",
                    last,
                )
            )
        return Verdict.of(findings, unparsed, judged, ran)

    VALID = (
        Example(
            "print(sum(range(10)))\n",
            path="answer.py",
            options="cmd=python3 answer.py; output=^45$",
            note="the answer prints what the task expects",
        ),
        Example(
            "import sys\nsys.exit(3)\n",
            path="answer.py",
            options="cmd=python3 answer.py; expect=3",
            note="the exit status the task expects",
        ),
    )
    INVALID = (
        Example(
            "print(sum(range(1, 10)) + 1)\n",
            path="answer.py",
            options="cmd=python3 answer.py; output=^45$",
            note="it prints the wrong number",
        ),
        Example(
            "import json\n\ndef load(path):\n    return json.load(open(path))\n\nload('missing.json')\n",
            path="answer.py",
            options="cmd=python3 answer.py",
            note="it raises: exit 1, and the traceback's last lines in the finding",
        ),
    )


ANALYZER = Run()
