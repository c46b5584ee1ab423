"""A workspace as one file that travels beside its task: a zstandard-compressed tar.

    pack(workspace, read_blob) -> Packed(data, sha256, workspace, masked, masked_files)
    unpack(data, expected_sha256) -> (Workspace, blobs)
    unpack_file(path, expected_sha256)              the same, from a file (refused unread when
                                                    it is larger than any archive can be)

The tar holds `workspace.json` (the manifest) and each file under `files/`, in path order,
with fixed owners, modes and times, so equal workspaces pack to equal bytes. Secrets found in
text files are masked on the way out (`transcripts.secrets`), the manifest's hashes are those
of what was packed, and the count is reported.

An archive comes from someone else: `unpack` checks its hash first, decompresses no more than
a workspace can hold (a zip bomb stops there), and refuses, returning nothing, an archive with
a path that is absolute, climbs out (`..`) or enters `.git`; a link out of the tree; a device,
FIFO or hard link; a member the manifest does not list or a listed file it lacks; bytes that
do not match their hash; or a truncated or corrupt stream.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import zstandard

from redline.errors import RedlineError
from redline.transcripts.secrets import mask_text
from redline.transcripts.workspace import (
    MAX_FILES,
    TOTAL_CAP,
    Workspace,
    WorkspaceFile,
    link_inside,
)

__all__ = ["UNPACKED_CAP", "ArchiveRefused", "Packed", "pack", "unpack", "unpack_file"]

MANIFEST = "workspace.json"
PREFIX = "files/"
# The most a valid archive can decompress to: its files, a tar header and padding per file, and
# the manifest. Past it, decompression stops.
UNPACKED_CAP = TOTAL_CAP + MAX_FILES * 1536 + (32 << 20)


class ArchiveRefused(RedlineError):
    """A workspace archive that is not imported, for `reason`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the workspace archive is refused: {reason}")


@dataclass(frozen=True, slots=True)
class Packed:
    data: bytes
    sha256: str  # of `data`: the task file lists it
    workspace: Workspace  # as packed: the hashes of the masked files
    masked: int  # secrets masked in text files
    masked_files: tuple[str, ...]


