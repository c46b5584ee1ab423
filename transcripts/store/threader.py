"""Threading: which conversation each call of an ingest batch belongs to.

Calls are threaded in the order they started (ingest sees to it). A call joins the conversation
whose call (request or answer) is the deepest prefix of its request; else its agent session's
latest conversation; else it starts a new one, named after itself so that conversation ids sort
by time too. A prefix never joins two different agent
sessions (the same first prompt run twice is two conversations). A call that continues an
answer held by the server (`previous_response_id`) hangs under that answer.

What the store already holds is loaded once per batch, in a few queries, into maps that the
batch's own calls then extend as they are threaded: no query per call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from redline.transcripts.parse import UNPARSED_TITLE
from redline.transcripts.store import bulk


@dataclass(frozen=True, slots=True)
class _Call:
    """A stored call as threading sees it: it ends at some node of the tree."""

    depth: int
    started_at: datetime
    conversation_id: str
    session_key: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """A stored answer a later call may continue: its node, the depth under it, and the
    conversation (None when the answering call joined none)."""

    node: str
    depth: int
    started_at: datetime
    conversation_id: str | None


@dataclass
class _Conversation:
    started_at: datetime
    session_key: str | None
    title: str | None
    stored: bool  # already in the store (else created by this batch)
    titled: bool = False  # the title changed in this batch
    last_seq: int = 0


@dataclass
class Threader:
    """Threads one batch. Call `load` with what the batch will ask about, then `thread` each
    call in order, then `write`."""

    con: duckdb.DuckDBPyConnection
    _at_node: dict[str, list[_Call]] = field(default_factory=lambda: defaultdict(list))
    _sessions: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    _answers: dict[str, Answer] = field(default_factory=dict)
    _conversations: dict[str, _Conversation] = field(default_factory=dict)
    _looked_up: set[str] = field(default_factory=set)

    # -- loading --------------------------------------------------------------------------------

    def load_answers(self, response_ids: Collection[str]) -> None:
        """The stored answers with these upstream ids (for calls that continue one)."""
        if not response_ids:
            return
        rows = self.con.execute(
            """
            SELECT e.response_id, e.response_node, n.depth + 1, e.started_at, e.conversation_id
            FROM exchanges e JOIN nodes n ON n.id = e.response_node
            WHERE e.response_id IN (SELECT unnest(?::JSON::VARCHAR[]))
            """,
            [bulk.listed(response_ids)],
        ).fetchall()
        for rid, node, depth, started, conversation in rows:
            self.add_answer(rid, Answer(node, depth, started, conversation))

    def load_prefixes(self, depths: dict[str, int], session_keys: Collection[str]) -> None:
        """The stored calls that end at any of these nodes (id -> depth), and the latest
        conversation of each of these agent sessions."""
        if depths:
            rows = self.con.execute(
                """
                SELECT request_node, started_at, conversation_id, session_key FROM exchanges
                WHERE request_node IN (SELECT unnest(?::JSON::VARCHAR[])) AND conversation_id IS NOT NULL
                UNION ALL
                SELECT response_node, started_at, conversation_id, session_key FROM exchanges
                WHERE response_node IN (SELECT unnest(?::JSON::VARCHAR[])) AND conversation_id IS NOT NULL
                """,
                [bulk.listed(depths)] * 2,
            ).fetchall()
            for node, started, conversation, key in rows:
                self._at_node[node].append(_Call(depths[node], started, conversation, key))
        if session_keys:
            rows = self.con.execute(
                """
                SELECT session_key, max(started_at), arg_max(id, started_at) FROM conversations
                WHERE session_key IN (SELECT unnest(?::JSON::VARCHAR[])) GROUP BY session_key
                """,
                [bulk.listed(session_keys)],
            ).fetchall()
            for key, started, conversation in rows:
                self._sessions[key] = (started, conversation)

    # -- threading ------------------------------------------------------------------------------

    def answer(self, response_id: str) -> Answer | None:
        """The latest answer with this upstream id, stored or of this batch."""
        if response_id not in self._answers and response_id not in self._looked_up:
            self._looked_up.add(response_id)
            self.load_answers([response_id])
        return self._answers.get(response_id)

    def add_answer(self, response_id: str, answer: Answer) -> None:
        """An answer later calls may continue; the latest of one id wins."""
        known = self._answers.get(response_id)
        if known is None or answer.started_at >= known.started_at:
            self._answers[response_id] = answer

    def conversation_for(
        self,
        call_id: str,
        started_at: datetime,
        prefix: Iterable[str],
        key: str | None,
        title: str | None,
    ) -> str:
        """The conversation a call belongs to whose request runs through the nodes `prefix`,
        deepest first: the latest call that ends at the deepest of them (of the same agent
        session, when both name one)."""
        for node in prefix:
            best: _Call | None = None
            for c in self._at_node.get(node, ()):
                if c.session_key is not None and key is not None and c.session_key != key:
                    continue
                if best is None or c.started_at > best.started_at:
                    best = c
            if best is not None:
                self.name(best.conversation_id, title)
                return best.conversation_id
        if key is not None and key in self._sessions:
            conversation = self._sessions[key][1]
            self.name(conversation, title)
            return conversation
        self._conversations[call_id] = _Conversation(started_at, key, title, stored=False)
        if key is not None:
            self._sessions[key] = (started_at, call_id)
        return call_id

    def name(self, conversation_id: str, title: str | None) -> None:
        """A conversation whose first call said nothing to name it by (a warm-up turn, an
        unparsed request) takes the first real title that comes along."""
        if not title:
            return
        c = self._conversation(conversation_id)
        if c.title is None or c.title == UNPARSED_TITLE:
            c.title, c.titled = title, True

    def ended_at(
        self,
        nodes: Iterable[tuple[str, int]],
        started_at: datetime,
        conversation_id: str,
        key: str | None,
    ) -> None:
        """A threaded call ends at these (node, depth)s: later calls may continue from them."""
        for node, depth in nodes:
            self._at_node[node].append(_Call(depth, started_at, conversation_id, key))

    def next_seq(self, conversation_id: str) -> int:
        c = self._conversation(conversation_id)
        c.last_seq += 1
        return c.last_seq

    def _conversation(self, conversation_id: str) -> _Conversation:
        c = self._conversations.get(conversation_id)
        if c is None:
            c = self._load_conversation(conversation_id)
        return c

    def _load_conversation(self, conversation_id: str) -> _Conversation:
        row = self.con.execute(
            """
            SELECT c.started_at, c.session_key, c.title,
                   (SELECT coalesce(max(seq), 0) FROM exchanges WHERE conversation_id = c.id)
            FROM conversations c WHERE c.id = ?
            """,
            [conversation_id],
        ).fetchone()
        assert row is not None, f"conversation {conversation_id} vanished during ingest"
        c = _Conversation(row[0], row[1], row[2], stored=True, last_seq=int(row[3]))
        self._conversations[conversation_id] = c
        return c

    def preload_conversations(self, ids: Collection[str]) -> None:
        """Titles and last sequence numbers of stored conversations the batch will touch, in
        one query rather than one each."""
        todo = [i for i in ids if i not in self._conversations]
        if not todo:
            return
        rows = self.con.execute(
            """
            SELECT c.id, c.started_at, c.session_key, c.title, coalesce(max(e.seq), 0)
            FROM conversations c LEFT JOIN exchanges e ON e.conversation_id = c.id
            WHERE c.id IN (SELECT unnest(?::JSON::VARCHAR[]))
            GROUP BY c.id, c.started_at, c.session_key, c.title
            """,
            [bulk.listed(todo)],
        ).fetchall()
        for cid, started, key, title, seq in rows:
            self._conversations[cid] = _Conversation(started, key, title, True, last_seq=int(seq))

    def stored_conversations(self) -> set[str]:
        """Conversations that calls of the batch may join, as far as the loaded maps tell."""
        found = {c.conversation_id for calls in self._at_node.values() for c in calls}
        found.update(conversation for _, conversation in self._sessions.values())
        found.update(a.conversation_id for a in self._answers.values() if a.conversation_id)
        return found

    # -- writing --------------------------------------------------------------------------------

    def write(self) -> None:
        """Create the batch's new conversations and retitle the stored ones it named."""
        new = {i: c for i, c in self._conversations.items() if not c.stored}
        bulk.insert(
            self.con,
            "conversations",
            {
                "id": list(new),
                "started_at": [c.started_at for c in new.values()],
                "session_key": [c.session_key for c in new.values()],
                "title": [c.title for c in new.values()],
            },
        )
        retitled = {i: c.title for i, c in self._conversations.items() if c.stored and c.titled}
        if retitled:
            self.con.execute(
                """
                UPDATE conversations SET title = t.title
                FROM (SELECT unnest(?::JSON::VARCHAR[]) AS id, unnest(?::JSON::VARCHAR[]) AS title) t
                WHERE conversations.id = t.id
                """,
                [bulk.listed(retitled), bulk.listed(str(t) for t in retitled.values())],
            )
