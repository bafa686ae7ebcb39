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
            _issue(parsed, number, cell.strip()[:64], "unknown_column",
                   f"unknown column {cell.strip()[:64]!r}; the columns are {', '.join(COLUMNS)}")
        elif name in index:
            bad = True
            _issue(parsed, number, name, "duplicate_column", f"column {name!r} appears twice")
        else:
            index[name] = position
    for name in REQUIRED:
        if name not in index:
            bad = True
            _issue(parsed, number, name, "missing_column", f"the required column {name!r} is missing")
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
        _issue(parsed, row.number, "sku", "duplicate_sku",
               f"sku {row.sku!r} is also on row {seen_sku[row.sku]}")
    for code in row.barcodes:
        if code in seen_code:
            _issue(parsed, row.number, "barcodes", "duplicate_barcode",
                   f"barcode {code!r} is also on row {seen_code[code]}")
    if row.scale_code is not None and row.scale_code in seen_scale:
        _issue(parsed, row.number, "scale_code", "duplicate_scale_code",
               f"scale code {row.scale_code} is also on row {seen_scale[row.scale_code]}")
    if len(parsed.errors) > before:
        return False
    seen_sku[row.sku] = row.number
    seen_code.update(dict.fromkeys(row.barcodes, row.number))
    if row.scale_code is not None:
        seen_scale[row.scale_code] = row.number
    return True
