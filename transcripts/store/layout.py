"""Laying a call out in the message tree: parse it, reuse the history it shares with a call seen a
moment ago, hash what it added into nodes, and make its row.

Pure: no database. So it runs wherever ingest has a core to spare (store/workers.py), and what
it returns is small and plain (the row, the new nodes, the ids of the chain): never the parsed
request or the raw history, which would cost more to send back than to read again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redline.transcripts.exchange import RawExchange
from redline.transcripts.fastjson import LazyList
from redline.transcripts.model import canonical_json, text_hash
from redline.transcripts.parse import ParsedExchange, Skip, parse_exchange
from redline.transcripts.store.prefixes import PrefixCache, Reuse
from redline.transcripts.store.rows import Placement, exchange_row
from redline.transcripts.store.tree import IndexedDecoration, Node, chain, node_id
from redline.transcripts.wire import BlobKind, WireFormat

if TYPE_CHECKING:
    from redline.transcripts.store.threader import Answer


@dataclass
class Placed:
    """A call laid out in the tree, waiting to be threaded.

    `chain` holds the ids of every message node of its request known to lie on its path, first
    to last (the reused prefix, then the new nodes); `nodes` are the nodes it added, `answer`
    its response's node. A call that continues an answer held by the server (`continues`) is
    laid out from the root; ingest hangs it under that answer (`relink`) once it knows where the
    answer is."""

    id: str
    started_at: datetime
    model_call: bool
    session_key: str | None
    title: str | None
    continues: str | None
    response_id: str | None
    row: dict[str, Any]
    nodes: list[Node] = field(default_factory=list)
    answer: Node | None = None
    chain: list[str] = field(default_factory=list)
    depth: int = 0  # of its first new node
    blobs: list[tuple[str, BlobKind, str]] = field(default_factory=list)  # (hash, kind, JSON)
    continued: Placed | Answer | None = None  # the answer it continues (set by ingest)

    @property
    def request_node(self) -> str | None:
        return self.chain[-1] if self.chain else None

    @property
    def response_node(self) -> str | None:
        return None if self.answer is None else self.answer.id

    def ends(self) -> list[tuple[str, int]]:
        """The nodes this call ends at (its request, its answer), with their depths."""
        out = []
        if self.request_node is not None:
            out.append((self.request_node, self.depth + len(self.nodes) - 1))
        if self.answer is not None:
            out.append((self.answer.id, self.answer.depth))
        return out

    def chain_depths(self) -> Iterator[tuple[str, int]]:
        """Each node of `chain` with its depth."""
        first = self.depth + len(self.nodes) - len(self.chain)
        # zip, not a generator: ingest reads every call's whole chain (a long history's calls
        # carry hundreds of nodes each), and this way the pairs are made in C.
        return zip(self.chain, range(first, first + len(self.chain)), strict=True)

    def relink(self, parent: str | None, depth: int) -> None:
        """Hang the request's messages under `parent` (at `depth`): a call that continues an
        answer held by the server sent only its newest messages."""
        nodes, under = [], parent
        for i, n in enumerate(self.nodes):
            nid = node_id(under, n.content)
            nodes.append(Node(nid, under, depth + i, n.role, n.content))
            under = nid
        self.nodes, self.depth = nodes, depth
        self.chain = [*([parent] if parent is not None else []), *(n.id for n in nodes)]
        if self.answer is not None:
            a = self.answer
            self.answer = Node(
                node_id(under, a.content), under, depth + len(nodes), a.role, a.content
            )
        self.row.update(request_node=self.request_node, response_node=self.response_node)


def place(x: RawExchange, prefixes: PrefixCache, unparsed_because: str | None = None) -> Placed:
    """Parse `x` and lay it out, reusing (and then remembering) the histories in `prefixes`."""
    reused: list[Reuse] = []

    def known(fmt: WireFormat, items: LazyList) -> int:
        reuse = prefixes.reuse(fmt, items)
        if reuse is None:
            return 0
        reused.append(reuse)
        return reuse.items

    skip: Skip = known
    p = parse_exchange(x, unparsed_because=unparsed_because, skip=skip)
    reuse = reused[0] if reused and p.skipped else None
    if reuse is not None and p.continues is not None:
        # A server-held conversation's call sends only its newest items; their likeness to a
        # known history is a coincidence: read it whole.
        p, reuse = parse_exchange(x, unparsed_because=unparsed_because), None
    laid = _lay_out(p, reuse)
    if laid is None:  # a lone surrogate in a message: no node id can be made of it
        reason = "stored raw: its messages could not be stored"
        laid = _lay_out(parse_exchange(x, unparsed_because=reason), None)
        assert laid is not None  # nothing parsed, nothing hashed
        return laid[0]
    placed, decorations, title_at = laid
    if p.request is not None and p.items is not None and p.fmt is not None and not p.continues:
        # A history read from its first item on: later calls that extend it reuse it.
        prefixes.remember(
            p.fmt, p.items, tuple(placed.chain), tuple(decorations), placed.title, title_at, reuse
        )
    return placed


def _lay_out(
    p: ParsedExchange, reuse: Reuse | None
) -> tuple[Placed, list[IndexedDecoration], int | None] | None:
    """The call laid out under the reused prefix (or the root), with its request's
    decorations and the index of the message its title came from."""
    parent, depth = (reuse.node, reuse.messages) if reuse is not None else (None, 0)
    nodes: list[Node] = []
    decorations: list[IndexedDecoration] = []
    answer = None
    try:
        if p.request is not None:
            nodes, decorations = chain(p.request.messages, parent, depth)
            if reuse is not None:
                shifted = [(i + reuse.messages, path, v) for i, path, v in decorations]
                decorations = [*reuse.decorations, *shifted]
        if p.response is not None:
            under = nodes[-1].id if nodes else parent
            (answer,), _ = chain([p.response.message], under, depth + len(nodes))
    except UnicodeError:
        return None
    title, title_at = _title(p, reuse)
    blobs = list(_blobs(p.split.blobs)) if p.split else []
    hashes = {kind: digest for digest, kind, _ in blobs}
    known = list(reuse.nodes) if reuse is not None else []
    row = exchange_row(
        p,
        Placement(
            conversation_id=None,
            seq=None,
            request_node=nodes[-1].id if nodes else parent,
            response_node=None if answer is None else answer.id,
            message_count=None if p.request is None else len(known) + len(nodes),
            tools_hash=hashes.get("tools"),
            system_hash=hashes.get("system"),
            decorations=decorations,
        ),
    )
    row["title"] = title if p.model_call else None
    placed = Placed(
        id=p.raw.id,
        started_at=p.raw.started_at,
        model_call=p.model_call,
        session_key=p.session_key,
        title=title,
        continues=p.continues,
        response_id=p.response.id if p.response is not None else None,
        row=row,
        nodes=nodes,
        answer=answer,
        chain=[*known, *(n.id for n in nodes)],
        depth=depth,
        blobs=blobs,
    )
    return placed, decorations, title_at


def _title(p: ParsedExchange, reuse: Reuse | None) -> tuple[str | None, int | None]:
    """The call's title and the index of its message: from the reused prefix when one of its
    messages gave it, else from the messages read."""
    if reuse is not None and reuse.title is not None:
        return reuse.title, reuse.title_at
    if p.title_at is not None and reuse is not None:
        return p.title, reuse.messages + p.title_at
    return p.title, p.title_at


def _blobs(blobs: Mapping[BlobKind, Any]) -> Iterator[tuple[str, BlobKind, str]]:
    """(hash, kind, canonical JSON) of each blob. A tool list or system prompt is usually the
    one the call before sent: found by comparing values (in C), not serialized again."""
    for kind, value in blobs.items():
        found = next((r for r in _RECENT_BLOBS if r[0] == value), None)
        if found is None:
            content = canonical_json(value)
            found = (value, text_hash(content), content)
            _RECENT_BLOBS.appendleft(found)
        yield found[1], kind, found[2]


# The last few blob values this process serialized, with their hashes (never mutated).
_RECENT_BLOBS: deque[tuple[Any, str, str]] = deque(maxlen=16)
