"""Supply chain: `make install` installs hash-pinned lock files, which pin every dependency
pyproject names; the wheel redline builds holds the `redline` package and nothing else (no
`.pth` file, no other top-level name that could shadow or hook another package)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("redline", "transcripts", "proxy", "analyzers", "replay")


def _name(requirement: str) -> str:
    """A requirement's project name, normalized (PEP 503)."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


def _pins(lock: Path) -> dict[str, list[str]]:
    """Each pinned project of a lock file, with its hashes."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in lock.read_text().splitlines():
        if m := re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==\S+", line):
            current = _name(m.group(1))
            pins[current] = []
        elif m := re.search(r"--hash=sha256:([0-9a-f]{64})", line):
            pins[current].append(m.group(1))
    return pins


def test_the_lock_files_pin_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {_name(r) for r in project["project"]["dependencies"]}
    dev = {_name(r) for r in project["project"]["optional-dependencies"]["dev"]}
    build = {_name(r) for r in project["build-system"]["requires"]}
    locked = _pins(ROOT / "requirements.lock")
    locked_dev = _pins(ROOT / "requirements-dev.lock")
    stale = "pyproject.toml names a dependency the lock files lack: run `make lock`"
    assert runtime | build <= locked.keys(), stale
    assert runtime | dev | build <= locked_dev.keys(), stale
    assert [p for p, hashes in {**locked, **locked_dev}.items() if not hashes] == []


def test_make_install_installs_the_locked_hashes_and_nothing_unpinned() -> None:
    makefile = (ROOT / "Makefile").read_text()
    install = makefile[makefile.index("$(VENV)/.installed:") :].split("\n\n")[0]
    assert "--require-hashes -r requirements-dev.lock" in install
    assert "--no-deps --no-build-isolation -e ." in install
    pip_installs = [line for line in install.splitlines() if "pip install" in line]
    assert all("--require-hashes" in line or "--no-deps" in line for line in pip_installs)


def test_the_built_wheel_holds_only_the_redline_package(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for part in PARTS:
        shutil.copytree(
            ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    pip_wheel = ["pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
    built = subprocess.run(
        [sys.executable, "-m", *pip_wheel, "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert "Warning" not in built.stderr, (
        "a first install must not print warnings that read as a failure"
    )
    [wheel] = (tmp_path / "dist").glob("redline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"redline", next(t for t in tops if t.endswith(".dist-info"))}
    assert [n for n in names if n.endswith(".pth")] == []
    assert {n.split("/")[1] for n in names if n.startswith("redline/") and n.count("/") > 1} >= {
        "transcripts",
        "proxy",
        "analyzers",
        "replay",
        "commands",
    }
    assert "redline/ui/static/app.js" in names
    assert any(n.startswith("redline/transcripts/examples/") and n.endswith(".json") for n in names)
