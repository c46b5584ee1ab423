"""Numbered schema migrations, each recorded in `schema_migrations` when applied.

Add a migration by appending a function to MIGRATIONS; never edit one that has shipped. Create
tables with `table` and indexes with `index`: a lake (lake.py) has neither keys nor indexes, so
there the key is left out (the column stays NOT NULL) and the index is not made.

Each migration runs in a write transaction of its own that first checks it is still to do: on a
lake two first starts may migrate at once, and the one whose commit conflicts finds the work
done when it runs again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from redline.errors import RedlineError
from redline.transcripts.store.db import write
from redline.transcripts.store.lake import lake_of

Migration = Callable[[duckdb.DuckDBPyConnection], None]
_KEY = re.compile(r"\s+PRIMARY KEY\b")


def table(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """CREATE TABLE `sql`; on a lake without its key (DuckLake has none)."""
    con.execute(_KEY.sub(" NOT NULL", sql) if lake_of(con) is not None else sql)


def index(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """CREATE INDEX `sql`; nothing on a lake (DuckLake has none: it prunes by file statistics)."""
    if lake_of(con) is None:
        con.execute(sql)


def m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    table(
        con,
        """
        CREATE TABLE nodes (
            id VARCHAR PRIMARY KEY,          -- hash(parent id, canonical message)
            parent VARCHAR,                  -- NULL for the first message of a conversation
            depth INTEGER NOT NULL,          -- 0 for the first message
            role VARCHAR NOT NULL,
            content VARCHAR NOT NULL         -- the canonical message, as JSON
        )""",
    )
    table(
        con,
        """
        CREATE TABLE blobs (
            hash VARCHAR PRIMARY KEY,        -- large repeated values: tool lists, system prompts
            kind VARCHAR NOT NULL,
            content VARCHAR NOT NULL
        )""",
    )
    table(
        con,
        """
        CREATE TABLE conversations (
            id VARCHAR PRIMARY KEY,
            started_at TIMESTAMPTZ NOT NULL,
            session_key VARCHAR,
            title VARCHAR
        )""",
    )
    table(
        con,
        """
        CREATE TABLE exchanges (
            id VARCHAR PRIMARY KEY,
            conversation_id VARCHAR,
            seq INTEGER,
            wire VARCHAR,
            method VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            query VARCHAR NOT NULL,
            upstream VARCHAR NOT NULL,
            status_code INTEGER,
            outcome VARCHAR NOT NULL,
            error VARCHAR,
            parse_error VARCHAR,
            model VARCHAR,
            stream BOOLEAN,
            message_count INTEGER,
            request_node VARCHAR,
            response_node VARCHAR,
            tools_hash VARCHAR,
            system_hash VARCHAR,
            request_meta VARCHAR,            -- the request body minus history, tools and system
            request_raw BLOB,                -- kept only when the request could not be parsed
            request_headers VARCHAR,
            response_headers VARCHAR,
            response_raw BLOB,               -- body or SSE text as received, decompressed
            response VARCHAR,                -- the canonical response, as JSON
            finish_reason VARCHAR,
            input_tokens BIGINT,
            output_tokens BIGINT,
            cache_read_tokens BIGINT,
            cache_write_tokens BIGINT,
            reasoning_tokens BIGINT,
            started_at TIMESTAMPTZ NOT NULL,
            ttfb_ms DOUBLE,
            duration_ms DOUBLE,
            user_agent VARCHAR,
            session_key VARCHAR
        )""",
    )
    index(con, "CREATE INDEX exchanges_conversation ON exchanges (conversation_id)")
    index(con, "CREATE INDEX exchanges_request_node ON exchanges (request_node)")
    index(con, "CREATE INDEX exchanges_response_node ON exchanges (response_node)")
    table(
        con,
        """
        CREATE TABLE spool_progress (
            segment VARCHAR PRIMARY KEY,
            byte_offset BIGINT NOT NULL
        )""",
    )
    table(
        con,
        """
        CREATE TABLE ingest_problems (
            segment VARCHAR NOT NULL,
            byte_offset BIGINT NOT NULL,
            problem VARCHAR NOT NULL,
            seen_at TIMESTAMPTZ NOT NULL
        )""",
    )


def m002_response_ids(con: duckdb.DuckDBPyConnection) -> None:
    """The upstream's id of each answer, so a call that continues a conversation held by the
    server (Responses API `previous_response_id`) can be threaded onto it."""
    con.execute("ALTER TABLE exchanges ADD COLUMN response_id VARCHAR")
    con.execute(
        "UPDATE exchanges SET response_id = json_extract_string(response, '$.id') WHERE response IS NOT NULL"
    )
    index(con, "CREATE INDEX exchanges_response_id ON exchanges (response_id)")


def m003_request_decorations(con: duckdb.DuckDBPyConnection) -> None:
    """Per-call decorations of the request's messages (see store/decorations.py)."""
    con.execute("ALTER TABLE exchanges ADD COLUMN request_decorations VARCHAR")


