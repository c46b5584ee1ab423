"""The proxy reaches its configured upstreams and nothing else: it never follows a redirect (a
302 goes back to the client, and the host it points at hears nothing), refuses CONNECT and
absolute-form targets with the documented JSON 400, and an upstream URL's `user:password@`
never turns a request into a 500 (issue 13, defects 2, 5 and 10)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import aiohttp
import pytest

from redline import config
from redline.proxy import ProxyRunner, Route, ThreadedProxy
from tests.reliability.conftest import proxy_to
from tests.reliability.support import (
    Listener,
    Upstream,
    chat_body,
    raw_exchange,
    request,
    spooled,
)

KEYS = {"x-api-key": "sk-key-a", "api-key": "sk-key-b", "x-goog-api-key": "sk-key-c"}


def test_a_redirect_on_a_plain_call_is_passed_back_and_never_followed(
    upstream: Upstream, listener: Listener, proxy: ThreadedProxy
) -> None:
    stolen = f"{listener.url}/stolen"
    reply = request(
        proxy.url,
        body=chat_body("hi"),
        headers={"X-Behave": "redirect", "X-Location": stolen, **KEYS},
    )
    assert (reply.status, reply.headers["location"]) == (302, stolen)
    assert listener.seen == []


def test_a_redirect_answering_a_websocket_upgrade_is_passed_back_and_never_followed(
    upstream: Upstream, listener: Listener, proxy: ThreadedProxy, db_path: Path
) -> None:
    stolen = f"{listener.url}/stolen"

    async def upgrade() -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{proxy.url}/v1/responses",
                headers={
                    "Connection": "Upgrade",
                    "Upgrade": "websocket",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
                    "X-Location": stolen,
                    **KEYS,
                },
                allow_redirects=False,
            ) as r,
        ):
            return r.status, r.headers.get("Location", "")

    assert asyncio.run(upgrade()) == (302, stolen)
    assert listener.seen == []
    proxy.flush()
    [refusal] = spooled(db_path)
    assert refusal.status == 302 and "refused the WebSocket upgrade" in (refusal.error or "")


def test_connect_gets_the_json_400(proxy: ThreadedProxy, upstream: Upstream) -> None:
    reply = raw_exchange(
        proxy.url, b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n"
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["type"] == "forbidden_host"
    assert upstream.seen == []


def test_an_absolute_url_to_another_host_gets_the_json_400(
    proxy: ThreadedProxy, listener: Listener
) -> None:
    target = f"{listener.url}/v1/models"
    reply = raw_exchange(
        proxy.url, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["type"] == "forbidden_host"
    assert listener.seen == []


def test_an_upstream_url_with_credentials_and_a_client_authorization_is_not_a_500(
    upstream: Upstream, db_path: Path
) -> None:
    with_user = upstream.url.replace("http://", "http://urluser:urlpass@")
    with proxy_to(db_path, with_user) as proxy:
        reply = request(proxy.url, body=chat_body("hi"), headers={"Authorization": "Bearer sk-c"})
        bare = request(proxy.url, body=chat_body("hi"))
    assert (reply.status, bare.status) == (200, 200)
    # The client's own header wins; the URL's credentials stand in when it sends none.
    assert upstream.seen[0].headers["authorization"] == "Bearer sk-c"
    basic = base64.b64encode(b"urluser:urlpass").decode()
    assert upstream.seen[1].headers["authorization"] == f"Basic {basic}"


def test_an_upstream_url_with_credentials_works_for_websocket_refusals_too(
    upstream: Upstream, db_path: Path
) -> None:
    with_user = upstream.url.replace("http://", "http://urluser:urlpass@")
    with proxy_to(db_path, with_user) as proxy:
        reply = raw_exchange(
            proxy.url,
            b"GET /v1/responses HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nAuthorization: Bearer sk-c\r\n"
            b"X-Location: /elsewhere\r\n\r\n",
            read_until=b"\r\n\r\n",
        )
    assert reply.startswith(b"HTTP/1.1 302")
    assert {s.headers["authorization"] for s in upstream.seen} == {"Bearer sk-c"}


# A route's base (issue 22, item 7: `/openai/../x` reached the upstream as `/base/../x`, which
# the upstream resolves to `/x`, outside the base the route names).


def _routed(db_path: Path, upstream: Upstream, path: str) -> tuple[int, list[str]]:
    routes = [Route.parse("/openai", f"{upstream.url}/base")]
    with ThreadedProxy(ProxyRunner(routes, config.spool_dir(db_path), "127.0.0.1", 0)) as proxy:
        reply = request(proxy.url, method="GET", path=path)
    return reply.status, [s.raw_path for s in upstream.seen]


@pytest.mark.parametrize(
    "path",
    ["/openai/../x", "/openai/v1/../../x", "/openai/%2e%2e/x", "/openai/%2E%2e/x", "/openai/.."],
)
def test_a_path_that_leaves_the_route_is_not_forwarded(
    upstream: Upstream, db_path: Path, path: str
) -> None:
    status, seen = _routed(db_path, upstream, path)
    assert status in (400, 404) and seen == []


@pytest.mark.parametrize("path", ["/openai/..%2fx", "/openai/%2e%2e%2Fx", "/openai/..%5cx"])
def test_a_segment_that_hides_a_climb_is_refused(
    upstream: Upstream, db_path: Path, path: str
) -> None:
    status, seen = _routed(db_path, upstream, path)
    assert status == 400 and seen == []


@pytest.mark.parametrize(
    ("path", "forwarded"),
    [
        ("/openai/v1/models", "/base/v1/models"),
        ("/openai/./v1/x/../models", "/base/v1/models"),
        ("/openai/v1/models/meta-llama%2FLlama-3", "/base/v1/models/meta-llama%2FLlama-3"),
    ],
)
def test_a_path_inside_the_route_goes_to_its_base_with_dots_resolved(
    upstream: Upstream, db_path: Path, path: str, forwarded: str
) -> None:
    status, seen = _routed(db_path, upstream, path)
    assert (status, seen) == (200, [forwarded])
