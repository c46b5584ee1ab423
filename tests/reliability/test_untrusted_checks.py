"""A shared task file cannot hang redline: the patterns of its checks run with a time limit, the
web view's event loop does no check work, and Ctrl-C stops the server meanwhile (issue 22, item
3: `(a+)+$` on `"a" * 34 + "!"` never returned, `GET /api/tasks/NAME` took the whole web view
with it, and SIGINT did not stop it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redline.analyzers import parse_check, run_checks
from redline.errors import RedlineError
from redline.transcripts import Message, Text
from tests.support import Cli

EXAMPLE = (
    Path(__file__).parent.parent.parent
    / "transcripts"
    / "examples"
    / "aider-swallows-config-errors.json"
)
# Catastrophic for a backtracking engine: each extra "a" doubles the ways to split the run.
EXPONENTIAL = "(a|aa)+$"
SUBJECT = "a" * 40 + "!"
# The time limit per check and output is one second; a search may overrun it about twice
# (_patterns.py), more on a loaded machine. Before the limit these calls did not return for hours.
WITHIN = 10.0


def answer(text: str) -> Message:
    return Message("assistant", (Text(text),))


def test_the_issue_pattern_returns_at_once_with_a_verdict() -> None:
    check = parse_check("regex:pattern=(a+)+$;in=text")
    started = time.monotonic()
    (verdict,) = run_checks([check], answer("a" * 34 + "!"))
    assert time.monotonic() - started < 1
    assert verdict.passed  # nothing matches: a finding only where it does


def test_a_pattern_that_takes_too_long_is_a_clear_error_within_the_limit() -> None:
    check = parse_check(f"regex:pattern={EXPONENTIAL};in=text")
    started = time.monotonic()
    with pytest.raises(RedlineError) as caught:
        run_checks([check], answer(SUBJECT))
    assert time.monotonic() - started < WITHIN
    message = str(caught.value)
    assert f"check 'regex:pattern={EXPONENTIAL};in=text'" in message
    assert "took more than 1 s" in message and "simplify the pattern" in message


@pytest.mark.parametrize(
    "spec",
    [
        f"regex:pattern={EXPONENTIAL};in=text;mode=require",
        f"placeholder:pattern={EXPONENTIAL}",
        f"tool:pattern={EXPONENTIAL}",
        f"tool:name={EXPONENTIAL}",
    ],
)
def test_every_pattern_option_runs_with_the_limit(spec: str) -> None:
    from redline.transcripts import ToolCall

    output = Message(
        "assistant",
        (
            Text(f"```python\nx = 1  # {SUBJECT}\n```\n"),
            ToolCall("c1", "a" * 40 + "!", json.dumps({"command": SUBJECT})),
        ),
    )
    started = time.monotonic()
    with pytest.raises(RedlineError, match="took more than"):
        run_checks([parse_check(spec)], output)
    assert time.monotonic() - started < WITHIN


def _import_slow_task(cli: Cli, tmp_path: Path) -> str:
    document = json.loads(EXAMPLE.read_text())
    document["name"] = "shared-slow-check"
    document["checks"] = ["broad-except", f"regex:pattern={EXPONENTIAL};in=text"]
    document["output"]["message"]["parts"].append({"type": "text", "text": SUBJECT})
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(document))
    cli("import", str(path))
    return str(document["name"])


def test_task_show_of_a_slow_check_ends_in_one_line_within_the_limit(
    cli: Cli, tmp_path: Path
) -> None:
    name = _import_slow_task(cli, tmp_path)
    started = time.monotonic()
    result = cli("task", "show", name, expect=2)
    assert time.monotonic() - started < WITHIN
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: check 'regex:pattern=(a|aa)+$;in=text'"), line


class _Ui:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc, self.url = proc, url

    def get(self, path: str, timeout: float = 10) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as reply:
                body = reply.read()
                status = reply.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        kind = "json" if body[:1] in (b"{", b"[") else "text"
        return status, json.loads(body) if kind == "json" else body.decode()


@pytest.fixture
def ui(db_path: Path) -> Iterator[_Ui]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "redline", "ui", "--port", "0"],
        env={**os.environ, "REDLINE_DB": str(db_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "redline ui: http://" in line, line + (proc.stderr.read() if proc.stderr else "")
        yield _Ui(proc, line.split()[2])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_the_web_view_answers_while_a_slow_check_runs_and_its_answer_is_an_error(
    cli: Cli, tmp_path: Path, ui: _Ui
) -> None:
    name = _import_slow_task(cli, tmp_path)
    answers: dict[str, Any] = {}

    def slow() -> None:
        started = time.monotonic()
        answers["task"] = ui.get(f"/api/tasks/{name}")
        answers["seconds"] = time.monotonic() - started

    asking = threading.Thread(target=slow)
    asking.start()
    time.sleep(0.3)  # the check is under way
    started = time.monotonic()
    status, page = ui.get("/", timeout=5)
    assert status == 200 and "<html" in page.lower()
    assert time.monotonic() - started < 2.0  # the check holds no lock the page needs
    asking.join(30)
    status, shown = answers["task"]
    assert status == 200
    assert "took more than 1 s" in shown["error"]
    assert answers["seconds"] < WITHIN


def test_sigint_stops_the_web_view_while_a_slow_check_runs(
    cli: Cli, tmp_path: Path, ui: _Ui
) -> None:
    name = _import_slow_task(cli, tmp_path)
    threading.Thread(target=lambda: ui.get(f"/api/tasks/{name}"), daemon=True).start()
    time.sleep(0.3)
    ui.proc.send_signal(signal.SIGINT)
    assert ui.proc.wait(timeout=WITHIN) is not None
