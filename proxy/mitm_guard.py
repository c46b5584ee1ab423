"""Where the mitm proxy may take a client that is not on this machine.

`redline proxy --mode mitm --host 0.0.0.0` lets other machines use the proxy. Without a rule they
could ask it for `http://127.0.0.1:8790/` and reach this machine's own services (the web view,
and every recorded conversation with it), or `169.254.169.254` (a cloud's metadata service). So a
client whose address is not loopback is refused any target that resolves to a loopback,
link-local or unspecified address (0.0.0.0 and :: connect to this machine), by address or by
name; a name is resolved here and the connection pinned to the address checked, so that a second
lookup cannot answer otherwise. A client on this machine reaches what it could reach without the
proxy. (mitmproxy's `block_global`, on as well, refuses clients from public addresses at all.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("redline.proxy.mitm")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _kind(address: Address) -> str | None:
    """What makes an address one of this machine's own, or None."""
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified (it connects to this machine)"
    return None


def is_local(client: str) -> bool:
    """Whether a client's address is this machine's loopback."""
    address = _address(client)
    return address is not None and address.is_loopback


def refusal(client: str, host: str, addresses: Iterable[str]) -> str | None:
    """Why a client at `client` may not be taken to `host`, which resolves to `addresses`; None
    when it may."""
    if is_local(client):
        return None
    for text in addresses:
        address = _address(text)
        kind = _kind(address) if address is not None else None
        if kind is not None:
            resolves = f"{host} resolves to {text}, a" if host != text else f"{host} is a"
            return (
                f"refused: {resolves} {kind} address; redline takes no client from another "
                "machine to this machine's loopback or link-local addresses"
            )
    return None


class LocalTargetsGuard:
    """The mitmproxy addon that applies `refusal` before each connection to a server."""

    async def server_connect(self, data: Any) -> None:
        client = data.client.peername[0] if data.client.peername else ""
        if is_local(client) or data.server.address is None:
            return
        host, port = data.server.address
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return  # mitmproxy's own connection attempt fails and says so
        addresses = [str(info[4][0]) for info in found]
        why = refusal(client, host, addresses)
        if why is not None:
            log.warning("a client at %s asked for %s:%s: %s", client, host, port, why)
            data.server.error = why
            return
        if addresses and _address(host) is None:
            # Pinned to the address checked; TLS still names (and verifies) the host.
            if data.server.sni is None:
                data.server.sni = host
            data.server.address = (addresses[0], port)
