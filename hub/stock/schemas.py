"""Stock request and response bodies: manual stock documents, levels and moves."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from hub.text import LongText, check_line
from wire.money import MAX_QTY_MILLI
from wire.types import Id, QtyMilli, SignedQtyMilli, at_most_items

MAX_LINES = 1000  # per document; a longer list is refused before its items are parsed

# Why stock was written off or adjusted: one line, required, and not just blanks.
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(check_line),
]
CountedMilli = Annotated[int, Field(strict=True, ge=0, le=MAX_QTY_MILLI)]


def _non_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0: an adjustment moves stock in (+) or out (-)")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- documents in ----------------------------------------------------------------------------


class CountLineIn(_In):
    product_id: Id
    counted_milli: CountedMilli


class CountIn(_In):
    note: LongText = ""
    lines: Annotated[list[CountLineIn], at_most_items(MAX_LINES), Field(min_length=1)]


class QtyLineIn(_In):
    product_id: Id
    qty_milli: QtyMilli


class TransferIn(_In):
    to_store_id: Id
    note: LongText = ""
    lines: Annotated[list[QtyLineIn], at_most_items(MAX_LINES), Field(min_length=1)]


class WriteOffIn(_In):
    reason: Reason
    note: LongText = ""
    lines: Annotated[list[QtyLineIn], at_most_items(MAX_LINES), Field(min_length=1)]


class AdjustmentLineIn(_In):
    product_id: Id
    qty_milli: Annotated[SignedQtyMilli, AfterValidator(_non_zero)] = Field(
        description="Signed: + into the store, - out of it; never 0"
    )


class AdjustmentIn(_In):
    reason: Reason
    note: LongText = ""
    lines: Annotated[list[AdjustmentLineIn], at_most_items(MAX_LINES), Field(min_length=1)]


# --- out -------------------------------------------------------------------------------------


class StockMoveOut(_Out):
    id: int
    store_id: int
    product_id: int
    kind: str
    qty_milli: int = Field(description="Signed: + into the store, - out of it")
    unit_cost_minor: int | None = Field(description="Cost per unit it was valued at")
    counted_milli: int | None
    doc_id: int | None
    sale_id: int | None
    sale_line_no: int | None
    reason: str
    at: dt.datetime
    change_seq: int


class StockDocOut(_Out):
    id: int
    kind: str
    store_id: int
    to_store_id: int | None
    supplier_id: int | None
    purchase_order_id: int | None
    reason: str
    note: str
    created_by: int | None
    created_at: dt.datetime
    change_seq: int
    moves: list[StockMoveOut] = Field(description="A transfer's moves in both stores")


class CountLineOut(BaseModel):
    product_id: int
    on_hand_before_milli: int
    counted_milli: int
    delta_milli: int


class CountOut(StockDocOut):
    lines: list[CountLineOut]


class StockLevelOut(BaseModel):
    product_id: int
    sku: str
    name: str
    unit: str
    on_hand_milli: int
    avg_cost_minor: int | None = Field(description="Moving average per unit; null until costed")
    value_minor: int | None = Field(description="on_hand x average, rounded half up")
    last_move_at: dt.datetime


class StockPage(BaseModel):
    items: list[StockLevelOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null: done")


class StockMovePage(BaseModel):
    items: list[StockMoveOut]
    next_before_id: int | None = Field(description="Pass as `before_id` for older moves")
