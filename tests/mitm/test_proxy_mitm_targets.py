"""`redline proxy --mode mitm --host 0.0.0.0` forwards other machines' traffic, never to this
machine's own services: a client that is not on this machine cannot reach a loopback, link-local
or unspecified address through it, by address or by a name that resolves to one (issue 22, item
6: another machine reached the web view on 127.0.0.1, and every recorded conversation with it).
A client on this machine reaches what it could reach without the proxy."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from redline.proxy import ThreadedMitm
from redline.proxy.mitm_guard import LocalTargetsGuard, refusal
from tests.fakes.tls import Pki
from tests.mitm.support import mitm_proxy
from tests.reliability.support import Listener, Serving


def this_machines_address() -> str:
    """An address of this machine that is not loopback: connecting from it makes a client that
    the proxy cannot tell from another machine's."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.254", 9))  # no packet is sent: a route is chosen, that is all
        except OSError:
            pytest.skip("this machine has no address but loopback")
        address = str(s.getsockname()[0])
    if ipaddress.ip_address(address).is_loopback:
        pytest.skip("this machine has no address but loopback")
    return address


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A service on this machine's loopback (the web view, say): it must hear nothing."""
    fake = Listener()
    with Serving(fake.app()) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def open_mitm(db_path: Path, pki: Pki) -> Iterator[ThreadedMitm]:
    with mitm_proxy(db_path, pki, host="0.0.0.0") as running:
        yield running


def _ask(via: str, port: int, request: bytes) -> bytes:
    with socket.create_connection((via, port), timeout=10) as s:
        s.sendall(request)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and not reply.startswith(b"HTTP/1.1 200 Connection"):
                break
    return reply


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1.2.3"])
def test_another_machine_cannot_reach_this_machines_loopback(
    open_mitm: ThreadedMitm, listener: Listener, host: str
) -> None:
    port = int(listener.url.rsplit(":", 1)[1])
    outside = this_machines_address()
    plain = _ask(
        outside,
        open_mitm.port,
        f"GET http://{host}:{port}/api/conversations HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode(),
    )
    tunnel = _ask(
        outside,
        open_mitm.port,
        f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
        f"GET /api/conversations HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode(),
    )
    assert plain.startswith(b"HTTP/1.1 502"), plain
    assert b"refused" in plain and b"this machine" in plain
    assert b"a third party's answer" not in tunnel
    assert listener.seen == []


def test_a_client_on_this_machine_still_reaches_its_loopback(
    open_mitm: ThreadedMitm, listener: Listener
) -> None:
    port = int(listener.url.rsplit(":", 1)[1])
    reply = _ask(
        "127.0.0.1",
        open_mitm.port,
        f"GET http://127.0.0.1:{port}/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(),
    )
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert len(listener.seen) == 1


@pytest.mark.parametrize(
    ("client", "targets", "refused"),
    [
        ("192.168.1.20", ["127.0.0.1"], True),
        ("192.168.1.20", ["::1"], True),
        ("192.168.1.20", ["::ffff:127.0.0.1"], True),
        ("192.168.1.20", ["169.254.169.254"], True),  # a cloud's metadata service
        ("192.168.1.20", ["fe80::1"], True),
        ("192.168.1.20", ["0.0.0.0"], True),  # connects to this machine
        ("192.168.1.20", ["93.184.216.34", "127.0.0.1"], True),  # any of them
        ("192.168.1.20", ["93.184.216.34"], False),
        ("192.168.1.20", ["10.0.0.7"], False),  # another machine of the network
        ("127.0.0.1", ["127.0.0.1"], False),
        ("::1", ["169.254.169.254"], False),
        ("::ffff:127.0.0.1", ["127.0.0.1"], False),
    ],
)
def test_the_rule(client: str, targets: list[str], refused: bool) -> None:
    assert (refusal(client, "example.test", targets) is not None) == refused


def _connecting(client: str, host: str) -> SimpleNamespace:
    """What mitmproxy's server_connect hook is given, as far as the guard reads it."""
    return SimpleNamespace(
        client=SimpleNamespace(peername=(client, 50000)),
        server=SimpleNamespace(address=(host, 443), sni=None, error=None),
    )


def test_a_name_is_resolved_once_and_the_connection_pinned_to_the_address_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]])
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: next(answers))
    data = _connecting("192.168.1.20", "api.example.test")
    asyncio.run(LocalTargetsGuard().server_connect(data))
    assert data.server.error is None
    assert data.server.address == ("93.184.216.34", 443)  # a second lookup cannot differ
    assert data.server.sni == "api.example.test"  # TLS still names and verifies the host


def test_a_name_that_resolves_to_loopback_is_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))],
    )
    data = _connecting("192.168.1.20", "rebound.example.test")
    asyncio.run(LocalTargetsGuard().server_connect(data))
    assert data.server.error is not None and data.server.error.startswith(
        "refused: rebound.example.test resolves to 127.0.0.1, a loopback address"
    )
    assert data.server.address == ("rebound.example.test", 443)
