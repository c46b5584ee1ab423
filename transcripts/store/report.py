"""What an ingest did, kept apart so that opening the store needs none of ingest's machinery
until there is something to ingest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class IngestReport:
    ingested: int = 0
    skipped: int = 0  # already in the store
    problems: list[str] = field(default_factory=list)


# Called as (bytes done, bytes pending) while a backlog is ingested; `None`: silent.
Progress = Callable[[int, int], None]
