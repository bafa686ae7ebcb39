"""Engine, sessions and the ORM base shared by every hub domain.

SQLite gets WAL, synchronous=FULL, busy_timeout and foreign keys on EVERY connection (pragmas are
per connection) and explicit transactions: read sessions `BEGIN` (deferred), write sessions
`BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing on lock upgrade.
PostgreSQL goes through psycopg 3 with pre-ping so a lost connection recovers without a restart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always stored in UTC and always comes back time-zone aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        int: BigInteger().with_variant(Integer, "sqlite"),
        dt.datetime: UTCDateTime(),
        str: String(),
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ChangeCounter(Base):
    """One row per named monotonic sequence; the row lock orders commits like the sequence."""

    __tablename__ = "change_counter"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


CATALOG_SEQ = "catalog"
LEDGER_SEQ = "ledger"  # sales, stock, shifts, purchasing: one order for the warehouse


# The ledger counter is taken in blocks: a sales batch asks for numbers several times (sales,
# moves, levels, lines, shifts...) and each UPDATE is a round trip. Unused numbers of a block are
# simply never used; a cursor reader only needs the numbers to grow in commit order.
LEDGER_BLOCK = 4096
_BLOCKED = {LEDGER_SEQ: LEDGER_BLOCK}


def next_change_seq(session: Session, count: int = 1, name: str = CATALOG_SEQ) -> int:
    """Reserve `count` change numbers and return the LAST one (the block is last-count+1..last).

    The counter row stays locked until the transaction ends, so a reader that sees seq N can
    never later see a commit with a smaller seq: cursor-based feeds miss nothing. `count=0` only
    takes the lock. Counters in `_BLOCKED` reserve a block on first use and hand numbers out from
    it while the (sub)transaction that reserved it is still the current one, so a rolled-back
    savepoint can never leave numbers behind that another transaction reserves again (numbers
    drawn inside a savepoint from an outer block are skipped if it rolls back, never reused).
    """
    block = _BLOCKED.get(name)
    key = ("kassa_seq_block", name)
    current = session.get_nested_transaction() or session.get_transaction()
    if block and count:
        cached = session.info.get(key)
        if cached is not None and _within(current, cached[0]):
            owner, next_free, last = cached
            if next_free + count - 1 <= last:
                session.info[key] = (owner, next_free + count, last)
                return int(next_free + count - 1)
    reserve = max(count, block) if (block and count) else count
    value = session.execute(
        text("UPDATE change_counter SET value = value + :n WHERE name = :name RETURNING value"),
        {"n": reserve, "name": name},
    ).scalar_one_or_none()
    if value is None:
        raise RuntimeError(f"change counter {name!r} missing: run `kassa hub migrate`")
    if block and count:
        first = int(value) - reserve + 1
        session.info[key] = (current, first + count, int(value))
        return first + count - 1
    return int(value)


def change_seqs(session: Session, count: int, name: str = CATALOG_SEQ) -> Iterator[int]:
    """`count` fresh change numbers of counter `name`, in order (one reservation)."""
    last = next_change_seq(session, count, name) if count else 0
    return iter(range(last - count + 1, last + 1))


def hold_ledger(session: Session) -> None:
    """Take the ledger counter's row lock first in a write transaction: every ledger writer
    does, so on PostgreSQL they queue and each then reads all earlier commits."""
    next_change_seq(session, 0, LEDGER_SEQ)


def _within(current: Any, owner: Any) -> bool:
    """`current` is the (sub)transaction that reserved a block, or nested inside it while it is
    still active. Numbers handed out inside a savepoint that then rolls back are skipped, never
    reused: the reservation itself was made outside it."""
    while current is not None:
        if current is owner:
            return bool(owner.is_active)
        current = current.parent
    return False


def current_change_seq(session: Session, name: str = CATALOG_SEQ) -> int:
    value = session.execute(
        text("SELECT value FROM change_counter WHERE name = :name"), {"name": name}
    ).scalar_one_or_none()
    return int(value or 0)


def normalize_url(url: str) -> str:
    """Let people write `postgresql://`; we always drive PostgreSQL through psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            import pathlib

            pathlib.Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        _install_sqlite_pragmas(engine, busy_timeout_ms)
        return engine
    # psycopg 3 pipelines executemany; multi-row VALUES statements measured slower (the driver
    # re-parses every long statement's placeholders in Python).
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("kassa_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """Owns the engine and hands out read and write sessions."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(url, busy_timeout_ms=busy_timeout_ms, pool_size=pool_size)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(kassa_write=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
