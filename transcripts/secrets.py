"""Secrets masked in text before it leaves the machine: exported tasks and stored error bodies.

    mask_text(text) -> Masked     every secret value replaced by `[masked:<kind>]`, all else kept
    mask_json(value) -> (value, n) the same over every string of a JSON-like value
    Credentials(values)           exact values known to be credentials (a request's, a key read
                                  from the environment), masked as `[masked:credential]`
                                  wherever they appear, whatever their shape

What is a secret, in three families (every pattern is listed below with where its format is
documented):

* **Shapes**: values that are secrets wherever they appear: provider keys (OpenAI, Anthropic,
  Google, AWS key ids, GitHub, GitLab, Slack, Stripe, Hugging Face, ...), JWTs and whole
  `-----BEGIN ... PRIVATE KEY-----` blocks (cut-off blocks too, up to where the key text ends).
* **Places**: `Authorization: Bearer <token>`, `Basic <base64 user:pass>`, and the password of a
  URL (`https://user:<password>@host`).
* **Names**: a *literal* assigned to a secret-looking name (`*_KEY`, `*_TOKEN`, `*_SECRET`,
  `*PASSWORD`, `*_PWD`, `*_PASS`, `*PASSPHRASE`, camelCase too) in `.env`, shell, YAML, JSON,
  TOML, INI or code spelling. Passwords mask any literal without spaces; key, token and secret
  names mask one only when it looks generated (`_looks_generated`): `CACHE_KEY = "users"` stays.
  An expression is never masked (`get_password()`, `os.environ["X"]`, `request.headers["X"]`,
  `settings.API_KEY`, `api_key: str`), nor is a placeholder (`""`, `"xxx"`, `"sk-..."`,
  `"<your key>"`, `"${TOKEN}"`, `"{{ secrets.X }}"`, `"changeme"`, `"[redacted]"`: values that
  are public by design, see `_is_placeholder`), nor a name whose last word says it holds no
  secret (`PRIMARY_KEY`, `next_page_token`, `eos_token`, `PASSWORD_MIN_LENGTH`).

Only the value is replaced: quotes, names, operators and the rest of the line stay byte for byte,
so a masked transcript still reads as the code it was. Masking masked text changes nothing.

Why a table rather than `detect-secrets` 1.5.0, tried on this module's test cases: its named
detectors know 15 of the 27 key shapes here (not Anthropic, Google, Hugging Face, Groq, npm,
OpenRouter, GitHub fine-grained or most current OpenAI project keys), and its entropy detectors,
which catch the rest only inside quotes and without naming them, are what flag the hashes,
alphabets and base64 fixtures that must stay (9 of the 55 ordinary lines in the tests; 7 false
findings in CPython's `Lib/*.py`, where this table finds none). It also reports a line and a value
rather than a span (a private key as its BEGIN line), and scans about 6 s a megabyte to this 0.1 s.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

__all__ = ["KINDS", "Credentials", "Masked", "marker", "mask_json", "mask_text"]

MARKER_PREFIX: Final = "[masked:"


def marker(kind: str) -> str:
    """What a masked value is replaced by: `[masked:openai-key]`."""
    return f"{MARKER_PREFIX}{kind}]"


# Any marker, as `marker` writes them.
MARKER: Final = re.compile(re.escape(MARKER_PREFIX) + r"[a-z-]+\]")


@dataclass(frozen=True, slots=True)
class Masked:
    text: str
    count: int  # values masked
    kinds: tuple[str, ...]  # the kind of each masked value, in the order they appear
    # The values masked, in the same order (for finding them elsewhere; not part of equality).
    values: tuple[str, ...] = field(default=(), compare=False)


# A value is not cut out of a longer word: its left edge follows no letter, digit, `_` or `-`
# unless that is the `n` of an escaped newline (`\n` inside a JSON string); its right edge is
# where the token's alphabet stops. The left check stands after the leading literal, so that the
# regex engine can search for the literal first (ten times faster than a leading lookbehind).
_R: Final = r"(?![A-Za-z0-9_-])"


def _shape(prefix: str, rest: str) -> re.Pattern[str]:
    """A shape starting with `prefix` (fixed width: characters and [classes] only)."""
    width = len(re.sub(r"\\.|\[[^]]*\]", "x", prefix))
    left = rf"(?:(?<![A-Za-z0-9_-].{{{width}}})|(?<=\\[nrt].{{{width}}}))"
    return re.compile(prefix + left + rest + _R)


# Shapes: (kind, pattern). Lengths follow the issuers' documentation and gitleaks' rule set
# (config/gitleaks.toml, rules named in brackets), which keeps true and false examples for each.
# A lower bound stands where the issuer says a length may grow.
_SHAPES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    # RFC 7468 textual encodings; OpenSSH and PGP use the same armour [private-key]: base64 with
    # optional `Name: value` headers, newlines possibly escaped (`\n` in JSON). A block cut off
    # before its END line is masked as far as its body goes; a body too short to be a key (the
    # BEGIN line alone, quoted in code) is not a block (`_CHECKS`).
    (
        "private-key",
        re.compile(
            r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
            r"(?P<body>(?:[A-Za-z0-9+/=:,.\s]|\\[nrt]|-(?!----))*+)"
            r"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)?"
        ),
    ),
    # Anthropic: sk-ant-api03- / sk-ant-admin01- + 93 + "AA"; Claude Code OAuth sk-ant-oat01- +
    # 95 [anthropic-api-key, anthropic-admin-api-key, claude-code-oauth-token].
    ("anthropic-key", _shape("sk-ant-", r"[a-z]{2,8}\d\d-[A-Za-z0-9_-]{80,}")),
    # OpenAI: project, service-account and admin keys (sk-proj-, sk-svcacct-, sk-admin-; sk-None-
    # for a while) and legacy user keys sk- + 20 + "T3BlbkFJ" + 20 [openai-api-key].
    ("openai-key", _shape("sk-", r"(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}")),
    ("openai-key", _shape("sk-", r"[A-Za-z0-9]{20,}T3BlbkFJ[A-Za-z0-9]{20,}")),
    # OpenRouter: sk-or-v1- + 64 hex (openrouter.ai/docs/api-reference/authentication).
    ("openrouter-key", _shape("sk-or-v", r"\d-[0-9a-f]{64}")),
    # Other OpenAI-compatible providers give sk- + 32 or more letters and digits (DeepSeek and
    # DashScope 32 hex, Moonshot 48); the body must hold a digit (checked below).
    ("openai-compatible-key", _shape("sk-", r"[A-Za-z0-9]{32,}")),
    # Google API keys: AIza + 35 [gcp-api-key]; OAuth access tokens ya29. (developers.google.com
    # /identity/protocols/oauth2).
    ("google-api-key", _shape("AIza", r"[A-Za-z0-9_-]{35}")),
    ("google-oauth-token", _shape(r"ya29\.", r"[A-Za-z0-9_-]{20,}")),
    # AWS access key ids: AKIA (long-term), ASIA (STS) and the rarer A3T*, ABIA, ACCA + 16
    # (docs.aws.amazon.com IAM "Unique identifiers") [aws-access-token].
    ("aws-access-key-id", _shape("A", r"(?:3T[A-Z0-9]|KIA|SIA|BIA|CCA)[A-Z0-9]{16}")),
    # GitHub: ghp_ gho_ ghu_ ghs_ ghr_ + 36, up to 255 in all (github.blog 2021-04-05 "Behind
    # GitHub's new authentication token formats"); fine-grained github_pat_ + 82 [github-*].
    ("github-token", _shape("gh", r"[pousr]_[A-Za-z0-9]{36,251}")),
    ("github-token", _shape("github_pat_", r"[A-Za-z0-9_]{70,244}")),
    # GitLab: glpat- + 20, routable tokens longer with a .xx suffix; deploy (gldt-) and runner
    # (glrt-) tokens alike (docs.gitlab.com/security/tokens/) [gitlab-pat, gitlab-pat-routable].
    ("gitlab-token", _shape("gl", r"(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{20,300}(?:\.[0-9a-z]{2,9})?")),
    # Slack: xoxb- xoxp- xoxa- xoxo- xoxs- xoxr- xoxe- tokens and xapp- app tokens
    # (api.slack.com/authentication/token-types) [slack-*]; incoming webhooks are secret URLs.
    ("slack-token", _shape("xox", r"[abeoprs]-[A-Za-z0-9-]{10,250}")),
    ("slack-token", _shape("xapp-", r"\d-[A-Za-z0-9-]{10,250}")),
    (
        "slack-webhook",
        re.compile(r"hooks\.slack\.com/services/(?P<secret>[A-Za-z0-9/]{20,100})" + _R),
    ),
    # Stripe: secret and restricted keys sk_/rk_ + live/test (docs.stripe.com/keys), webhook
    # signing secrets whsec_ [stripe-access-token]. Publishable pk_ keys are public.
    ("stripe-key", _shape(r"[sr]k_", r"(?:live|test|prod)_[A-Za-z0-9]{16,247}")),
    ("stripe-key", _shape("whsec_", r"[A-Za-z0-9]{32,}")),
    # Hugging Face user access tokens: hf_ + 34 (huggingface.co/docs/hub/security-tokens)
    # [huggingface-access-token].
    ("huggingface-token", _shape("hf_", r"[A-Za-z0-9]{34,64}")),
    # Groq gsk_ + 48 or more [groq-api-key]; npm npm_ + 36 [npm-access-token]; PyPI macaroons
    # pypi-AgEIcHlwaS5vcmc... (pypi.org/help/#apitoken) [pypi-upload-token].
    ("groq-key", _shape("gsk_", r"[A-Za-z0-9]{48,}")),
    ("npm-token", _shape("npm_", r"[A-Za-z0-9]{36}")),
    ("pypi-token", _shape("pypi-AgE", r"[A-Za-z0-9_-]{50,}")),
    # JWT (RFC 7519): base64url header and payload both start with `{"` = eyJ [jwt].
    ("jwt", _shape("eyJ", r"[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*")),
)


def _has_digit(m: re.Match[str]) -> bool:
    return any(c.isdigit() for c in m[0])


def _long_body(m: re.Match[str]) -> bool:
    return len(re.sub(r"\\[nrt]|[^A-Za-z0-9+/]", "", m["body"])) >= 40


# Shapes whose pattern alone does not say enough: a long run of letters and `-` can be a slug
# (`sk-proj-notes-for-...`), never a generated key, which holds digits.
_CHECKS: Final[dict[str, Callable[[re.Match[str]], bool]]] = {
    "private-key": _long_body,
    "anthropic-key": _has_digit,
    "openai-key": _has_digit,
    "openai-compatible-key": _has_digit,
    "slack-token": _has_digit,
    "gitlab-token": _has_digit,
}

# Places (RFC 6750 bearer tokens, RFC 7617 basic credentials, RFC 3986 userinfo).
_BEARER: Final = re.compile(
    r"[Bb]earer(?<![A-Za-z0-9_].{6})[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{8,}+=*+)" + _R
)
_BASIC: Final = re.compile(
    r"[Bb]asic(?<![A-Za-z0-9_].{5})[ \t]+(?P<secret>[A-Za-z0-9+/]{8,}+={0,2}+)(?![A-Za-z0-9+/=])"
)
_URL_PASSWORD: Final = re.compile(
    r"(?<=[A-Za-z0-9])://[^\s:/@\"'<>]{0,128}+:(?P<secret>[^\s/@\"'<>]{1,256}+)@"
)

# Names: `NAME <op> literal`. The name ends in a secret word (cheap lookbehinds; the precise
# judgement is `_name_kind`); the value is a quoted literal or a bare word, never a call,
# subscript or attribute (`(?![(\[])`). Every repeat is possessive or bounded, and a name starts
# only where no name character precedes it (else `a-a-a-...` would start one at every `a`).
_SECRET_WORD_END: Final = "|".join(
    f"(?<={w})" for w in ("key", "token", "secret", "password", "passwd", "pwd", "pass", "phrase")
)
_ASSIGNMENT: Final = re.compile(
    r"""
    (?<![\w.-])(?:--?)?(?P<name>[A-Za-z_][\w.-]*+)(?i:"""
    + _SECRET_WORD_END
    + r""")
    (?:\\?["'`])?\]?                                  # the key's closing quote, a subscript's ]
    (?::[ \t]*[A-Za-z_][\w.\[\], |]{0,60}?(?=[ \t]*=[^=]))?   # a type annotation before `=`
    (?P<pre>[ \t]*)(?P<op>:=|\?=|=>|=(?!=)|:(?!:))(?P<post>[ \t]*)    # not ==
    (?:[rRbBuU]{1,2}(?=["']))?
    (?:
        "(?P<dq>[^"\\\n]*+(?:\\.[^"\\\n]*+)*+)"
      | '(?P<sq>[^'\\\n]*+(?:\\.[^'\\\n]*+)*+)'
      | `(?P<bq>[^`\\\n]*+)`
      | \\"(?P<edq>[^"\\\n]*+)\\"                      # inside a JSON-encoded string
      | (?P<bare>[^\s"'`,;&(){}\[\]<>\\]++)(?![(\[])
    )
    """,
    re.VERBOSE,
)

# The last word of a name, and the word before it, decide whether it holds a secret.
_PASSWORD_WORDS: Final = frozenset({"password", "passwd", "pwd", "pass", "passphrase"})
_SECRET_WORDS: Final = frozenset({"secret", "token", "key"})
# Compounds written as one word: apikey, accesstoken, clientsecret, dbpassword...
_COMPOUND: Final = re.compile(
    r"(?:api|access|auth|secret|private|client|refresh|bearer|bot|app|master|admin|db|root|user"
    r"|session|signing|encryption|service|account|license|webhook)"
    r"(?:key|token|secret|password|passwd|pwd|pass)"
)
# Words before `key` / `token` that make it something other than a credential.
_NOT_SECRET_BEFORE: Final = frozenset(
    {
        # keys of data structures, stores and UIs
        "primary", "foreign", "sort", "partition", "cache", "storage", "lookup", "dict", "map",
        "hash", "group", "row", "column", "index", "idempotency", "object", "s3", "redis",
        "config", "setting", "settings", "i18n", "translation", "message", "feature", "metric",
        "label", "public", "hot", "short", "shortcut", "keyboard", "unique", "composite",
        "natural", "surrogate", "dedup", "dedupe", "routing", "sharding", "shard", "bucket",
        "react", "list", "item", "query", "form", "field", "env", "environment", "registry",
        "schema", "file", "path", "name", "id", "type", "state", "local", "media",
        # tokens of parsers, tokenizers and pagination
        "page", "next", "prev", "previous", "continuation", "sync", "cancellation",
        "pagination", "cursor", "bos", "eos", "pad", "unk", "sep", "cls", "mask", "special",
        "stop", "start", "end", "added", "first", "last", "current", "max", "min", "num",
        "count", "input", "output", "completion", "prompt", "reasoning", "cached", "total",
        "csrf", "xsrf",
    }
)  # fmt: skip

# Values that are public by design: empty, template variables, elisions, known defaults.
_PLACEHOLDER_WORDS: Final = frozenset(
    {
        "changeme", "change-me", "change_me", "changeit", "placeholder", "redacted",
        "secret", "password", "passwd", "token", "key", "apikey", "api_key", "none", "null",
        "nil", "true", "false", "undefined", "todo", "fixme", "dummy", "fake", "test", "sample",
        "mask", "masked", "hidden", "omitted", "required", "optional", "string", "str", "foo",
        "bar", "baz", "qux",
    }
)  # fmt: skip
_PLACEHOLDER: Final = re.compile(
    r"\.\.\.|…|x{4,}|X{4,}|\*{3,}|#{3,}|^[$%]|^\{\{|^<.*>$|\{[\w.]*\}|%\(?\w*\)?[sd]"
    r"|(?i:example|(?:^|[^a-z])your(?:[^a-z]|$)|(?:^|[^a-z])(?:here|goes)$"
    r"|^(?:insert|enter|replace|put|add)[_ -])"
)
# A key-shaped placeholder (`ghp_xxxx...`, `AKIAIOSFODNN7EXAMPLE`, `sk-proj-...`): narrow enough
# that a random key is never taken for one (six x in a row: about once in 10^8 keys).
_SHAPE_PLACEHOLDER: Final = re.compile(r"x{6,}|X{6,}|(.)\1{7,}|\.\.\.|…|\*\*\*|EXAMPLE|example")
_DOTTED_NAME: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_ENV_NAME: Final = re.compile(r"[A-Z][A-Z0-9_]*")
_CAMEL: Final = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _is_placeholder(value: str) -> bool:
    v = value.strip()
    return (
        not v
        or MARKER_PREFIX in v
        or v.lower() in _PLACEHOLDER_WORDS
        or v == "[redacted]"
        or len(set(v)) == 1
        or _PLACEHOLDER.search(v) is not None
    )


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in (value.count(ch) for ch in set(value)))


def _looks_generated(value: str) -> bool:
    """A value a machine made: 12+ characters without spaces mixing letters with digits, or
    upper with lower case, and as varied as random text (gitleaks' generic rule asks 3.5 bits a
    character; words joined by `-`/`_` score lower, `user-profile-v2` stays)."""
    if len(value) < 12 or any(c.isspace() for c in value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_lower = any(c.islower() for c in value)
    has_upper = any(c.isupper() for c in value)
    if not ((has_digit and (has_lower or has_upper)) or (has_lower and has_upper)):
        return False
    if sum(c.isalnum() for c in value) < 0.75 * len(value):
        return False  # a pattern, a path, a format string
    return _entropy(value) >= 3.5 and not _is_wordy(value)


def _is_wordy(value: str) -> bool:
    """Made of words and at most a short number: `ApplyTypeAnnotationsVisitor`,
    `WebTest.COOKIE_SECRET`, `app_state_v12`; generated text breaks into short pieces."""
    pieces = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", value)
    letters = [p for p in pieces if p.isalpha()]
    digits = sum(len(p) for p in pieces if p.isdigit())
    return digits <= 3 and all(len(p) >= 3 for p in letters)


def _words(name: str) -> list[str]:
    """`OPENAI_API_KEY` -> openai, api, key; `clientSecret` -> client, secret."""
    return [w.lower() for part in re.split(r"[^A-Za-z0-9]+", name) for w in _CAMEL.findall(part)]


def _name_kind(name: str) -> str | None:
    """`password` or `secret` when a name says it holds one, else None."""
    words = _words(name)
    if not words:
        return None
    last, before = words[-1], words[-2] if len(words) > 1 else ""
    if last in _PASSWORD_WORDS or (
        last.endswith(("password", "passwd", "pwd", "pass")) and _COMPOUND.fullmatch(last)
    ):
        return "password"
    if last in _SECRET_WORDS:
        if before in _NOT_SECRET_BEFORE:
            return None
        if last == "key" and not before:
            return None  # a bare `key` is a dictionary's far more often than a credential
        return "secret"
    if _COMPOUND.fullmatch(last):
        return "secret"
    return None


def _names_itself(name: str, value: str) -> bool:
    """`CHALLENGE_PASSWORD: "challengePassword"`, `password="password1"`: a constant spelling its
    own name, or a value built on the word that names it, is no secret. Words shorter than five
    letters (`key`, `pwd`) are left out: random text holds them too often."""
    squashed = re.sub(r"[^a-z0-9]", "", value.lower())
    name_squashed = re.sub(r"[^a-z0-9]", "", re.split(r"[^A-Za-z0-9_-]", name)[-1].lower())
    word = _words(name)[-1]
    return (len(name_squashed) >= 5 and name_squashed in squashed) or (
        len(word) >= 5 and word in squashed
    )


def _is_reference(value: str) -> bool:
    """A name in code rather than a literal: `settings.API_KEY`, `SSHPrivateKeyTypes`,
    `KEY_VERSION_2`. A bare generated key (letters and digits, no `_`) is not one."""
    if _DOTTED_NAME.fullmatch(value):
        return True
    return value.isidentifier() and ("_" in value or not any(c.isdigit() for c in value))


def _value_kind(name: str, value: str, *, bare: bool, env: bool) -> str | None:
    """The kind to mask `name = value` as, or None. `bare`: the value was unquoted; `env`:
    written `NAME=value` as in `.env` files and shells, where a bare value is always literal."""
    kind = _name_kind(name)
    if kind is None or _is_placeholder(value) or _names_itself(name, value):
        return None
    if bare and not env:
        if _is_reference(value) or not _looks_generated(value):
            return None  # a variable, an attribute or a type, or a word that is no credential
        return kind
    if any(c.isspace() for c in value):
        return None  # prose (a label, a message) rather than a credential
    if kind == "password":
        return kind
    return kind if (env and bare) or _looks_generated(value) else None


# --- finding ---------------------------------------------------------------------------------

_Hit = tuple[int, int, str]  # start, end, kind


def _shape_hits(text: str) -> Iterator[_Hit]:
    for kind, pattern in _SHAPES:
        group = "secret" if "secret" in pattern.groupindex else 0
        for m in pattern.finditer(text):
            if _SHAPE_PLACEHOLDER.search(m[group]):
                continue
            check = _CHECKS.get(kind)
            if check is not None and not check(m):
                continue
            yield m.start(group), m.end(group), kind


def _decodes_to_credentials(value: str) -> bool:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _, sep, password = decoded.partition(":")
    return bool(sep and password and decoded.isprintable())


def _place_hits(text: str) -> Iterator[_Hit]:
    for m in _BEARER.finditer(text):
        token = m["secret"]
        if not _is_placeholder(token) and _looks_generated(token):
            yield m.start("secret"), m.end("secret"), "bearer-token"
    for m in _BASIC.finditer(text):
        if _decodes_to_credentials(m["secret"]):
            yield m.start("secret"), m.end("secret"), "basic-auth"
    for m in _URL_PASSWORD.finditer(text):
        password = m["secret"]
        if not _is_placeholder(password) and not password.startswith(("{", "[")):
            yield m.start("secret"), m.end("secret"), "url-password"


def _assignment_hits(text: str) -> Iterator[_Hit]:
    for m in _ASSIGNMENT.finditer(text):
        group = next(g for g in ("dq", "sq", "bq", "edq", "bare") if m[g] is not None)
        bare = group == "bare"
        # `NAME=value` in .env files and shells, `--password=value` on a command line: there a
        # bare value can only be a literal.
        env = (
            bare
            and m["op"] == "="
            and not m["pre"]
            and not m["post"]
            and (
                _ENV_NAME.fullmatch(m["name"]) is not None
                or text[max(0, m.start("name") - 2) : m.start("name")] == "--"
            )
        )
        kind = _value_kind(m["name"], m[group], bare=bare, env=env)
        if kind is not None:
            yield m.start(group), m.end(group), kind


def _choose(shapes: Iterable[_Hit], others: Iterable[_Hit]) -> list[_Hit]:
    """Non-overlapping hits, in order. A shape wins over a place or a name around the same
    value (it names the kind better); otherwise the earlier, then the longer, hit wins."""
    chosen = _disjoint(shapes)
    starts = [start for start, _, _ in chosen]

    def free(hit: _Hit) -> bool:
        i = bisect.bisect_left(starts, hit[1])  # chosen[:i] start before `hit` ends
        return i == 0 or chosen[i - 1][1] <= hit[0]

    return sorted(chosen + _disjoint(h for h in others if free(h)))


def _disjoint(hits: Iterable[_Hit]) -> list[_Hit]:
    out: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (h[0], -h[1])):
        if not out or hit[0] >= out[-1][1]:
            out.append(hit)
    return out


def mask_text(text: str) -> Masked:
    """Replace every secret value in `text` by `[masked:<kind>]`, keeping everything else."""
    hits = _choose(_shape_hits(text), itertools.chain(_place_hits(text), _assignment_hits(text)))
    if not hits:
        return Masked(text, 0, ())
    out: list[str] = []
    at = 0
    for start, end, kind in hits:
        out += (text[at:start], marker(kind))
        at = end
    out.append(text[at:])
    return Masked(
        "".join(out),
        len(hits),
        tuple(kind for _, _, kind in hits),
        tuple(text[start:end] for start, end, _ in hits),
    )


def mask_json(value: Any) -> tuple[Any, int]:
    """`mask_text` over every string in a JSON-like value (dicts, lists, tuples, scalars),
    returning a new value and how many secrets were masked. Dict keys are kept; a string held
    under a secret-looking key (`{"password": "hunter2"}`) is judged as that assignment."""
    return _mask_value(value, None)


def _mask_value(value: Any, name: str | None) -> tuple[Any, int]:
    if isinstance(value, str):
        masked = mask_text(value)
        if masked.count == 0 and name is not None:
            kind = _value_kind(name, value, bare=False, env=False)
            if kind is not None:
                return marker(kind), 1
        return masked.text, masked.count
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        total = 0
        for k, v in value.items():
            out[k], n = _mask_value(v, k if isinstance(k, str) else None)
            total += n
        return out, total
    if isinstance(value, list | tuple):
        items = [_mask_value(v, name) for v in value]
        masked_items = [v for v, _ in items]
        return (
            tuple(masked_items) if isinstance(value, tuple) else masked_items,
            sum(n for _, n in items),
        )
    return value, 0


class Credentials:
    """Exact values known to be credentials, and how they are masked in text and bytes: as
    given, as a JSON string escapes them (quotes, backslashes, non-ASCII; some servers escape
    `/` too) and as a URL encodes them. Longer forms first, so a value holding another is
    masked whole. Callers leave out values too short to be told from ordinary text."""

    __slots__ = ("_bytes", "_marker", "_strings")

    def __init__(self, values: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in values:
            if not value:
                continue
            escaped = json.dumps(value)[1:-1]
            forms.update((value, escaped, escaped.replace("/", "\\/"), quote(value, safe="")))
        self._strings = sorted(forms, key=len, reverse=True)
        self._bytes = [f.encode("utf-8", "surrogateescape") for f in self._strings]
        self._marker = marker("credential")

    def __bool__(self) -> bool:
        return bool(self._strings)

    def text(self, value: str) -> tuple[str, int]:
        """`value` with every credential masked, and how many were."""
        n = 0
        for form in self._strings:
            if form in value:
                n += value.count(form)
                value = value.replace(form, self._marker)
        return value, n

    def data(self, value: bytes) -> tuple[bytes, int]:
        """The same over bytes (a body as it came, not decoded)."""
        n = 0
        masked = self._marker.encode()
        for form in self._bytes:
            if form in value:
                n += value.count(form)
                value = value.replace(form, masked)
        return value, n

    def headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Header values with every credential masked."""
        if not self._strings:
            return headers
        return [(k, self.text(v)[0]) for k, v in headers]


KINDS: Final[tuple[str, ...]] = (
    *dict.fromkeys(kind for kind, _ in _SHAPES),
    "bearer-token",
    "basic-auth",
    "url-password",
    "password",
    "secret",
    "credential",  # a value the request sent as a credential, met again in what was recorded
)
"""Every kind a marker can name."""
