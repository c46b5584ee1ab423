"""A running proxy keeps the store current: a command after a day of recording finds almost
nothing left to read from the spool."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import openai
import pytest

from redline import config
from redline.proxy import ProxyRunner, Route, ThreadedProxy
from tests.fakes.openai_chat import FakeOpenAI


@pytest.fixture
def ingesting_proxy(fake_openai: FakeOpenAI, db_path: Path) -> Iterator[ThreadedProxy]:
    runner = ProxyRunner(
        [Route.parse("", fake_openai.url)],
        config.spool_dir(db_path),
        "127.0.0.1",
        0,
        ingest_into=db_path,
    )
    with ThreadedProxy(runner) as running:
        yield running


def stored(db: Path) -> int:
    """Exchanges in the database, read without ingesting anything (a command would)."""
    if not db.exists():
        return 0
    deadline = time.monotonic() + 10
    while True:
        try:
            con = duckdb.connect(str(db), read_only=True)
            break
        except duckdb.IOException:  # the proxy's ingest holds it this moment
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        row = con.execute("SELECT count(*) FROM exchanges").fetchone()
        return int(row[0]) if row else 0
    except duckdb.CatalogException:  # created, not yet migrated
        return 0
    finally:
        con.close()


def test_the_proxy_ingests_what_it_records_without_any_command(
    fake_openai: FakeOpenAI, ingesting_proxy: ThreadedProxy, db_path: Path
) -> None:
    with openai.OpenAI(
        base_url=ingesting_proxy.url + "/v1", api_key=fake_openai.api_key, max_retries=0
    ) as client:
        for i in range(3):
            client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": f"task {i}"}]
            )
    ingesting_proxy.flush()
    deadline = time.monotonic() + 30
    while stored(db_path) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored(db_path) == 3


def test_the_ingest_process_ends_with_the_proxy(fake_openai: FakeOpenAI, db_path: Path) -> None:
    runner = ProxyRunner(
        [Route.parse("", fake_openai.url)],
        config.spool_dir(db_path),
        "127.0.0.1",
        0,
        ingest_into=db_path,
    )
    with ThreadedProxy(runner):
        assert runner.background is not None
        child = runner.background._proc
        assert child is not None and child.poll() is None
    assert child.poll() is not None
