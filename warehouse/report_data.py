"""The owner report's figures as small dataclasses (`warehouse.report_gather` reads them from
the marts built for the report's last day). Money stays integer minor units and quantities
integer thousandths; ratios are integers too (basis points), each rounded once here. Formatting
is `warehouse.report_format`'s.

Revenue is net of returns everywhere (a return's rows are negative in the marts); receipts count
sales only, returns are counted apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

SCOPES = ("daily", "weekly")
TREND_DAYS = 28
LOW_STOCK_LIMIT = 200


@dataclass(frozen=True)
class Period:
    """A report's days: `daily` is the day `end`; `weekly` the ISO week Monday `start` ..
    Sunday `end`. The marts behind the report are built for `end`."""

    scope: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def report_period(scope: str, as_of: dt.date) -> Period:
    """The period a report for `as_of` covers; a weekly report's `as_of` must be a Sunday."""
    if scope == "daily":
        return Period(scope, as_of, as_of)
    if scope == "weekly":
        if as_of.isoweekday() != 7:
            sunday = as_of + dt.timedelta(days=7 - as_of.isoweekday())
            raise ValueError(
                f"a weekly report ends on a Sunday; {as_of.isoformat()} is a "
                f"{as_of.strftime('%A')} (its ISO week ends on {sunday.isoformat()})"
            )
        return Period(scope, as_of - dt.timedelta(days=6), as_of)
    raise ValueError(f"unknown report scope {scope!r}: use one of {', '.join(SCOPES)}")


