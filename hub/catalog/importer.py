"""Catalog import and export in one spreadsheet format, CSV or XLSX.

Three steps: `read_file` parses and checks every row without the database; `plan` compares the
good rows with the catalog using a few bulk queries (never one per row); `apply` writes the plan
in the caller's transaction, or raises `ImportFailed` with the report when any row is bad, having
written nothing. `export_rows` writes the same columns, so export -> import changes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from hub.access import Principal
from hub.audit import service as audit
from hub.catalog import service
from hub.catalog.models import Barcode, Category, Product, TaxRate, fold
from hub.catalog.schemas import (
    BAD_TEXT,
    MAX_BARCODES,
    NAME_MAX,
    PATH_SEPARATOR,
    SKU_MAX,
    ImportIssue,
    ImportReport,
    barcode_problem,
    normalize_scale_code,
    text_problem,
)
from hub.db import next_change_seq, utcnow
from hub.errors import item
from wire.money import MAX_AMOUNT_MINOR, parse_decimal_to_minor

log = logging.getLogger("kassa.hub.catalog")

COLUMNS = (
    "sku",
    "name",
    "category",
    "unit",
    "price",
    "tax_rate",
    "barcodes",
    "active",
    "scale_code",
)
REQUIRED = ("sku", "name", "unit", "price", "tax_rate")
MAX_ROWS = 200_000
MAX_XLSX_UNPACKED = 512 * 1024 * 1024  # a zip bomb stops here
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNITS = {"piece": "piece", "шт": "piece", "kg": "kg", "кг": "kg", "l": "l", "л": "l"}
UNITS |= {"m": "m", "м": "m"}
TRUE = frozenset({"1", "true", "yes", "y", "да", "д", "истина"})
FALSE = frozenset({"0", "false", "no", "n", "нет", "н", "ложь"})
_BARCODE_SPLIT = re.compile(r"[;,\s]+")
# CSV cells starting with these are formulas to a spreadsheet: exported behind a "'".
_FORMULA_START = tuple("=+-@'")


class ImportFailed(Exception):
    """A real import met errors; nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} errors in the import file")
        self.report = report


class _Unreadable(Exception):
    pass


_Bad = Callable[[str, str, str], None]  # (column, code, message)


@dataclass(slots=True)
class Row:
    number: int
    sku: str
    name: str
    category: tuple[str, ...]
    unit: str
    price_minor: int
    tax_code: str
    barcodes: tuple[str, ...]
    active: bool
    scale_code: str | None


@dataclass
class ParsedFile:
    columns: frozenset[str] = frozenset()
    rows: list[Row] = field(default_factory=list)  # the good rows
    total: int = 0
    errors: list[ImportIssue] = field(default_factory=list)
    skus: set[str] = field(default_factory=set)  # every sku named in the file, good rows or not


def safe_file_name(name: str | None) -> str:
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(ch for ch in base if not text_problem(ch))[:200]
    return base or "upload"


# --- reading -------------------------------------------------------------------------------


def read_file(data: bytes, *, filename: str, exponent: int) -> ParsedFile:
    """Every row checked on its own and against the other rows (no database)."""
    parsed = ParsedFile()
    try:
        table = _xlsx_rows(data) if _is_xlsx(data, filename) else _csv_rows(data)
        _read_table(parsed, table, exponent)
    except _Unreadable as exc:
        _issue(parsed, 0, None, "unreadable", str(exc))
    return parsed


