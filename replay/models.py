"""The models a replay sends to: from `redline.toml`, or one-off `WIRE:MODEL_ID@BASE_URL`.

    [models.gpt-x]
    base_url = "https://api.openai.com/v1"    # as the API's SDK takes it
    wire = "openai-chat"                      # openai-chat | openai-responses | anthropic-messages
    model = "gpt-5"                           # the id sent upstream
    api_key_env = "OPENAI_API_KEY"            # default: the API's usual variable; none is
                                              # needed on 127.0.0.1 while that one is unset
    price_in = 1.25                           # dollars per million input tokens (optional)
    price_out = 10.0                          # dollars per million output tokens (optional)
    stream = false                            # replay streamed (default: not)
    params = { temperature = 1.0 }            # extra body fields, in the API's own spelling

The key is read from the environment when a request is sent and written nowhere; a recorded
request's credentials are never reused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redline.config import CONFIG_NAME, config_dir, read_config
from redline.config import config_path as config_path  # the surface exports it from here
from redline.errors import RedlineError
from redline.transcripts import wire

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model to replay to. `key_env` None: send no key (a local server)."""

    name: str
    wire: str
    model: str
    base_url: str
    key_env: str | None
    price_in: float | None = None
    price_out: float | None = None
    stream: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return wire.get(self.wire).endpoint(self.base_url)

    def key(self) -> str | None:
        """The API key, read from the environment now."""
        if self.key_env is None:
            return None
        value = os.environ.get(self.key_env)
        if not value:
            raise RedlineError(
                f"model {self.name} needs its API key in ${self.key_env}, which is not set "
                '(api_key_env = "" in its redline.toml table sends none)'
            )
        return value

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        if self.price_in is None or self.price_out is None:
            return None
        return ((input_tokens or 0) * self.price_in + (output_tokens or 0) * self.price_out) / 1e6

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "wire": self.wire,
            "model": self.model,
            "base_url": self.base_url,
            "price_in": self.price_in,
            "price_out": self.price_out,
        }


def load_config(path: Path | None) -> dict[str, ModelSpec]:
    """The models a config file names; an empty mapping without a file."""
    if path is None:
        return {}
    document = read_config(path)
    models = document.get("models", {})
    if not isinstance(models, dict):
        raise RedlineError(f"{path}: [models] must be a table of [models.NAME] tables")
    return {name: _spec(path, name, table) for name, table in models.items()}


def _spec(path: Path, name: str, table: Any) -> ModelSpec:
    where = f"{path}: [models.{name}]"
    if not isinstance(table, dict):
        raise RedlineError(f"{where} must be a table")
    unknown = set(table) - {
        "base_url",
        "wire",
        "model",
        "api_key_env",
        "price_in",
        "price_out",
        "stream",
        "params",
    }
    if unknown:
        raise RedlineError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    for key in ("base_url", "wire", "model"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise RedlineError(f"{where} needs {key} (a string)")
    fmt = _wire(table["wire"], where)
    base_url = _base_url(table["base_url"], where)
    key_env = table.get("api_key_env", _default_key_env(fmt, base_url))
    if not isinstance(key_env, str):
        raise RedlineError(f'{where}: api_key_env must be a string ("" for no key)')
    prices = [table.get("price_in"), table.get("price_out")]
    if any(p is not None and (not isinstance(p, int | float) or p < 0) for p in prices):
        raise RedlineError(f"{where}: price_in and price_out are dollars per million tokens")
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise RedlineError(f"{where}: params must be a table")
    stream = table.get("stream", False)
    if not isinstance(stream, bool):
        raise RedlineError(f"{where}: stream must be true or false")
    return ModelSpec(
        name=name,
        wire=fmt.name,
        model=table["model"],
        base_url=base_url,
        key_env=key_env or None,
        price_in=None if prices[0] is None else float(prices[0]),
        price_out=None if prices[1] is None else float(prices[1]),
        stream=stream,
        params=params,
    )


def _wire(name: str, where: str) -> wire.WireFormat:
    if name not in wire.names():
        raise RedlineError(f"{where}: wire {name!r} is none of {', '.join(wire.names())}")
    return wire.get(name)


def _base_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RedlineError(f"{where}: base URL {url!r} is not an http(s) URL")
    return url.rstrip("/")


def one_off(spec: str) -> ModelSpec:
    """`WIRE:MODEL_ID@BASE_URL`, e.g. `openai-chat:gpt-5@https://api.openai.com/v1`; the key
    comes from the API's usual variable (none needed for a server on this machine)."""
    where = f"--model {spec!r}"
    head, at, base = spec.rpartition("@")
    fmt_name, colon, model = head.partition(":")
    if not at or not colon or not model or not base:
        raise RedlineError(
            f"{where} is neither a model in {CONFIG_NAME} nor WIRE:MODEL_ID@BASE_URL "
            "(e.g. openai-chat:gpt-5@https://api.openai.com/v1)"
        )
    fmt = _wire(fmt_name, where)
    base_url = _base_url(base, where)
    return ModelSpec(spec, fmt.name, model, base_url, _default_key_env(fmt, base_url) or None)


def _default_key_env(fmt: wire.WireFormat, base_url: str) -> str:
    """The API's usual key variable; "" (no key) for a server on this machine when that
    variable is not set, as local servers seldom want one."""
    local = urlsplit(base_url).hostname in _LOOPBACK
    return "" if local and not os.environ.get(fmt.default_key_env) else fmt.default_key_env


def resolve_models(
    specs: Sequence[str], config: Mapping[str, ModelSpec], *, keys: bool = True
) -> list[ModelSpec]:
    """Each `--model` as a configured name or a one-off; with `keys`, every key present before
    anything is sent (a dry run sends nothing and needs none)."""
    if not specs:
        raise RedlineError(
            "give at least one --model (a name from redline.toml, or WIRE:MODEL@URL)"
        )
    models = []
    for spec in specs:
        if spec in config:
            models.append(config[spec])
        elif "@" in spec:
            models.append(one_off(spec))
        else:
            known = ", ".join(sorted(config)) or f"none: no {CONFIG_NAME} {_searched()}"
            raise RedlineError(
                f"unknown model {spec!r}; configured models: {known} "
                "(or give WIRE:MODEL_ID@BASE_URL)"
            )
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise RedlineError("a --model is given twice")
    for m in models:
        if keys:
            m.key()
    return models


def _searched() -> str:
    """Where `config_path` looks, for a user who has no models file yet."""
    return f"in the working directory or in {config_dir()}"
