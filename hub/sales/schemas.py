from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _split_flags(value: Any) -> Any:
    return [f for f in value.split(",") if f] if isinstance(value, str) else value


class SaleSummary(_Out):
    id: int
    sale_uuid: uuid.UUID
    device_id: int
    till_seq: int
    kind: str
    original_sale_uuid: uuid.UUID | None
    original_sale_id: int | None
    cashier_id: int
    shift_uuid: uuid.UUID | None
    currency: str
    total_minor: int
    vat_minor: int
    change_minor: int
    created_at: dt.datetime
    till_utc_offset_min: int
    received_at: dt.datetime
    flags: list[str]

    _flags = field_validator("flags", mode="before")(_split_flags)


class SaleLineOut(_Out):
    line_no: int
    product_id: int | None
    unknown_product: bool
    barcode: str | None
    name: str
    qty_milli: int
    unit_price_minor: int
    discount_minor: int
    amount_minor: int
    vat_rate_bp: int | None
    vat_minor: int
    unit_cost_minor: int | None


class SalePaymentOut(_Out):
    payment_no: int
    tender: str
    amount_minor: int
    approval_code: str | None


class SaleDetail(SaleSummary):
    prev_hash: str
    hash: str
    fn_number: str | None
    fd_number: int | None
    fpd: str | None
    lines: list[SaleLineOut]
    payments: list[SalePaymentOut]
    returns: list[uuid.UUID]


class QuarantinedOut(_Out):
    id: int
    device_id: int
    sale_uuid: uuid.UUID
    till_seq: int
    reason: str
    errors: list[dict[str, Any]]
    payload: dict[str, Any]
    received_at: dt.datetime


class JournalIssueOut(_Out):
    kind: str
    till_seq: int
    sale_uuid: uuid.UUID
    detail: str
    detected_at: dt.datetime


class TillJournalOut(BaseModel):
    device_id: int
    name: str
    revoked: bool
    replaces_device_id: int | None  # re-paired: this till continues that device's journal
    last_contact_at: dt.datetime | None
    last_sale_at: dt.datetime | None
    max_sale_seq: int
    sales_count: int
    missing: list[str]  # e.g. ["17-19", "25"], over the till's whole line of devices
    issues: list[JournalIssueOut]
