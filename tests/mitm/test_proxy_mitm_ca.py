"""Trust in `redline proxy --mode mitm`: the CA redline makes for its clients (once, for the
owner only, and `--print-ca`), and the upstream's certificate, which it checks."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import openai
import pytest

from redline import config
from redline.errors import RedlineError
from redline.proxy import MitmRunner, ThreadedMitm, ensure_ca
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.tls import Pki
from tests.mitm.support import openai_client, spooled, through, tls
from tests.support import Cli
from tests.test_proxy_chat import MESSAGES


def test_the_ca_is_made_once_in_the_config_directory_for_the_owner_only(
    redline_config: Path,
) -> None:
    ca = ensure_ca()
    assert ca.confdir == redline_config / "mitm"
    assert stat.S_IMODE(ca.confdir.stat().st_mode) == 0o700
    assert stat.S_IMODE(ca.key_pem.stat().st_mode) == 0o600
    assert stat.S_IMODE((ca.confdir / "mitmproxy-ca.p12").stat().st_mode) == 0o600
    cert = ca.cert_pem.read_bytes()
    assert cert.startswith(b"-----BEGIN CERTIFICATE") and b"PRIVATE KEY" not in cert
    bundle = ca.client_bundle.read_bytes()
    assert bundle.endswith(cert) and bundle.count(b"BEGIN CERTIFICATE") > 100
    assert b"PRIVATE KEY" not in bundle
    assert ensure_ca().key_pem.read_bytes() == ca.key_pem.read_bytes()  # not made again


def test_print_ca_prints_the_ca_certificate_path(cli: Cli, redline_config: Path) -> None:
    printed = cli("proxy", "--mode", "mitm", "--print-ca").stdout
    assert printed == f"{redline_config / 'mitm' / 'ca.pem'}\n"


def test_an_upstream_ca_that_is_not_a_certificate_is_refused(tmp_path: Path, db_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(RedlineError, match="is not a PEM certificate"):
        MitmRunner(config.spool_dir(db_path), upstream_ca=bad)


def test_an_untrusted_upstream_certificate_is_an_error_for_the_client_and_the_record(
    mitm: ThreadedMitm, untrusted_pki: Pki, db_path: Path
) -> None:
    fake = FakeOpenAI()
    with (
        tls(fake.app(), untrusted_pki) as url,
        through(mitm) as http,
        openai_client(url, fake.api_key, http) as client,
        pytest.raises(openai.APIStatusError) as refused,
    ):
        client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert refused.value.status_code == 502
    assert "certificate" in refused.value.response.text.lower()
    assert fake.received == []  # nothing reached the server
    mitm.flush()
    (line,) = spooled(db_path)
    assert line.outcome == "error" and line.status is None
    assert line.error.startswith(f"cannot reach upstream {url}: ")
    assert "certificate" in line.error.lower()
    assert json.loads(line.request_body.decode())["messages"] == MESSAGES
