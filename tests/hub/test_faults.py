"""The database busy or gone: 503 + Retry-After, never a hang or a 500; recovery without restart."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def impatient_client(tmp_path, sqlite_template):  # type: ignore[no-untyped-def]
    import shutil

    from hub.app import create_app
    from hub.db import Database
    from hub.settings import Settings

    path = tmp_path / "hub.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(env="test", database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=200)
    db = Database(settings.database_url, busy_timeout_ms=200)
    with TestClient(create_app(settings, db), base_url="https://testserver") as client:
        yield client, path, db
    db.dispose()


def test_a_held_sqlite_write_lock_answers_503_then_recovers(impatient_client) -> None:  # type: ignore[no-untyped-def]
    client, path, _db = impatient_client
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = client.post("/api/v1/devices/pair", json={"code": "AAAA-BBBB-CCCC"})
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert response.json()["detail"][0]["type"] == "unavailable"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # The same app, no restart: the lock is gone, the request is judged on its merits.
    response = client.post("/api/v1/devices/pair", json={"code": "AAAA-BBBB-CCCC"})
    assert response.status_code == 422


def test_readyz_reports_an_unreachable_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hub.app import create_app
    from hub.settings import Settings

    settings = Settings(env="test", database_url="postgresql://nobody:x@127.0.0.1:1/none")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["problems"][0].startswith("database unreachable")
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_lost_postgres_connections_recover_without_restart(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F10: every server connection of the pool is killed; the next requests just work."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    owner = world.headers("owner")
    for _ in range(3):  # fill the pool with a few live connections
        assert client.get("/api/v1/stores", headers=owner).status_code == 200
    admin = create_engine(db.engine.url, poolclass=NullPool)
    with admin.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND usename = current_user"
            )
        ).scalar_one()
    admin.dispose()
    assert killed >= 1
    assert client.get("/api/v1/stores", headers=owner).status_code == 200
    created = client.post(
        "/api/v1/stores", json={"name": "После сбоя", "timezone": "UTC"}, headers=owner
    )
    assert created.status_code == 201
