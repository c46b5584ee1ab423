"""Fixtures: an isolated environment, fake upstreams on 127.0.0.1 and the proxy in front."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline import config
from redline.proxy import ProxyRunner, Route, ThreadedProxy

# Fixtures for the Anthropic and Responses fakes, shared by every test module.
from tests.fakes.fixtures import (  # noqa: F401
    anthropic_proxy,
    fake_anthropic,
    fake_responses,
    responses_proxy,
)
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.server import ServerThread
from tests.postgres import LakeSetup, Postgres, make_server
from tests.support import Cli

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
)


# A lake's settings and PostgreSQL's credentials (docs/team.md): none of the user's.
LAKE_VARIABLES = ("REDLINE_LAKE_DATA", "PGPASSWORD", "PGPASSFILE", "PGUSER", "PGHOST", "PGPORT")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test gets its own database and configuration directory (no redline.toml, no
    checks folder of the user's), and no proxy or API settings from the environment."""
    for name in (*PROXY_VARIABLES, *LAKE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db = tmp_path / "redline.duckdb"
    monkeypatch.setenv("REDLINE_DB", str(db))
    return db


@pytest.fixture
def db_path(isolated: Path) -> Path:
    return isolated


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    with ServerThread(fake.app()) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def proxy(fake_openai: FakeOpenAI, db_path: Path) -> Iterator[ThreadedProxy]:
    runner = ProxyRunner(
        [Route.parse("", fake_openai.url)], config.spool_dir(db_path), "127.0.0.1", 0
    )  # type: ignore[attr-defined]
    with ThreadedProxy(runner) as running:
        yield running


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL for the session's lake tests (skipped where no binaries exist)."""
    server = make_server()
    yield server
    server.destroy()


_lakes = itertools.count()


@pytest.fixture
def lake(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LakeSetup]:
    """A new, empty lake (a database of its own in the session's PostgreSQL), which this
    process's `--db` default names; other processes take `lake.env(home)`."""
    database = f"lake{os.getpid()}_{next(_lakes)}"
    setup = LakeSetup(postgres.url(database), tmp_path / "lake-data", postgres, database)
    postgres.create_lake(database, setup.data)
    monkeypatch.setenv("REDLINE_DB", setup.url)
    monkeypatch.setenv("REDLINE_LAKE_DATA", str(setup.data))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield setup
    from redline.transcripts.store import lake as lakes

    lakes.close_all()
