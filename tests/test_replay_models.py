"""Which models a replay sends to: redline.toml, one-off WIRE:MODEL@URL, keys from the
environment read at send time."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.errors import RedlineError
from redline.replay.models import load_config, one_off, resolve_models

CONFIG = """
[models.gpt-x]
base_url = "https://api.openai.com/v1/"
wire = "openai-chat"
model = "gpt-5"
price_in = 1.25
price_out = 10

[models.claude-y]
base_url = "https://api.anthropic.com"
wire = "anthropic-messages"
model = "claude-sonnet-4-5"
stream = true
params = { max_tokens = 2048 }

[models.local]
base_url = "http://127.0.0.1:11434/v1"
wire = "openai-chat"
model = "qwen3-coder"
api_key_env = ""
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "redline.toml"
    path.write_text(CONFIG)
    return path


def test_a_config_names_models_with_their_wire_format_and_prices(config: Path) -> None:
    models = load_config(config)
    gpt = models["gpt-x"]
    assert (gpt.wire, gpt.model, gpt.key_env) == ("openai-chat", "gpt-5", "OPENAI_API_KEY")
    assert gpt.endpoint == "https://api.openai.com/v1/chat/completions"
    assert gpt.cost(1_000_000, 100_000) == pytest.approx(1.25 + 1.0)
    claude = models["claude-y"]
    assert claude.endpoint == "https://api.anthropic.com/v1/messages"
    assert claude.key_env == "ANTHROPIC_API_KEY" and claude.stream
    assert claude.params == {"max_tokens": 2048} and claude.cost(10, 10) is None
    assert models["local"].key_env is None


def test_a_one_off_model_takes_the_base_url_as_the_sdk_does() -> None:
    m = one_off("openai-responses:gpt-5-codex@https://api.openai.com/v1")
    assert (m.wire, m.model, m.endpoint) == (
        "openai-responses",
        "gpt-5-codex",
        "https://api.openai.com/v1/responses",
    )
    assert m.key_env == "OPENAI_API_KEY"


def test_a_one_off_model_on_this_machine_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert one_off("openai-chat:qwen@http://127.0.0.1:8080/v1").key() is None


def test_a_configured_model_on_this_machine_needs_no_key_either(tmp_path: Path) -> None:
    path = tmp_path / "redline.toml"
    path.write_text(
        '[models.local]\nbase_url = "http://localhost:8080/v1"\nwire = "openai-chat"\n'
        'model = "qwen"\n'
    )
    (model,) = resolve_models(["local"], load_config(path))
    assert model.key() is None


def test_a_configured_local_model_uses_the_usual_key_when_it_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    path = tmp_path / "redline.toml"
    path.write_text(
        '[models.local]\nbase_url = "http://127.0.0.1:8080/v1"\nwire = "openai-chat"\n'
        'model = "qwen"\n'
    )
    assert load_config(path)["local"].key() == "sk-local"


def test_keys_are_read_from_the_environment_before_anything_is_sent(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RedlineError, match=r"needs its API key in \$OPENAI_API_KEY.*api_key_env"):
        resolve_models(["gpt-x"], load_config(config))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    (model,) = resolve_models(["gpt-x"], load_config(config))
    assert model.key() == "sk-test"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-nope", "unknown model 'gpt-nope'; configured models: claude-y, gpt-x, local"),
        ("openai-chat:gpt-5", "unknown model"),
        ("chat:gpt-5@https://x", "wire 'chat' is none of"),
        ("openai-chat:@https://x", "WIRE:MODEL_ID@BASE_URL"),
        ("openai-chat:gpt@ftp://x", "is not an http(s) URL"),
    ],
)
def test_a_bad_model_is_a_clear_error(config: Path, spec: str, message: str) -> None:
    with pytest.raises(RedlineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_models([spec], load_config(config))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.a]\nwire = 'openai-chat'\nmodel = 'm'\n", "needs base_url"),
        ("[models.a]\nbase_url='https://x'\nwire='grpc'\nmodel='m'\n", "wire 'grpc'"),
        (
            "[models.a]\nbase_url='https://x'\nwire='openai-chat'\nmodel='m'\nprice_in=-1\n",
            "price_in",
        ),
        (
            "[models.a]\nbase_url='https://x'\nwire='openai-chat'\nmodel='m'\ncolour=1\n",
            "unknown keys: colour",
        ),
        ("[models\n", "not valid TOML"),
    ],
)
def test_a_bad_config_names_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "redline.toml"
    path.write_text(text)
    with pytest.raises(RedlineError, match=message):
        load_config(path)
