"""What the tests of `redline proxy --mode mitm` (tests/mitm/) share.

The upstreams are the usual fakes served over TLS with a certificate made here (tests/fakes/tls.py);
the proxy trusts that CA through `--upstream-ca` and records `localhost/v1/`; the real `openai` and
`anthropic` SDKs reach it through an HTTPS proxy, trusting redline's CA. The same call made through
the reverse proxy and through the mitm proxy must be stored the same.

mitmproxy keeps its master in a module global, so one mitm proxy runs in a process at a time:
every test starts its own and stops it before it ends (`mitm`, `mitm_proxy`, `in_the_foreground`).
The fixtures are in conftest.py's namespace. Each module of these tests marks itself
`pytest.mark.usefixtures("redline_config")`: redline's config directory, where the proxy makes its
CA, is then the module's own (the CA is made once a module, never in the user's ~/.config).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
from aiohttp import web

from redline import config
from redline.transcripts import RawExchange
from redline.transcripts.spool import read_exchanges
from tests.fakes.fixtures import recording_proxy, serving
from tests.fakes.tls import Pki, TlsServerThread, make_pki
from tests.support import Cli

# conftest.py, which every test run loads, imports this module: mitmproxy and the openai SDK,
# slow to import, are imported where a test first needs them.
if TYPE_CHECKING:
    import openai

    from redline.proxy import MitmRunner, ThreadedMitm


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The CA the fake upstreams' certificates come from; the proxy is told to trust it."""
    return make_pki(tmp_path_factory.mktemp("pki"), "upstream")


@pytest.fixture(scope="module")
def untrusted_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki-untrusted"), "untrusted")


@pytest.fixture(scope="module")
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config")


