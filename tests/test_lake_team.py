"""A team on one lake: machines (separate config and data folders, so separate spools) whose
proxies record into one DuckLake on a real PostgreSQL, flag and replay there, bring their
personal stores along, crash, and lose their catalog for a while."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import openai
import pytest

from redline import config
from redline.commands.shared import describe
from redline.errors import StoreWriteFailed
from redline.transcripts import Store, open_store
from redline.transcripts.store.db import write
from tests.fakes.openai_chat import FakeOpenAI
from tests.postgres import LakeSetup, Postgres, make_server, wait_until

REDLINE = [sys.executable, "-m", "redline"]
BAD = "Load the config:\n```python\ntry:\n    load()\nexcept Exception:\n    pass\n```"


class Machine:
    """One developer's machine: its own folders, the team's lake as its store."""

    def __init__(self, lake: LakeSetup, home: Path) -> None:
        self.lake, self.home = lake, home
        self.env = lake.env(home)
        self.proxy: subprocess.Popen[str] | None = None
        self.url = ""

    def redline(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*REDLINE, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.env, **env},
            check=False,
        )

    def start_proxy(self, upstream: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "proxy.log"
        with open(log, "w") as err:  # the child keeps its own copy of the descriptor
            self.proxy = subprocess.Popen(
                [*REDLINE, "proxy", "--port", "0", "--upstream", upstream],
                env=self.env,
                stderr=err,
                stdout=subprocess.DEVNULL,
                text=True,
            )
        found = None

        def listening() -> bool:
            nonlocal found
            found = re.search(r"listening on (http://[\d.]+:\d+)", log.read_text())
            return found is not None or self.proxy is None or self.proxy.poll() is not None

        assert wait_until(listening, timeout=60, every=0.05) and found, log.read_text()
        self.url = found.group(1)

    def stop_proxy(self, sig: int = signal.SIGTERM) -> None:
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.send_signal(sig)
            self.proxy.wait(30)

    def kill_everything(self) -> None:
        """SIGKILL the proxy and its ingest child (a power cut, as far as processes go)."""
        if self.proxy is None:
            return
        children = subprocess.run(
            ["pgrep", "-P", str(self.proxy.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        self.proxy.kill()
        for pid in children:
            subprocess.run(["kill", "-9", pid], check=False)
        self.proxy.wait(30)

    def ask(self, api_key: str, content: str) -> None:
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0)
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": content}]
        )

    def spool(self) -> Path:
        lake = config.Lake(self.lake.url, str(self.lake.data))
        relative = config.spool_dir(lake).relative_to(config.spool_dir(lake).parents[2])
        return self.home / "data" / relative


def stored(lake: LakeSetup) -> list[tuple[object, ...]]:
    """(calls, distinct call ids) in the lake."""
    with open_store(config.Lake(lake.url, str(lake.data)), ingest=False) as store:
        return store.con.execute("SELECT count(*), count(DISTINCT id) FROM exchanges").fetchall()


@pytest.fixture
def machines(lake: LakeSetup, tmp_path: Path) -> list[Machine]:
    team = [Machine(lake, tmp_path / name) for name in ("ana", "ben", "chloe")]
    yield team  # type: ignore[misc]
    for m in team:
        m.stop_proxy(signal.SIGKILL)


def test_three_proxies_record_into_one_lake_and_each_machine_lists_every_call_once(
    machines: list[Machine], fake_openai: FakeOpenAI, lake: LakeSetup
) -> None:
    for m in machines:
        m.start_proxy(fake_openai.url)  # type: ignore[attr-defined]

    def traffic(m: Machine) -> None:
        for i in range(8):
            m.ask(fake_openai.api_key, f"{m.home.name} asks question {i}")

    senders = [threading.Thread(target=traffic, args=(m,)) for m in machines]
    for s in senders:
        s.start()
    for s in senders:
        s.join(120)
    # Each proxy's background ingest writes its machine's calls into the lake (a stopped proxy
    # leaves what it has not ingested yet in its own spool, for that machine's next command).
    assert wait_until(lambda: stored(lake) == [(24, 24)], timeout=90, every=0.5)
    for m in machines:
        m.stop_proxy()
    listed = [m.redline("ls", "--json") for m in machines]
    for result in listed:
        assert result.returncode == 0, result.stderr
    titles = [sorted(c["title"] for c in json.loads(r.stdout)["conversations"]) for r in listed]
    expected = sorted(f"{m.home.name} asks question {i}" for m in machines for i in range(8))
    assert titles == [expected] * 3
    assert stored(lake) == [(24, 24)]


def test_a_task_flagged_on_one_machine_is_replayed_and_reported_on_another(
    machines: list[Machine], fake_openai: FakeOpenAI
) -> None:
    ana, ben, _ = machines
    ana.start_proxy(fake_openai.url)  # type: ignore[attr-defined]
    ana.ask(fake_openai.api_key, BAD)
    ana.stop_proxy()
    (conversation,) = json.loads(ana.redline("ls", "--json").stdout)["conversations"]
    calls = json.loads(ana.redline("ls", conversation["id"], "--json").stdout)["calls"]
    flagged = ana.redline("flag", calls[0]["id"], "-c", "broad-except", "--name", "team-task")
    assert flagged.returncode == 0, flagged.stderr

    assert [t["name"] for t in json.loads(ben.redline("tasks", "--json").stdout)["tasks"]] == [
        "team-task"
    ]
    model = f"openai-chat:gpt-test@{fake_openai.url}/v1"  # type: ignore[attr-defined]
    replayed = ben.redline(
        "replay", "--model", model, "--samples", "2", "--json", OPENAI_API_KEY=fake_openai.api_key
    )
    assert replayed.returncode == 0, replayed.stderr
    report = ben.redline("report", "--json")
    assert report.returncode == 0, report.stderr
    cells = json.loads(report.stdout)
    assert "team-task" in json.dumps(cells)
    runs = json.loads(ana.redline("runs", "--json").stdout)["runs"]
    assert len(runs) == 1 and runs[0]["status"] == "finished"  # ana sees ben's run


def test_store_push_twice_copies_once(
    machines: list[Machine], fake_openai: FakeOpenAI, lake: LakeSetup, tmp_path: Path
) -> None:
    ana = machines[0]
    personal = tmp_path / "personal.duckdb"
    ana.env = {**ana.env, "REDLINE_DB": str(personal)}  # before the team: a store of her own
    ana.start_proxy(fake_openai.url)  # type: ignore[attr-defined]
    for i in range(3):
        ana.ask(fake_openai.api_key, f"solo {i}")
    ana.stop_proxy()
    assert ana.redline("import", "--examples", "--db", str(personal)).returncode == 0
    model = f"openai-chat:gpt-test@{fake_openai.url}/v1"  # type: ignore[attr-defined]
    replayed = ana.redline(
        "replay", "--model", model, "--samples", "1", "--db", str(personal),
        OPENAI_API_KEY=fake_openai.api_key,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr

    first = ana.redline("store", "push", "--db", str(personal), "--to", lake.url)
    assert first.returncode == 0, first.stderr
    assert "3 calls in 3 new conversations" in first.stdout and "3 tasks" in first.stdout
    assert "1 run" in first.stdout
    again = ana.redline("store", "push", "--db", str(personal), "--to", lake.url)
    assert again.returncode == 0, again.stderr
    assert "had everything already" in again.stdout
    assert stored(lake) == [(3, 3)]
    in_lake = ana.redline("tasks", "--json", "--db", lake.url)
    assert len(json.loads(in_lake.stdout)["tasks"]) == 3
    here, there = (
        json.loads(ana.redline("report", "--json", "--db", db).stdout)
        for db in (str(personal), lake.url)
    )
    assert there == here  # the run pushed whole: its steps, samples and verdicts


def test_a_proxy_killed_mid_ingest_loses_nothing(
    machines: list[Machine], fake_openai: FakeOpenAI, lake: LakeSetup
) -> None:
    ana = machines[0]
    ana.start_proxy(fake_openai.url)  # type: ignore[attr-defined]
    sent = 0
    deadline = time.monotonic() + 20
    # Calls keep coming while the background ingest writes them: killed at some moment of it.
    while time.monotonic() < deadline and sent < 40:
        ana.ask(fake_openai.api_key, f"call {sent}")
        sent += 1
        if sent == 25:
            break
    time.sleep(2.2)  # the ingest child takes its rounds every 2 s: killed in or near one
    ana.kill_everything()
    listed = ana.redline("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["conversations"]) == sent
    assert stored(lake) == [(sent, sent)]


@pytest.fixture
def own_postgres() -> Postgres:
    """A PostgreSQL of the test's own, which it may stop."""
    server = make_server()
    yield server  # type: ignore[misc]
    server.destroy()


