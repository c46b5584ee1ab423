"""The schema is versioned from day one: numbered migrations, recorded when applied."""

from __future__ import annotations

from pathlib import Path

from redline.transcripts.store.db import connect
from redline.transcripts.store.migrations import MIGRATIONS, migrate, schema_version


def test_an_empty_database_is_brought_to_the_latest_version(db_path: Path) -> None:
    con = connect(db_path)
    assert schema_version(con) == 0
    assert migrate(con) == len(MIGRATIONS)
    rows = con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(i + 1, m.__name__) for i, m in enumerate(MIGRATIONS)]
    con.close()


def test_migrating_again_changes_nothing(db_path: Path) -> None:
    con = connect(db_path)
    migrate(con)
    con.execute("INSERT INTO conversations VALUES ('C1', now(), NULL, 'kept')")
    migrate(con)
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)
    assert con.execute("SELECT title FROM conversations").fetchall() == [("kept",)]
    con.close()


def test_every_earlier_schema_upgrades_to_the_latest(db_path: Path, tmp_path: Path) -> None:
    for stop in range(len(MIGRATIONS) + 1):
        con = connect(tmp_path / f"v{stop}.duckdb")
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        for version, migration in enumerate(MIGRATIONS[:stop], start=1):
            migration(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())", [version, migration.__name__]
            )
        assert migrate(con) == len(MIGRATIONS)
        assert schema_version(con) == len(MIGRATIONS)
        con.close()


def test_a_database_from_a_newer_redline_is_refused_with_a_clear_message(db_path: Path) -> None:
    import pytest

    from redline.errors import RedlineError

    con = connect(db_path)
    migrate(con)
    con.execute(
        "INSERT INTO schema_migrations VALUES (?, 'm999_future', now())", [len(MIGRATIONS) + 1]
    )
    with pytest.raises(RedlineError, match="upgrade redline"):
        migrate(con)
    con.close()
