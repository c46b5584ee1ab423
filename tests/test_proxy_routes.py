"""Several upstreams in one proxy: the longest matching prefix wins, and is removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redline import config
from redline.errors import RedlineError
from redline.proxy import ProxyRunner, Route, ThreadedProxy, match_route, parse_routes
from tests.fakes import http
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.server import ServerThread


def test_the_longest_matching_prefix_wins() -> None:
    routes = [
        Route.parse("", "http://a"),
        Route.parse("/openai", "http://b"),
        Route.parse("/openai/beta", "http://c"),
    ]
    assert match_route(routes, "/openai/beta/v1/responses") == routes[2]
    assert match_route(routes, "/openai/v1/models") == routes[1]
    assert match_route(routes, "/v1/messages") == routes[0]


def test_a_prefix_matches_whole_path_segments_only() -> None:
    routes = [Route.parse("/openai", "http://b")]
    assert match_route(routes, "/openaix/v1/models") is None
    assert match_route(routes, "/openai") == routes[0]


def test_the_prefix_is_removed_and_the_upstream_path_kept() -> None:
    route = Route.parse("/anthropic", "https://gateway.example/base/")
    assert (
        str(route.target("/anthropic/v1/messages", "beta=true"))
        == "https://gateway.example/base/v1/messages?beta=true"
    )


def test_each_route_reaches_its_own_upstream_and_unknown_paths_get_a_404(db_path: Path) -> None:
    one, two = FakeOpenAI(), FakeOpenAI()
    with ServerThread(one.app()) as a, ServerThread(two.app()) as b:
        routes = [Route.parse("/one", a.url), Route.parse("/two", b.url)]
        with ThreadedProxy(ProxyRunner(routes, config.spool_dir(db_path), "127.0.0.1", 0)) as proxy:
            assert http.request("GET", f"{proxy.url}/one/v1/models").status == 200
            assert http.request("GET", f"{proxy.url}/two/v1/models").status == 200
            missing = http.request("GET", f"{proxy.url}/three/v1/models")
    assert [r.path for r in one.received] == ["/v1/models"]
    assert [r.path for r in two.received] == ["/v1/models"]
    assert missing.status == 404
    assert "routes: /one, /two" in json.loads(missing.body)["error"]["message"]


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (["openai=https://api.openai.com"], "should look like /PREFIX=https://host"),
        (["/openai"], "should look like /PREFIX=https://host"),
        (["/a=https://x", "/a=https://y"], "two routes share a prefix"),
        (["/a=ftp://x"], r"is not an http\(s\) URL"),
        ([], "give an upstream"),
    ],
)
def test_bad_routes_are_refused_with_a_message_that_says_what_to_do(
    routes: list[str], message: str
) -> None:
    with pytest.raises(RedlineError, match=message):
        parse_routes(None, routes)