def test_without_its_catalog_a_proxy_forwards_and_spools_then_catches_up(
    own_postgres: Postgres, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    own_postgres.create_database("team")
    lake = LakeSetup(own_postgres.url("team"), tmp_path / "data", own_postgres, "team")
    ana = Machine(lake, tmp_path / "ana")
    assert ana.redline("tasks").returncode == 0  # the lake exists
    ana.start_proxy(fake_openai.url)  # type: ignore[attr-defined]
    try:
        ana.ask(fake_openai.api_key, "before the outage")
        assert wait_until(lambda: stored(lake) == [(1, 1)], timeout=30)
        from redline.transcripts.store import lake as lakes

        lakes.close_all()
        own_postgres.stop()
        for i in range(3):  # answered all the same: recording never stands in the way
            ana.ask(fake_openai.api_key, f"during the outage {i}")
        assert len(list(ana.spool().glob("*.jsonl"))) >= 1
        time.sleep(3)  # a round or two of the background ingest fails meanwhile
        own_postgres.start()
        assert wait_until(lambda: stored(lake) == [(4, 4)], timeout=90, every=1.0)
    finally:
        ana.stop_proxy()


def test_a_write_after_the_catalog_went_away_is_one_error_naming_the_lake(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    own_postgres.create_database("team")
    where = config.Lake(own_postgres.url("team"), str(tmp_path / "data"))

    def add_a_row(store: Store) -> None:
        write(store.con, lambda: store.con.execute(
            "INSERT INTO scan_checks VALUES ('k', 'check', '{}', '1', now())"
        ))  # fmt: skip

    with open_store(where, ingest=False) as store:
        own_postgres.stop()
        with pytest.raises(StoreWriteFailed) as failed:
            add_a_row(store)
    message = describe(failed.value)
    assert message.startswith(f"the lake {where.url} could not be written: cannot reach its")
    assert "docs/team.md" in message and "\n" not in message
    own_postgres.start()
    with open_store(where, ingest=False) as store:  # a new connection: the broken one is gone
        add_a_row(store)
        assert store.con.execute("SELECT count(*) FROM scan_checks").fetchall() == [(1,)]
