"""A workspace's archive: round trip, secrets masked on the way out, and every bad archive
refused whole."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from redline.errors import RedlineError
from redline.transcripts import ArchiveRefused, Workspace, WorkspaceFile, materialize, pack, unpack
from redline.transcripts import workspace_archive as archive
from redline.transcripts.workspace_snapshot import snapshot
from tests.test_workspace_snapshot import git, make_repo

OPENAI_KEY = "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kL9nP2rS5uX8zA1cD4fG7iK0mO3"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def workspace_of(files: dict[str, bytes]) -> tuple[Workspace, dict[str, bytes]]:
    entries = tuple(WorkspaceFile(p, sha(d), len(d)) for p, d in sorted(files.items()))
    return Workspace("/src/app", "git", "abc123", entries), {sha(d): d for d in files.values()}


def archive_of(members: list[tarfile.TarInfo | tuple[str, bytes]], manifest: object) -> bytes:
    """An archive as someone else might make it: any members, any manifest."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        text = json.dumps(manifest).encode()
        info = tarfile.TarInfo("workspace.json")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return zstandard.ZstdCompressor().compress(buffer.getvalue())


def manifest_of(files: dict[str, bytes]) -> dict[str, object]:
    return workspace_of(files)[0].to_dict()


def refused(data: bytes, digest: str | None = None) -> str:
    with pytest.raises(ArchiveRefused) as error:
        unpack(data, digest or sha(data))
    return error.value.reason


# --- the round trip -----------------------------------------------------------------------