def _is_xlsx(data: bytes, filename: str) -> bool:
    if filename.lower().endswith(".xls"):
        raise _Unreadable("old .xls workbooks are not supported: save the file as .xlsx or CSV")
    return filename.lower().endswith(".xlsx") or data.startswith(b"PK\x03\x04")


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _Unreadable(
            f"the file is not UTF-8 text (line {line}): save it as 'CSV UTF-8' or as XLSX"
        ) from None
    header = text[: text.find("\n")]
    delimiter = max(";,\t", key=header.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, [_unescape(cell) for cell in cells]
    except csv.Error as exc:
        raise _Unreadable(f"the CSV is malformed near line {reader.line_num}: {exc}") from None


def _unescape(cell: str) -> str:
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_START:
        return cell[1:]
    return cell


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's rows as text (cached values of formulas, never the formulas)."""
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise _Unreadable("the workbook unpacks to more than 512 MiB: split it")
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            for number, values in enumerate(rows, start=1):
                yield number, [_cell_text(value) for value in values]
        finally:
            workbook.close()
    except _Unreadable:
        raise
    except Exception as exc:  # openpyxl and zipfile raise many kinds for a broken file
        log.info("unreadable xlsx: %r", exc)
        raise _Unreadable("the file is not a readable XLSX workbook: save it again") from None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _read_table(parsed: ParsedFile, table: Iterator[tuple[int, list[str]]], exponent: int) -> None:
    header: dict[str, int] | None = None
    seen = _FirstSeen()
    for number, cells in table:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _read_header(parsed, number, cells)
            continue
        if parsed.total == MAX_ROWS:
            _issue(parsed, number, None, "too_many_rows", f"over {MAX_ROWS} rows: split the file")
            return
        parsed.total += 1
        if not header:
            continue  # the header is wrong: rows are only counted
        values = {name: cells[i].strip() if i < len(cells) else "" for name, i in header.items()}
        if values.get("sku"):
            parsed.skus.add(values["sku"])
        row = _read_row(parsed, number, values, exponent)
        if row is not None:
            clashes = seen.clashes(row)
            parsed.errors.extend(clashes)
            if not clashes:
                parsed.rows.append(row)
    if header is None:
        message = f"the file has no header row; expected columns: {', '.join(COLUMNS)}"
        _issue(parsed, 0, None, "empty", message)


def _read_header(parsed: ParsedFile, number: int, cells: list[str]) -> dict[str, int]:
    """Column name -> position; an empty dict (rows are then only counted) when it is wrong."""
    index: dict[str, int] = {}
    bad = False
    for position, cell in enumerate(cells):
        name = cell.strip().casefold()
        if not name:
            continue
        if name not in COLUMNS:
            bad, label = True, cell.strip()[:64]
            message = f"unknown column {label!r}; the columns are {', '.join(COLUMNS)}"
            _issue(parsed, number, label, "unknown_column", message)
        elif name in index:
            bad = True
            _issue(parsed, number, name, "duplicate_column", f"column {name!r} appears twice")
        else:
            index[name] = position
    for name in REQUIRED:
        if name not in index:
            bad = True
            _issue(
                parsed, number, name, "missing_column", f"the required column {name!r} is missing"
            )
    parsed.columns = frozenset(index)
    return {} if bad else index


def _issue(parsed: ParsedFile, row: int, column: str | None, code: str, message: str) -> None:
    parsed.errors.append(ImportIssue(row=row, column=column, code=code, message=message))


def _read_row(parsed: ParsedFile, number: int, values: dict[str, str], exponent: int) -> Row | None:
    before = len(parsed.errors)

    def bad(column: str, code: str, message: str) -> None:
        _issue(parsed, number, column, code, message)

    ok = dict(values)  # the cells left to check: bad text and missing values drop out
    if BAD_TEXT.search("".join(values.values())):
        for column, text in values.items():
            if problem := text_problem(text):
                bad(column, "bad_text", problem)
                del ok[column]
    for column in REQUIRED:
        if ok.get(column) == "":
            bad(column, "required", f"{column} is required")
            del ok[column]
    for column, limit in (("sku", SKU_MAX), ("name", NAME_MAX), ("tax_rate", NAME_MAX)):
        if len(ok.get(column, "")) > limit:
            bad(column, "too_long", f"{column} is longer than {limit} characters")
    category = _category(ok.get("category", ""), bad)
    unit = UNITS.get(ok.get("unit", "").casefold())
    if unit is None and ok.get("unit"):
        bad("unit", "invalid_unit", f"unit {ok['unit'][:20]!r} is not piece, kg, l or m")
    price = _price(ok.get("price"), exponent, bad)
    codes = _barcodes(ok.get("barcodes", ""), bad)
    active = ok.get("active", "").casefold()
    if active and active not in TRUE | FALSE:
        bad("active", "invalid_active", f"active {active[:20]!r} is not 1/0, true/false or да/нет")
    scale_code = None
    if ok.get("scale_code"):
        try:
            scale_code = normalize_scale_code(ok["scale_code"])
        except ValueError as exc:
            bad("scale_code", "invalid_scale_code", str(exc))
    if len(parsed.errors) > before or unit is None or price is None:
        return None
    return Row(
        number=number,
        sku=ok["sku"],
        name=ok["name"],
        category=category,
        unit=unit,
        price_minor=price,
        tax_code=ok["tax_rate"],
        barcodes=codes,
        active=active not in FALSE,
        scale_code=scale_code,
    )


def _category(text: str, bad: _Bad) -> tuple[str, ...]:
    text = text.strip(PATH_SEPARATOR)
    if not text:
        return ()
    parts = tuple(part.strip() for part in text.split(PATH_SEPARATOR))
    if not all(parts):
        bad("category", "invalid_category", "the category path has an empty level ('A//B')")
    elif any(len(part) > NAME_MAX for part in parts):
        bad("category", "too_long", f"a category name is longer than {NAME_MAX} characters")
    return parts


def _price(text: str | None, exponent: int, bad: _Bad) -> int | None:
    if text is None:
        return None
    try:
        price = parse_decimal_to_minor(text, exponent)
    except ValueError as exc:
        bad("price", "invalid_price", str(exc))
        return None
    if not 0 <= price <= MAX_AMOUNT_MINOR:
        top = format_minor(MAX_AMOUNT_MINOR, exponent)
        bad("price", "invalid_price", f"the price must be between 0 and {top}")
        return None
    return price


def _barcodes(text: str, bad: _Bad) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(code for code in _BARCODE_SPLIT.split(text) if code))
    for code in codes:
        if problem := barcode_problem(code):
            bad("barcodes", "invalid_barcode", problem)
    if len(codes) > MAX_BARCODES:
        bad("barcodes", "too_many_barcodes", f"at most {MAX_BARCODES} barcodes per product")
    return codes


