"""Incremental, idempotent extract of the hub into the warehouse's raw layer.

For each source table: read the hub's change counter first (`high`), then stream
`cursor < change_seq <= high` with ADBC (Arrow record batches, no Python rows) into DuckDB, and
replace those keys in `raw_<table>`. The hub holds a counter's row lock until commit, so every
row numbered up to `high` is committed and nothing is ever skipped; an updated row gets a new
number and is extracted again. Each table's rows and its new cursor are written in one DuckDB
transaction: a run that dies half-way is simply run again, and a second run adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb

from warehouse.sources import SOURCES, Source

STATE = "_extract_state"


class ExtractError(RuntimeError):
    """The hub could not be read; the message says which and what to check."""


@dataclass
class Extracted:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows extracted this run
    cursors: dict[str, int] = field(default_factory=dict)  # table -> cursor after the run
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


MEMORY_LIMIT = "1500MB"  # DuckDB's buffer for one warehouse job (it spills beyond it)


def open_warehouse(
    path: str | Path, *, read_only: bool = False, memory_limit: str = MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """The warehouse file; nothing is ever downloaded (extension auto-install is off) and every
    timestamp is read and written in UTC."""
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(path),
        read_only=read_only,
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            # Big CREATE TABLE AS and joins spill to disk instead of growing without bound.
            "memory_limit": memory_limit,
            "preserve_insertion_order": False,
        },
    )
    con.execute("SET TimeZone = 'UTC'")
    return con


@contextmanager
def transaction(duck: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back when it raises."""
    duck.execute("BEGIN")
    try:
        yield
    except BaseException:
        duck.execute("ROLLBACK")
        raise
    duck.execute("COMMIT")


def _adbc_target(hub_url: str) -> tuple[str, str]:
    """('sqlite', path) or ('postgresql', uri) from a SQLAlchemy-style database URL."""
    parts = urlsplit(hub_url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        path = hub_url.split(":///", 1)[1] if ":///" in hub_url else ""
        if not path or path == ":memory:":
            raise ExtractError(f"the hub database must be a file to extract from (got {hub_url})")
        return "sqlite", path
    if scheme in ("postgresql", "postgres"):
        return "postgresql", urlunsplit(("postgresql", *parts[1:]))
    raise ExtractError(f"cannot extract from {scheme!r}: the hub runs on SQLite or PostgreSQL")


class HubConnection:
    """A read-only ADBC connection to the hub database through the driver manager's low-level API:
    results come as Arrow C streams that DuckDB scans directly, so nothing imports pyarrow or
    pandas (the DB-API wrapper imported both: 1.7 s of every warehouse-refresh)."""

    def __init__(self, kind: str, database: Any) -> None:
        import adbc_driver_manager

        self.kind = kind
        self._database = database
        try:
            self._con = adbc_driver_manager.AdbcConnection(database)
        except BaseException:
            database.close()
            raise
        # One transaction for the connection's life, as the DB-API had: on SQLite every query of
        # a lane (an order, then its lines) or of the gate reads one snapshot of the hub.
        try:
            self._con.set_autocommit(False)
        except BaseException:
            self.close()
            raise

    @contextmanager
    def query(self, sql: str) -> Iterator[Any]:
        """The result of `sql` as an Arrow C stream (`__arrow_c_stream__`), valid in the block."""
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._con)
        stream = None
        try:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            yield stream
        finally:
            if stream is not None:
                stream.release()  # before its statement (a no-op once DuckDB has read it all)
            statement.close()

    def table(self, sql: str) -> Any:
        """The whole result of `sql` as a pyarrow Table (for small results)."""
        import pyarrow as pa

        with self.query(sql) as stream:
            return pa.RecordBatchReader.from_stream(stream).read_all()

    def close(self) -> None:
        try:
            try:
                self._con.rollback()  # nothing was written: end the read transaction
            finally:
                self._con.close()
        finally:
            self._database.close()


@contextmanager
def hub_connection(hub_url: str) -> Iterator[tuple[str, HubConnection]]:
    """A read-only ADBC connection to the hub database."""
    kind, target = _adbc_target(hub_url)
    try:
        if kind == "sqlite":
            if not Path(target).exists():
                raise ExtractError(f"no hub database at {target}: check KASSA_DATABASE_URL")
            import adbc_driver_sqlite

            con = HubConnection(kind, adbc_driver_sqlite.connect(f"file:{target}?mode=ro"))
            try:  # wait for the hub's writer instead of failing "locked"
                with con.query("PRAGMA busy_timeout = 30000"):
                    pass
            except BaseException:
                con.close()
                raise
        else:
            import adbc_driver_postgresql

            con = HubConnection(kind, adbc_driver_postgresql.connect(target))
    except ExtractError:
        raise
    except Exception as exc:
        raise ExtractError(f"cannot open the hub database ({kind}): {exc}") from exc
    try:
        yield kind, con
    finally:
        con.close()


