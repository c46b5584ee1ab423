"""Secrets are masked in exported tasks and stored error bodies; the code around them is kept.

Every key below is built at run time from a seeded generator in the format its issuer documents,
so this file holds no key-shaped literal for a secret scanner to flag.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections import Counter
from typing import Any

import pytest

from redline.transcripts.secrets import KINDS, Masked, marker, mask_json, mask_text

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
DIGITS = string.digits


def fake(alphabet: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


JWT = (
    b64url({"alg": "HS256", "typ": "JWT"})
    + "."
    + b64url({"sub": "user-42", "iat": 1735689600, "scope": "repo"})
    + "."
    + fake(URLSAFE, 43, 99)
)

# name -> (kind, value): one value per provider shape, in the issuer's documented format.
KEYS: dict[str, tuple[str, str]] = {
    "openai-project": (
        "openai-key",
        "sk-proj-" + fake(URLSAFE, 74, 1) + "T3BlbkFJ" + fake(URLSAFE, 74, 2),
    ),
    "openai-service-account": (
        "openai-key",
        "sk-svcacct-" + fake(URLSAFE, 58, 3) + "T3BlbkFJ" + fake(URLSAFE, 58, 4),
    ),
    "openai-admin": (
        "openai-key",
        "sk-admin-" + fake(URLSAFE, 58, 5) + "T3BlbkFJ" + fake(URLSAFE, 58, 6),
    ),
    "openai-legacy": ("openai-key", "sk-" + fake(ALNUM, 20, 7) + "T3BlbkFJ" + fake(ALNUM, 20, 8)),
    "anthropic": ("anthropic-key", "sk-ant-api03-" + fake(URLSAFE, 93, 9) + "AA"),
    "anthropic-admin": ("anthropic-key", "sk-ant-admin01-" + fake(URLSAFE, 93, 10) + "AA"),
    "openrouter": ("openrouter-key", "sk-or-v1-" + fake(HEX, 64, 11)),
    "deepseek": ("openai-compatible-key", "sk-" + fake(HEX, 32, 12)),
    "google": ("google-api-key", "AIza" + fake(URLSAFE, 35, 13)),
    "aws-long-term": ("aws-access-key-id", "AKIA" + fake(UPPER_DIGITS, 16, 14)),
    "aws-sts": ("aws-access-key-id", "ASIA" + fake(UPPER_DIGITS, 16, 15)),
    "github-classic": ("github-token", "ghp_" + fake(ALNUM, 36, 16)),
    "github-oauth": ("github-token", "gho_" + fake(ALNUM, 36, 17)),
    "github-user-to-server": ("github-token", "ghu_" + fake(ALNUM, 36, 18)),
    "github-server-to-server": ("github-token", "ghs_" + fake(ALNUM, 36, 19)),
    "github-refresh": ("github-token", "ghr_" + fake(ALNUM, 36, 20)),
    "github-fine-grained": (
        "github-token",
        "github_pat_" + fake(ALNUM, 22, 21) + "_" + fake(ALNUM, 59, 22),
    ),
    "gitlab": ("gitlab-token", "glpat-" + fake(URLSAFE, 20, 23)),
    "slack-bot": (
        "slack-token",
        "xoxb-" + "-".join([fake(DIGITS, 12, 24), fake(DIGITS, 13, 25), fake(ALNUM, 24, 26)]),
    ),
    "slack-user": (
        "slack-token",
        "xoxp-" + "-".join([*(fake(DIGITS, 12, s) for s in (27, 28, 29)), fake(HEX, 32, 30)]),
    ),
    "stripe-live": ("stripe-key", "sk_live_" + fake(ALNUM, 24, 31)),
    "stripe-restricted": ("stripe-key", "rk_live_" + fake(ALNUM, 99, 32)),
    "stripe-test": ("stripe-key", "sk_test_" + fake(ALNUM, 24, 33)),
    "huggingface": ("huggingface-token", "hf_" + fake(string.ascii_letters, 34, 34)),
    "groq": ("groq-key", "gsk_" + fake(ALNUM, 52, 35)),
    "npm": ("npm-token", "npm_" + fake(ALNUM, 36, 36)),
    "jwt": ("jwt", JWT),
}

# Realistic places a key turns up in a transcript; `{key}` is where it goes.
CONTEXTS: dict[str, str] = {
    "python-call": (
        "from openai import OpenAI\n\n"
        'client = OpenAI(api_key="{key}", timeout=30)  # TODO: read from env\n'
        "print(client.models.list())\n"
    ),
    "python-constant": 'OPENAI_API_KEY = "{key}"\nMODEL = "gpt-4.1"\n',
    "javascript": (
        "import Anthropic from '@anthropic-ai/sdk';\n"
        "const client = new Anthropic({{ apiKey: '{key}', maxRetries: 2 }});\n"
    ),
    "shell": "export SERVICE_TOKEN={key}\nnpm run deploy -- --region eu-west-1\n",
    "dotenv": "# local only, never commit\nSERVICE_KEY={key}\nDEBUG=true\nPORT=8080\n",
    "yaml": 'providers:\n  main:\n    api_key: "{key}"\n    timeout: 30\n',
    "json": '{{"credentials": {{"value": "{key}", "region": "eu-west-1"}}, "retries": 3}}',
    "http-header": (
        "GET /v1/models HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer {key}\r\n"
        "Accept: application/json\r\n\r\n"
    ),
    "curl": (
        "curl -sS https://api.example.com/v1/messages \\\n"
        "  -H 'x-api-key: {key}' \\\n"
        "  -H 'content-type: application/json' -d '{{\"max_tokens\": 64}}'\n"
    ),
    "error-body": (
        '{{"error": {{"message": "Incorrect API key provided: {key}. You can find your API key '
        'at https://platform.example.com/api-keys.", "type": "invalid_request_error", '
        '"code": "invalid_api_key"}}}}'
    ),
    "json-escaped": '{{"arguments": "{{\\"command\\": \\"deploy --key {key}\\\\nexit\\"}}"}}',
    "prose": "The key `{key}` stopped working yesterday; can you check why?",
}


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("provider", KEYS)
def test_a_provider_key_is_masked_and_the_code_around_it_is_kept(
    provider: str, context: str
) -> None:
    kind, key = KEYS[provider]
    template = CONTEXTS[context]
    result = mask_text(template.format(key=key))
    assert result == Masked(template.format(key=marker(kind)), 1, (kind,))


def test_the_marker_names_the_kind() -> None:
    assert marker("openai-key") == "[masked:openai-key]"


def test_every_kind_these_tests_produce_is_listed_in_kinds() -> None:
    assert {kind for kind, _ in KEYS.values()} <= set(KINDS)
    assert {
        "private-key",
        "bearer-token",
        "basic-auth",
        "url-password",
        "password",
        "secret",
    } <= set(KINDS)


# --- private keys ---------------------------------------------------------------------------

RSA_BODY = (
    "\n".join(fake(ALNUM + "+/", 64, 100 + i) for i in range(12))
    + "\n"
    + fake(ALNUM, 20, 120)
    + "=="
)


def test_a_private_key_block_becomes_one_marker() -> None:
    text = (
        'PRIVATE_PEM = """\n-----BEGIN RSA PRIVATE KEY-----\n'
        + RSA_BODY
        + '\n-----END RSA PRIVATE KEY-----\n"""\nkey = load_pem(PRIVATE_PEM)\n'
    )
    assert mask_text(text) == Masked(
        'PRIVATE_PEM = """\n[masked:private-key]\n"""\nkey = load_pem(PRIVATE_PEM)\n',
        1,
        ("private-key",),
    )


