"""The verdicts of checks that run the answer's code, kept so that the same command on the same
answer, in the same workspace, is run once.

    check_runs   (scope, key) -> the verdict (JSON, as `redline check --json` gives it)

A verdict saved again replaces the one kept for its key.

A scope is a check with its environment (its options, version, workspace, files, sandbox); the
key adds the transcript and the answer. The checks compute both (`redline.analyzers`); the store
only keeps them. Reading a scope's verdicts at once lets a replay look answers up in memory.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import duckdb

from redline.transcripts.store import bulk
from redline.transcripts.store.db import write


class CheckRunStore:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def load(self, scopes: Collection[str]) -> dict[str, str]:
        """Every stored verdict in `scopes`, by key."""
        if not scopes:
            return {}
        rows = self.con.execute(
            "SELECT key, verdict FROM check_runs "
            "WHERE scope IN (SELECT unnest(?::JSON::VARCHAR[]))",
            [bulk.listed(sorted(set(scopes)))],
        ).fetchall()
        return {key: verdict for key, verdict in rows}

    def save(self, rows: Sequence[tuple[str, str, str]]) -> int:
        """Keep (scope, key, verdict JSON) rows, each replacing what the store had for its key
        (a check judged again, `--no-cache`, is kept as it judged last); returns how many."""
        fresh = {key: (scope, verdict) for scope, key, verdict in rows}
        if not fresh:
            return 0
        keys = sorted(fresh)

        def save() -> None:
            # Delete and insert in one write: on a lake (no key) a racing writer's commit
            # conflicts and runs again, so a key is never kept twice.
            self.con.execute(
                "DELETE FROM check_runs WHERE key IN (SELECT unnest(?::JSON::VARCHAR[]))",
                [bulk.listed(keys)],
            )
            bulk.insert(
                self.con,
                "check_runs",
                {
                    "scope": [fresh[k][0] for k in keys],
                    "key": keys,
                    "verdict": [fresh[k][1] for k in keys],
                    "judged_at": [datetime.now(UTC)] * len(keys),
                },
            )

        write(self.con, save)
        return len(keys)
