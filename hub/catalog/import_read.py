"""Reading a catalog import file, CSV or XLSX, into checked rows: no database.

The file format lives here (`COLUMNS`, price text, formula-safe cells); `hub.catalog.export`
writes the same format, so export -> import changes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.catalog.schemas import (
    MAX_BARCODES,
    MAX_CATEGORY_DEPTH,
    NAME_MAX,
    PATH_SEPARATOR,
    SKU_MAX,
    ImportIssue,
    barcode_problem,
    normalize_scale_code,
    text_problem,
)
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
UNITS = {"piece": "piece", "шт": "piece", "kg": "kg", "кг": "kg", "l": "l", "л": "l"}
UNITS |= {"m": "m", "м": "m"}
TRUE = frozenset({"1", "true", "yes", "y", "да", "д", "истина"})
FALSE = frozenset({"0", "false", "no", "n", "нет", "н", "ложь"})
_BARCODE_SPLIT = re.compile(r"[;,\s]+")
# CSV cells starting with these are formulas to a spreadsheet: exported behind a "'".
FORMULA_START = tuple("=+-@'")


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
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_START:
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
    if text_problem("".join(values.values())):  # one check finds the rare bad row
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
    elif len(parts) > MAX_CATEGORY_DEPTH:
        message = f"the category path has {len(parts)} levels; at most {MAX_CATEGORY_DEPTH}"
        bad("category", "too_deep", message)
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
            issues.append(row_issue(row, "sku", "duplicate_sku", message))
        for code in row.barcodes:
            if (first := self.codes.get(code)) is not None:
                message = f"barcode {code!r} is also on row {first}"
                issues.append(row_issue(row, "barcodes", "duplicate_barcode", message))
        if row.scale_code is not None and (first := self.scales.get(row.scale_code)) is not None:
            message = f"scale code {row.scale_code} is also on row {first}"
            issues.append(row_issue(row, "scale_code", "duplicate_scale_code", message))
        if not issues:
            self.skus[row.sku] = row.number
            self.codes.update(dict.fromkeys(row.barcodes, row.number))
            if row.scale_code is not None:
                self.scales[row.scale_code] = row.number
        return issues


def row_issue(row: Row, column: str, code: str, message: str) -> ImportIssue:
    return ImportIssue(row=row.number, column=column, code=code, message=message)


def format_minor(amount_minor: int, exponent: int) -> str:
    """123450 with exponent 2 -> '1234.50': the import reads it back exactly."""
    if exponent == 0:
        return str(amount_minor)
    whole, fraction = divmod(amount_minor, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"