def test_a_repository_round_trips_byte_for_byte(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "app",
        {"src/app.py": "print('hi')\n", "bin/tool": "#!/bin/sh\n", "img.png": b"\x89PNG\0\1\2"},
    )
    (repo / "bin/tool").chmod(0o755)
    os.symlink("src/app.py", repo / "main.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "more")
    taken = snapshot(repo)
    packed = pack(taken.workspace, taken.blobs.__getitem__)
    workspace, blobs = unpack(packed.data, packed.sha256)
    assert workspace == taken.workspace and packed.masked == 0
    out = tmp_path / "out"
    materialize(workspace, blobs.__getitem__, out)
    for f in taken.workspace.files:
        copied = out / f.path
        if f.link:
            assert os.readlink(copied) == os.readlink(repo / f.path)
        else:
            assert copied.read_bytes() == (repo / f.path).read_bytes()
    assert os.access(out / "bin/tool", os.X_OK) and not os.access(out / "img.png", os.X_OK)


def test_equal_workspaces_pack_to_equal_bytes() -> None:
    workspace, blobs = workspace_of({"a.py": b"x = 1\n", "b/c.py": b"y = 2\n"})
    assert pack(workspace, blobs.__getitem__).data == pack(workspace, blobs.__getitem__).data


def test_secrets_in_text_files_are_masked_and_counted() -> None:
    config = f'OPENAI_API_KEY = "{OPENAI_KEY}"\nDEBUG = True\n'.encode()
    binary = b"\0\1" + OPENAI_KEY.encode()
    workspace, blobs = workspace_of({"settings.py": config, "data.bin": binary, "a.py": b"1\n"})
    packed = pack(workspace, blobs.__getitem__)
    assert packed.masked == 1 and packed.masked_files == ("settings.py",)
    unpacked, contents = unpack(packed.data, packed.sha256)
    settings = unpacked.file("settings.py")
    assert settings is not None
    text = contents[settings.sha256].decode()
    assert OPENAI_KEY not in text and "[masked:" in text and "DEBUG = True" in text
    data_bin = unpacked.file("data.bin")
    assert data_bin is not None and contents[data_bin.sha256] == binary


# --- refused archives ---------------------------------------------------------------------


def test_a_wrong_hash_is_refused() -> None:
    workspace, blobs = workspace_of({"a.py": b"1\n"})
    packed = pack(workspace, blobs.__getitem__)
    assert "the task file says" in refused(packed.data, "0" * 64)


def test_a_path_climbing_out_is_refused() -> None:
    data = archive_of([("files/../../evil.py", b"x")], manifest_of({}))
    assert "escapes" in refused(data)


def test_an_absolute_path_is_refused() -> None:
    data = archive_of([("/etc/evil", b"x")], manifest_of({}))
    assert "escapes" in refused(data)


def test_a_manifest_path_climbing_out_is_refused() -> None:
    manifest = manifest_of({"a.py": b"x"})
    manifest["files"][0]["path"] = "../a.py"  # type: ignore[index]
    data = archive_of([("files/../a.py", b"x")], manifest)
    assert "escapes" in refused(data) or "relative" in refused(data)


def test_a_manifest_path_into_git_is_refused() -> None:
    manifest = manifest_of({".git/hooks/post-checkout": b"x"})
    data = archive_of([("files/.git/hooks/post-checkout", b"x")], manifest)
    assert ".git" in refused(data)


def test_a_link_out_of_the_tree_is_refused() -> None:
    link = tarfile.TarInfo("files/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    target = b"../../../etc/passwd"
    manifest = manifest_of({"passwd": target})
    manifest["files"][0]["link"] = True  # type: ignore[index]
    assert "points out" in refused(archive_of([link], manifest))


def test_a_device_or_fifo_or_hard_link_is_refused() -> None:
    for kind in (tarfile.CHRTYPE, tarfile.FIFOTYPE, tarfile.LNKTYPE):
        member = tarfile.TarInfo("files/thing")
        member.type = kind
        if kind == tarfile.LNKTYPE:
            member.linkname = "workspace.json"
        assert "is a" in refused(archive_of([member], manifest_of({})))


def test_a_file_the_manifest_does_not_list_is_refused() -> None:
    data = archive_of([("files/a.py", b"x"), ("files/extra.py", b"y")], manifest_of({"a.py": b"x"}))
    assert "does not list" in refused(data)


def test_a_listed_file_that_is_missing_is_refused() -> None:
    data = archive_of([], manifest_of({"a.py": b"x"}))
    assert "lacks a.py" in refused(data)


def test_bytes_that_do_not_match_the_manifest_are_refused() -> None:
    data = archive_of([("files/a.py", b"tampered")], manifest_of({"a.py": b"original"}))
    assert "do not match" in refused(data)


def test_a_truncated_archive_is_refused() -> None:
    workspace, blobs = workspace_of({f"f{i}.txt": os.urandom(3000) for i in range(5)})
    packed = pack(workspace, blobs.__getitem__)
    cut = packed.data[: len(packed.data) // 2]
    assert refused(cut)


def test_a_corrupt_archive_is_refused() -> None:
    assert "zstandard" in refused(b"not an archive at all")


def test_an_archive_that_decompresses_past_the_caps_is_refused() -> None:
    compressor = zstandard.ZstdCompressor(level=3)
    writer = compressor.compressobj()
    zeros = b"\0" * (1 << 20)
    chunks = [writer.compress(zeros) for _ in range((archive.UNPACKED_CAP >> 20) + 2)]
    bomb = b"".join(chunks) + writer.flush()
    assert len(bomb) < archive.UNPACKED_CAP // 1000
    assert "more than a workspace holds" in refused(bomb)


def test_a_manifest_that_is_not_one_is_refused() -> None:
    assert "manifest" in refused(archive_of([], {"kind": "git", "files": "nope"}))


# --- materializing ------------------------------------------------------------------------


def test_materialize_wants_a_new_folder(tmp_path: Path) -> None:
    workspace, blobs = workspace_of({"a.py": b"1\n"})
    (tmp_path / "used").mkdir()
    (tmp_path / "used/x").write_text("")
    with pytest.raises(RedlineError, match="not a new, empty folder"):
        materialize(workspace, blobs.__getitem__, tmp_path / "used")


def test_materialize_checks_each_files_bytes(tmp_path: Path) -> None:
    workspace, _ = workspace_of({"a.py": b"1\n"})
    with pytest.raises(RedlineError, match="does not match its hash"):
        materialize(workspace, lambda _sha: b"something else", tmp_path / "out")
