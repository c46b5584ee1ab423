"""A conversation is titled by what the user asked, not by what the agent wrapped around it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline import config
from redline.transcripts.spool import RawExchange, SpoolWriter, new_id
from redline.transcripts.store import open_store
from tests.agents import CLAUDE_REMINDER, ENVIRONMENT_CONTEXT


def record(
    db_path: Path, path: str, bodies: list[dict[str, Any]], method: str = "POST", headers: Any = ()
) -> None:
    writer = SpoolWriter(config.spool_dir(db_path))
    writer.append(
        [
            RawExchange(
                id=new_id(),
                started_at=datetime.now(UTC),
                method=method,
                path=path,
                query="",
                upstream="https://api.example",
                request_headers=[("content-type", "application/json"), *headers],
                request_body=json.dumps(body).encode() if body else b"",
                status=None,
                response_headers=[],
                response_body=b"",
                ttfb_ms=None,
                duration_ms=1.0,
                outcome="error",
                error="test",
            )
            for body in bodies
        ]
    )
    writer.close()


def titles(db_path: Path) -> list[str | None]:
    with open_store(db_path) as store:
        return [c.title for c in store.conversations()]


def test_claude_codes_system_reminder_is_not_the_title(db_path: Path) -> None:
    record(
        db_path,
        "/v1/messages",
        [
            {
                "model": "claude-opus-4-8",
                "max_tokens": 64000,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "text",
                                "text": CLAUDE_REMINDER,
                            },
                            {"type": "text", "text": "Write loader.py that reads config.toml"},
                        ],
                    }
                ],
            }
        ],
    )
    assert titles(db_path) == ["Write loader.py that reads config.toml"]


def test_codexs_environment_context_is_not_the_title(db_path: Path) -> None:
    record(
        db_path,
        "/v1/responses",
        [
            {
                "model": "gpt-5-codex",
                "input": [
                    {
                        "type": "message",
                        "role": "developer",
                        "content": [
                            {"type": "input_text", "text": "<permissions>...</permissions>"}
                        ],
                    },
                    {
                        "type": "message",
                        "role": "user",
                        "content": [
                            {
                                "type": "input_text",
                                "text": ENVIRONMENT_CONTEXT,
                            }
                        ],
                    },
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Fix the flaky upload test"}],
                    },
                ],
            }
        ],
    )
    assert titles(db_path) == ["Fix the flaky upload test"]


def test_a_conversation_whose_first_call_has_no_prompt_takes_the_next_title(db_path: Path) -> None:
    session = [("session_id", "s-9")]
    warmup = {
        "model": "gpt-5-codex",
        "generate": False,
        "input": [{"type": "message", "role": "developer", "content": "rules"}],
    }
    real = {
        "model": "gpt-5-codex",
        "input": [{"type": "message", "role": "user", "content": "Rename the module"}],
    }
    record(db_path, "/v1/responses", [warmup, real], headers=session)
    assert titles(db_path) == ["Rename the module"]


def test_a_bodiless_request_on_a_model_path_is_not_a_call(db_path: Path) -> None:
    record(db_path, "/v1/responses", [{}], method="GET", headers=[("session_id", "s-1")])
    with open_store(db_path) as store:
        assert store.conversations() == []
        assert store.con.execute("SELECT wire, conversation_id FROM exchanges").fetchall() == [
            (None, None)
        ]
