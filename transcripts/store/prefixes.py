"""Histories ingest has seen: an agent re-sends its whole conversation on every call, so most of
a request's history is a prefix of a request ingest parsed moments ago.

The cache keeps the last few requests' raw history lists (the parsed JSON, already in memory)
with the tree nodes of their messages. A new request whose history starts with the same items
(compared as parsed JSON, in C) reuses those nodes and is parsed and hashed only from where it
differs: ingest's cost follows what a call added, not the length of the conversation.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from redline.transcripts.store.tree import IndexedDecoration
from redline.transcripts.wire import WireFormat

# Conversations recorded at once that a cache this size keeps apart; more only cost re-parsing.
ENTRIES = 64


@dataclass(frozen=True, slots=True)
class Known:
    """A history already laid out in the tree. `cuts` maps an item index where the history
    may be cut to the number of messages before it; `nodes[m]` is message m's node."""

    fmt: str
    items: list[Any]
    cuts: dict[int, int]
    nodes: tuple[str, ...]
    decorations: tuple[IndexedDecoration, ...]
    title: str | None
    title_at: int | None  # the message the title came from


@dataclass(frozen=True, slots=True)
class Reuse:
    """What a new request takes from a known history: its first `items` items, which are
    `messages` messages ending at node `node`; `title` when one of them gave it."""

    items: int
    messages: int
    nodes: tuple[str, ...]
    decorations: tuple[IndexedDecoration, ...]
    title: str | None
    title_at: int | None

    @property
    def node(self) -> str | None:
        return self.nodes[-1] if self.nodes else None


class PrefixCache:
    def __init__(self) -> None:
        # By the first item's fingerprint: a conversation's histories all start alike.
        self._known: OrderedDict[tuple[str, str], Known] = OrderedDict()

    def forget(self) -> None:
        """After a rolled-back transaction: the nodes it names may not have been kept."""
        self._known.clear()

    @staticmethod
    def _key(fmt: WireFormat, items: list[Any]) -> tuple[str, str]:
        return fmt.name, json.dumps(items[0], sort_keys=True, default=str)

    def reuse(self, fmt: WireFormat, items: list[Any]) -> Reuse | None:
        """The longest known prefix of `items`, cut where the format allows."""
        if not items:
            return None
        known = self._known.get(self._key(fmt, items))
        if known is None:
            return None
        # Binary search for the common prefix: list slices compare in C.
        lo, hi = 0, min(len(items), len(known.items))
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if items[:mid] == known.items[:mid]:
                lo = mid
            else:
                hi = mid - 1
        cut = max((i for i in known.cuts if i <= lo and fmt.can_split(items, i)), default=0)
        if not cut:
            return None
        m = known.cuts[cut]
        titled = known.title_at is not None and known.title_at < m
        return Reuse(
            cut,
            m,
            known.nodes[:m],
            tuple(d for d in known.decorations if d[0] < m),
            known.title if titled else None,
            known.title_at if titled else None,
        )

    def remember(
        self,
        fmt: WireFormat,
        items: list[Any],
        nodes: tuple[str, ...],
        decorations: tuple[IndexedDecoration, ...],
        title: str | None,
        title_at: int | None,
    ) -> None:
        """A history just laid out: `nodes` are its messages' nodes, in order; its title came
        from message `title_at`."""
        if not items:
            return
        cuts: dict[int, int] = {}
        messages = 0
        for i in range(1, len(items) + 1):
            if i == len(items) or fmt.can_split(items, i):
                messages += 1
                cuts[i] = messages
        if messages != len(nodes):  # items that parse to no message, or to several: no reuse
            return
        key = self._key(fmt, items)
        self._known[key] = Known(fmt.name, items, cuts, nodes, decorations, title, title_at)
        self._known.move_to_end(key)
        while len(self._known) > ENTRIES:
            self._known.popitem(last=False)
