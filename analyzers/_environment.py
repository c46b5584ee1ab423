"""Where a check that runs code runs it: the task's workspace (or none), the task's own files,
whether the sandbox holds it, and where its verdicts are cached.

    Environment(workspace, workspace_id, files, sandbox, cache)    what such a check is given
    prepared(workspace, read_blob, files, ...) -> Environment      the workspace written once
                                                                    into a folder runs copy
    VerdictCache: get(scope, key), put(scope, key, verdict)        kept by the caller
    runs_code(check), verdict_scope(check, environment), verdict_key(scope, ...)   in `_run`

Static checks never look here and stay pure. A check that runs code says so (`runs_code =
True` on the analyzer); only for such checks do callers prepare an environment, judge in
parallel, and cache verdicts. A verdict is cached by the check (its name, options as written,
and its `version`: a check without one is never cached), the environment (the workspace's id,
the files' hashes, the sandbox or not), the transcript it answered, and the answer itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from redline.analyzers._model import Verdict
from redline.transcripts import OwnFile, Workspace, materialize


class VerdictCache(Protocol):
    """Verdicts of checks that run code: by `scope` (the check and its environment,
    `verdict_scope`: known before any answer is, so a caller can load a scope's verdicts at
    once) and `key` (the scope, the transcript and the answer, `verdict_key`). A caller backs it
    with its store; `put` may be called from several threads at once."""

    def get(self, scope: str, key: str) -> Verdict | None: ...

    def put(self, scope: str, key: str, verdict: Verdict) -> None: ...


@dataclass(frozen=True, slots=True)
class Environment:
    """`workspace`: a folder holding the task's workspace as its model saw it (None: the task
    has none), never written: each run works on a fresh copy (`copy_workspace`);
    `workspace_id` names its content. `before_cut`: the workspace was taken before the session
    (a folder given to `check` or `scan`, not a task's), so the transcript's own edits before
    the cut are made in each copy first. `files`: the task's own files. `sandbox`: False only
    when the user asked for `--no-sandbox`. `cache`: where verdicts are kept, or None."""

    workspace: Path | None = None
    workspace_id: str | None = None
    files: tuple[OwnFile, ...] = ()
    sandbox: bool = True
    cache: VerdictCache | None = field(default=None, compare=False, repr=False)
    before_cut: bool = False

    @property
    def key(self) -> str:
        """What a verdict depends on here: the workspace's content, the files', the sandbox."""
        parts = [
            f"workspace {self.workspace_id or 'none'}{' before the cut' * self.before_cut}",
            *(f"file {f.path} {f.sha256} {int(f.executable)}" for f in self.files),
            f"sandbox {self.sandbox}",
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def copy_workspace(self, dest: Path) -> None:
        """The workspace's files (links kept as links) into `dest`, a folder that does not
        exist yet; an empty folder when there is no workspace."""
        if self.workspace is None:
            dest.mkdir(parents=True)
            return
        shutil.copytree(self.workspace, dest, symlinks=True)


@contextlib.contextmanager
def prepared(
    workspace: Workspace | None,
    read_blob: Callable[[str], bytes] | None,
    files: Sequence[OwnFile] = (),
    *,
    sandbox: bool = True,
    cache: VerdictCache | None = None,
    before_cut: bool = False,
    written: Path | None = None,
) -> Iterator[Environment]:
    """An environment for the life of the block: `workspace` (with `read_blob(sha256)` giving
    its files' contents) written once into a temporary folder, removed at the end. `written`:
    a folder the caller has already written the workspace into (and keeps, never writing it
    while the block lasts), used as it is."""
    if workspace is None:
        yield Environment(None, None, tuple(files), sandbox, cache)
        return
    if written is not None:
        yield Environment(written, workspace.id, tuple(files), sandbox, cache, before_cut)
        return
    if read_blob is None:
        raise ValueError("a workspace needs read_blob to read its files")
    with tempfile.TemporaryDirectory(prefix="redline-workspace-") as folder:
        root = Path(folder) / "files"
        materialize(workspace, read_blob, root)
        yield Environment(root, workspace.id, tuple(files), sandbox, cache, before_cut)
