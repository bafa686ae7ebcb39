"""Reads of shifts for managers: the shift list, the X/Z report and cash over/short per cashier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hub.devices.models import Device
from hub.errors import ApiError
from hub.sales.models import Sale, SaleLine, SalePayment
from hub.shifts.models import Shift, ShiftEvent
from hub.shifts.schemas import (
    CashEventOut,
    CashierOverShort,
    CashierRef,
    OverShortReport,
    OverShortShift,
    ShiftOut,
    ShiftReport,
    ShiftStatus,
    TenderTotal,
    TillRef,
    VatTotal,
)
from hub.staff.models import User
from hub.stores import service as stores
from wire.shifts import read_flags

TENDER_ORDER = {"cash": 0, "card": 1, "other": 2}


def _int(value: Any) -> int:
    """SUM() of a BIGINT is NUMERIC on PostgreSQL: back to an exact int."""
    return int(value or 0)


def shift_out(row: Shift, *, now: dt.datetime) -> ShiftOut:
    return ShiftOut(
        shift_uuid=row.shift_uuid,
        store_id=row.store_id,
        device_id=row.device_id,
        cashier_id=row.cashier_id,
        status="open" if row.closed_at is None else "closed",
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        float_minor=row.float_minor,
        cash_sales_minor=row.cash_sales_minor,
        cash_refunds_minor=row.cash_refunds_minor,
        pay_ins_minor=row.pay_ins_minor,
        pay_outs_minor=row.pay_outs_minor,
        sales_count=row.sales_count,
        sales_total_minor=row.sales_total_minor,
        returns_count=row.returns_count,
        returns_total_minor=row.returns_total_minor,
        expected_minor=row.expected_minor,
        counted_minor=row.counted_minor,
        over_short_minor=row.over_short_minor,
        flags=read_flags(row.flags, opened_at=row.opened_at, closed_at=row.closed_at, now=now),
    )


def list_shifts(
    session: Session,
    *,
    store_id: int,
    status: ShiftStatus | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    limit: int,
    now: dt.datetime,
) -> list[ShiftOut]:
    """Newest first by opening time (closing time for a shift whose open has not arrived);
    `start`/`end` bound that time, end excluded."""
    stores.get_store(session, store_id)
    when = func.coalesce(Shift.opened_at, Shift.closed_at)
    query = select(Shift).where(Shift.store_id == store_id)
    if status == "open":
        query = query.where(Shift.closed_at.is_(None))
    elif status == "closed":
        query = query.where(Shift.closed_at.is_not(None))
    if start is not None:
        query = query.where(when >= start)
    if end is not None:
        query = query.where(when < end)
    query = query.order_by(when.desc().nulls_last(), Shift.id.desc()).limit(limit)
    return [shift_out(row, now=now) for row in session.scalars(query)]


def _get_shift(session: Session, store_id: int, shift_uuid: UUID) -> Shift:
    row = session.scalars(
        select(Shift).where(Shift.store_id == store_id, Shift.shift_uuid == shift_uuid)
    ).one_or_none()
    if row is None:
        raise ApiError(
            404,
            "not_found",
            f"shift {shift_uuid} is not known in store {store_id}",
            loc=["path", "shift_uuid"],
        )
    return row


def _cashier_names(session: Session, store_id: int, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the store's staff (and owners) among `ids`; unknown ids are left out."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(User.id, User.name).where(
            User.id.in_(wanted), (User.store_id == store_id) | User.store_id.is_(None)
        )
    )
    return dict(rows.all())


def _tenders(session: Session, store_id: int, shift_uuid: UUID) -> list[TenderTotal]:
    in_shift = (Sale.store_id == store_id, Sale.shift_uuid == shift_uuid)
    paid = session.execute(
        select(Sale.kind, SalePayment.tender, func.sum(SalePayment.amount_minor))
        .join(Sale, Sale.id == SalePayment.sale_id)
        .where(*in_shift)
        .group_by(Sale.kind, SalePayment.tender)
    )
    change = _int(
        session.scalar(select(func.sum(Sale.change_minor)).where(*in_shift, Sale.kind == "sale"))
    )
    sales: dict[str, int] = {}
    refunds: dict[str, int] = {}
    for kind, tender, amount in paid:
        (sales if kind == "sale" else refunds)[tender] = _int(amount)
    if change:
        sales["cash"] = sales.get("cash", 0) - change
    return [
        TenderTotal(
            tender=tender,
            sales_minor=sales.get(tender, 0),
            refunds_minor=refunds.get(tender, 0),
            net_minor=sales.get(tender, 0) - refunds.get(tender, 0),
        )
        for tender in sorted(
            sales.keys() | refunds.keys(), key=lambda t: (TENDER_ORDER.get(t, 9), t)
        )
    ]


def _vat(session: Session, store_id: int, shift_uuid: UUID) -> list[VatTotal]:
    sign = case((Sale.kind == "return", -1), else_=1)
    rows = session.execute(
        select(
            SaleLine.vat_rate_bp,
            func.sum(sign * SaleLine.amount_minor),
            func.sum(sign * SaleLine.vat_minor),
        )
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.store_id == store_id, Sale.shift_uuid == shift_uuid)
        .group_by(SaleLine.vat_rate_bp)
    )
    totals = [
        VatTotal(vat_rate_bp=rate, amount_minor=_int(amount), vat_minor=_int(vat))
        for rate, amount, vat in rows
    ]
    return sorted(totals, key=lambda t: (t.vat_rate_bp is None, -(t.vat_rate_bp or 0)))


def shift_report(
    session: Session, *, store_id: int, shift_uuid: UUID, now: dt.datetime
) -> ShiftReport:
    """The Z report of a closed shift, the X report of an open one."""
    store = stores.get_store(session, store_id)
    row = _get_shift(session, store_id, shift_uuid)
    device = session.get(Device, row.device_id)
    names = _cashier_names(session, store_id, [row.cashier_id])
    events = session.scalars(
        select(ShiftEvent)
        .where(ShiftEvent.store_id == store_id, ShiftEvent.shift_uuid == shift_uuid)
        .order_by(ShiftEvent.at, ShiftEvent.till_seq)
    )
    shift = shift_out(row, now=now)
    return ShiftReport(
        report="X" if row.closed_at is None else "Z",
        store_name=store.name,
        currency=store.currency,
        till=TillRef(device_id=row.device_id, name=device.name if device else ""),
        cashier=(
            None
            if row.cashier_id is None
            else CashierRef(id=row.cashier_id, name=names.get(row.cashier_id))
        ),
        tenders=_tenders(session, store_id, shift_uuid),
        vat=_vat(session, store_id, shift_uuid),
        cash_events=[
            CashEventOut(
                event_uuid=e.event_uuid,
                till_seq=e.till_seq,
                kind=e.kind,
                at=e.at,
                cashier_id=e.cashier_id,
                amount_minor=e.amount_minor,
                reason=e.reason,
            )
            for e in events
        ],
        **shift.model_dump(
            include={
                "shift_uuid",
                "store_id",
                "opened_at",
                "closed_at",
                "float_minor",
                "cash_sales_minor",
                "cash_refunds_minor",
                "pay_ins_minor",
                "pay_outs_minor",
                "expected_minor",
                "counted_minor",
                "over_short_minor",
                "sales_count",
                "sales_total_minor",
                "returns_count",
                "returns_total_minor",
                "flags",
            }
        ),
    )


def over_short(
    session: Session, *, store_id: int, start: dt.datetime | None, end: dt.datetime | None
) -> OverShortReport:
    """Shifts closed in [start, end), grouped per cashier (cashiers by id, shifts by close)."""
    stores.get_store(session, store_id)
    query = select(Shift).where(Shift.store_id == store_id, Shift.closed_at.is_not(None))
    if start is not None:
        query = query.where(Shift.closed_at >= start)
    if end is not None:
        query = query.where(Shift.closed_at < end)
    rows = list(session.scalars(query.order_by(Shift.closed_at, Shift.id)))
    names = _cashier_names(session, store_id, (r.cashier_id for r in rows))
    per_cashier: dict[int | None, list[Shift]] = {}
    for row in rows:
        per_cashier.setdefault(row.cashier_id, []).append(row)
    cashiers = [
        CashierOverShort(
            cashier_id=cashier_id,
            cashier_name=names.get(cashier_id) if cashier_id is not None else None,
            shifts_closed=len(shifts),
            over_short_minor=sum(s.over_short_minor or 0 for s in shifts),
            shifts=[
                OverShortShift(
                    shift_uuid=s.shift_uuid,
                    device_id=s.device_id,
                    opened_at=s.opened_at,
                    closed_at=s.closed_at,
                    expected_minor=s.expected_minor,
                    counted_minor=s.counted_minor,
                    over_short_minor=s.over_short_minor,
                )
                for s in shifts
            ],
        )
        for cashier_id, shifts in sorted(
            per_cashier.items(), key=lambda item: (item[0] is None, item[0] or 0)
        )
    ]
    return OverShortReport(store_id=store_id, period_from=start, period_to=end, cashiers=cashiers)