def m004_tasks(con: duckdb.DuckDBPyConnection) -> None:
    """Tasks: a transcript (by reference to the message tree), its known-bad output, the checks
    that catch it, an optional known-good output, and where it came from."""
    table(
        con,
        """
        CREATE TABLE tasks (
            name VARCHAR PRIMARY KEY,
            created_at TIMESTAMPTZ NOT NULL,
            note VARCHAR NOT NULL,
            checks VARCHAR NOT NULL,         -- JSON list of check specs
            wire VARCHAR,
            model VARCHAR,
            request_node VARCHAR,            -- the transcript's last message in the tree
            message_count INTEGER NOT NULL,  -- how many messages of that chain it holds
            request_shell VARCHAR NOT NULL,  -- the canonical request minus messages, tools, system
            tools_hash VARCHAR,              -- blobs of the canonical tools and system prompt
            system_hash VARCHAR,
            request_decorations VARCHAR,
            output VARCHAR NOT NULL,         -- the known-bad output (JSON)
            good_output VARCHAR,             -- the known-good output (JSON), if any
            tool_call INTEGER,
            drop_last INTEGER NOT NULL,
            origin_call VARCHAR,
            origin_conversation VARCHAR,
            origin_model VARCHAR,
            origin_client VARCHAR,
            origin_at TIMESTAMPTZ,
            content_hash VARCHAR NOT NULL    -- of the task file form: same file, same hash
        )""",
    )