def test_an_openssh_private_key_block_is_masked() -> None:
    text = (
        "$ cat ~/.ssh/id_ed25519\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + RSA_BODY
        + "\n-----END OPENSSH PRIVATE KEY-----\n$ "
    )
    assert mask_text(text).text == "$ cat ~/.ssh/id_ed25519\n[masked:private-key]\n$ "


def test_a_private_key_with_escaped_newlines_inside_json_is_masked() -> None:
    body = RSA_BODY.replace("\n", "\\n")
    text = (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        + body
        + '\\n-----END PRIVATE KEY-----\\n", "client_email": "bot@proj.iam.example.com"}'
    )
    assert mask_text(text).text == (
        '{"type": "service_account", "private_key": "[masked:private-key]\\n", '
        '"client_email": "bot@proj.iam.example.com"}'
    )


def test_a_private_key_cut_off_before_its_end_line_is_masked_to_where_it_stops() -> None:
    text = "Here is the key:\n-----BEGIN PRIVATE KEY-----\n" + RSA_BODY[:300]
    assert mask_text(text).text == "Here is the key:\n[masked:private-key]"


def test_a_begin_line_quoted_in_code_is_no_private_key() -> None:
    text = 'PEM_START = b"-----BEGIN PRIVATE KEY-----\\n"\nPEM_END = b"-----END PRIVATE KEY-----"\n'
    assert mask_text(text) == Masked(text, 0, ())


# --- places: bearer, basic, URL ----------------------------------------------------------------


