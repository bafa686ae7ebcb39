"""Purchasing request and response bodies: suppliers, their terms, purchase orders, receipts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from hub.stock.schemas import MAX_LINES, StockDocOut
from hub.text import LongText, Name, check_line
from wire.money import MAX_QTY_MILLI
from wire.types import AmountMinor, Flag, Id, QtyMilli, at_most_items

OrderStatus = Literal["draft", "sent", "partially_received", "received", "cancelled"]
LeadTimeDays = Annotated[int, Field(strict=True, ge=0, le=365)]
ReviewPeriodDays = Annotated[int, Field(strict=True, ge=1, le=90)]
MinOrderMilli = Annotated[int, Field(strict=True, ge=0, le=MAX_QTY_MILLI)]
SupplierSku = Annotated[str, StringConstraints(max_length=64), AfterValidator(check_line)]
SourceKey = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(check_line)
]
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_text(value: Any) -> Any:
    """Only 'YYYY-MM-DD': lax parsing would also take numbers as unix timestamps."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_iso_required", "Expected a date as YYYY-MM-DD, e.g. 2025-03-07")


Date = Annotated[dt.date, BeforeValidator(_iso_date_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- suppliers -------------------------------------------------------------------------------


class SupplierCreate(_In):
    name: Name
    contact: LongText = ""
    lead_time_days: LeadTimeDays = Field(description="Days from order to delivery, 0..365")
    review_period_days: ReviewPeriodDays = Field(
        default=7, description="Days between two orders, 1..90"
    )
    active: Flag = True


class SupplierUpdate(_In):
    name: Name | None = None
    contact: LongText | None = None
    lead_time_days: LeadTimeDays | None = None
    review_period_days: ReviewPeriodDays | None = None
    active: Flag | None = None


class SupplierOut(_Out):
    id: int
    name: str
    contact: str
    lead_time_days: int
    review_period_days: int
    active: bool
    change_seq: int
    created_at: dt.datetime
    updated_at: dt.datetime


class SupplierProductIn(_In):
    """A supplier's terms for a product; fields left out keep their value (defaults when new)."""

    supplier_sku: SupplierSku = ""
    pack_size_milli: QtyMilli = Field(default=1000, description="Orders round up to packs")
    min_order_milli: MinOrderMilli = 0
    last_cost_minor: AmountMinor | None = Field(
        default=None, description="Per unit (1000 milli); goods receipts keep it current"
    )


class SupplierProductOut(BaseModel):
    id: int
    supplier_id: int
    product_id: int
    sku: str
    name: str
    unit: str
    supplier_sku: str
    pack_size_milli: int
    min_order_milli: int
    last_cost_minor: int | None
    change_seq: int


# --- purchase orders -------------------------------------------------------------------------


class OrderLineIn(_In):
    product_id: Id
    qty_ordered_milli: QtyMilli
    unit_cost_minor: AmountMinor = Field(description="Expected price per unit, VAT in")
    reason: LongText | None = Field(
        default=None, description="Why this quantity (machine-made drafts: the reorder inputs)"
    )


OrderLines = Annotated[list[OrderLineIn], at_most_items(MAX_LINES), Field(min_length=1)]


class OrderCreate(_In):
    supplier_id: Id
    note: LongText = ""
    expected_at: Date | None = None
    source_key: SourceKey | None = Field(
        default=None,
        description="Idempotency key of machine-made drafts (e.g. reorder:STORE:SUPPLIER:DATE): "
        "an order with this key is returned as it is, with 200",
    )
    lines: OrderLines


class OrderLinesIn(_In):
    lines: OrderLines


class ReceiveLineIn(_In):
    product_id: Id
    qty_milli: QtyMilli
    unit_cost_minor: AmountMinor | None = Field(
        default=None, description="What one unit cost; the order line's price when left out"
    )


class ReceiveIn(_In):
    note: LongText = ""
    lines: Annotated[list[ReceiveLineIn], at_most_items(MAX_LINES), Field(min_length=1)]


class OrderLineOut(BaseModel):
    id: int
    product_id: int
    sku: str
    name: str
    unit: str
    qty_ordered_milli: int
    qty_received_milli: int
    qty_remaining_milli: int = Field(description="Ordered minus received, never below 0")
    unit_cost_minor: int
    amount_minor: int = Field(description="Ordered quantity x unit cost, rounded half up")
    reason: str | None


class OrderOut(BaseModel):
    id: int
    store_id: int
    supplier_id: int
    supplier_name: str
    status: OrderStatus
    source_key: str | None
    note: str
    created_by: int | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    expected_at: dt.date | None
    closed_at: dt.datetime | None
    change_seq: int
    total_minor: int = Field(description="Sum of the lines' amounts")
    lines: list[OrderLineOut]


class OrderReceived(BaseModel):
    purchase_order: OrderOut
    doc: StockDocOut = Field(description="The goods receipt this delivery posted")


# --- goods receipts without an order ---------------------------------------------------------


class ReceiptLineIn(_In):
    product_id: Id
    qty_milli: QtyMilli
    unit_cost_minor: AmountMinor = Field(description="What one unit (1000 milli) cost, VAT in")


class ReceiptIn(_In):
    supplier_id: Id | None = None
    note: LongText = ""
    lines: Annotated[list[ReceiptLineIn], at_most_items(MAX_LINES), Field(min_length=1)]
