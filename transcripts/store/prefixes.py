"""Histories ingest has seen: an agent re-sends its whole conversation on every call, so most of
a request's history is a prefix of a request ingest parsed moments ago.

The cache keeps the last few requests' history lists (each item as the JSON bytes it came as)
with the tree nodes of their messages. A new request whose history starts with the same items
(compared as bytes, in C) reuses those nodes and is decoded, parsed and hashed only from where
it differs: ingest's cost follows what a call added, not the length of the conversation.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from redline.transcripts.fastjson import LazyList
from redline.transcripts.store.tree import IndexedDecoration
from redline.transcripts.wire import WireFormat

# Conversations recorded at once that a cache this size keeps apart; more only cost re-parsing.
ENTRIES = 64


@dataclass(frozen=True, slots=True)
class Known:
    """A history already laid out in the tree. `cuts` maps an item index where the history
    may be cut to the number of messages before it; `nodes[m]` is message m's node."""

    fmt: str
    items: LazyList
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
    common: int = 0  # items the two histories share (the cut may be before the last of them)

    @property
    def node(self) -> str | None:
        return self.nodes[-1] if self.nodes else None


class PrefixCache:
    def __init__(self) -> None:
        # By the first item: a conversation's histories all start alike.
        self._known: OrderedDict[tuple[str, bytes], Known] = OrderedDict()

    def forget(self) -> None:
        """After a rolled-back transaction: the nodes it names may not have been kept."""
        self._known.clear()

    @staticmethod
    def _key(fmt: WireFormat, items: LazyList) -> tuple[str, bytes]:
        return fmt.name, bytes(items.raw[0])

    def reuse(self, fmt: WireFormat, items: LazyList) -> Reuse | None:
        """The longest known prefix of `items`, cut where the format allows."""
        if not items:
            return None
        known = self._known.get(self._key(fmt, items))
        if known is None:
            return None
        lo = _common(items, known.items)
        cut = next((i for i in reversed(known.cuts) if i <= lo and fmt.can_split(items, i)), 0)
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
            lo,
        )

    def remember(
        self,
        fmt: WireFormat,
        items: LazyList,
        nodes: tuple[str, ...],
        decorations: tuple[IndexedDecoration, ...],
        title: str | None,
        title_at: int | None,
        reused: Reuse | None = None,
    ) -> None:
        """A history just laid out: `nodes` are its messages' nodes, in order; its title came
        from message `title_at`; `reused`: what it took from the history known before."""
        if not items:
            return
        key = self._key(fmt, items)
        cuts: dict[int, int] = {}
        messages, start = 0, 1
        previous = self._known.get(key)
        if previous is not None and reused is not None:
            # Where the history may be cut depends on the items either side of the cut: those
            # between items the two share are known already.
            for i, m in previous.cuts.items():
                if i >= reused.common:
                    break
                cuts[i], messages, start = m, m, i + 1
        for i in range(start, len(items) + 1):
            if i == len(items) or fmt.can_split(items, i):
                messages += 1
                cuts[i] = messages
        if messages != len(nodes):  # items that parse to no message, or to several: no reuse
            return
        self._known[key] = Known(fmt.name, items, cuts, nodes, decorations, title, title_at)
        self._known.move_to_end(key)
        while len(self._known) > ENTRIES:
            self._known.popitem(last=False)


def _common(new: LazyList, old: LazyList) -> int:
    """How many leading items the two lists share, compared as bytes. An agent's next request
    most often repeats the whole history it sent before, or all of it but the last item (a moved
    cache breakpoint): those are tried first, each one comparison in C."""
    items, known = new.raw, old.raw
    n = min(len(items), len(known))
    for k in (n, n - 1):
        if k > 0 and items[:k] == known[:k]:
            return k
    lo, hi = 0, max(n - 2, 0)
    while lo < hi:  # binary search: list slices compare in C
        mid = (lo + hi + 1) // 2
        if items[:mid] == known[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