def test_a_bearer_token_keeps_the_authorization_scheme() -> None:
    token = fake(URLSAFE + ".~", 40, 200)
    result = mask_text(f"Authorization: Bearer {token}\r\n")
    assert result == Masked("Authorization: Bearer [masked:bearer-token]\r\n", 1, ("bearer-token",))


def test_a_bearer_jwt_is_named_as_a_jwt() -> None:
    assert mask_text(f"Authorization: Bearer {JWT}").text == "Authorization: Bearer [masked:jwt]"


def test_basic_credentials_are_masked_when_they_decode_to_user_and_password() -> None:
    creds = base64.b64encode(b"deploy:Tr0ub4dor&3").decode()
    result = mask_text(f'headers = {{"Authorization": "Basic {creds}"}}')
    assert result.text == 'headers = {"Authorization": "Basic [masked:basic-auth]"}'


def test_the_password_of_a_url_is_masked_and_the_user_and_host_kept() -> None:
    text = "DATABASE_URL=postgres://app:s3cr3t-pw@db.internal:5432/app?sslmode=require\n"
    assert mask_text(text) == Masked(
        "DATABASE_URL=postgres://app:[masked:url-password]@db.internal:5432/app?sslmode=require\n",
        1,
        ("url-password",),
    )


def test_a_short_url_password_is_masked_too() -> None:
    assert mask_text("https://user:pass@host/x").text == "https://user:[masked:url-password]@host/x"


# --- names: .env, shell, YAML, JSON, TOML, code ------------------------------------------------

SECRET_VALUE = fake(ALNUM + "/+", 40, 300)
PASSWORD_VALUE = "hunter2!"

# (text with <V> where the value goes, value, kind)
ASSIGNMENTS = [
    ("AWS_SECRET_ACCESS_KEY=<V>\n", SECRET_VALUE, "secret"),
    ("DB_PASSWORD='<V>'\n", PASSWORD_VALUE, "password"),
    ("DB_PASSWORD=<V>\n", "postgres", "password"),
    ("export API_TOKEN=<V>\n", SECRET_VALUE, "secret"),
    ('JWT_SECRET="<V>"  # rotate monthly\n', SECRET_VALUE, "secret"),
    ('api_key: "<V>"\n', SECRET_VALUE, "secret"),
    ("  api_key: <V>\n", SECRET_VALUE, "secret"),
    ('{"client_secret": "<V>"}', SECRET_VALUE, "secret"),
    ('{\\"password\\": \\"<V>\\"}', PASSWORD_VALUE, "password"),
    ('password = "<V>"\n', PASSWORD_VALUE, "password"),
    ("[database]\npassword = '<V>'\n", PASSWORD_VALUE, "password"),
    ('const accessToken = "<V>";', SECRET_VALUE, "secret"),
    ('db.connect(host="db", password="<V>")', PASSWORD_VALUE, "password"),
    ('SECRET_KEY: str = "<V>"', SECRET_VALUE, "secret"),
    ('$dbPassword = "<V>";', PASSWORD_VALUE, "password"),
    ("mysql --password=<V> -h db", "hunter2!x9", "password"),
    ('os.environ["OPENAI_API_KEY"] = "<V>"', SECRET_VALUE, "secret"),
    ('cfg := Config{ApiKey: "<V>"}', SECRET_VALUE, "secret"),
]


@pytest.mark.parametrize(("template", "value", "kind"), ASSIGNMENTS)
def test_a_literal_assigned_to_a_secret_name_is_masked(
    template: str, value: str, kind: str
) -> None:
    result = mask_text(template.replace("<V>", value))
    assert result == Masked(template.replace("<V>", marker(kind)), 1, (kind,))


def test_a_bare_password_on_a_yaml_line_needs_to_look_generated() -> None:
    assert mask_text("password: Zq8vT2mXr4Lp\n").text == "password: [masked:password]\n"
    assert mask_text("password: hunter\n").text == "password: hunter\n"


def test_a_key_with_a_run_of_x_inside_is_still_masked() -> None:
    key = "sk-proj-" + fake(URLSAFE, 70, 500) + "xxxx" + "T3BlbkFJ" + fake(URLSAFE, 74, 501)
    assert mask_text(f"key={key}").text == "key=[masked:openai-key]"


def test_a_secret_that_happens_to_contain_its_names_short_word_is_still_masked() -> None:
    value = fake(ALNUM, 20, 502) + "key" + fake(ALNUM, 17, 503)
    assert mask_text(f"API_KEY={value}").text == "API_KEY=[masked:secret]"