@pytest.fixture(autouse=True)
def redline_config(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """redline's config directory (where the CA lives) is the module's own: the CA is made once."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return config_home / "redline"


def mitm_runner(db: Path, pki: Pki, **kw: Any) -> MitmRunner:
    """A mitm proxy, not started, recording `localhost/v1/` into `db`'s spool and trusting the
    fakes' CA."""
    from redline.proxy import MitmRunner, parse_pattern

    kw.setdefault("patterns", [parse_pattern("localhost/v1/")])
    return MitmRunner(config.spool_dir(db), upstream_ca=pki.ca_pem, **kw)


@contextmanager
def mitm_proxy(db: Path, pki: Pki, **kw: Any) -> Iterator[ThreadedMitm]:
    """`mitm_runner(db, pki, **kw)` running on a thread of its own."""
    from redline.proxy import ThreadedMitm

    with ThreadedMitm(mitm_runner(db, pki, **kw)) as running:
        yield running


@pytest.fixture
def mitm(db_path: Path, pki: Pki) -> Iterator[ThreadedMitm]:
    with mitm_proxy(db_path, pki) as running:
        yield running


def in_the_foreground(runner: MitmRunner, work: Callable[[str], None]) -> None:
    """`run_mitm(runner)` on this (the main) thread, as the command runs it; `work(proxy_url)`
    on another once it listens (it sends the signals, to this process). Raises what `work` did."""
    from redline.proxy import run_mitm

    failures: list[BaseException] = []
    workers: list[threading.Thread] = []

    def guarded(url: str) -> None:
        try:
            work(url)
        except BaseException as exc:
            failures.append(exc)
            runner.stop()

    def ready(port: int) -> None:
        workers.append(threading.Thread(target=guarded, args=(f"http://127.0.0.1:{port}",)))
        workers[0].start()

    run_mitm(runner, ready)
    workers[0].join(10)
    if failures:
        raise failures[0]


def trusting(ca_pem: Path | str) -> ssl.SSLContext:
    """A client's TLS settings that trust the CA in `ca_pem` only."""
    return ssl.create_default_context(cafile=str(ca_pem))


def via(proxy_url: str, ca_pem: Path | str) -> httpx2.Client:
    """A client using `proxy_url` as its HTTPS proxy and trusting the CA in `ca_pem` only."""
    return httpx2.Client(proxy=proxy_url, verify=trusting(ca_pem), timeout=10)


def through(proxy: ThreadedMitm, ca_pem: Path | None = None) -> httpx2.Client:
    """A client using the mitm proxy as its HTTPS proxy and trusting redline's CA (or, given
    `ca_pem`, that CA only)."""
    return via(proxy.url, ca_pem or proxy.runner.ca.cert_pem)


def openai_client(base: str, api_key: str, http: httpx2.Client | None) -> openai.OpenAI:
    """The openai SDK calling `base`/v1 over `http` (its own client when None), never retrying."""
    import openai

    return openai.OpenAI(base_url=f"{base}/v1", api_key=api_key, http_client=http, max_retries=0)


@contextmanager
def tls(app: web.Application, pki: Pki) -> Iterator[str]:
    with TlsServerThread(app, pki) as server:
        yield server.url


def spooled(db: Path) -> list[RawExchange]:
    """The exchanges spooled for `db` (read before any command ingests them)."""
    return read_exchanges(config.spool_dir(db))


def recorded(cli: Cli, db: Path, ids: list[str]) -> list[dict[str, Any]]:
    """`show --json` of these calls in `db`, with `show --raw` as `raw_body`."""
    shown = []
    for call in ids:
        one = cli.json("show", call, "--db", str(db))
        one["raw_body"] = cli("show", call, "--raw", "--db", str(db)).stdout
        shown.append(one)
    return shown


def both_ways(
    tmp_path: Path, pki: Pki, fake: Any, call: Callable[[str, httpx2.Client | None], None]
) -> tuple[Path, Path]:
    """`call(base_url, http_client)` through the reverse proxy (plain HTTP upstream) and through
    the mitm proxy (the same fake over TLS), each recording into a database of its own."""
    reverse_db, mitm_db = tmp_path / "reverse.duckdb", tmp_path / "mitm.duckdb"
    with serving(fake), recording_proxy(reverse_db, ("", fake.url)) as reverse:
        call(reverse.url, None)
        reverse.flush()
    with tls(fake.app(), pki) as url, mitm_proxy(mitm_db, pki) as proxy, through(proxy) as http:
        call(url, http)
        proxy.flush()
    return reverse_db, mitm_db


# What differs by nature between a call recorded in reverse mode and the same call through mitm.
DIFFERS = ("id", "conversation_id", "started_at", "timings", "upstream")


def assert_recorded_alike(cli: Cli, reverse_db: Path, mitm_db: Path) -> list[dict[str, Any]]:
    """Both ways, the same calls in the same order, spooled alike and shown alike (`show --json`
    and `show --raw`) but for ids, times and the upstream; what the mitm proxy recorded."""
    reverse_ids, mitm_ids = assert_spooled_alike(reverse_db, mitm_db)
    reverse, through_mitm = recorded(cli, reverse_db, reverse_ids), recorded(cli, mitm_db, mitm_ids)
    for r, m in zip(reverse, through_mitm, strict=True):
        assert m["upstream"].startswith("https://localhost:")
        assert {k: v for k, v in m.items() if k not in DIFFERS} == {
            k: v for k, v in r.items() if k not in DIFFERS
        }
    return through_mitm


def assert_spooled_alike(reverse_db: Path, mitm_db: Path) -> tuple[list[str], list[str]]:
    """The spooled exchanges carry the same requests, byte for byte; their ids."""
    reverse, through_mitm = spooled(reverse_db), spooled(mitm_db)
    assert len(reverse) == len(through_mitm) >= 1
    for r, m in zip(reverse, through_mitm, strict=True):
        assert m.extra == {**r.extra, "mode": "mitm"}
        for key in ("method", "path", "query", "request_body", "status", "outcome", "error"):
            assert getattr(m, key) == getattr(r, key), key
    return [x.id for x in reverse], [x.id for x in through_mitm]
