"""The sandbox and workspaces: what a sandboxed command costs over running it directly, and how
long taking, packing and unpacking a workspace of a few thousand files takes.

* start-up: `true` run N times in the sandbox and N times directly (`sh -c true` through the same
  watch, unsandboxed), p50 and p99 of each and the difference: what every shell command a
  replayed model runs pays;
* snapshot: a git repository of BENCH_FILES Python-sized files (made here, committed once)
  taken at HEAD through `git ls-tree` and `git cat-file --batch`;
* pack and unpack: that workspace as a zstandard tar (secrets masked on the way out) and back
  (hash checked, every member checked), in MB/s of file content; the archive's size;
* replay's answers from it: writing it out once for a run, and the p50 of a read, a search over
  every file (a model's regex, under its time limit), a sample's first shell command in the
  sandbox (which makes the sample's private copy) and a command after it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redline.analyzers import sandbox
from redline.replay import WorkspaceCopies, WorkspaceSource
from redline.transcripts import Snapshot, ToolCall, agents, pack, snapshot, unpack

RUNS = int(os.environ.get("BENCH_RUNS", 200))
FILES = int(os.environ.get("BENCH_FILES", 3000))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def startup(folder: Path) -> dict[str, float]:
    sandbox.require()  # the first call proves it starts; not counted
    timings: dict[str, list[float]] = {"sandboxed": [], "direct": []}
    for _ in range(RUNS):
        for label, run in (("sandboxed", sandbox.run), ("direct", sandbox.run_unsandboxed)):
            t0 = time.perf_counter()
            result = run("true", folder)
            timings[label].append((time.perf_counter() - t0) * 1000)
            assert result.ok, result.summary
    figures: dict[str, float] = {}
    for label, values in timings.items():
        figures[f"{label}_p50_ms"] = round(statistics.median(values), 2)
        figures[f"{label}_p99_ms"] = round(percentile(values, 0.99), 2)
    figures["overhead_p50_ms"] = round(figures["sandboxed_p50_ms"] - figures["direct_p50_ms"], 2)
    return figures


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    for i in range(FILES):
        path = repo / f"pkg{i % 40}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(
            f"def function_{i}_{k}(value):\n    return value * {k} + {i}\n\n" for k in range(40)
        )
        path.write_text(f'"""Module {i}."""\n\nAPI_URL = "https://example.com/{i}"\n\n{body}')
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@e", "commit", "-qm", "files"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    return repo


def workspaces(root: Path) -> tuple[dict[str, float], Snapshot]:
    repo = make_repo(root)
    t0 = time.perf_counter()
    taken = snapshot(repo)
    snap = time.perf_counter() - t0
    size = taken.workspace.size
    t0 = time.perf_counter()
    packed = pack(taken.workspace, taken.blobs.__getitem__)
    packing = time.perf_counter() - t0
    t0 = time.perf_counter()
    unpack(packed.data, packed.sha256)
    unpacking = time.perf_counter() - t0
    return {
        "files": len(taken.workspace.files),
        "content_mb": round(size / 1e6, 2),
        "snapshot_s": round(snap, 3),
        "pack_mb_per_s": round(size / 1e6 / packing, 1),
        "unpack_mb_per_s": round(size / 1e6 / unpacking, 1),
        "archive_mb": round(len(packed.data) / 1e6, 2),
    }, taken


ANSWERS = int(os.environ.get("BENCH_ANSWERS", 20))
CWD = "/home/dev/app"


def answers(taken: Snapshot) -> dict[str, float]:
    """Replay's answers from the workspace: what a run and each sample pay. A sample reads the
    shared files; its first command (or edit) makes its private copy."""
    agent = agents.get("claude-code")
    calls = {
        "read": ("Read", {"file_path": f"{CWD}/pkg7/module_7.py", "offset": 20, "limit": 40}),
        "search": ("Grep", {"pattern": r"return value \* 39 \+ 2999\b"}),
        "first_command": ("Bash", {"command": "wc -l pkg0/module_0.py"}),
        "command": ("Bash", {"command": "wc -l pkg0/module_0.py"}),
    }
    t0 = time.perf_counter()
    with WorkspaceCopies(taken.workspace, taken.blobs.__getitem__) as copies:
        written = time.perf_counter() - t0
        timings: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(ANSWERS):
            source = WorkspaceSource(copies.base, agent, CWD, copy=copies.copy)
            for name, (tool, arguments) in calls.items():
                call = ToolCall("b", tool, json.dumps(arguments))
                t0 = time.perf_counter()
                served = source.answer(call, agents.tool_use(call))
                timings[name].append((time.perf_counter() - t0) * 1000)
                assert served is not None and not served.is_error, served
            assert source.copied is not None
            copies.release(source.copied)
    figures = {"write_once_s": round(written, 3)}
    for name, values in timings.items():
        figures[f"{name}_p50_ms"] = round(statistics.median(values), 2)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        root = Path(tmp)
        (root / "copy").mkdir()
        started = startup(root / "copy")
        print(
            f"start-up over {RUNS} runs of `true`: sandboxed p50 {started['sandboxed_p50_ms']} ms "
            f"p99 {started['sandboxed_p99_ms']} ms; direct p50 {started['direct_p50_ms']} ms "
            f"p99 {started['direct_p99_ms']} ms; the sandbox adds {started['overhead_p50_ms']} ms"
        )
        taken, workspace = workspaces(root)
        print(
            f"workspace of {taken['files']:,} files, {taken['content_mb']} MB: snapshot "
            f"{taken['snapshot_s']} s; pack {taken['pack_mb_per_s']} MB/s, unpack "
            f"{taken['unpack_mb_per_s']} MB/s; archive {taken['archive_mb']} MB"
        )
        replayed = answers(workspace)
        print(
            f"replay's answers from it: written once per run in {replayed['write_once_s']} s; "
            f"p50 of {ANSWERS} samples: a read {replayed['read_p50_ms']} ms, a search of every "
            f"file {replayed['search_p50_ms']} ms, a sample's first command (its copy made) "
            f"{replayed['first_command_p50_ms']} ms, a command after it "
            f"{replayed['command_p50_ms']} ms"
        )
        print(
            "RESULT "
            + json.dumps({"sandbox": started, "workspace": taken, "replay_answers": replayed})
        )


if __name__ == "__main__":
    main()
    sys.exit(0)
