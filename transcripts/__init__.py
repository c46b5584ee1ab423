"""The transcript library: the one surface the proxy, the checks, replay and the CLI build on.

    model         Message, parts, Tool, Request, Response, Usage: one canonical form per call
    wire          WireFormat and its registry: everything a wire format knows lives behind it
    agents        Agent and its registry: how each coding agent uses an API (rules files, tools,
                  the session's start, the shape of tool results)
    exchange      RawExchange: one HTTP exchange as it crossed the proxy, secrets removed
    spool         SpoolWriter: the proxy's durable, append-only log of exchanges
    parse         parse_exchange(raw) -> ParsedExchange: pure, no database
    task          Task: a transcript, its known-bad output and the checks that catch it
    task_file     the task file, a task's portable form (validated by task_schema)
    workspace     Workspace: the files a task's model saw; snapshot (git or folder), pack/unpack
    store         open_store() -> Store: ingest the spool, read calls, conversations and tasks

Other parts import from here only. Everything but the model is loaded on first use, so a
command pays only for what it touches (the store brings DuckDB).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from redline.errors import NotFound, RedlineError, StoreLocked, TaskExists
from redline.transcripts.model import (
    JSON,
    Image,
    Message,
    Opaque,
    Part,
    Request,
    Response,
    Role,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
    canonical_json,
    content_hash,
    message_from_dict,
    message_to_dict,
    part_from_dict,
    part_to_dict,
    request_from_dict,
    request_to_dict,
    response_from_dict,
    response_to_dict,
    usage_to_dict,
)

if TYPE_CHECKING:
    from redline.transcripts import agents, wire
    from redline.transcripts.codings import decode_body
    from redline.transcripts.exchange import Headers, RawExchange, header, new_id
    from redline.transcripts.parse import ParsedExchange, parse_exchange
    from redline.transcripts.secrets import Credentials, mask_json, mask_text
    from redline.transcripts.spool import SpoolWriter, to_record
    from redline.transcripts.sse import SSEEvent, parse_sse
    from redline.transcripts.store import (
        BackgroundIngest,
        Call,
        CallOutput,
        CallSummary,
        ConversationSummary,
        FollowUp,
        IngestProcess,
        IngestReport,
        OutputRows,
        PushReport,
        RunStore,
        RunSummary,
        ScanCall,
        ScanStore,
        Store,
        TaskSummary,
        open_store,
        push_store,
        rebuild,
        rebuild_outputs,
    )
    from redline.transcripts.task import (
        OwnFile,
        Provenance,
        Task,
        TaskOutput,
        check_files,
        check_name,
        drop_last,
        only_tool_call,
        read_files,
        suggest_name,
    )
    from redline.transcripts.task_file import (
        TASK_FILE_VERSION,
        ArchiveEntry,
        TaskFile,
        TaskFileError,
        dumps_task_file,
        example_files,
        load_task_file,
        read_task_file,
        read_task_files,
        task_from_file,
        task_hash,
        task_to_file,
    )
    from redline.transcripts.wire import Reassembly, WireFormat
    from redline.transcripts.workspace import LeftOut, Workspace, WorkspaceFile, materialize
    from redline.transcripts.workspace_archive import (
        ArchiveRefused,
        Packed,
        pack,
        unpack,
        unpack_file,
    )
    from redline.transcripts.workspace_snapshot import Snapshot, commit_of, reread, snapshot

# Where each name lives, loaded on first use: a command imports only what it touches (the store
# brings DuckDB; the wire formats and task files are most of the rest).
_LAZY: dict[str, str] = {
    **dict.fromkeys(("Headers", "RawExchange", "header", "new_id"), "exchange"),
    **dict.fromkeys(("ParsedExchange", "parse_exchange"), "parse"),
    **dict.fromkeys(("SpoolWriter", "to_record"), "spool"),
    **dict.fromkeys(("SSEEvent", "parse_sse"), "sse"),
    **dict.fromkeys(("Credentials", "mask_json", "mask_text"), "secrets"),
    "decode_body": "codings",
    **dict.fromkeys(("Reassembly", "WireFormat"), "wire"),
    **dict.fromkeys(
        (
            "OwnFile",
            "Provenance",
            "Task",
            "TaskOutput",
            "check_files",
            "check_name",
            "drop_last",
            "only_tool_call",
            "read_files",
            "suggest_name",
        ),
        "task",
    ),
    **dict.fromkeys(
        (
            "TASK_FILE_VERSION",
            "ArchiveEntry",
            "TaskFile",
            "TaskFileError",
            "dumps_task_file",
            "example_files",
            "load_task_file",
            "read_task_file",
            "read_task_files",
            "task_from_file",
            "task_hash",
            "task_to_file",
        ),
        "task_file",
    ),
    **dict.fromkeys(
        (
            "BackgroundIngest",
            "Call",
            "CallOutput",
            "CallSummary",
            "ConversationSummary",
            "FollowUp",
            "IngestProcess",
            "IngestReport",
            "OutputRows",
            "PushReport",
            "RunStore",
            "RunSummary",
            "ScanCall",
            "ScanStore",
            "Store",
            "TaskSummary",
            "open_store",
            "push_store",
            "rebuild",
            "rebuild_outputs",
        ),
        "store",
    ),
    **dict.fromkeys(("LeftOut", "Workspace", "WorkspaceFile", "materialize"), "workspace"),
    **dict.fromkeys(
        ("ArchiveRefused", "Packed", "pack", "unpack", "unpack_file"), "workspace_archive"
    ),
    **dict.fromkeys(("Snapshot", "commit_of", "reread", "snapshot"), "workspace_snapshot"),
}


def __getattr__(name: str) -> Any:
    if name in ("agents", "wire"):
        return importlib.import_module(f"redline.transcripts.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"redline.transcripts.{module}"), name)


__all__ = [
    "JSON",
    "TASK_FILE_VERSION",
    "ArchiveEntry",
    "ArchiveRefused",
    "BackgroundIngest",
    "Call",
    "CallOutput",
    "CallSummary",
    "ConversationSummary",
    "Credentials",
    "FollowUp",
    "Headers",
    "Image",
    "IngestProcess",
    "IngestReport",
    "LeftOut",
    "Message",
    "NotFound",
    "Opaque",
    "OutputRows",
    "OwnFile",
    "Packed",
    "ParsedExchange",
    "Part",
    "Provenance",
    "PushReport",
    "RawExchange",
    "Reassembly",
    "RedlineError",
    "Request",
    "Response",
    "Role",
    "RunStore",
    "RunSummary",
    "SSEEvent",
    "ScanCall",
    "ScanStore",
    "Snapshot",
    "SpoolWriter",
    "Store",
    "StoreLocked",
    "Task",
    "TaskExists",
    "TaskFile",
    "TaskFileError",
    "TaskOutput",
    "TaskSummary",
    "Text",
    "Thinking",
    "Tool",
    "ToolCall",
    "ToolResult",
    "Usage",
    "WireFormat",
    "Workspace",
    "WorkspaceFile",
    "agents",
    "canonical_json",
    "check_files",
    "check_name",
    "commit_of",
    "content_hash",
    "decode_body",
    "drop_last",
    "dumps_task_file",
    "example_files",
    "header",
    "load_task_file",
    "mask_json",
    "mask_text",
    "materialize",
    "message_from_dict",
    "message_to_dict",
    "new_id",
    "only_tool_call",
    "open_store",
    "pack",
    "parse_exchange",
    "parse_sse",
    "part_from_dict",
    "part_to_dict",
    "push_store",
    "read_files",
    "read_task_file",
    "read_task_files",
    "rebuild",
    "rebuild_outputs",
    "request_from_dict",
    "request_to_dict",
    "reread",
    "response_from_dict",
    "response_to_dict",
    "snapshot",
    "suggest_name",
    "task_from_file",
    "task_hash",
    "task_to_file",
    "to_record",
    "unpack",
    "unpack_file",
    "usage_to_dict",
    "wire",
]
