"""The mitm mode's certificate authority and the trust bundles built around it.

The CA lives in redline's config directory (`platformdirs.user_config_dir("redline")/mitm/`),
created on first use: the directory 0700, every file holding the private key 0600. mitmproxy
reads it from there under its own file names (`mitmproxy-ca.pem`: key and certificate);
redline adds two public files for clients:

    ca.pem            the CA certificate alone: for variables that ADD a CA to a client's
                      roots (NODE_EXTRA_CA_CERTS, CODEX_CA_CERTIFICATE)
    client-trust.pem  certifi's roots plus the CA: for variables that REPLACE a client's roots
                      (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE); given the CA alone,
                      such a client would reject every host the proxy passes through untouched

Upstream trust: mitmproxy verifies upstream certificates against certifi's bundle only, and
its `ssl_verify_upstream_trusted_ca` option REPLACES that bundle; `upstream_trust_bundle`
writes certifi's roots plus the extra CA so that `--upstream-ca` adds and never narrows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import certifi
import platformdirs
from cryptography import x509

from redline.errors import RedlineError

# mitmproxy's file names (mitmproxy.options.CONF_BASENAME; not imported, to keep
# `--print-ca` from importing mitmproxy when the CA exists already).
_BASENAME = "mitmproxy"
_SECRET_FILES = (f"{_BASENAME}-ca.pem", f"{_BASENAME}-ca.p12")
CA_NAME = "redline local proxy CA"


def default_confdir() -> Path:
    """`platformdirs.user_config_dir("redline")/mitm`."""
    return Path(platformdirs.user_config_dir("redline")) / "mitm"


@dataclass(frozen=True, slots=True)
class CaFiles:
    """Where the CA is: `confdir` for mitmproxy, `cert_pem` and `client_bundle` for clients."""

    confdir: Path
    cert_pem: Path  # the CA certificate only (public)
    client_bundle: Path  # certifi's roots plus cert_pem (public)
    key_pem: Path  # the CA's private key and certificate: secret, 0600


def ensure_ca(confdir: Path | None = None) -> CaFiles:
    """The CA in `confdir` (default: `default_confdir()`), created on first use."""
    confdir = (confdir or default_confdir()).expanduser()
    try:
        confdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(confdir, 0o700)
        key_pem = confdir / f"{_BASENAME}-ca.pem"
        if not key_pem.exists():
            # Imported here: mitmproxy takes a while to import, and only this needs it.
            from mitmproxy.certs import CertStore

            # Writes the secret files under a umask of 077 (process-wide, for that moment),
            # then the certificate-only files and the Diffie-Hellman parameters.
            CertStore.create_store(confdir, _BASENAME, 2048, organization="redline", cn=CA_NAME)
        for name in _SECRET_FILES:
            if (confdir / name).exists():
                os.chmod(confdir / name, 0o600)
        cert = confdir / "ca.pem"
        pem = (confdir / f"{_BASENAME}-ca-cert.pem").read_bytes()
        _write_if_changed(cert, pem)
        bundle = confdir / "client-trust.pem"
        _write_if_changed(bundle, _certifi_roots() + pem)
    except OSError as exc:
        raise RedlineError(
            f"cannot create the mitm CA in {confdir}: {exc.strerror or exc}"
        ) from None
    return CaFiles(confdir, cert, bundle, key_pem)


def upstream_trust_bundle(confdir: Path, extra_ca: Path) -> Path:
    """certifi's roots plus `extra_ca` (a PEM file of CA certificates), for mitmproxy's
    `ssl_verify_upstream_trusted_ca`; written into `confdir`."""
    extra_ca = Path(extra_ca).expanduser()
    try:
        extra = extra_ca.read_bytes()
    except OSError as exc:
        raise RedlineError(f"cannot read --upstream-ca {extra_ca}: {exc.strerror}") from None
    if b"PRIVATE KEY" in extra:
        raise RedlineError(
            f"--upstream-ca {extra_ca} holds a private key; give the CA certificate only"
        )
    try:
        if not x509.load_pem_x509_certificates(extra):
            raise ValueError("no certificate in it")
    except ValueError as exc:
        raise RedlineError(f"--upstream-ca {extra_ca} is not a PEM certificate: {exc}") from None
    bundle = Path(confdir) / "upstream-trust.pem"
    _write_if_changed(bundle, _certifi_roots() + extra.rstrip(b"\n") + b"\n")
    return bundle


def _certifi_roots() -> bytes:
    return Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n"


def _write_if_changed(path: Path, data: bytes) -> None:
    """Replace `path` atomically (readers never see half a bundle), unless it holds `data`."""
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    tmp.replace(path)