def m005_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Replay runs: what was sent where, each sample's answer, and the checks' verdicts on them
    (an evaluation per judging: the run's own, then one per `redline recheck`)."""
    table(
        con,
        """
        CREATE TABLE runs (
            id VARCHAR PRIMARY KEY,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,         -- running | finished | interrupted
            samples INTEGER NOT NULL,        -- samples per task, model and variant
            temperature DOUBLE,
            tasks VARCHAR NOT NULL,          -- JSON: name, checks, conversion losses per model
            models VARCHAR NOT NULL,         -- JSON: name, wire, model id, base URL, prices
            variants VARCHAR NOT NULL        -- JSON: name, mode, path, text, sha256
        )""",
    )
    table(
        con,
        """
        CREATE TABLE samples (
            run_id VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            variant VARCHAR NOT NULL,
            sample INTEGER NOT NULL,
            request_key VARCHAR NOT NULL,    -- hash of the endpoint, rendered body and sample index
            created_at TIMESTAMPTZ NOT NULL,
            status VARCHAR NOT NULL,         -- ok | error (not judged)
            error VARCHAR,
            http_status INTEGER,
            attempts INTEGER,
            output VARCHAR,                  -- the answer, a canonical message (JSON)
            finish_reason VARCHAR,
            cut_off BOOLEAN,
            raw BLOB,                        -- the response body as received
            input_tokens BIGINT,
            output_tokens BIGINT,
            tokens_estimated BOOLEAN,
            latency_ms DOUBLE,
            cost DOUBLE,
            from_cache BOOLEAN NOT NULL
        )""",
    )
    index(con, "CREATE INDEX samples_run ON samples (run_id)")
    index(con, "CREATE INDEX samples_request_key ON samples (request_key)")
    table(
        con,
        """
        CREATE TABLE evaluations (
            run_id VARCHAR NOT NULL,
            evaluation INTEGER NOT NULL,     -- 0: the run's own; then one per recheck
            created_at TIMESTAMPTZ NOT NULL,
            checks VARCHAR NOT NULL          -- JSON: the check specs of each task
        )""",
    )
    table(
        con,
        """
        CREATE TABLE verdicts (
            run_id VARCHAR NOT NULL,
            evaluation INTEGER NOT NULL,
            task VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            variant VARCHAR NOT NULL,
            sample INTEGER NOT NULL,
            passed BOOLEAN NOT NULL,
            verdicts VARCHAR NOT NULL        -- JSON: each check's verdict and findings
        )""",
    )
    index(con, "CREATE INDEX verdicts_run ON verdicts (run_id, evaluation)")


def m006_scan_verdicts(con: duckdb.DuckDBPyConnection) -> None:
    """`redline scan`'s verdict cache: each check's verdict on each recorded answer, keyed by
    the call and the check's key (a hash of its name, options and version), so a scan judges
    an answer once per version of a check."""
    table(
        con,
        """
        CREATE TABLE scan_checks (
            key VARCHAR PRIMARY KEY,         -- hash of name, options, version
            name VARCHAR NOT NULL,
            options VARCHAR NOT NULL,        -- canonical JSON of the options
            version VARCHAR NOT NULL,        -- the check's version and the readers' (see scan.py)
            created_at TIMESTAMPTZ NOT NULL
        )""",
    )
    # No key constraint: a scan only adds verdicts it did not find, one statement per batch, and
    # DuckDB keeps an index on (call_id, check_key) far slower to insert into than to scan.
    table(
        con,
        """
        CREATE TABLE scan_verdicts (
            call_id VARCHAR NOT NULL,
            check_key VARCHAR NOT NULL,
            passed BOOLEAN NOT NULL,
            verdict VARCHAR NOT NULL,        -- JSON: passed, findings, unparsed
            judged_at TIMESTAMPTZ NOT NULL
        )""",
    )


def m007_threaded_in_call_order(con: duckdb.DuckDBPyConnection) -> None:
    """Conversations threaded in the order calls started. Earlier releases threaded them in the
    order records were read from the spool, which splits a conversation when a later call is
    read first (the proxy writes two segments in turn) and misorders `seq`. Each call now keeps
    its own title (threading again needs it): a stored call takes its conversation's, which is
    what its first user message said in all but rare cases (a warm-up call that named none)."""
    con.execute("ALTER TABLE exchanges ADD COLUMN title VARCHAR")
    con.execute(
        "UPDATE exchanges SET title = c.title FROM conversations c "
        "WHERE c.id = exchanges.conversation_id"
    )
    from redline.transcripts.store.ingest import rethread_everything

    rethread_everything(con)


def m008_workspaces(con: duckdb.DuckDBPyConnection) -> None:
    """Workspaces: the files a task's model saw. Each file's content is stored once, under its
    SHA-256, however many tasks hold it; a task's manifest lists its files by that hash."""
    table(
        con,
        """
        CREATE TABLE workspace_files (
            sha256 VARCHAR PRIMARY KEY,      -- of the content
            size BIGINT NOT NULL,
            content BLOB NOT NULL
        )""",
    )
    table(
        con,
        """
        CREATE TABLE task_workspaces (
            task VARCHAR PRIMARY KEY,        -- tasks.name
            workspace_id VARCHAR NOT NULL,   -- the manifest's own hash
            manifest VARCHAR NOT NULL,       -- JSON: source, kind, revision, files, left out
            created_at TIMESTAMPTZ NOT NULL
        )""",
    )


def m009_replay_steps(con: duckdb.DuckDBPyConnection) -> None:
    """Replay past the first step, and outcomes. Each step of a sample is stored as it is
    answered (its request's key, its answer, tokens, cost, and its tool calls with where their
    answers came from); the steps table is now the replay cache, so the answers samples held
    move there as their first step. A sample says how many steps it took, why it stopped and
    where its first step parted from the original; a verdict row its outcome (pass, fail,
    no_attempt; NULL for rows judged before outcomes, which reports derive)."""
    con.execute("ALTER TABLE runs ADD COLUMN max_steps INTEGER")  # NULL: one step, before steps
    con.execute("ALTER TABLE samples ADD COLUMN steps INTEGER")  # NULL: before steps
    con.execute(
        "ALTER TABLE samples ADD COLUMN stop VARCHAR"
    )  # edited|ended|cut_off|max_steps|error
    con.execute("ALTER TABLE samples ADD COLUMN diverged VARCHAR")  # how step 1 parted, or NULL
    con.execute("ALTER TABLE verdicts ADD COLUMN outcome VARCHAR")
    table(
        con,
        """
        CREATE TABLE steps (
            run_id VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            variant VARCHAR NOT NULL,
            sample INTEGER NOT NULL,
            step INTEGER NOT NULL,           -- 1 for the first request
            request_key VARCHAR NOT NULL,    -- hash of the endpoint, rendered body and sample index
            created_at TIMESTAMPTZ NOT NULL,
            status VARCHAR NOT NULL,         -- ok | error
            error VARCHAR,
            http_status INTEGER,
            attempts INTEGER,
            output VARCHAR,                  -- the answer, a canonical message (JSON)
            finish_reason VARCHAR,
            cut_off BOOLEAN,
            raw BLOB,                        -- the response body as received
            input_tokens BIGINT,
            output_tokens BIGINT,
            tokens_estimated BOOLEAN,
            latency_ms DOUBLE,
            cost DOUBLE,
            from_cache BOOLEAN NOT NULL,
            calls VARCHAR                    -- JSON: each tool call, its answer's source and size
        )""",
    )
    index(con, "CREATE INDEX steps_run ON steps (run_id)")
    index(con, "CREATE INDEX steps_request_key ON steps (request_key)")
    con.execute("""
        INSERT INTO steps
        SELECT run_id, task, model, variant, sample, 1, request_key, created_at, status, error,
               http_status, attempts, output, finish_reason, cut_off, raw, input_tokens,
               output_tokens, tokens_estimated, latency_ms, cost, from_cache, NULL
        FROM samples""")
    con.execute("UPDATE samples SET raw = NULL WHERE raw IS NOT NULL")  # moved, not copied


def m010_run_checks(con: duckdb.DuckDBPyConnection) -> None:
    """Checks that run code. A task's own files (`--file`: inputs, expected outputs, tests)
    are listed with it, their contents stored once by hash beside the workspaces' files. The
    verdicts of a check that runs the answer's code are kept by what they depend on (the
    answer, the transcript, the check, the workspace and files, the sandbox), so running the
    same command on the same answer again costs nothing."""
    con.execute("ALTER TABLE tasks ADD COLUMN files VARCHAR")  # JSON: path, sha256, size, ...
    table(
        con,
        """
        CREATE TABLE check_runs (
            scope VARCHAR NOT NULL,          -- hash of the check and its environment
            key VARCHAR PRIMARY KEY,         -- hash of the scope, the transcript and the answer
            verdict VARCHAR NOT NULL,        -- JSON, as `redline check --json` gives it
            judged_at TIMESTAMPTZ NOT NULL
        )""",
    )


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_response_ids,
    m003_request_decorations,
    m004_tasks,
    m005_runs,
    m006_scan_verdicts,
    m007_threaded_in_call_order,
    m008_workspaces,
    m009_replay_steps,
    m010_run_checks,
]


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    if lake_of(con) is not None:  # one query, not two: each costs a round trip to the catalog
        try:
            found = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        except duckdb.CatalogException:
            return 0
        row = found.fetchone()
        return int(row[0]) if row else 0
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_migrations' AND table_catalog = current_database()"
    ).fetchone()
    if not row or row[0] == 0:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema up to date; returns the version reached. An up-to-date schema is only
    read (on a lake, a write would make a snapshot at every open)."""
    current = schema_version(con)
    if current > len(MIGRATIONS):
        raise RedlineError(
            f"this database has schema version {current}, newer than this redline knows "
            f"({len(MIGRATIONS)}); upgrade redline to read it"
        )
    if current == len(MIGRATIONS):
        return current
    write(
        con,
        lambda: table(
            con,
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    )
    todo = [(v, m) for v, m in enumerate(MIGRATIONS, start=1) if v > current]
    if lake_of(con) is not None:
        # One commit for all: on a lake each costs a round of catalog writes.
        write(con, functools.partial(_apply_all, con, todo))
        return len(MIGRATIONS)
    for version, migration in todo:
        write(con, functools.partial(_apply, con, version, migration))
    return len(MIGRATIONS)


def _apply_all(con: duckdb.DuckDBPyConnection, todo: list[tuple[int, Migration]]) -> None:
    for version, migration in todo:
        _apply(con, version, migration)


def _apply(con: duckdb.DuckDBPyConnection, version: int, migration: Migration) -> None:
    """Apply `migration` unless another process did meanwhile."""
    if schema_version(con) >= version:
        return
    migration(con)
    con.execute(
        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
        [version, migration.__name__, datetime.now(UTC)],
    )
