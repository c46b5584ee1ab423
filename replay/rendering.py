"""A replayed request: the body a model is sent, its key in the cache, and the tokens it took.

Every step of a replay goes through here: the first step's body is the task's transcript as a
variant changed it, a later step's is that transcript with the steps before it and their tool
results added.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from redline.replay.models import ModelSpec
from redline.replay.tokens import count_body, count_text
from redline.transcripts import Request, Response, canonical_json, message_to_dict, wire

__all__ = ["render", "request_key", "usage"]


def render(request: Request, model: ModelSpec, temperature: float | None) -> dict[str, Any]:
    """The request body for `model`: rendered in its wire format, its model id, streamed only
    when the model's config says so, the temperature and the model's own params on top."""
    fmt = wire.get(model.wire)
    body = fmt.streamed(fmt.render_request(replace(request, model=model.model)), model.stream)
    body["model"] = model.model
    if temperature is not None:
        body["temperature"] = temperature
    body.update(model.params)
    return body


def request_key(model: ModelSpec, body: dict[str, Any] | None, sample: int) -> str:
    """The cache key: where it goes, exactly what is sent, and which sample it is."""
    text = f"{model.endpoint}\n{canonical_json(body)}\n#{sample}"
    return hashlib.sha256(text.encode()).hexdigest()


def usage(model: ModelSpec, body: dict[str, Any], response: Response) -> tuple[int, int, bool]:
    """(input, output, estimated): the upstream's usage, else tiktoken's count (an estimate)."""
    reported = response.usage
    if (
        reported is not None
        and reported.input_tokens is not None
        and reported.output_tokens is not None
    ):
        return reported.input_tokens, reported.output_tokens, False
    written = json.dumps(message_to_dict(response.message)["parts"])
    return count_body(body, wire.get(model.wire)), count_text(written), True