@dataclass
class _FirstSeen:
    """The row where each sku, barcode and scale code of the file first appeared."""

    skus: dict[str, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    scales: dict[str, int] = field(default_factory=dict)

    def clashes(self, row: Row) -> list[ImportIssue]:
        issues = []
        if (first := self.skus.get(row.sku)) is not None:
            message = f"sku {row.sku!r} is also on row {first}"
            issues.append(_row_issue(row, "sku", "duplicate_sku", message))
        for code in row.barcodes:
            if (first := self.codes.get(code)) is not None:
                message = f"barcode {code!r} is also on row {first}"
                issues.append(_row_issue(row, "barcodes", "duplicate_barcode", message))
        if row.scale_code is not None and (first := self.scales.get(row.scale_code)) is not None:
            message = f"scale code {row.scale_code} is also on row {first}"
            issues.append(_row_issue(row, "scale_code", "duplicate_scale_code", message))
        if not issues:
            self.skus[row.sku] = row.number
            self.codes.update(dict.fromkeys(row.barcodes, row.number))
            if row.scale_code is not None:
                self.scales[row.scale_code] = row.number
        return issues


# --- planning ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Current:
    id: int
    sku: str
    name: str
    category_id: int | None
    unit: str
    price_minor: int
    tax_rate_id: int
    active: bool
    scale_code: str | None
    barcodes: tuple[str, ...] = ()


@dataclass(slots=True)
class _Target:
    row: Row
    current: _Current | None
    tax_rate_id: int


@dataclass
class Plan:
    parsed: ParsedFile
    errors: list[ImportIssue]
    category_ids: dict[tuple[str, ...], int]  # existing paths; `apply` adds the created ones
    new_categories: list[tuple[str, ...]]
    creates: list[_Target]
    updates: list[_Target]
    unchanged: int

    def report(self) -> ImportReport:
        order = {name: i for i, name in enumerate(COLUMNS)}
        errors = sorted(self.errors, key=lambda e: (e.row, order.get(e.column or "", -1)))
        return ImportReport(
            rows=self.parsed.total,
            to_create=len(self.creates),
            to_update=len(self.updates),
            unchanged=self.unchanged,
            categories_to_create=[PATH_SEPARATOR.join(path) for path in self.new_categories],
            errors=errors,
        )

    def has(self, column: str) -> bool:
        return column in self.parsed.columns


@dataclass
class _Catalog:
    """What the rows are checked against, loaded in a few bulk queries."""

    taxes: dict[str, int]
    products: dict[str, _Current]  # by sku

    def __post_init__(self) -> None:
        self.by_id = {product.id: product for product in self.products.values()}
        self.code_owner = {code: p.id for p in self.by_id.values() for code in p.barcodes}
        self.scale_owner = {p.scale_code: p.id for p in self.by_id.values() if p.scale_code}

    def keeper(self, owner_id: int | None, parsed: ParsedFile) -> str | None:
        """The sku of ANOTHER product that keeps a code: one this file does not rewrite."""
        if owner_id is None or self.by_id[owner_id].sku in parsed.skus:
            return None  # free, or owned by a product whose row replaces its codes
        return self.by_id[owner_id].sku

    def clashes(self, row: Row, result: Plan) -> list[ImportIssue]:
        issues = []
        if row.tax_code not in self.taxes:
            known = ", ".join(sorted(self.taxes)[:20]) or "none yet"
            message = f"no tax rate {row.tax_code!r}; known: {known}"
            issues.append(_row_issue(row, "tax_rate", "unknown_tax_rate", message))
        for code in row.barcodes if result.has("barcodes") else ():
            if owner := self.keeper(self.code_owner.get(code), result.parsed):
                message = f"barcode {code!r} belongs to product {owner!r}, not in this file"
                issues.append(_row_issue(row, "barcodes", "barcode_taken", message))
        scale = row.scale_code if result.has("scale_code") else None
        if scale is not None and (owner := self.keeper(self.scale_owner.get(scale), result.parsed)):
            message = f"scale code {scale} is used by product {owner!r}, not in this file"
            issues.append(_row_issue(row, "scale_code", "scale_code_taken", message))
        return issues


def plan(session: Session, parsed: ParsedFile) -> Plan:
    """What the import would change, and the rows that clash with the catalog."""
    result = Plan(parsed, list(parsed.errors), _category_paths(session), [], [], [], 0)
    if not parsed.rows:
        return result
    taxes = dict(session.execute(select(TaxRate.code, TaxRate.id)).all())
    catalog = _Catalog(taxes, _current_products(session))
    new_paths: dict[tuple[str, ...], None] = {}
    for row in parsed.rows:
        if issues := catalog.clashes(row, result):
            result.errors.extend(issues)
            continue
        for depth in range(1, len(row.category) + 1):
            if row.category[:depth] not in result.category_ids:
                new_paths[row.category[:depth]] = None
        current = catalog.products.get(row.sku)
        target = _Target(row, current, taxes[row.tax_code])
        if current is None:
            result.creates.append(target)
        elif _differs(result, target, current):
            result.updates.append(target)
        else:
            result.unchanged += 1
    result.new_categories = list(new_paths)
    return result


def _row_issue(row: Row, column: str, code: str, message: str) -> ImportIssue:
    return ImportIssue(row=row.number, column=column, code=code, message=message)


def _category_paths(session: Session) -> dict[tuple[str, ...], int]:
    return {
        tuple(path.split(PATH_SEPARATOR)): cid
        for cid, path in service.category_paths(session).items()
    }


def _current_products(session: Session) -> dict[str, _Current]:
    products = {
        row.sku: _Current(*row)
        for row in session.execute(
            select(
                Product.id,
                Product.sku,
                Product.name,
                Product.category_id,
                Product.unit,
                Product.price_minor,
                Product.tax_rate_id,
                Product.active,
                Product.scale_code,
            )
        )
    }
    codes: dict[int, list[str]] = {}
    for product_id, code in session.execute(select(Barcode.product_id, Barcode.code)):
        codes.setdefault(product_id, []).append(code)
    for product in products.values():
        product.barcodes = tuple(sorted(codes.get(product.id, ())))
    return products


def _differs(result: Plan, target: _Target, product: _Current) -> bool:
    row = target.row
    if (row.name, row.unit, row.price_minor, target.tax_rate_id) != (
        product.name,
        product.unit,
        product.price_minor,
        product.tax_rate_id,
    ):
        return True
    category_id = result.category_ids.get(row.category, -1) if row.category else None
    return (
        (result.has("category") and category_id != product.category_id)
        or (result.has("active") and row.active != product.active)
        or (result.has("scale_code") and row.scale_code != product.scale_code)
        or (result.has("barcodes") and tuple(sorted(row.barcodes)) != product.barcodes)
    )


# --- applying ------------------------------------------------------------------------------


def apply(
    session: Session, *, actor: Principal | None, parsed: ParsedFile, filename: str
) -> ImportReport:
    """Apply a clean file in the caller's transaction (one change_seq per changed row)."""
    result = plan(session, parsed)
    report = result.report()
    if report.errors:
        raise ImportFailed(report)
    changed = len(result.new_categories) + len(result.creates) + len(result.updates)
    last = next_change_seq(session, changed) if changed else 0
    seqs = iter(range(last - changed + 1, last + 1))
    _create_categories(session, result, seqs)
    _update_products(session, result, seqs)
    _create_products(session, result, seqs)
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


def _values(result: Plan, target: _Target, current: _Current | None) -> dict[str, Any]:
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


def _update_products(session: Session, result: Plan, seqs: Iterator[int]) -> None:
    now = utcnow()
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


def _create_products(session: Session, result: Plan, seqs: Iterator[int]) -> None:
    if not result.creates:
        return
    now = utcnow()
    params = [
        {
            "sku": target.row.sku,
            "sku_folded": fold(target.row.sku),
            **_values(result, target, None),
            "change_seq": next(seqs),
            "created_at": now,
            "updated_at": now,
        }
        for target in result.creates
    ]
    # Plain executemany (INSERT .. RETURNING for 100k rows is several times slower); the new
    # ids are found by their change_seq, a block no other row can hold.
    _insert_rows(session, Product.__table__, params)
    if not result.has("barcodes"):
        return
    by_seq = {p["change_seq"]: t.row.barcodes for p, t in zip(params, result.creates, strict=True)}
    ids = session.execute(
        select(Product.id, Product.change_seq).where(
            Product.change_seq.between(params[0]["change_seq"], params[-1]["change_seq"])
        )
    )
    _insert_barcodes(session, [(pid, by_seq[seq]) for pid, seq in ids])


def _insert_barcodes(session: Session, owned: list[tuple[int, tuple[str, ...]]]) -> None:
    params = [{"code": code, "product_id": pid} for pid, codes in owned for code in codes]
    _insert_rows(session, Barcode.__table__, params)


def _insert_rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """A bulk INSERT in the session's transaction; PostgreSQL gets COPY, several times faster
    than even a pipelined executemany for a 100k-row import."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    quoting = connection.dialect.identifier_preparer
    statement = (
        f"COPY {quoting.format_table(table)} ({', '.join(map(quoting.quote, columns))}) FROM STDIN"
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def error_items(report: ImportReport) -> list[dict[str, Any]]:
    """The report's errors in the hub's error shape, located as ["file", row, column]."""
    return [
        item(["file", e.row, *([e.column] if e.column else [])], e.code, e.message)
        for e in report.errors
    ]


# --- export --------------------------------------------------------------------------------


def format_minor(amount_minor: int, exponent: int) -> str:
    """123450 with exponent 2 -> '1234.50': the import reads it back exactly."""
    if exponent == 0:
        return str(amount_minor)
    whole, fraction = divmod(amount_minor, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


def export_rows(session: Session, *, exponent: int) -> list[list[str]]:
    """The header and one row per product (by sku), in the import format."""
    paths = service.category_paths(session)
    taxes = dict(session.execute(select(TaxRate.id, TaxRate.code)).all())
    rows = [list(COLUMNS)]
    for product in sorted(_current_products(session).values(), key=lambda p: p.sku):
        rows.append(
            [
                product.sku,
                product.name,
                paths[product.category_id] if product.category_id is not None else "",
                product.unit,
                format_minor(product.price_minor, exponent),
                taxes[product.tax_rate_id],
                " ".join(product.barcodes),
                "1" if product.active else "0",
                product.scale_code or "",
            ]
        )
    return rows


def to_csv(rows: Iterable[list[str]]) -> bytes:
    """UTF-8 with a BOM and ';' so spreadsheet programs open it as is."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow(["'" + cell if cell.startswith(_FORMULA_START) else cell for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: Iterable[list[str]]) -> bytes:
    """Text cells are stored as text (never formulas); the price as an exact number."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("catalog")
    price_column = COLUMNS.index("price")
    for number, row in enumerate(rows):
        cells = []
        for position, value in enumerate(row):
            if number and position == price_column:
                decimals = len(value.partition(".")[2])
                cell = WriteOnlyCell(sheet, value=Decimal(value))
                cell.number_format = "0." + "0" * decimals if decimals else "0"
            else:
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
