"""Catalog request and response bodies, and the field rules the CSV/XLSX import shares with them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from hub.errors import ErrorItem
from hub.text import Code, Name, check_line
from wire.barcodes import is_valid_gtin
from wire.types import AmountMinor, Flag, Id, RateBp
from wire.v1.catalog import TemplatePattern, Unit

SKU_MAX = 64  # hub.text.Code's limit
NAME_MAX = 200  # hub.text.Name's limit
TAX_CODE_MAX = 32
MAX_BARCODES = 64
PATH_SEPARATOR = "/"
MAX_CATEGORY_DEPTH = 16  # levels from the top, the top level included
# Separators of several barcodes in one import cell, so no barcode may contain them.
BARCODE_SEPARATORS = ";,"

_BARCODE = re.compile(r"[!-~]{1,64}")
_GTIN_LENGTHS = frozenset({8, 12, 13, 14})
_SCALE_CODE = re.compile(r"[0-9]{1,7}")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be catalog text (`hub.text`'s one-line rule), or None: the import
    checks its cells with the same rule as the API's `Name` and `Code`."""
    try:
        check_line(value)
    except PydanticCustomError as exc:
        return exc.message()
    return None


def barcode_problem(code: str) -> str | None:
    """Why `code` is not an acceptable barcode, or None when it is."""
    if not _BARCODE.fullmatch(code):
        return f"{code[:70]!r} is not a barcode: 1 to 64 printable ASCII characters, no spaces"
    if any(sep in code for sep in BARCODE_SEPARATORS):
        return f"{code!r}: ';' and ',' separate barcodes in imports, a barcode cannot contain them"
    if code.isdigit() and len(code) in _GTIN_LENGTHS and not is_valid_gtin(code):
        return f"{code!r} has a wrong GS1 check digit (EAN-8/UPC-A/EAN-13/GTIN-14)"
    return None


def normalize_scale_code(value: str) -> str:
    """Labels compare scale codes as integers: '00123' and '123' are one code, kept as '123'."""
    if not _SCALE_CODE.fullmatch(value):
        raise ValueError(f"{value[:20]!r} is not a scale code: 1 to 7 digits")
    return str(int(value))


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _no_separator(value: str) -> str:
    if PATH_SEPARATOR in value:
        raise ValueError(f"must not contain {PATH_SEPARATOR!r}: it separates category path levels")
    return value


def _barcode(value: str) -> str:
    if problem := barcode_problem(value):
        raise ValueError(problem)
    return value


# `hub.text`'s one-line types (no control characters: catalog text is printed on receipts and
# exported to XLSX), stripped first; the catalog adds only its own limits on top.
Text = Annotated[Name, BeforeValidator(_strip)]
Sku = Annotated[Code, BeforeValidator(_strip)]
TaxCode = Annotated[Code, BeforeValidator(_strip), Field(max_length=TAX_CODE_MAX)]
CategoryName = Annotated[Text, AfterValidator(_no_separator)]
BarcodeCode = Annotated[str, Field(strict=True), AfterValidator(_barcode)]
ScaleCode = Annotated[str, Field(strict=True), AfterValidator(normalize_scale_code)]
Barcodes = Annotated[list[BarcodeCode], Field(max_length=MAX_BARCODES)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- tax rates -----------------------------------------------------------------------------


class TaxRateCreate(_In):
    code: TaxCode
    name: Text
    rate_bp: RateBp | None = Field(description="Basis points (2200 = 22 %); null = без НДС")


class TaxRateUpdate(_In):
    code: TaxCode | None = None
    name: Text | None = None
    rate_bp: RateBp | None = None


class TaxRateOut(_Out):
    id: int
    code: str
    name: str
    rate_bp: int | None
    change_seq: int


# --- categories ----------------------------------------------------------------------------


class CategoryCreate(_In):
    name: CategoryName
    parent_id: Id | None = None
    active: Flag = True


class CategoryUpdate(_In):
    name: CategoryName | None = None
    parent_id: Id | None = Field(default=None, description="null moves the category to the top")
    active: Flag | None = None


class CategoryOut(_Out):
    id: int
    parent_id: int | None
    name: str
    path: str = Field(description="Names from the top, joined by '/'")
    active: bool
    change_seq: int


# --- products ------------------------------------------------------------------------------


class ProductCreate(_In):
    sku: Sku
    name: Text
    category_id: Id | None = None
    unit: Unit
    price_minor: AmountMinor
    tax_rate_id: Id
    barcodes: Barcodes = Field(default_factory=list)
    scale_code: ScaleCode | None = None
    active: Flag = True


class ProductUpdate(_In):
    name: Text | None = None
    category_id: Id | None = None
    unit: Unit | None = None
    price_minor: AmountMinor | None = None
    tax_rate_id: Id | None = None
    barcodes: Barcodes | None = Field(default=None, description="Replaces the whole list")
    scale_code: ScaleCode | None = None
    active: Flag | None = None


class ProductOut(_Out):
    id: int
    sku: str
    name: str
    category_id: int | None
    unit: str
    price_minor: int
    tax_rate_id: int
    barcodes: list[str]
    scale_code: str | None
    active: bool
    change_seq: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int
    limit: int
    offset: int


# --- weighted-barcode templates ------------------------------------------------------------


class WeightTemplateCreate(_In):
    name: Text
    pattern: TemplatePattern
    active: Flag = True


class WeightTemplateUpdate(_In):
    name: Text | None = None
    pattern: TemplatePattern | None = None
    active: Flag | None = None


class WeightTemplateOut(_Out):
    id: int
    name: str
    pattern: str
    active: bool
    change_seq: int


# --- import --------------------------------------------------------------------------------


class ImportIssue(BaseModel):
    row: int = Field(description="1-based row of the file; the header is row 1, 0 = whole file")
    column: str | None
    code: str
    message: str


class ImportReport(BaseModel):
    rows: int = Field(description="Data rows read (empty rows are skipped)")
    to_create: int
    to_update: int
    unchanged: int
    categories_to_create: list[str]
    errors: list[ImportIssue]


class ImportRejected(BaseModel):
    """422 of a non-dry-run import with errors: nothing was written."""

    detail: list[ErrorItem]
    report: ImportReport
