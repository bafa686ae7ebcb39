"""Catalog import and export in one spreadsheet format, CSV or XLSX: the entry points.

`run_import` is the use case the API calls. Three steps: `read_file` parses and checks every row
without the database (`import_read`); `plan` compares the good rows with the catalog using a few
bulk queries, never one per row (`import_plan`); `apply` writes the plan in the caller's
transaction, or raises `ImportFailed` with the report when any row is bad, having written
nothing (`import_apply`). `export_rows` writes the same columns (`export`), so export -> import
changes nothing.
"""

from __future__ import annotations

from hub.catalog.export import XLSX_MEDIA_TYPE, export_rows, to_csv, to_xlsx
from hub.catalog.import_apply import ImportFailed, apply, error_items, run_import
from hub.catalog.import_plan import Plan, plan
from hub.catalog.import_read import (
    COLUMNS,
    ParsedFile,
    Row,
    format_minor,
    read_file,
    safe_file_name,
)

__all__ = [
    "COLUMNS",
    "XLSX_MEDIA_TYPE",
    "ImportFailed",
    "ParsedFile",
    "Plan",
    "Row",
    "apply",
    "error_items",
    "export_rows",
    "format_minor",
    "plan",
    "read_file",
    "run_import",
    "safe_file_name",
    "to_csv",
    "to_xlsx",
]
