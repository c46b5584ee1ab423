"""The row of the `exchanges` table for one parsed call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redline.transcripts.model import canonical_json, response_to_dict
from redline.transcripts.parse import ParsedExchange
from redline.transcripts.store.tree import IndexedDecoration

# Bodies of non-model endpoints (/v1/models, embeddings...) are kept only up to this size.
OTHER_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Placement:
    """Where threading and the tree put a call."""

    conversation_id: str | None
    seq: int | None
    request_node: str | None
    response_node: str | None
    message_count: int | None
    tools_hash: str | None
    system_hash: str | None
    decorations: list[IndexedDecoration]


def exchange_row(p: ParsedExchange, at: Placement) -> dict[str, Any]:
    x, request, response = p.raw, p.request, p.response
    keep_raw_request = request is None and (p.model_call or len(p.request_body) <= OTHER_BODY_LIMIT)
    keep_raw_response = p.model_call or len(p.response_body) <= OTHER_BODY_LIMIT
    usage = response.usage if response else None
    return {
        "id": x.id,
        "conversation_id": at.conversation_id,
        "seq": at.seq,
        "wire": p.fmt.name if p.fmt is not None and p.model_call else None,
        "method": x.method,
        "path": x.path,
        "query": x.query,
        "upstream": x.upstream,
        "status_code": x.status,
        "outcome": p.outcome,
        "error": p.error,
        "parse_error": p.parse_error,
        "model": (request.model if request else None) or (response.model if response else None),
        "stream": p.stream,
        "message_count": at.message_count,
        "request_node": at.request_node,
        "response_node": at.response_node,
        "response_id": response.id if response else None,
        "tools_hash": at.tools_hash,
        "system_hash": at.system_hash,
        "request_meta": None if p.split is None else canonical_json(p.split.meta),
        "request_decorations": json.dumps(at.decorations) if at.decorations else None,
        "request_raw": p.request_body if keep_raw_request else None,
        "request_headers": json.dumps(x.request_headers),
        "response_headers": json.dumps(x.response_headers),
        "response_raw": p.response_body if keep_raw_response else None,
        "response": None if response is None else canonical_json(response_to_dict(response)),
        "finish_reason": response.finish_reason if response else None,
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "cache_read_tokens": usage.cache_read_tokens if usage else None,
        "cache_write_tokens": usage.cache_write_tokens if usage else None,
        "reasoning_tokens": usage.reasoning_tokens if usage else None,
        "started_at": x.started_at,
        "ttfb_ms": x.ttfb_ms,
        "duration_ms": x.duration_ms,
        "user_agent": x.client,
        "session_key": p.session_key,
    }