def div_half_up(numerator: int, denominator: int) -> int:
    """Exact integer division rounded half away from zero (the hub's round_half_up)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def ratio_bp(part: int, whole: int) -> int | None:
    """part / whole in basis points (10 000 = 100 %), rounded once; None when whole <= 0."""
    return div_half_up(part * 10_000, whole) if whole > 0 else None


# --- the report's rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Profit:
    """Net revenue (with and without VAT) and gross profit of some sale lines.

    Gross profit counts only lines whose cost is known; `revenue_without_cost_minor` (with VAT)
    is the revenue of the others, which adds revenue but no profit."""

    revenue_minor: int = 0
    revenue_ex_vat_minor: int = 0
    gross_profit_minor: int = 0
    revenue_without_cost_minor: int = 0

    @property
    def cost_known(self) -> bool:
        """Some of the revenue has a known cost (or there is no revenue at all)."""
        return self.revenue_without_cost_minor == 0 or (
            self.revenue_without_cost_minor != self.revenue_minor
        )

    @property
    def margin_bp(self) -> int | None:
        """Gross profit / revenue excluding VAT, in basis points, rounded half up once."""
        if not self.cost_known:
            return None
        return ratio_bp(self.gross_profit_minor, self.revenue_ex_vat_minor)


@dataclass(frozen=True)
class Sales(Profit):
    """Profit plus the receipt counts of a store or the chain."""

    vat_minor: int = 0
    sales_revenue_minor: int = 0  # the sales alone, before returns
    returns_revenue_minor: int = 0  # negative
    receipts: int = 0  # sales
    returns: int = 0

    @property
    def average_ticket_minor(self) -> int | None:
        """Revenue of the sales / receipts (returns excluded from both), rounded half up once."""
        return div_half_up(self.sales_revenue_minor, self.receipts) if self.receipts else None


@dataclass(frozen=True)
class StoreSales:
    store_id: int
    store_name: str
    sales: Sales


@dataclass(frozen=True)
class CategorySales:
    category_id: int | None  # None: products without a category, and unknown barcodes
    category_name: str | None  # the path from the root, current names
    profit: Profit


@dataclass(frozen=True)
class ProductSales:
    product_id: int
    sku: str | None
    product_name: str | None
    unit: str | None
    category_name: str | None
    qty_milli: int
    receipts: int
    profit: Profit


@dataclass(frozen=True)
class TrendDay:
    day: dt.date
    receipts: int
    profit: Profit


@dataclass(frozen=True)
class StockLine:
    """A store's product and its stock at the end of the report's last day."""

    store_id: int
    store_name: str
    product_id: int
    sku: str | None
    product_name: str | None
    unit: str | None


@dataclass(frozen=True)
class LowStock(StockLine):
    on_hand_milli: int = 0
    reorder_point_milli: int | None = None  # None: no supplier, so no reorder point
    on_order_milli: int = 0
    days_of_cover: float | None = None
    needs_order: bool = False

    @property
    def is_negative(self) -> bool:
        return self.on_hand_milli < 0


@dataclass(frozen=True)
class ReorderLine(StockLine):
    supplier_id: int = 0
    supplier_name: str | None = None
    lead_time_days: int = 0
    on_hand_milli: int = 0
    on_order_milli: int = 0
    reorder_point_milli: int = 0
    order_up_to_milli: int = 0
    suggested_qty_milli: int = 0
    last_cost_minor: int | None = None
    suggested_value_minor: int | None = None


@dataclass(frozen=True)
class ShiftCash:
    store_id: int
    store_name: str
    shift_uuid: str
    till_name: str | None
    cashier_id: int
    cashier_name: str | None
    closed_at_local: dt.datetime  # the store's wall clock
    expected_minor: int
    counted_minor: int
    over_short_minor: int  # counted - expected: negative = short
    flags: str


@dataclass(frozen=True)
class CashierCash:
    cashier_id: int
    cashier_name: str | None
    shifts: int
    over_minor: int  # the sum of the shifts that were over (>= 0)
    short_minor: int  # the sum of the shifts that were short (<= 0)

    @property
    def over_short_minor(self) -> int:
        return self.over_minor + self.short_minor


@dataclass(frozen=True)
class AbcXyz(StockLine):
    abc_class: str = "C"
    xyz_class: str = "Z"
    revenue_ex_vat_minor: int = 0  # over the ABC window (13 weeks ending on the last day)
    revenue_share: float = 0.0  # of the store's, as the mart posts it
    cv: float | None = None


@dataclass(frozen=True)
class DeadStock(StockLine):
    on_hand_milli: int = 0
    value_at_cost_minor: int | None = None
    last_sale_date: dt.date | None = None
    days_without_sale: int = 0


@dataclass(frozen=True)
class Cover(StockLine):
    on_hand_milli: int = 0
    mean_daily_demand_milli: float = 0.0
    days_of_cover: float = 0.0
    value_at_cost_minor: int | None = None


@dataclass(frozen=True)
class ReportData:
    """Everything the owner report shows, for one period. Lists are sorted as shown."""

    period: Period
    currency: str
    marts_built_at_utc: dt.datetime | None
    total: Sales
    stores: list[StoreSales]
    categories: list[CategorySales]
    products: list[ProductSales]  # every catalog product sold in the period, by gross profit
    unknown_products: Profit  # lines of barcodes the catalog did not know
    trend: list[TrendDay]  # the 28 days ending on the period's last day, every day present
    low_stock: list[LowStock]  # negative first, then the lowest against the reorder point
    low_stock_count: int  # before the limit
    reorder: list[ReorderLine]  # by supplier, store, product
    shifts: list[ShiftCash]  # closed in the period (their store's local day)
    cashiers: list[CashierCash]
    top_n: int = 10
    # weekly only (empty in a daily report)
    abc_xyz: list[AbcXyz] = field(default_factory=list)
    dead_stock: list[DeadStock] = field(default_factory=list)
    cover: list[Cover] = field(default_factory=list)  # shortest cover first
    stock_value_minor: int = 0  # everything on hand at cost (weekly)

    @property
    def weekly(self) -> bool:
        return self.period.scope == "weekly"

    @property
    def has_sales(self) -> bool:
        return self.total.receipts > 0 or self.total.returns > 0

    @property
    def top_by_profit(self) -> list[ProductSales]:
        return self.products[: self.top_n]

    @property
    def top_by_revenue(self) -> list[ProductSales]:
        ranked = sorted(
            self.products, key=lambda p: (-p.profit.revenue_minor, p.product_name or "")
        )
        return ranked[: self.top_n]

    @property
    def reorder_value_minor(self) -> int:
        return sum(r.suggested_value_minor or 0 for r in self.reorder)

    @property
    def over_short_minor(self) -> int:
        return sum(s.over_short_minor for s in self.shifts)

    @property
    def dead_stock_value_minor(self) -> int:
        return sum(d.value_at_cost_minor or 0 for d in self.dead_stock)


__all__ = [
    "LOW_STOCK_LIMIT",
    "SCOPES",
    "TREND_DAYS",
    "AbcXyz",
    "CashierCash",
    "CategorySales",
    "Cover",
    "DeadStock",
    "LowStock",
    "Period",
    "ProductSales",
    "Profit",
    "ReorderLine",
    "ReportData",
    "Sales",
    "ShiftCash",
    "StockLine",
    "StoreSales",
    "TrendDay",
    "div_half_up",
    "ratio_bp",
    "report_period",
]