# --- counts and kinds --------------------------------------------------------------------------


def test_the_count_and_kinds_list_every_masked_value_in_order() -> None:
    github = KEYS["github-classic"][1]
    anthropic = KEYS["anthropic"][1]
    text = (
        f"GH={github}\nANTHROPIC_API_KEY={anthropic}\nDB_PASSWORD={PASSWORD_VALUE}\nGH2={github}\n"
    )
    result = mask_text(text)
    assert result.count == 4
    assert result.kinds == ("github-token", "anthropic-key", "password", "github-token")


def test_text_without_secrets_comes_back_unchanged_with_count_zero() -> None:
    text = "def add(a: int, b: int) -> int:\n    return a + b\n"
    assert mask_text(text) == Masked(text, 0, ())


# --- idempotence -------------------------------------------------------------------------------

SAMPLES = [
    *(
        CONTEXTS[c].format(key=KEYS[p][1])
        for c in CONTEXTS
        for p in ("openai-project", "jwt", "aws-sts")
    ),
    "-----BEGIN PRIVATE KEY-----\n" + RSA_BODY + "\n-----END PRIVATE KEY-----\n",
    f"DB_PASSWORD='{PASSWORD_VALUE}'\nAPI_SECRET={SECRET_VALUE}\n",
    "postgres://app:s3cr3t-pw@db.internal:5432/app",
    "Authorization: Basic " + base64.b64encode(b"deploy:Tr0ub4dor&3").decode(),
    f"Authorization: Bearer {fake(ALNUM, 40, 400)}",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_masking_masked_text_changes_nothing(text: str) -> None:
    once = mask_text(text)
    assert once.count >= 1
    assert mask_text(once.text) == Masked(once.text, 0, ())


# --- mask_json -------------------------------------------------------------------------------


def task_with(key: str, token: str) -> dict[str, Any]:
    bash = {"name": "bash", "arguments": {"command": f"gh auth login --with-token {token}"}}
    return {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": f"my key is {key}"}]},
            {"role": "assistant", "tool_calls": [bash]},
        ],
        "output": (f"export GITHUB_TOKEN={token}", 3, None, True),
        "max_tokens": 1024,
    }


def test_mask_json_masks_every_string_in_a_nested_structure() -> None:
    task = task_with(KEYS["openai-project"][1], KEYS["github-classic"][1])
    masked, count = mask_json(task)
    assert count == 3
    assert masked == task_with("[masked:openai-key]", "[masked:github-token]")


def test_mask_json_leaves_the_input_unchanged() -> None:
    task = {"text": f"key {KEYS['google'][1]}", "list": [KEYS["npm"][1]]}
    before = json.dumps(task)
    mask_json(task)
    assert json.dumps(task) == before


def test_mask_json_keeps_dict_keys_even_when_they_look_like_secrets() -> None:
    key = KEYS["stripe-live"][1]
    masked, count = mask_json({key: "customer"})
    assert (masked, count) == ({key: "customer"}, 0)


def test_mask_json_masks_a_string_held_under_a_secret_name() -> None:
    masked, count = mask_json(
        {"headers": {"x-api-key": SECRET_VALUE}, "auth": {"password": PASSWORD_VALUE}}
    )
    assert count == 2
    assert masked == {
        "headers": {"x-api-key": "[masked:secret]"},
        "auth": {"password": "[masked:password]"},
    }


def test_mask_json_leaves_placeholders_under_secret_names() -> None:
    value = {"api_key": "${OPENAI_API_KEY}", "password": "", "token": None, "secret": "changeme"}
    assert mask_json(value) == (value, 0)


# --- ordinary code stays as it is -----------------------------------------------------------

