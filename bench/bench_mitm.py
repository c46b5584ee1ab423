"""Time to first byte through `redline proxy --mode mitm`, against direct and the reverse proxy.

Four processes on 127.0.0.1: an HTTPS upstream with a private CA (made here with
`cryptography`) that streams an SSE answer at once, the real `redline proxy` in reverse mode
(trusting that CA through SSL_CERT_FILE), the real `redline proxy --mode mitm` (through
`--upstream-ca`), and this client (httpx2, as the SDKs use). The time to first byte is from
sending the request to the first body byte of the streamed answer. Requests rotate between the
three ways so drift in the machine's load hits all alike.

Two cases: keep-alive connections (what an agent's SDK does), and a new connection for every
request (through mitm that is a CONNECT and two TLS handshakes: client-mitm and mitm-upstream).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

N = int(os.environ.get("BENCH_N", "400"))
N_NEW = max(20, N // 4)
WARMUP = 20

UPSTREAM = r"""
import ssl, sys
from aiohttp import web
EVENTS = [b'data: {"choices":[{"index":0,"delta":{"content":"tok "}}]}\n\n'] * 20 + [b"data: [DONE]\n\n"]
async def chat(request):
    await request.read()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for event in EVENTS:
        await resp.write(event)
    await resp.write_eof()
    return resp
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[2], sys.argv[3])
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context,
            print=lambda *a: print("ready", flush=True), access_log=None)
"""

BODY = {
    "model": "m",
    "messages": [{"role": "system", "content": "rules " * 2000}, {"role": "user", "content": "hi"}],
    "stream": True,
}


def make_pki(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signs for localhost: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("bench CA"))
        .issuer_name(name("bench CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redline(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "redline", "proxy", "--port", "0", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    found = re.search(r"listening on (http://[\d.]+:\d+)", proc.stderr.readline())
    assert found, "redline proxy did not start"
    return proc, found.group(1)


def client(verify: ssl.SSLContext | bool, keep: int | None, **kw: str) -> httpx2.Client:
    """`keep`: how many idle connections to keep alive (0: a new connection every time)."""
    limits = httpx2.Limits(max_keepalive_connections=keep)
    return httpx2.Client(verify=verify, limits=limits, timeout=30, **kw)


def ttfb(client: httpx2.Client, url: str) -> float:
    t0 = time.perf_counter()
    with client.stream("POST", url, json=BODY) as response:
        chunks = response.iter_raw()
        next(chunks)
        first = (time.perf_counter() - t0) * 1000
        for _ in chunks:  # read to the end, so the connection can be reused
            pass
    return first


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def run(ways: dict[str, tuple[httpx2.Client, str]], n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {way: [] for way in ways}
    names = list(ways)
    for i in range(WARMUP + n):
        for k in range(len(names)):
            way = names[(i + k) % len(names)]  # rotate who goes first
            client, url = ways[way]
            t = ttfb(client, url)
            if i >= WARMUP:
                times[way].append(t)
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    for way, values in times.items():
        print(f"  {way:<16} p50 {p(values, 0.5):7.2f} ms   p99 {p(values, 0.99):7.2f} ms")
    rev, mitm = times["reverse proxy"], times["mitm proxy"]
    d50, r50, m50 = (p(times["direct"], 0.5), p(rev, 0.5), p(mitm, 0.5))
    print(
        f"  mitm adds {m50 - d50:.2f} ms to direct and {m50 - r50:.2f} ms to the reverse proxy "
        f"at p50 ({m50 / r50:.1f}x the reverse proxy's time to first byte)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_pki(Path(tmp))
        port = free_port()
        upstream = subprocess.Popen(
            [sys.executable, "-c", UPSTREAM, str(port), str(cert), str(key)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
        env = dict(os.environ, REDLINE_DB=os.path.join(tmp, "bench.duckdb"), XDG_CONFIG_HOME=tmp)
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            env.pop(name, None)
        target = f"https://localhost:{port}"
        reverse, reverse_url = start_redline(
            ["--upstream", target], dict(env, SSL_CERT_FILE=str(ca))
        )
        mitm, mitm_url = start_redline(
            ["--mode", "mitm", "--host-match", "localhost/v1/", "--upstream-ca", str(ca)], env
        )
        mitm_ca = Path(tmp) / "redline" / "mitm" / "ca.pem"
        path = "/v1/chat/completions"
        try:
            print(
                f"time to first byte of a streamed answer (21 SSE events, 12 KB request), "
                f"upstream over TLS answering at once; {N} requests each way, rotating"
            )
            for keepalive in (True, False):
                keep = None if keepalive else 0

                direct_ctx = ssl.create_default_context(cafile=str(ca))
                mitm_ctx = ssl.create_default_context(cafile=str(mitm_ca))
                with (
                    client(direct_ctx, keep) as direct,
                    client(True, keep) as via_reverse,
                    client(mitm_ctx, keep, proxy=mitm_url) as via_mitm,
                ):
                    times = run(
                        {
                            "direct": (direct, target + path),
                            "reverse proxy": (via_reverse, reverse_url + path),
                            "mitm proxy": (via_mitm, target + path),
                        },
                        N if keepalive else N_NEW,
                    )
                report(
                    "keep-alive connections:"
                    if keepalive
                    else f"a new connection for every request ({N_NEW} each):",
                    times,
                )
        finally:
            for proc in (mitm, reverse, upstream):
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()
