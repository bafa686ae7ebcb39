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
        parsed.errors.append(ImportIssue(row=0, column=None, code="unreadable", message=str(exc)))
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
    header = text.split("\n", 1)[0]
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
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise _Unreadable("the workbook unpacks to more than 512 MiB: split it")
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _Unreadable:
        raise
    except Exception as exc:  # openpyxl and zipfile raise many kinds for a broken file
        log.info("unreadable xlsx: %r", exc)
        raise _Unreadable("the file is not a readable XLSX workbook: save it again") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(value) for value in values]
    finally:
        workbook.close()


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
    seen_sku: dict[str, int] = {}
    seen_code: dict[str, int] = {}
    seen_scale: dict[str, int] = {}
    for number, cells in table:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _read_header(parsed, number, cells)
            continue
        parsed.total += 1
        if parsed.total > MAX_ROWS:
            parsed.total -= 1
            parsed.errors.append(
                ImportIssue(
                    row=number,
                    column=None,
                    code="too_many_rows",
                    message=f"more than {MAX_ROWS} rows: split the file",
                )
            )
            return
        if not header:
            continue  # the header is wrong: rows are only counted
        values = {name: cells[i].strip() if i < len(cells) else "" for name, i in header.items()}
        if values.get("sku"):
            parsed.skus.add(values["sku"])
        row = _read_row(parsed, number, values, exponent)
        if row is not None and _unique_in_file(parsed, row, seen_sku, seen_code, seen_scale):
            parsed.rows.append(row)
    if header is None:
        parsed.errors.append(
            ImportIssue(
                row=0,
                column=None,
                code="empty",
                message=f"the file has no header row; expected columns: {', '.join(COLUMNS)}",
            )
        )


def _read_header(parsed: ParsedFile, number: int, cells: list[str]) -> dict[str, int]:
    """Column name -> position; an empty dict (rows are then only counted) when it is wrong."""
    index: dict[str, int] = {}
    bad = False
    for position, cell in enumerate(cells):
        name = cell.strip().casefold()
        if not name:
            continue
        if name not in COLUMNS:
            bad = True
            _issue(
                parsed,
                number,
                cell.strip()[:64],
                "unknown_column",
                f"unknown column {cell.strip()[:64]!r}; the columns are {', '.join(COLUMNS)}",
            )
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

    for column, text in values.items():
        if problem := text_problem(text):
            bad(column, "bad_text", problem)
        elif not text and column in REQUIRED:
            bad(column, "required", f"{column} is required")
    ok = {c: t for c, t in values.items() if t or c not in REQUIRED}
    ok = {c: t for c, t in ok.items() if not text_problem(t)}
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
        bad("price", "invalid_price", "the price must be between 0 and 9 999 999 999.99")
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


def _unique_in_file(
    parsed: ParsedFile,
    row: Row,
    seen_sku: dict[str, int],
    seen_code: dict[str, int],
    seen_scale: dict[str, int],
) -> bool:
    before = len(parsed.errors)
    if row.sku in seen_sku:
        _issue(
            parsed,
            row.number,
            "sku",
            "duplicate_sku",
            f"sku {row.sku!r} is also on row {seen_sku[row.sku]}",
        )
    for code in row.barcodes:
        if code in seen_code:
            _issue(
                parsed,
                row.number,
                "barcodes",
                "duplicate_barcode",
                f"barcode {code!r} is also on row {seen_code[code]}",
            )
    if row.scale_code is not None and row.scale_code in seen_scale:
        _issue(
            parsed,
            row.number,
            "scale_code",
            "duplicate_scale_code",
            f"scale code {row.scale_code} is also on row {seen_scale[row.scale_code]}",
        )
    if len(parsed.errors) > before:
        return False
    seen_sku[row.sku] = row.number
    seen_code.update(dict.fromkeys(row.barcodes, row.number))
    if row.scale_code is not None:
        seen_scale[row.scale_code] = row.number
    return True


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
    taxes = dict(session.execute(select(TaxRate.code, TaxRate.id)).tuples())
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
    for product_id, code in session.execute(select(Barcode.product_id, Barcode.code)).tuples():
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
    if not result.updates:
        return
    now = utcnow()
    params = []
    for target in result.updates:
        assert target.current is not None
        params.append(
            {
                "id": target.current.id,
                **_values(result, target, target.current),
                "change_seq": next(seqs),
                "updated_at": now,
            }
        )
    # Scale codes may move between products of this file: free them all first.
    moving = [
        p["id"]
        for p, t in zip(params, result.updates, strict=True)
        if t.current
        and t.current.scale_code is not None
        and p["scale_code"] != t.current.scale_code
    ]
    if moving:
        session.execute(update(Product), [{"id": pid, "scale_code": None} for pid in moving])
    barcodes_changed = [
        t
        for t in result.updates
        if result.has("barcodes")
        and t.current
        and tuple(sorted(t.row.barcodes)) != t.current.barcodes
    ]
    for chunk in _chunks([t.current.id for t in barcodes_changed if t.current], 500):
        session.execute(
            delete(Barcode).where(Barcode.product_id.in_(chunk)),
            execution_options={"synchronize_session": False},
        )
    session.execute(update(Product), params)
    _insert_barcodes(
        session, [(t.current.id, t.row.barcodes) for t in barcodes_changed if t.current]
    )


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
    ids = session.scalars(
        insert(Product).returning(Product.id, sort_by_parameter_order=True), params
    ).all()
    _insert_barcodes(
        session,
        [(pid, t.row.barcodes) for pid, t in zip(ids, result.creates, strict=True)]
        if result.has("barcodes")
        else [],
    )


def _insert_barcodes(session: Session, owned: list[tuple[int, tuple[str, ...]]]) -> None:
    params = [{"code": code, "product_id": pid} for pid, codes in owned for code in codes]
    if params:
        session.execute(insert(Barcode), params)


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
    taxes = dict(session.execute(select(TaxRate.id, TaxRate.code)).tuples())
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
                cell = WriteOnlyCell(sheet, value=Decimal(value))
                cell.number_format = "0.00"
            else:
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
