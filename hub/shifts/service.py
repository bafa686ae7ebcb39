"""Shift figures: each shift (re)derived from all its events and all sales naming it.

Called by the shift upload and by the sales ingest, in their transactions, for the shifts they
touched. The arithmetic is in `wire.shifts`; this module loads the totals with a few
aggregate queries and writes the rows that changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hub.db import LEDGER_SEQ, change_seqs, hold_ledger
from hub.sales.models import Sale
from hub.shifts.models import Shift, ShiftEvent
from wire.shifts import EventTotals, Figures, SaleTotals, shift_figures


def recompute(session: Session, store_id: int, device_id: int, shift_uuids: Iterable[UUID]) -> None:
    """(Re)derive the named shifts of a store from all their events and all sales naming them.

    Creates a missing shift row (owned by `device_id`) once anything names it; a shift whose
    figures did not change is left alone (same change_seq). Idempotent; a few aggregate queries
    whatever the number of shifts.
    """
    wanted = {u for u in shift_uuids if u is not None}
    if not wanted:
        return
    hold_ledger(session)  # callers normally hold it already
    events = _event_totals(session, store_id, wanted)
    rows = {
        row.shift_uuid: row
        for row in session.scalars(
            select(Shift).where(Shift.store_id == store_id, Shift.shift_uuid.in_(wanted))
        )
    }
    # A shift is its till's: the device of its events once there are any, else of whatever
    # named it first. Sales of other tills naming it are not counted in it.
    owners = {u: row.device_id for u, row in rows.items()}
    owners.update(event_owners(session, store_id, wanted))
    sales = _sale_totals(session, store_id, wanted, owners, device_id)
    no_open = {u for u in wanted if events.get(u, EventTotals()).open_cashier_id is None}
    firsts = _first_cashiers(session, store_id, no_open)
    pending: list[tuple[Shift, Figures]] = []
    for shift_uuid in sorted(wanted):
        if shift_uuid not in rows and shift_uuid not in events and shift_uuid not in sales:
            continue  # nothing names it (yet)
        figures = shift_figures(
            events.get(shift_uuid, EventTotals()),
            sales.get(shift_uuid, SaleTotals()),
            first_cashier_id=firsts.get(shift_uuid),
        )
        owner = owners.get(shift_uuid, device_id)
        row = rows.get(shift_uuid)
        if row is None:
            row = Shift(store_id=store_id, device_id=owner, shift_uuid=shift_uuid)
        elif _figures_of(row) == figures and row.device_id == owner:
            continue
        row.device_id = owner
        pending.append((row, figures))
    if not pending:
        return
    seqs = change_seqs(session, len(pending), LEDGER_SEQ)
    for row, figures in pending:
        for name, value in asdict(figures).items():
            setattr(row, name, value)
        row.change_seq = next(seqs)
        session.add(row)
    session.flush()


def _figures_of(row: Shift) -> Figures:
    return Figures(**{name: getattr(row, name) for name in Figures.__dataclass_fields__})


def _int(value: Any) -> int:
    """SUM() of a BIGINT is NUMERIC on PostgreSQL: back to an exact int."""
    return int(value or 0)


def _event_totals(s: Session, store_id: int, wanted: set[UUID]) -> dict[UUID, EventTotals]:
    rows = s.execute(
        select(
            ShiftEvent.shift_uuid,
            ShiftEvent.kind,
            func.count(),
            func.sum(ShiftEvent.amount_minor),
            func.min(ShiftEvent.at),
            func.min(ShiftEvent.cashier_id),
        )
        .where(ShiftEvent.store_id == store_id, ShiftEvent.shift_uuid.in_(wanted))
        .group_by(ShiftEvent.shift_uuid, ShiftEvent.kind)
    )
    parts: dict[UUID, dict[str, object]] = {}
    for shift_uuid, kind, count, amount, at, cashier_id in rows:
        part = parts.setdefault(shift_uuid, {"count": 0})
        part["count"] = _int(part["count"]) + count
        if kind == "open":
            part.update(float_minor=_int(amount), opened_at=at, open_cashier_id=cashier_id)
        elif kind == "close":
            part.update(counted_minor=_int(amount), closed_at=at)
        elif kind == "cash_in":
            part["pay_ins_minor"] = _int(amount)
        else:
            part["pay_outs_minor"] = _int(amount)
    return {u: EventTotals(**p) for u, p in parts.items()}  # type: ignore[arg-type]


def event_owners(s: Session, store_id: int, wanted: Iterable[UUID]) -> dict[UUID, int]:
    """The till that sent each shift's events (events of another till are refused)."""
    return {
        row.shift_uuid: row.device_id
        for row in s.execute(
            select(ShiftEvent.shift_uuid, func.min(ShiftEvent.device_id).label("device_id"))
            .where(ShiftEvent.store_id == store_id, ShiftEvent.shift_uuid.in_(set(wanted)))
            .group_by(ShiftEvent.shift_uuid)
        )
    }


def _sale_totals(
    s: Session, store_id: int, wanted: set[UUID], owners: dict[UUID, int], default_owner: int
) -> dict[UUID, SaleTotals]:
    is_sale = Sale.kind == "sale"
    rows = s.execute(
        select(
            Sale.shift_uuid,
            Sale.device_id,
            func.sum(case((is_sale, 1), else_=0)),
            func.sum(case((is_sale, Sale.total_minor), else_=0)),
            func.sum(case((is_sale, Sale.cash_minor - Sale.change_minor), else_=0)),
            func.sum(case((is_sale, 0), else_=1)),
            func.sum(case((is_sale, 0), else_=Sale.total_minor)),
            func.sum(case((is_sale, 0), else_=Sale.cash_minor - Sale.change_minor)),
        )
        .where(Sale.store_id == store_id, Sale.shift_uuid.in_(wanted))
        .group_by(Sale.shift_uuid, Sale.device_id)
    )
    return {
        shift_uuid: SaleTotals(
            sales_count=_int(sales),
            sales_total_minor=_int(sales_total),
            cash_sales_minor=_int(cash_sales),
            returns_count=_int(returns),
            returns_total_minor=_int(returns_total),
            cash_refunds_minor=_int(cash_refunds),
        )
        for (
            shift_uuid,
            device,
            sales,
            sales_total,
            cash_sales,
            returns,
            returns_total,
            cash_refunds,
        ) in rows
        if shift_uuid is not None and device == owners.get(shift_uuid, default_owner)
    }


def _first_cashiers(s: Session, store_id: int, wanted: set[UUID]) -> dict[UUID, int]:
    """The cashier of each shift's earliest event, else of its earliest sale."""
    found: dict[UUID, int] = {}
    if not wanted:
        return found
    for ranked in (
        select(
            Sale.shift_uuid,
            Sale.cashier_id,
            func.row_number()
            .over(partition_by=Sale.shift_uuid, order_by=(Sale.created_at, Sale.till_seq))
            .label("n"),
        )
        .where(Sale.store_id == store_id, Sale.shift_uuid.in_(wanted))
        .subquery(),
        select(
            ShiftEvent.shift_uuid,
            ShiftEvent.cashier_id,
            func.row_number()
            .over(partition_by=ShiftEvent.shift_uuid, order_by=(ShiftEvent.at, ShiftEvent.till_seq))
            .label("n"),
        )
        .where(ShiftEvent.store_id == store_id, ShiftEvent.shift_uuid.in_(wanted))
        .subquery(),
    ):
        query = select(ranked.c.shift_uuid, ranked.c.cashier_id).where(ranked.c.n == 1)
        # events (second) win over sales
        found.update(s.execute(query).all())
    return found
