"""Which headers cross the proxy, and which values are never written down.

What is never stored (docs/recording.md, "What redline never stores"):

* the value of a header or query parameter whose **name** says it holds a credential: one of
  `SECRET`/`SECRET_PARAMS`, or any name containing key, token, secret, signature, auth,
  password, passwd or credential (`X-Auth-Token`, `client_secret`, `X-Amz-Signature`...), except
  where "tokens" counts model tokens (`x-ratelimit-remaining-tokens`); parameters are split at
  `&` and at `;`, so `;key=` is one too, in the query and in the path;
* a header value that is a credential by its **place** (`Bearer ...`, `Basic ...`), whatever
  the header's name;
* any value **shaped** like a provider key, a JWT, a private key or a URL password, wherever it
  stands (`redline.transcripts.secrets.mask_text`).

Names are judged by pattern, and over-redacting a harmless header is preferred to storing a
credential.

What a request sent as a credential is also looked for in the rest of its record: an upstream
may quote it back ("Incorrect API key provided: c4a1f0..."), whatever its shape. `credentials`
gives those exact values: every value redacted or masked above, the token of a credential
scheme, a Basic pair and its password, each cookie's value, a parameter's value both as sent and
decoded. Values shorter than `MIN_CREDENTIAL` are left out: they would match ordinary text.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, unquote_plus

from redline.transcripts import mask_text

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

# Never stored, whatever else happens to a recording (and any name `_SECRET_NAME` finds).
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

# Query parameters that carry credentials (Gemini's `?key=`, signed URLs...), besides any name
# `_SECRET_NAME` finds.
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
        "code",  # an OAuth authorization code
    }
)

# A name holds a credential when it contains one of these words; `tokens` (a count of model
# tokens, as in the rate-limit headers) is not `token`.
_SECRET_NAME = re.compile(
    r"key|token(?!s(?![a-z]))|secret|signature|auth|passw(?:or)?d|credential", re.IGNORECASE
)
# Values worth asking `mask_text` about: a run of 15 or more key characters (every key shape is
# at least that long), a URL with user information, an assignment. Everything else (content
# types, dates, numbers, short words) is kept without the slower look.
_MAYBE_SECRET = re.compile(r"[A-Za-z0-9_+=-]{15}|://[^/\s]*@|[=:]\s*\S{8}")
_CREDENTIAL_SCHEME = re.compile(r"\s*(?:bearer|basic|digest|token|apikey)\s", re.IGNORECASE)
# Headers whose value is a URL, whose query may carry a credential.
_URL_HEADERS = frozenset({"location", "content-location", "link", "refresh"})
# `name=value` parameters, split at `&` (a query) or `;` (a query, or a path segment's).
_PARAM = re.compile(r"(^|[&;])([^&;=#]*)=([^&;#]*)")
_PATH_PARAM = re.compile(r"(;)([^;=/?#]*)=([^;/?#]*)")


# Credentials in free text (a log line): a secret header with its value, a credential scheme,
# a secret query parameter; built from the names above so both stay one list.
_IN_TEXT = re.compile(
    rf"(?i)((?:{'|'.join(map(re.escape, sorted(SECRET)))})\s*:\s*)[^\r\n'\"\\]*"
    r"|(bearer\s+|basic\s+)[A-Za-z0-9._~+/=-]+"
    rf"|([?&](?:{'|'.join(map(re.escape, sorted(SECRET_PARAMS)))})=)[^&\s'\"\\]*"
)


def scrubbed(text: str) -> str:
    """`text` (a log message) with the values of secret headers, credential schemes and secret
    query parameters replaced by REDACTED."""
    return _IN_TEXT.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + REDACTED, text)


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


@functools.lru_cache(maxsize=1024)
def secret_header(name: str) -> bool:
    """True when a header of this name is never stored."""
    return name.lower() in SECRET or _SECRET_NAME.search(name) is not None


@functools.lru_cache(maxsize=1024)
def secret_param(name: str) -> bool:
    """True when a query (or path) parameter of this name is never stored."""
    plain = unquote_plus(name)
    return plain.lower() in SECRET_PARAMS or _SECRET_NAME.search(plain) is not None


@functools.lru_cache(maxsize=4096)
def _masked(value: str) -> str:
    return mask_text(value).text


def masked(value: str) -> str:
    """`value` with anything shaped like a credential masked (`[masked:<kind>]`)."""
    if _MAYBE_SECRET.search(value) is None:
        return value
    return _masked(value) if len(value) <= 4096 else mask_text(value).text


def _param(m: re.Match[str]) -> str:
    sep, name, value = m.groups()
    return f"{sep}{name}={REDACTED if secret_param(name) else value}"


def redacted_query(query: str) -> str:
    """A raw query string as stored: the values of credential parameters replaced, anything
    shaped like a credential masked."""
    if not query:
        return query
    return masked(_PARAM.sub(_param, query))


def redacted_path(path: str) -> str:
    """A path as stored: `;name=value` parameters of credential names replaced, anything shaped
    like a credential masked."""
    if ";" in path:
        path = _PATH_PARAM.sub(_param, path)
    return masked(path)


@functools.lru_cache(maxsize=4096)  # most headers repeat call after call
def _stored(name: str, value: str) -> str:
    if secret_header(name) or _CREDENTIAL_SCHEME.match(value):
        return REDACTED
    if name.lower() in _URL_HEADERS and "?" in value:  # a redirect to a signed URL
        base, _, query = value.partition("?")
        value = f"{base}?{_PARAM.sub(_param, query)}"
    return masked(value)


def redacted(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers as stored: secret values replaced, names kept so a reader sees auth was sent."""
    return [(k, _stored(k, v)) for k, v in headers]


# The shortest value looked for in the rest of a record (see the module's docstring).
MIN_CREDENTIAL = 8


def _scheme_parts(value: str) -> Iterator[str]:
    """`Bearer X` -> X; `Basic B64` -> B64, `user:password` and the password."""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    yield token
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return
        yield pair
        yield pair.partition(":")[2]


def _param_values(text: str, pattern: re.Pattern[str]) -> Iterator[str]:
    for m in pattern.finditer(text):
        _, name, value = m.groups()
        if secret_param(name):
            yield value
            yield unquote(value)
            yield unquote_plus(value)


@functools.lru_cache(maxsize=4096)  # most headers repeat call after call
def _shaped(value: str) -> tuple[str, ...]:
    return mask_text(value).values if _MAYBE_SECRET.search(value) else ()


def credentials(
    headers: Iterable[tuple[str, str]], path: str = "", query: str = ""
) -> frozenset[str]:
    """The exact values a request carried as credentials, in its headers, path and query."""
    found: set[str] = set()
    for name, value in headers:
        if secret_header(name) or _CREDENTIAL_SCHEME.match(value):
            found.add(value)
            if _CREDENTIAL_SCHEME.match(value):
                found.update(_scheme_parts(value))
            if name.lower() in ("cookie", "set-cookie"):
                found.update(p.partition("=")[2].strip() for p in value.split(";"))
            continue
        if name.lower() in _URL_HEADERS and "?" in value:
            found.update(_param_values(value.partition("?")[2], _PARAM))
        found.update(_shaped(value))
    if query:
        found.update(_param_values(query, _PARAM))
        found.update(_shaped(query))
    if path:
        if ";" in path:
            found.update(_param_values(path, _PATH_PARAM))
        found.update(_shaped(path))
    return frozenset(v for v in found if len(v) >= MIN_CREDENTIAL)
