"""Which headers cross the proxy, and which are never written down."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_plus

# RFC 9110 7.6.1 connection-specific headers, plus those the HTTP stack recomputes itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

# Never stored, whatever else happens to a recording.
SECRET = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "openai-api-key",
        "anthropic-api-key",
    }
)
REDACTED = "[redacted]"

# Query parameters that carry credentials (Gemini's `?key=`, signed URLs...).
SECRET_PARAMS = frozenset(
    {
        "key",
        "api_key",
        "api-key",
        "apikey",
        "token",
        "access_token",
        "sig",
        "signature",
        "password",
        "secret",
    }
)


def forwardable(
    headers: Iterable[tuple[str, str]], *, drop: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Headers to send on: hop-by-hop ones left out, including any that the `Connection`
    header names (RFC 9110 7.6.1)."""
    headers = list(headers)
    named = {
        token.strip().lower()
        for k, v in headers
        if k.lower() == "connection"
        for token in v.split(",")
    }
    dropped = HOP_BY_HOP | named | {d.lower() for d in drop}
    return [(k, v) for k, v in headers if k.lower() not in dropped]


def redacted_query(query: str) -> str:
    """A raw query string as stored: the values of credential parameters replaced."""
    if not query:
        return query
    parts = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        if sep and unquote_plus(name).lower() in SECRET_PARAMS:
            pair = f"{name}={REDACTED}"
        parts.append(pair)
    return "&".join(parts)


def redacted(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers as stored: secret values replaced, names kept so a reader sees auth was sent."""
    return [(k, REDACTED if k.lower() in SECRET else v) for k, v in headers]
