"""What managers read of shifts: the shift list, the X/Z report and cash over/short. The till's
upload uses the wire contract (`wire.v1.shifts`) directly."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

ShiftStatus = Literal["open", "closed"]


class ShiftOut(BaseModel):
    """One shift. Figures are minor units; `expected_minor` needs the open event's float and
    `over_short_minor` (counted - expected) the close."""

    shift_uuid: UUID
    store_id: int
    device_id: int
    cashier_id: int | None
    status: ShiftStatus
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    float_minor: int | None
    cash_sales_minor: int
    cash_refunds_minor: int
    pay_ins_minor: int
    pay_outs_minor: int
    sales_count: int
    sales_total_minor: int
    returns_count: int
    returns_total_minor: int
    expected_minor: int | None
    counted_minor: int | None
    over_short_minor: int | None
    flags: list[str]


class TillRef(BaseModel):
    device_id: int
    name: str


class CashierRef(BaseModel):
    id: int
    name: str | None  # None when the till sent an id the hub does not know for this store


class TenderTotal(BaseModel):
    """Per tender: taken on sales (cash net of change), refunded on returns, and the net."""

    tender: str
    sales_minor: int
    refunds_minor: int
    net_minor: int


class VatTotal(BaseModel):
    """Per VAT rate (basis points; None = no VAT): line amounts and VAT, returns negative."""

    vat_rate_bp: int | None
    amount_minor: int
    vat_minor: int


class CashEventOut(BaseModel):
    event_uuid: UUID
    till_seq: int
    kind: str
    at: dt.datetime
    cashier_id: int
    amount_minor: int
    reason: str | None


class ShiftReport(BaseModel):
    """The Z report of a closed shift, or the X report (no count yet) of an open one."""

    report: Literal["Z", "X"]
    shift_uuid: UUID
    store_id: int
    store_name: str
    currency: str
    till: TillRef
    cashier: CashierRef | None
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    float_minor: int | None
    cash_sales_minor: int
    cash_refunds_minor: int
    pay_ins_minor: int
    pay_outs_minor: int
    expected_minor: int | None
    counted_minor: int | None
    over_short_minor: int | None
    sales_count: int
    sales_total_minor: int
    returns_count: int
    returns_total_minor: int
    tenders: list[TenderTotal]
    vat: list[VatTotal]
    cash_events: list[CashEventOut]
    flags: list[str]


class OverShortShift(BaseModel):
    shift_uuid: UUID
    device_id: int
    opened_at: dt.datetime | None
    closed_at: dt.datetime
    expected_minor: int | None
    counted_minor: int | None
    over_short_minor: int | None  # None when the shift has no open event (float unknown)


class CashierOverShort(BaseModel):
    cashier_id: int | None
    cashier_name: str | None
    shifts_closed: int
    over_short_minor: int  # sum over the shifts whose over/short is known
    shifts: list[OverShortShift]


class OverShortReport(BaseModel):
    """Shifts closed in [period_from, period_to), per cashier."""

    store_id: int
    period_from: dt.datetime | None
    period_to: dt.datetime | None
    cashiers: list[CashierOverShort]