def _select(source: Source, kind: str, where: str) -> str:
    """The source query; UUIDs come as text from PostgreSQL (DuckDB casts them back)."""
    names = [
        f'"{name}"::text AS "{name}"' if kind == "postgresql" and ty == "UUID" else f'"{name}"'
        for name, ty in source.columns
    ]
    return f"SELECT {', '.join(names)} FROM {source.table} WHERE {where}"  # noqa: S608 - names from SOURCES


def _changed(cursor: int, high: int) -> str:
    return f"change_seq > {int(cursor)} AND change_seq <= {int(high)}"


def ensure_schema(duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE} (source VARCHAR PRIMARY KEY, cursor BIGINT NOT NULL, "
        "extracted_at TIMESTAMP NOT NULL)"
    )
    for source in SOURCES:
        columns = ", ".join(f'"{name}" {ty}' for name, ty in source.columns)
        duck.execute(f"CREATE TABLE IF NOT EXISTS {source.raw} ({columns})")
        if source.history:
            duck.execute(f"CREATE TABLE IF NOT EXISTS {source.history_table} ({columns})")
            # A warehouse extracted before the history was kept starts it from what it has.
            duck.execute(
                f"INSERT INTO {source.history_table} SELECT * FROM {source.raw} "  # noqa: S608
                f"WHERE NOT EXISTS (SELECT 1 FROM {source.history_table})"
            )


def cursors(duck: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(duck.execute(f"SELECT source, cursor FROM {STATE}").fetchall())  # noqa: S608


# The extract runs in two lanes side by side, each with its own hub connection and DuckDB
# connection: the biggest tables are split between them so the lanes take about as long (at 10M
# sale lines: sale lines, payments and purchase order lines ~22 s; sales and stock moves ~26 s).
# A parent and its children (an order and its lines) stay in one lane, in SOURCES order.
FIRST_LANE = frozenset(
    {
        "purchase_order",
        "purchase_order_line",
        "sale_line",
        "sale_payment",
        "shift",
        "shift_event",
        "till_state",
    }
)


def extract(hub_url: str, duck: duckdb.DuckDBPyConnection) -> Extracted:
    """Bring every raw table up to the hub's current change counters."""
    started = time.perf_counter()
    ensure_schema(duck)
    done = Extracted()
    known = cursors(duck)
    with hub_connection(hub_url) as (kind, hub):
        try:
            highs = _counters(hub, duck)  # first: every row numbered up to these is committed
        except Exception as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            not_a_hub = any(
                sign in reason.lower()
                for sign in ("no such table", "not a database", "does not exist")
            )
            hint = (
                "check that KASSA_DATABASE_URL names the hub's database and that it is migrated "
                "(kassa hub migrate)"
                if not_a_hub
                else "the run is retried; if it keeps failing, check the hub's database"
            )
            raise ExtractError(
                f"cannot read the hub's change counters ({kind}): {reason}; {hint}"
            ) from exc
    for source in SOURCES:
        cursor, high = known.get(source.table, 0), highs.get(source.counter, 0)
        if high < cursor:
            raise ExtractError(
                f"the hub's {source.counter!r} counter ({high}) is behind the warehouse's "
                f"cursor for {source.table} ({cursor}): the hub was restored from a backup; "
                "rebuild the warehouse from scratch"
            )
        done.cursors[source.table] = high

    def lane(sources: list[Source]) -> dict[str, int]:
        rows: dict[str, int] = {}
        lane_duck = duck.cursor()
        try:
            with hub_connection(hub_url) as (kind, hub):
                for source in sources:
                    cursor, high = known.get(source.table, 0), done.cursors[source.table]
                    rows[source.table] = (
                        0 if high == cursor else _load(lane_duck, hub, kind, source, cursor, high)
                    )
        finally:
            lane_duck.close()
        return rows

    lanes = (
        [s for s in SOURCES if s.table in FIRST_LANE],
        [s for s in SOURCES if s.table not in FIRST_LANE],
    )
    with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="extract") as pool:
        for rows in pool.map(lane, lanes):
            done.rows.update(rows)
    done.rows = {s.table: done.rows[s.table] for s in SOURCES}
    done.seconds = time.perf_counter() - started
    return done