def pack(workspace: Workspace, read_blob: Callable[[str], bytes]) -> Packed:
    files: list[WorkspaceFile] = []
    contents: list[bytes] = []
    masked = 0
    masked_files: list[str] = []
    for f in workspace.files:
        data = read_blob(f.sha256)
        if not f.link:
            data, count = _masked(data)
            if count:
                masked += count
                masked_files.append(f.path)
        files.append(replace(f, sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
        contents.append(data)
    packed = replace(workspace, files=tuple(files))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        manifest = json.dumps(packed.to_dict(), indent=1, sort_keys=True).encode()
        _add(tar, MANIFEST, manifest, 0o644)
        for f, data in zip(files, contents, strict=True):
            if f.link:
                info = _info(PREFIX + f.path, 0o777)
                info.type = tarfile.SYMTYPE
                info.linkname = data.decode("utf-8", "surrogateescape")
                tar.addfile(info)
            else:
                _add(tar, PREFIX + f.path, data, 0o755 if f.executable else 0o644)
    data = zstandard.ZstdCompressor(level=3).compress(buffer.getvalue())
    return Packed(data, hashlib.sha256(data).hexdigest(), packed, masked, tuple(masked_files))


def _masked(data: bytes) -> tuple[bytes, int]:
    if b"\0" in data:
        return data, 0
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, 0  # binary: nothing to read a secret in
    result = mask_text(text)
    return (result.text.encode(), result.count) if result.count else (data, 0)


def _info(name: str, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, 0, "", ""
    return info


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = _info(name, mode)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def unpack(data: bytes, expected_sha256: str) -> tuple[Workspace, dict[str, bytes]]:
    """The workspace and its blobs (sha256 -> bytes) from an archive someone else made, or
    ArchiveRefused saying why (nothing is returned, nothing written)."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.lower():
        raise ArchiveRefused(f"its hash is {actual}, the task file says {expected_sha256}")
    raw = _decompress(data)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            members = _members(tar)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveRefused(f"it is not a readable tar ({error})") from None
    if MANIFEST not in members:
        raise ArchiveRefused(f"it has no {MANIFEST}")
    try:
        manifest = json.loads(members.pop(MANIFEST)[1])
    except ValueError:
        raise ArchiveRefused(f"its {MANIFEST} is not JSON") from None
    try:
        workspace = Workspace.from_dict(manifest)
    except RedlineError as error:
        raise ArchiveRefused(str(error)) from None
    blobs: dict[str, bytes] = {}
    for f in workspace.files:
        member = members.pop(PREFIX + f.path, None)
        if member is None:
            raise ArchiveRefused(f"it lacks {f.path}, which its manifest lists")
        is_link, content = member
        if is_link != f.link:
            raise ArchiveRefused(f"{f.path} is a {'link' if is_link else 'file'} in the archive")
        if is_link and not link_inside(f.path, content.decode("utf-8", "surrogateescape")):
            raise ArchiveRefused(f"the link {f.path} points out of the workspace")
        if len(content) != f.size or hashlib.sha256(content).hexdigest() != f.sha256:
            raise ArchiveRefused(f"the bytes of {f.path} do not match its manifest")
        blobs[f.sha256] = content
    if members:
        raise ArchiveRefused(f"it holds {sorted(members)[0]!r}, which its manifest does not list")
    return workspace, blobs


def unpack_file(path: Path, expected_sha256: str) -> tuple[Workspace, dict[str, bytes]]:
    """`unpack` of the archive at `path`; one larger than a workspace's archive can be (its
    compressed bytes are never more than what they decompress to, and a little) is refused
    before it is read."""
    try:
        size = path.stat().st_size
        if size > UNPACKED_CAP:
            raise ArchiveRefused(f"it is larger ({size >> 20} MB) than any workspace archive")
        data = path.read_bytes()
    except OSError as error:
        raise RedlineError(f"cannot read the workspace archive {path}: {error.strerror}") from None
    return unpack(data, expected_sha256)


def _decompress(data: bytes) -> bytes:
    try:
        # The size its frame declares (pack writes it; -1 when not given): the stream reader
        # ends a truncated frame quietly, short.
        declared = zstandard.frame_content_size(data)
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            raw = reader.read(UNPACKED_CAP + 1)
            if len(raw) > UNPACKED_CAP:
                raise ArchiveRefused(
                    f"it decompresses to more than {UNPACKED_CAP >> 20} MB, more than a workspace holds"
                )
            if reader.read(1):  # stream_reader.read stops short only at the end
                raise ArchiveRefused("it decompresses past its end")
    except zstandard.ZstdError as error:
        raise ArchiveRefused(f"it is not a complete zstandard stream ({error})") from None
    if declared >= 0 and len(raw) != declared:
        raise ArchiveRefused(
            f"it is truncated: it decompresses to {len(raw)} bytes of the {declared} it declares"
        )
    return raw


def _members(tar: tarfile.TarFile) -> dict[str, tuple[bool, bytes]]:
    """name -> (is a link, content or link target), every member checked before any is read."""
    found: dict[str, tuple[bool, bytes]] = {}
    for count, info in enumerate(tar, 1):
        if count > MAX_FILES + 1:
            raise ArchiveRefused(f"it holds more than {MAX_FILES} files")
        name = info.name
        if name.startswith("/") or ".." in name.split("/") or "\0" in name:
            raise ArchiveRefused(f"the path {name!r} escapes the archive")
        if name != MANIFEST and not name.startswith(PREFIX):
            raise ArchiveRefused(f"it holds {name!r} outside {PREFIX}")
        if name in found:
            raise ArchiveRefused(f"it holds {name!r} twice")
        if info.issym():
            found[name] = (True, info.linkname.encode("utf-8", "surrogateescape"))
        elif info.isreg():
            stream = tar.extractfile(info)
            assert stream is not None
            content = stream.read()
            if len(content) != info.size:
                raise ArchiveRefused(f"{name!r} is cut short")
            found[name] = (False, content)
        else:
            kind = "a hard link" if info.islnk() else "a device, FIFO or folder entry"
            raise ArchiveRefused(f"{name!r} is {kind}")
    return found
