"""Shift and cash-drawer events as the till journals and uploads them."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from wire.types import AmountMinor, AwareTime, Id, LongText, TillSeq, WireModel, at_most_items
from wire.v1.results import ErrorV1, ResultStatus

MAX_EVENTS_PER_BATCH = 200


class ShiftEventV1(WireModel):
    """One shift event. `amount_minor` is the counted float for open, the amount moved for
    cash_in / cash_out, and the blind-counted cash for close."""

    event_uuid: UUID
    shift_uuid: UUID
    till_seq: TillSeq
    kind: Literal["open", "cash_in", "cash_out", "close"]
    at: AwareTime
    cashier_id: Id
    amount_minor: AmountMinor
    reason: LongText | None


class ShiftEventsBatch(WireModel):
    store_id: Id | None = None  # as in SalesBatch: a mismatch with the token's store is a 403
    events: Annotated[
        tuple[ShiftEventV1, ...],
        Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH),
        at_most_items(MAX_EVENTS_PER_BATCH),
    ]


class ShiftEventResult(WireModel):
    event_uuid: UUID
    status: ResultStatus
    errors: tuple[ErrorV1, ...] = ()


class ShiftEventsBatchResult(WireModel):
    results: tuple[ShiftEventResult, ...]
