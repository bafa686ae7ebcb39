"""The catalog as an import file (CSV or XLSX): export, edit, import."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.catalog import reference
from hub.catalog.import_plan import current_products
from hub.catalog.import_read import COLUMNS, FORMULA_START, format_minor
from hub.catalog.models import TaxRate

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_rows(session: Session, *, exponent: int) -> list[list[str]]:
    """The header and one row per product (by sku), in the import format."""
    paths = reference.category_paths(session)
    taxes = dict(session.execute(select(TaxRate.id, TaxRate.code)).all())
    rows = [list(COLUMNS)]
    for product in sorted(current_products(session).values(), key=lambda p: p.sku):
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
        writer.writerow(["'" + cell if cell.startswith(FORMULA_START) else cell for cell in row])
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
