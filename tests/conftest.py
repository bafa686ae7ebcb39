"""Fixtures shared by the whole suite.

Database tests run twice: on SQLite and on PostgreSQL. PostgreSQL needs KASSA_TEST_POSTGRES_URL;
without it those tests skip with a message, and with KASSA_REQUIRE_POSTGRES=1 (CI) a skipped
PostgreSQL test is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

PG_URL = os.environ.get("KASSA_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("KASSA_REQUIRE_POSTGRES") == "1"
PG_HOWTO = (
    "PostgreSQL tests need KASSA_TEST_POSTGRES_URL=postgresql://USER:PASS@127.0.0.1/DB "
    "(an empty database the tests may wipe); `.ci/run` shows how it is started in CI"
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_PG and report.skipped and item.get_closest_marker("postgres") is not None:
        report.outcome = "failed"
        report.longrepr = f"KASSA_REQUIRE_POSTGRES=1 but a PostgreSQL test was skipped: {PG_HOWTO}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgres":
            item.add_marker(pytest.mark.postgres)


# --- databases --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hub.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "hub.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    if not PG_URL:
        pytest.skip(PG_HOWTO)
    from sqlalchemy import create_engine, text

    from hub.db import normalize_url
    from hub.migrate import upgrade

    engine = create_engine(normalize_url(PG_URL))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(PG_URL)
    return PG_URL


def _wipe_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    import hub.models  # noqa: F401
    from hub.db import Base, normalize_url

    engine = create_engine(normalize_url(url))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(
            text("INSERT INTO change_counter (name, value) VALUES ('catalog', 0), ('ledger', 0)")
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_migrated")
        _wipe_postgres(url)
        return url
    template: Path = request.getfixturevalue("sqlite_template")
    path = tmp_path / "hub.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(db_url: str):  # type: ignore[no-untyped-def]
    from hub.settings import Settings

    return Settings(env="test", database_url=db_url, cookie_secure=True)


@pytest.fixture
def db(settings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from hub.db import Database

    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def app(settings, db):  # type: ignore[no-untyped-def]
    from hub.app import create_app

    return create_app(settings, db)


@pytest.fixture
def client(app) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


# --- the cast of RELIABILITY.md "Access" -----------------------------------------------

PASSWORD = "correct horse battery staple"
PIN = "4321"
_HASHES: dict[str, str] = {}


def _hash(secret: str) -> str:
    from hub.staff.security import hash_secret

    if secret not in _HASHES:
        _HASHES[secret] = hash_secret(secret)
    return _HASHES[secret]


@dataclass
class World:
    """Stores A and B with an owner, managers, a cashier and tills, each with a token."""

    store_a: int
    store_b: int
    ids: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        if who == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def actor(self, who: str):  # type: ignore[no-untyped-def]
        from hub.access import Principal

        role = {
            "owner": "owner",
            "manager_a": "manager",
            "manager_b": "manager",
            "cashier_a": "cashier",
        }[who]
        store = {
            "owner": None,
            "manager_a": self.store_a,
            "manager_b": self.store_b,
            "cashier_a": self.store_a,
        }[who]
        return Principal("user", self.ids[who], role, store, who, "bearer")


ROLES = (
    "anonymous",
    "device_a",
    "revoked_device_a",
    "cashier_a",
    "manager_a",
    "owner",
    "manager_b",
)


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    from hub.db import next_change_seq, utcnow
    from hub.devices.models import Device
    from hub.staff import security
    from hub.staff.models import AccessToken, User
    from hub.stores.models import Store

    with db.write() as s:
        stores = []
        for name in ("Магазин А", "Магазин Б"):
            store = Store(
                name=name,
                address="ул. Ленина, 1",
                timezone="Europe/Moscow",
                currency="RUB",
                language="ru",
                change_seq=next_change_seq(s),
            )
            s.add(store)
            stores.append(store)
        s.flush()
        a, b = stores[0].id, stores[1].id
        people = {
            "owner": User(email="owner@example.com", name="Владелец", role="owner"),
            "manager_a": User(
                email="manager.a@example.com", name="Менеджер А", role="manager", store_id=a
            ),
            "manager_b": User(
                email="manager.b@example.com", name="Менеджер Б", role="manager", store_id=b
            ),
            "cashier_a": User(
                email="cashier.a@example.com",
                name="Кассир А",
                role="cashier",
                store_id=a,
                pin_hash=_hash(PIN),
                max_discount_bp=500,
            ),
        }
        for user in people.values():
            user.password_hash = _hash(PASSWORD)
            user.change_seq = next_change_seq(s)
            s.add(user)
        s.flush()
        w = World(store_a=a, store_b=b, ids={k: u.id for k, u in people.items()})
        for who, user in people.items():
            token, digest = security.new_token(security.BEARER_PREFIX)
            s.add(AccessToken(token_hash=digest, kind="bearer", user_id=user.id))
            w.tokens[who] = token
        for who, revoked in (("device_a", False), ("revoked_device_a", True)):
            token, digest = security.new_token(security.DEVICE_PREFIX)
            device = Device(
                store_id=a,
                name=f"Касса {who}",
                token_hash=digest,
                revoked_at=utcnow() if revoked else None,
                change_seq=next_change_seq(s),
            )
            s.add(device)
            s.flush()
            w.ids[who] = device.id
            w.tokens[who] = token
    return w
