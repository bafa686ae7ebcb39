"""The database layer: pragmas on every connection, the change counter, append-only audit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub.db import current_change_seq, next_change_seq
from hub.migrate import alembic_config


def test_sqlite_connections_are_durable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hub.db import Database

    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    for _ in range(2):
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_change_seq_blocks_are_monotonic(db) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        first = next_change_seq(s)
        block_end = next_change_seq(s, 10)
    assert block_end == first + 10
    with db.read() as s:
        assert current_change_seq(s) == block_end


def test_rolled_back_writes_release_nothing(db) -> None:  # type: ignore[no-untyped-def]
    with db.read() as s:
        before = current_change_seq(s)

    def fail_midway() -> None:
        with db.write() as s:
            next_change_seq(s, 5)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with db.read() as s:
        assert current_change_seq(s) == before


def test_audit_log_is_append_only(db, world) -> None:  # type: ignore[no-untyped-def]
    from hub.audit import service as audit

    with db.write() as s:
        audit.record(s, actor=world.actor("owner"), action="test", entity="x")
    with pytest.raises(DBAPIError), db.write() as s:
        s.execute(text("UPDATE audit_log SET action = 'forged'"))
    with pytest.raises(DBAPIError), db.write() as s:
        s.execute(text("DELETE FROM audit_log"))
    with db.read() as s:
        assert s.execute(text("SELECT action FROM audit_log")).scalars().all() == ["test"]


def test_models_match_migrations(db) -> None:  # type: ignore[no-untyped-def]
    """`alembic check`: a model change without a migration fails here."""
    from alembic import command

    command.check(alembic_config(db.url))