NOT_SECRETS = [
    # hashes, ids, fixtures
    'sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
    "commit 2c8f3e1b9a7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e",
    'request_id = "0f8fad5b-d9cb-469f-a165-70867728950e"',
    'FIXTURE = "aGVsbG8gd29ybGQsIHRoaXMgaXMgYSB0ZXN0IGZpeHR1cmUgZm9yIGJhc2U2NA=="',
    '"integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXGOxw=="',
    # expressions, references, annotations
    "password = get_password()",
    'token = request.headers["X-Auth-Token"]',
    "api_key: str",
    "api_key: str | None = None",
    "def connect(host: str, password: str = '') -> None: ...",
    "PASSWORD_MIN_LENGTH = 8",
    'api_key = os.environ["OPENAI_API_KEY"]',
    'api_key = os.getenv("OPENAI_API_KEY", "")',
    "api_key = settings.OPENAI_API_KEY",
    "const apiKey = process.env.ANTHROPIC_API_KEY;",
    "client = OpenAI(api_key=api_key)",
    "private_key: SSHPrivateKeyTypes,",
    "if user_pass == 'git':",
    # placeholders
    'OPENAI_API_KEY = "sk-..."',
    'api_key = "<your key>"',
    'token = "xxx"',
    'password = "changeme"',
    "ANTHROPIC_API_KEY=your-api-key-here",
    'GITHUB_TOKEN: "${{ secrets.GITHUB_TOKEN }}"',
    "password: ${DB_PASSWORD}",
    'api_key = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
    'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"',
    "Incorrect API key provided: sk-proj-********************abcd.",
    "Authorization: [redacted]",
    "Authorization: Bearer ${TOKEN}",
    "Authorization: Bearer <token>",
    "Authorization: Bearer YOUR_ACCESS_TOKEN",
    'url = f"https://{user}:{password}@{host}/db"',
    # names that hold no secret
    'CACHE_KEY = "user-profile"',
    'primary_key = "id"',
    "key = 'name'",
    '"max_tokens": 4096, "input_tokens": 12, "output_tokens": 7',
    'eos_token = "</s>"',
    'next_page_token = "CAUQAA"',
    'TOKEN_TYPE = "bearer"',
    'CONTEXT_KEY = "ApplyTypeAnnotationsVisitor"',
    'CHALLENGE_PASSWORD: "challengePassword"',
    'token = r"[-!#$%&\'*+.^_`|~0-9a-zA-Z]+"',
    'label = "Password"',
    '"password": "Enter your password"',
    "model = AutoModel.from_pretrained(name, token=True)",
    # places that are not credentials
    'WWW-Authenticate: Bearer realm="api", error="invalid_token"',
    "The bearer authentication scheme is defined in RFC 6750.",
    "git clone git@github.com:org/repo.git",
    "https://user@example.com/path",
    "Authorization: Basic realm",
    # near misses of the shapes
    "sk-learn is the scikit-learn import name",
    "AKIA is the prefix of an AWS access key id",
    "ghp_ tokens are 40 characters long",
    "eyJhbGciOiJIUzI1NiJ9 is only the header of a JWT",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_code_is_left_unchanged(text: str) -> None:
    assert mask_text(text) == Masked(text, 0, ())


# --- size --------------------------------------------------------------------------------------


# Near misses that a careless regex retries at every position. Names once started after every `-`
# here: the first two runs then took minutes (pytest-timeout ends the test); now the whole text
# takes well under a second.
NEAR_MISSES = [
    "a-" * 200_000,
    "sk-proj-" * 100_000,
    "Bearer " + "a/" * 50_000 + "_",
    "x" * 50_000 + "_key" + " =" * 25_000,
    "password" + "=" * 100_000,
    "https://" + "u:" * 50_000,
    "-----BEGIN PRIVATE KEY-----" * 4_000,
    "eyJaaaaaaaaaaaa." * 6_000,
]


def test_a_megabyte_of_code_and_near_misses_is_masked_in_one_pass() -> None:
    samples = [CONTEXTS[c].format(key=KEYS[p][1]) for c in CONTEXTS for p in KEYS]
    realistic = "\n".join(samples) + "\n"
    repeats = 500_000 // len(realistic) + 1
    text = "\n".join(NEAR_MISSES) + "\n" + realistic * repeats
    result = mask_text(text)
    assert len(text) > 1_000_000
    assert result.count == len(samples) * repeats
    copies = len(CONTEXTS) * repeats
    assert Counter(result.kinds) == Counter(
        kind for kind, _ in KEYS.values() for _ in range(copies)
    )


def test_a_known_credential_is_masked_as_sent_and_as_json_and_urls_escape_it() -> None:
    from redline.transcripts import Credentials

    value = 'pw/"é+12345'
    known = Credentials([value])
    escaped = json.dumps(value)[1:-1]  # pw/\"\u00e9+12345
    text = f"{value} | {escaped} | {escaped.replace('/', chr(92) + '/')} | pw%2F%22%C3%A9%2B12345"
    assert known.text(text) == (" | ".join(["[masked:credential]"] * 4), 4)
    assert known.data(text.encode()) == (" | ".join(["[masked:credential]"] * 4).encode(), 4)


def test_a_credential_holding_another_is_masked_whole() -> None:
    from redline.transcripts import Credentials

    known = Credentials(["user:hunter2hunter2", "hunter2hunter2"])
    assert known.text("sent user:hunter2hunter2 and hunter2hunter2")[0] == (
        "sent [masked:credential] and [masked:credential]"
    )
