"""Decorations: the parts of a message that change between re-sends without changing what was
said, kept out of the message tree so a re-sent history still matches its nodes.

Claude Code moves its `cache_control` breakpoint to the newest message on every call; a client
that sends a Responses answer back as the SDK returned it adds item `id`s and `status`. Hashed
into the node, either would store the same message again under a new id and break the thread.
So a message is split into its stable form (hashed, stored once in the tree) and its decorations
(stored with the exchange, a few bytes each), and `restore` puts them back so the request can be
rebuilt exactly as sent.
"""

from __future__ import annotations

from typing import Any

# Keys inside `extra` (at any depth) that mark delivery, not content.
VOLATILE = frozenset({"cache_control", "id", "status"})
# Keys that are decoration only while empty.
VOLATILE_WHEN_EMPTY = frozenset({"annotations", "logprobs"})

KeyPath = list[str | int]
Decoration = tuple[KeyPath, Any]


def split(message: dict[str, Any]) -> tuple[dict[str, Any], list[Decoration]]:
    """The message's stable form and the decorations taken out of it."""
    removed: list[Decoration] = []

    def walk(node: Any, path: KeyPath, in_extra: bool) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if in_extra and (
                    key in VOLATILE or (key in VOLATILE_WHEN_EMPTY and value in ([], None))
                ):
                    removed.append(([*path, key], value))
                    continue
                kept = walk(value, [*path, key], in_extra or key == "extra")
                if key == "extra" and not kept:
                    continue  # an extra left empty is no extra, as in a message that had none
                out[key] = kept
            return out
        if isinstance(node, list):
            return [walk(v, [*path, i], in_extra) for i, v in enumerate(node)]
        return node

    return walk(message, [], False), removed


def restore(message: dict[str, Any], decorations: list[Decoration]) -> dict[str, Any]:
    """Put decorations back (in place) and return the message."""
    for path, value in decorations:
        node: Any = message
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[path[-1]] = value
    return message
