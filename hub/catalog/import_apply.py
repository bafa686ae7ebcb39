"""Applying a planned catalog import in the caller's transaction, with bulk writes.

All or nothing: any bad row raises `ImportFailed` with the report, having written nothing.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.catalog.import_plan import CurrentProduct, Plan, Target, plan
from hub.catalog.import_read import ParsedFile, read_file, safe_file_name
from hub.catalog.models import Barcode, Category, Product, fold
from hub.catalog.schemas import ImportReport
from hub.db import Database, change_seqs, next_change_seq, utcnow
from hub.errors import error_body, item
from hub.principal import Principal

# The product fields an import writes, as audited (the sku is the key: never changed).
AUDITED = ("name", "category_id", "unit", "price_minor", "tax_rate_id", "active", "scale_code")
_audited = operator.itemgetter(*AUDITED)


class ImportFailed(Exception):
    """A real import met errors; nothing was written. Answered as 422 with `body()`."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} errors in the import file")
        self.report = report

    def body(self) -> dict[str, Any]:
        """The hub's error shape (each error located as ["file", row, column]) plus the report:
        the `ImportRejected` schema."""
        return {**error_body(error_items(self.report)), "report": self.report.model_dump()}


def run_import(
    db: Database,
    *,
    actor: Principal | None,
    data: bytes,
    filename: str | None,
    exponent: int,
    dry_run: bool,
) -> ImportReport:
    """The import use case: read the file (outside any transaction), then only report what it
    would change (`dry_run`, a read transaction) or apply it (one write transaction). A real run
    with any error raises `ImportFailed`, having written nothing."""
    name = safe_file_name(filename)
    parsed = read_file(data, filename=name, exponent=exponent)
    if dry_run:
        with db.read() as session:
            return plan(session, parsed).report()
    with db.write() as session:
        return apply(session, actor=actor, parsed=parsed, filename=name)


def apply(
    session: Session, *, actor: Principal | None, parsed: ParsedFile, filename: str
) -> ImportReport:
    """Apply a clean file in the caller's transaction (one change_seq per changed row), audited
    per product (`product.import_create` / `product.import_update`) and as a whole."""
    # The change counter first: every catalog write locks it, so nothing changes between the plan
    # and the writes (PostgreSQL writers queue behind this transaction; SQLite's BEGIN IMMEDIATE
    # already excludes them).
    next_change_seq(session, 0)
    result = plan(session, parsed)
    report = result.report()
    if report.errors:
        raise ImportFailed(report)
    changed = len(result.new_categories) + len(result.creates) + len(result.updates)
    seqs = change_seqs(session, changed)
    now = utcnow()
    _create_categories(session, result, seqs)
    entries = _update_products(session, result, seqs, now)
    entries += _create_products(session, result, seqs, now)
    # One entry per product, so old values stay recoverable; written like the products (bulk,
    # no ORM objects) to keep a 100k-row import fast.
    shared = {**audit.actor_columns(actor), "store_id": None, "at": now, "entity": "product"}
    _insert_rows(session, AuditEntry.__table__, entries, shared)
    audit.record(
        session,
        actor=actor,
        action="catalog.import",
        entity="catalog",
        after={
            "file": filename,
            "rows": report.rows,
            "created": report.to_create,
            "updated": report.to_update,
            "unchanged": report.unchanged,
            "categories_created": report.categories_to_create[:1000],
        },
    )
    return report


def _create_categories(session: Session, result: Plan, seqs: Iterator[int]) -> None:
    for depth in sorted({len(path) for path in result.new_categories}):
        level = [path for path in result.new_categories if len(path) == depth]
        created = [
            Category(
                name=path[-1],
                parent_id=result.category_ids[path[:-1]] if depth > 1 else None,
                change_seq=next(seqs),
            )
            for path in level
        ]
        session.add_all(created)
        session.flush()
        result.category_ids.update((path, c.id) for path, c in zip(level, created, strict=True))


def _values(result: Plan, target: Target, current: CurrentProduct | None) -> dict[str, Any]:
    row = target.row

    def pick(column: str, value: Any, kept: Any, default: Any) -> Any:
        if result.has(column):
            return value
        return kept if current is not None else default

    category_id = result.category_ids[row.category] if row.category else None
    return {
        "name": row.name,
        "name_folded": fold(row.name),
        "unit": row.unit,
        "price_minor": row.price_minor,
        "tax_rate_id": target.tax_rate_id,
        "category_id": pick("category", category_id, current and current.category_id, None),
        "active": pick("active", row.active, current and current.active, True),
        "scale_code": pick("scale_code", row.scale_code, current and current.scale_code, None),
    }


