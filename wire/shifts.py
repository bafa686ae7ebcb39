"""Shift figures (DOMAIN.md "Shifts and cash") as pure functions on plain totals: expected cash,
over/short and the flags a manager should look at. Shared by the hub (which loads the totals
with SQL) and the till (which sums its own journal for X and Z reports)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MAX_SHIFT = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class EventTotals:
    """One shift's cash-drawer events, summed."""

    count: int = 0
    float_minor: int | None = None  # the open event's counted float; None without an open
    opened_at: dt.datetime | None = None
    open_cashier_id: int | None = None
    counted_minor: int | None = None  # the close event's blind count; None while open
    closed_at: dt.datetime | None = None
    pay_ins_minor: int = 0
    pay_outs_minor: int = 0


@dataclass(frozen=True, slots=True)
class SaleTotals:
    """The sales and returns naming one shift, summed."""

    sales_count: int = 0
    sales_total_minor: int = 0
    cash_sales_minor: int = 0  # cash received net of change
    returns_count: int = 0
    returns_total_minor: int = 0
    cash_refunds_minor: int = 0


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything the hub derives for a shift; field names are the `shift` table's columns."""

    cashier_id: int | None
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    float_minor: int | None
    cash_sales_minor: int
    cash_refunds_minor: int
    pay_ins_minor: int
    pay_outs_minor: int
    sales_count: int
    returns_count: int
    sales_total_minor: int
    returns_total_minor: int
    counted_minor: int | None
    expected_minor: int | None
    over_short_minor: int | None
    flags: str


def expected_cash(
    *,
    float_minor: int,
    cash_sales_minor: int,
    cash_refunds_minor: int,
    pay_ins_minor: int,
    pay_outs_minor: int,
) -> int:
    """Cash that should be in the drawer: float + cash sales - cash refunds + pay-ins - pay-outs
    (change is already netted out of cash sales)."""
    return float_minor + cash_sales_minor - cash_refunds_minor + pay_ins_minor - pay_outs_minor


def shift_figures(
    events: EventTotals, sales: SaleTotals, *, first_cashier_id: int | None = None
) -> Figures:
    """A shift's figures from its totals. Expected cash needs the float, over/short the close.

    The cashier is the one who opened the shift, else `first_cashier_id` (the first event's or
    sale's). Flags: `over_24h` (closed more than 24 h after it opened), `no_open_event`.
    """
    expected = None
    if events.float_minor is not None:
        expected = expected_cash(
            float_minor=events.float_minor,
            cash_sales_minor=sales.cash_sales_minor,
            cash_refunds_minor=sales.cash_refunds_minor,
            pay_ins_minor=events.pay_ins_minor,
            pay_outs_minor=events.pay_outs_minor,
        )
    over_short = None
    if events.counted_minor is not None and expected is not None:
        over_short = events.counted_minor - expected
    flags = []
    if (
        events.opened_at is not None
        and events.closed_at is not None
        and events.closed_at - events.opened_at > MAX_SHIFT
    ):
        flags.append("over_24h")
    if events.float_minor is None and (events.count or sales.sales_count or sales.returns_count):
        flags.append("no_open_event")
    return Figures(
        cashier_id=(
            events.open_cashier_id if events.open_cashier_id is not None else first_cashier_id
        ),
        opened_at=events.opened_at,
        closed_at=events.closed_at,
        float_minor=events.float_minor,
        cash_sales_minor=sales.cash_sales_minor,
        cash_refunds_minor=sales.cash_refunds_minor,
        pay_ins_minor=events.pay_ins_minor,
        pay_outs_minor=events.pay_outs_minor,
        sales_count=sales.sales_count,
        returns_count=sales.returns_count,
        sales_total_minor=sales.sales_total_minor,
        returns_total_minor=sales.returns_total_minor,
        counted_minor=events.counted_minor,
        expected_minor=expected,
        over_short_minor=over_short,
        flags=",".join(flags),
    )


def read_flags(
    stored: str, *, opened_at: dt.datetime | None, closed_at: dt.datetime | None, now: dt.datetime
) -> list[str]:
    """The stored flags plus `open_over_24h`, which depends on the time of reading."""
    flags = [f for f in stored.split(",") if f]
    if closed_at is None and opened_at is not None and now - opened_at > MAX_SHIFT:
        flags.append("open_over_24h")
    return flags
