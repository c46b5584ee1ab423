"""Routes: which upstream a request goes to, by path prefix.

A request's path is read as a URL path before it is routed (`normalised`): its dot segments
(`.`, `..`, and their percent-encoded spellings `%2e`) are resolved, as the upstream would resolve
them, so `/openai/../x` is `/x` and never reaches a route's upstream as `/base/../x`, outside the
base the route names. A `..` above the root, and a segment that hides a climb behind an encoded
slash or backslash (`..%2fx`, which a server that decodes it reads as `../x`), are refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from yarl import URL

from redline.errors import RedlineError
from redline.proxy.headers import credentials, redacted_query


@dataclass(frozen=True, slots=True)
class Route:
    """Requests whose path starts with `prefix` go to `upstream`, with the prefix removed."""

    prefix: str
    upstream: URL

    @classmethod
    def parse(cls, prefix: str, upstream: str) -> Route:
        problem = f"upstream {upstream!r} is not an http(s) URL; give e.g. https://api.openai.com"
        try:
            url = URL(upstream.strip())
            valid = url.scheme in ("http", "https") and bool(url.host) and url.port is not None
        except ValueError:  # yarl's word for a malformed host or port
            valid = False
        if not valid:
            raise RedlineError(problem)
        prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        return cls(prefix, url.with_fragment(None))

    @property
    def public(self) -> str:
        """The upstream as shown and stored: no user:password, no credential parameters."""
        url = self.upstream.with_user(None)
        query = redacted_query(url.raw_query_string)
        return str(url.with_query(None)) + (f"?{query}" if query else "")

    @property
    def authorization(self) -> str | None:
        """The `Authorization` header that an upstream URL's `user:password@` stands for. It is
        sent only with requests that carry no `Authorization` of their own: the client's header
        wins (docs/recording.md, `redline proxy`)."""
        if self.upstream.user is None and self.upstream.password is None:
            return None
        pair = f"{self.upstream.user or ''}:{self.upstream.password or ''}"
        try:
            raw = pair.encode("latin-1")  # what clients have always sent (RFC 7617 2.1)
        except UnicodeEncodeError:
            raw = pair.encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    @property
    def credentials(self) -> frozenset[str]:
        """What the upstream URL holds as credentials (its password, as sent in `authorization`,
        and its own credential parameters): looked for in what is recorded, like the client's."""
        authorization = self.authorization
        headers = [("Authorization", authorization)] if authorization else []
        return credentials(headers, query=self.upstream.raw_query_string)

    def target(self, path: str, query: str) -> URL:
        """The upstream URL for a request path; an upstream's own query (Azure's
        `?api-version=`) comes first, then the request's. Never with `user:password@`: those
        travel as a header (`authorization`)."""
        rest = path[len(self.prefix) :] or "/"
        base = str(self.upstream.with_user(None).with_query(None)).rstrip("/")
        both = "&".join(q for q in (self.upstream.raw_query_string, query) if q)
        return URL(base + rest + (f"?{both}" if both else ""), encoded=True)


_SEPARATORS = re.compile(r"[/\\]")


def normalised(path: str) -> str:
    """`path` (raw, as the request line has it) with its dot segments resolved; ValueError
    saying why when it climbs above the root or hides a climb in an encoded separator."""
    if "." not in path and "%" not in path and "\\" not in path:
        return path  # nearly every request: nothing to resolve
    segments = path.split("/")[1:]
    kept: list[str] = []
    for i, segment in enumerate(segments):
        plain = unquote(segment)
        if plain in (".", ".."):
            if plain == "..":
                if not kept:
                    raise ValueError("it climbs above the root with '..'")
                kept.pop()
            if i == len(segments) - 1:
                kept.append("")  # `/a/b/..` is the folder `/a/`
            continue
        if any(part in (".", "..") for part in _SEPARATORS.split(plain)):
            raise ValueError(f"its segment {segment!r} hides a '..' or '.' behind a separator")
        kept.append(segment)
    return "/" + "/".join(kept)


def match_route(routes: Sequence[Route], path: str) -> Route | None:
    """The route with the longest prefix that matches whole path segments."""
    best: Route | None = None
    for route in routes:
        p = route.prefix
        if (not p or path == p or path.startswith(p + "/")) and (
            best is None or len(p) > len(best.prefix)
        ):
            best = route
    return best


def parse_routes(upstream: str | None, routes: Sequence[str]) -> list[Route]:
    """Routes from `--upstream URL` (prefix /) and `--route /PREFIX=URL` specs."""
    parsed = [Route.parse("", upstream)] if upstream else []
    for spec in routes:
        prefix, sep, url = spec.partition("=")
        if not sep or not prefix.startswith("/"):
            raise RedlineError(f"--route {spec!r} should look like /PREFIX=https://host")
        parsed.append(Route.parse(prefix, url))
    if not parsed:
        raise RedlineError(
            "give an upstream: --upstream https://api.openai.com (or --route /PREFIX=URL)"
        )
    prefixes = [r.prefix for r in parsed]
    if len(set(prefixes)) != len(prefixes):
        raise RedlineError("two routes share a prefix; give each --route its own /PREFIX")
    return parsed