def _update_products(
    session: Session, result: Plan, seqs: Iterator[int], now: dt.datetime
) -> list[dict[str, Any]]:
    """Rewrite the changed products; their audit entries (the changed fields before and after)."""
    updates = [(t, t.current) for t in result.updates if t.current is not None]
    params = [
        {"id": cur.id, **_values(result, t, cur), "change_seq": next(seqs), "updated_at": now}
        for t, cur in updates
    ]
    # Codes may move between products of this file: free every changing one first.
    freed = [
        {"id": cur.id, "scale_code": None}
        for values, (_, cur) in zip(params, updates, strict=True)
        if cur.scale_code is not None and values["scale_code"] != cur.scale_code
    ]
    recoded = [
        (cur.id, t.row.barcodes)
        for t, cur in updates
        if result.has("barcodes") and tuple(sorted(t.row.barcodes)) != cur.barcodes
    ]
    if freed:
        session.execute(update(Product), freed)
    for chunk in _chunks([product_id for product_id, _ in recoded], 500):
        session.execute(
            delete(Barcode).where(Barcode.product_id.in_(chunk)),
            execution_options={"synchronize_session": False},
        )
    if params:
        session.execute(update(Product), params)
    _insert_barcodes(session, recoded)
    new_codes = dict(recoded)
    return [
        _changed(cur, values, new_codes.get(cur.id))
        for values, (_, cur) in zip(params, updates, strict=True)
    ]


def _changed(
    current: CurrentProduct, values: dict[str, Any], codes: tuple[str, ...] | None
) -> dict[str, Any]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in AUDITED:
        if values[key] != getattr(current, key):
            before[key], after[key] = getattr(current, key), values[key]
    if codes is not None:
        before["barcodes"], after["barcodes"] = list(current.barcodes), sorted(codes)
    return {
        "action": "product.import_update",
        "entity_id": str(current.id),
        "before": before,
        "after": after,
    }


def _create_products(
    session: Session, result: Plan, seqs: Iterator[int], now: dt.datetime
) -> list[dict[str, Any]]:
    """Insert the new products with their barcodes; their audit entries (the new product)."""
    if not result.creates:
        return []
    params = [
        {
            "sku": target.row.sku,
            "sku_folded": fold(target.row.sku),
            **_values(result, target, None),
            "change_seq": next(seqs),
        }
        for target in result.creates
    ]
    # Plain executemany (INSERT .. RETURNING for 100k rows is several times slower); the new
    # ids are found by their change_seq, a block no other row can hold.
    _insert_rows(session, Product.__table__, params, {"created_at": now, "updated_at": now})
    ids = dict(
        session.execute(
            select(Product.change_seq, Product.id).where(
                Product.change_seq.between(params[0]["change_seq"], params[-1]["change_seq"])
            )
        ).all()
    )
    codes = [t.row.barcodes if result.has("barcodes") else () for t in result.creates]
    _insert_barcodes(
        session, [(ids[p["change_seq"]], c) for p, c in zip(params, codes, strict=True) if c]
    )
    return [
        {
            "action": "product.import_create",
            "entity_id": str(ids[p["change_seq"]]),
            "before": None,
            "after": dict(zip(AUDITED, _audited(p), strict=True), sku=p["sku"], barcodes=sorted(c)),
        }
        for p, c in zip(params, codes, strict=True)
    ]


def _insert_barcodes(session: Session, owned: list[tuple[int, tuple[str, ...]]]) -> None:
    params = [{"code": code, "product_id": pid} for pid, codes in owned for code in codes]
    _insert_rows(session, Barcode.__table__, params)


def _insert_rows(
    session: Session,
    table: Any,
    rows: list[dict[str, Any]],
    shared: dict[str, Any] | None = None,
) -> None:
    """INSERT many rows in the session's transaction, fast: each value goes through its column
    type as for any INSERT (JSON, UTC timestamps; `shared`, the values every row has, only once)
    and then straight to the driver: executemany on SQLite, COPY on PostgreSQL (several times
    faster than even a pipelined executemany for a 100k-row import). Errors come out as
    SQLAlchemy's (IntegrityError -> 409, OperationalError -> 503), never as raw driver ones."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect

    def processor(column: str) -> Any:
        return table.c[column].type.dialect_impl(dialect).bind_processor(dialect)

    columns = list(rows[0])
    shared = shared or {}
    fixed = [p(v) if (p := processor(c)) else v for c, v in shared.items()]
    processors = [(i, p) for i, c in enumerate(columns) if (p := processor(c)) is not None]

    def values(row: dict[str, Any]) -> list[Any]:
        out = [row[column] for column in columns]
        for i, process in processors:
            out[i] = process(out[i])
        return out + fixed

    quoting = dialect.identifier_preparer
    names = ", ".join(quoting.quote(column) for column in [*columns, *shared])
    target = f"{quoting.format_table(table)} ({names})"
    if dialect.name == "postgresql":
        _copy(connection, f"COPY {target} FROM STDIN", map(values, rows))
    else:  # SQLite, the hub's other database
        marks = ", ".join("?" * (len(columns) + len(shared)))
        statement = f"INSERT INTO {target} VALUES ({marks})"  # noqa: S608 - quoted own names
        connection.exec_driver_sql(statement, [tuple(values(row)) for row in rows])


def _copy(connection: Connection, statement: str, rows: Iterable[list[Any]]) -> None:
    """PostgreSQL COPY FROM STDIN, its driver errors raised as SQLAlchemy's."""
    dialect = connection.dialect
    dbapi_error = dialect.loaded_dbapi.Error  # psycopg.Error
    try:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi_error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi_error, dialect=dialect) from exc


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def error_items(report: ImportReport) -> list[dict[str, Any]]:
    """The report's errors in the hub's error shape, located as ["file", row, column]."""
    return [
        item(["file", e.row, *([e.column] if e.column else [])], e.code, e.message)
        for e in report.errors
    ]
