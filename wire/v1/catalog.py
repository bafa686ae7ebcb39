"""Catalog rows the hub sends to tills as cursor-paged deltas (full rows, never hard-deleted)."""

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator

from wire.barcodes import validate_pattern
from wire.types import (
    AmountMinor,
    Barcode,
    CodeText,
    Currency,
    Flag,
    Id,
    LongText,
    RateBp,
    Seq,
    ShortText,
    Sku,
    TimeZoneName,
    WireModel,
)

Unit = Literal["piece", "kg", "l", "m"]
ScaleCode = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{1,7}$")]
PinHash = Annotated[
    str,
    StringConstraints(
        strict=True,
        max_length=512,
        pattern=r"^\$argon2(?:id|i|d)(?:\$[A-Za-z0-9=,+/.-]+){3,4}$",
    ),
]


def _valid_pattern(pattern: str) -> str:
    validate_pattern(pattern)
    return pattern


TemplatePattern = Annotated[
    str, StringConstraints(strict=True, max_length=13), AfterValidator(_valid_pattern)
]


class TaxRateV1(WireModel):
    """A VAT rate from the tax table; `rate_bp` None means 'без НДС' (no VAT)."""

    id: Id
    code: CodeText
    name: ShortText
    rate_bp: RateBp | None


class CategoryV1(WireModel):
    id: Id
    parent_id: Id | None
    name: ShortText
    active: Flag


class ProductV1(WireModel):
    id: Id
    sku: Sku
    name: ShortText
    category_id: Id | None
    unit: Unit
    price_minor: AmountMinor
    tax_rate_id: Id
    vat_rate_bp: RateBp | None
    barcodes: Annotated[tuple[Barcode, ...], Field(max_length=64)]
    scale_code: ScaleCode | None
    active: Flag


class WeightTemplateV1(WireModel):
    id: Id
    name: ShortText
    pattern: TemplatePattern
    active: Flag


class CashierV1(WireModel):
    """A cashier; `pin_hash` is an argon2 PHC string, None when the cashier cannot log in."""

    id: Id
    name: ShortText
    pin_hash: PinHash | None
    max_discount_bp: RateBp
    active: Flag


class StoreV1(WireModel):
    id: Id
    name: ShortText
    address: LongText
    timezone: TimeZoneName
    currency: Currency
    language: Literal["ru", "en"]
    receipt_header: LongText
    receipt_footer: LongText


class CatalogDelta(WireModel):
    """Rows changed after `cursor`; ask again from `next_cursor` while `has_more`."""

    cursor: Seq
    next_cursor: Seq
    has_more: Flag
    store: StoreV1 | None
    tax_rates: tuple[TaxRateV1, ...]
    categories: tuple[CategoryV1, ...]
    products: tuple[ProductV1, ...]
    weight_templates: tuple[WeightTemplateV1, ...]
    cashiers: tuple[CashierV1, ...]

    @field_validator("next_cursor")
    @classmethod
    def _not_behind(cls, next_cursor: int, info: ValidationInfo) -> int:
        cursor = info.data.get("cursor")
        if cursor is not None and next_cursor < cursor:
            raise ValueError(f"next_cursor {next_cursor} is behind cursor {cursor}")
        return next_cursor