def _counters(hub: HubConnection, duck: duckdb.DuckDBPyConnection) -> dict[str, int]:
    with hub.query("SELECT name, value FROM change_counter") as stream:
        duck.register("hub_counters", stream)
        try:
            rows = duck.execute("SELECT name, value FROM hub_counters").fetchall()
        finally:
            duck.unregister("hub_counters")
    return {str(name): int(value) for name, value in rows}


SOURCE_BY_TABLE = {source.table: source for source in SOURCES}
_CHUNK = 500  # parent ids per child query


def _replace(duck: duckdb.DuckDBPyConnection, source: Source, batches: Any, name: str) -> int:
    """Cast the incoming Arrow batches into temp table `name` and replace those keys in the raw
    table; returns the row count. Runs inside the caller's transaction."""
    casts = _casts(source)
    match = " AND ".join(f'{source.raw}."{k}" = {name}."{k}"' for k in source.key)
    duck.register("incoming", batches)
    try:
        duck.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {casts} FROM incoming")  # noqa: S608
    finally:
        duck.unregister("incoming")
    count = int(duck.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])  # noqa: S608
    if len(source.key) == 1:
        # Ledgers only grow: rows above the highest key held are new and need no delete.
        key = source.key[0]
        duck.execute(
            f'DELETE FROM {source.raw} WHERE "{key}" IN (SELECT "{key}" FROM {name} '  # noqa: S608
            f'WHERE "{key}" <= (SELECT max("{key}") FROM {source.raw}))'
        )
    else:
        duck.execute(f"DELETE FROM {source.raw} USING {name} WHERE {match}")  # noqa: S608
    duck.execute(f"INSERT INTO {source.raw} SELECT * FROM {name}")  # noqa: S608
    return count


def _casts(source: Source) -> str:
    """The incoming columns cast to their warehouse types."""
    return ", ".join(f'CAST("{col}" AS {ty}) AS "{col}"' for col, ty in source.columns)


def _empty(duck: duckdb.DuckDBPyConnection, table: str) -> bool:
    return not duck.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()  # noqa: S608


def _append(duck: duckdb.DuckDBPyConnection, source: Source, batches: Any) -> int:
    """Stream the incoming Arrow batches straight into the (empty) raw table."""
    casts = _casts(source)
    duck.register("incoming", batches)
    try:
        duck.execute(f"INSERT INTO {source.raw} SELECT {casts} FROM incoming")  # noqa: S608
    finally:
        duck.unregister("incoming")
    count = int(duck.execute(f"SELECT count(*) FROM {source.raw}").fetchall()[0][0])  # noqa: S608
    if source.history:
        duck.execute(f"INSERT INTO {source.history_table} SELECT * FROM {source.raw}")  # noqa: S608
    return count


def _reload_children(
    duck: duckdb.DuckDBPyConnection, hub: HubConnection, kind: str, child: Source, parent_key: str
) -> None:
    """Drop the raw children of the parents in `fresh` and read their current children whole, so
    a child the hub deleted disappears here too."""
    parents = [int(row[0]) for row in duck.execute("SELECT id FROM fresh").fetchall()]
    duck.execute(
        f'DELETE FROM {child.raw} WHERE "{parent_key}" IN (SELECT id FROM fresh)'  # noqa: S608
    )
    for start in range(0, len(parents), _CHUNK):
        ids = ", ".join(str(i) for i in parents[start : start + _CHUNK])
        with hub.query(_select(child, kind, f'"{parent_key}" IN ({ids})')) as stream:
            _replace(duck, child, stream, "fresh_children")
    duck.execute("DROP TABLE IF EXISTS fresh_children")


def _load(
    duck: duckdb.DuckDBPyConnection,
    hub: HubConnection,
    kind: str,
    source: Source,
    cursor: int,
    high: int,
) -> int:
    with hub.query(_select(source, kind, _changed(cursor, high))) as batches, transaction(duck):
        if cursor == 0 and _empty(duck, source.raw):  # a first load: nothing to replace
            count = _append(duck, source, batches)
        else:
            count = _replace(duck, source, batches, "fresh")
            if source.history:  # every version seen, for the dimension's history
                duck.execute(f"INSERT INTO {source.history_table} SELECT * FROM fresh")  # noqa: S608
            # On a first load the children come whole with their own table.
            for child, parent_key in source.children:
                _reload_children(duck, hub, kind, SOURCE_BY_TABLE[child], parent_key)
            duck.execute("DROP TABLE fresh")
        duck.execute(
            f"INSERT OR REPLACE INTO {STATE} VALUES (?, ?, now()::TIMESTAMP)",  # noqa: S608
            [source.table, high],
        )
    return count


__all__ = [
    "ExtractError",
    "Extracted",
    "HubConnection",
    "cursors",
    "ensure_schema",
    "extract",
    "open_warehouse",
    "transaction",
]
