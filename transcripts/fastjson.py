"""JSON bodies parsed fast where that is exact, and no more of them than is looked at.

`loads` parses with msgspec (several times faster than the standard library on the large bodies
agents send, and exact for integers of any size), and with the standard library what msgspec
refuses rather than approximate: NaN and Infinity, numbers past a double's range, lone
surrogates, text not in UTF-8. So the result is always the one `json.loads` gives. (orjson,
which writes the spool, would read an integer past 64 bits as a float.)

`loads_object` reads one key of an object lazily: an agent re-sends its whole history on every
call, and ingest compares the items it knows as bytes (`LazyList.raw`), decoding only the new.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, overload

import msgspec

_decode = msgspec.json.Decoder().decode
_fields = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_elements = msgspec.json.Decoder(list[msgspec.Raw]).decode


def loads(data: bytes | str | msgspec.Raw) -> Any:
    try:
        return _decode(data)
    except msgspec.MsgspecError:
        return json.loads(bytes(data) if isinstance(data, msgspec.Raw) else data)


class LazyList(Sequence[Any]):
    """A JSON array kept as the bytes of each item (`raw`), each decoded when first looked at."""

    __slots__ = ("_items", "raw")

    def __init__(self, raw: list[msgspec.Raw]) -> None:
        self.raw = raw
        self._items: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.raw)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.raw)))]
        if index < 0:
            index += len(self.raw)
        if index not in self._items:
            self._items[index] = loads(self.raw[index])
        return self._items[index]

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self.raw)))

    def __eq__(self, other: object) -> bool:
        """Equal to the list it reads as (and to another LazyList that reads the same)."""
        if isinstance(other, LazyList):
            return self.raw == other.raw or list(self) == list(other)
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]  # mutable as a list is: never a key


def loads_object(data: bytes, lazy: str) -> Any:
    """`loads(data)`, but with the array under the key `lazy` of a top-level object read as a
    `LazyList`. Whatever is not such an object (or is not JSON msgspec reads) is read whole."""
    try:
        fields = _fields(data)
        values = {k: v for k, v in fields.items() if k != lazy}
        body = {k: loads(v) for k, v in values.items()}
        if lazy in fields:
            try:
                body[lazy] = LazyList(_elements(fields[lazy]))
            except msgspec.MsgspecError:  # not an array
                body[lazy] = loads(fields[lazy])
        return {k: body[k] for k in fields}  # in the body's order
    except msgspec.MsgspecError:
        return loads(data)
