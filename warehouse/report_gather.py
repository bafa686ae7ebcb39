"""Reading the owner report's figures from the marts built for the report's last day (and the
dimensions, for current names). SQL sums and joins; the rows become `warehouse.report_data`
dataclasses, money and quantities still integers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from warehouse.report_data import (
    LOW_STOCK_LIMIT,
    TREND_DAYS,
    AbcXyz,
    CashierCash,
    CategorySales,
    Cover,
    DeadStock,
    LowStock,
    Period,
    ProductSales,
    Profit,
    ReorderLine,
    ReportData,
    Sales,
    ShiftCash,
    StoreSales,
    TrendDay,
)


def marts_as_of(duck: duckdb.DuckDBPyConnection) -> tuple[dt.date, dt.datetime | None]:
    """The as-of date (and build time) of the marts in the warehouse."""
    try:
        rows = duck.execute("SELECT as_of, built_at_utc FROM _mart_state").fetchall()
    except duckdb.CatalogException:
        rows = []
    if not rows:
        raise ValueError("the warehouse has no marts yet: run `kassa flows run daily-close`")
    return rows[0][0], rows[0][1]


def check_marts(duck: duckdb.DuckDBPyConnection, period: Period) -> dt.datetime | None:
    """Raises unless the marts are built for the period's last day; returns their build time."""
    as_of, built_at = marts_as_of(duck)
    if as_of != period.end:
        raise ValueError(
            f"the marts are built for {as_of.isoformat()}, the {period.scope} report needs them "
            f"for {period.end.isoformat()}: run `kassa flows run daily-close --date "
            f"{period.end.isoformat()}` first"
        )
    return built_at


def profit_rows(period: Period) -> tuple[str, dt.date, dt.date]:
    """The `rpt_product_profit` rows of the period: (period, first start, last start)."""
    if period.scope == "weekly":
        return "week", period.start, period.start
    return "day", period.start, period.end


# Local wall-clock close of a shift, whatever the session's time zone.
CLOSED_LOCAL = (
    "CAST(timezone(coalesce(st.timezone, 'UTC'), timezone('UTC', c.closed_at_utc)) AS TIMESTAMP)"
)
PRODUCT = "LEFT JOIN dim_product d ON d.product_id = {t}.product_id AND d.is_current"
STORE = "LEFT JOIN dim_store st ON st.store_id = {t}.store_id"
SUMS = (
    "coalesce(sum(revenue_minor), 0), coalesce(sum(revenue_ex_vat_minor), 0), "
    "coalesce(sum(gross_profit_minor), 0), coalesce(sum(revenue_without_cost_minor), 0)"
)


def _rows(duck: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return duck.execute(sql, list(params)).fetchall()


def _profit(values: tuple[Any, ...]) -> Profit:
    return Profit(*(int(v) for v in values))


def _store_name(name: str | None, store_id: int) -> str:
    return name if name is not None else f"#{store_id}"


def _line(r: tuple[Any, ...]) -> dict[str, Any]:
    """The store and product of a row that starts store_id, store_name, product_id, sku,
    product_name, unit."""
    return {
        "store_id": r[0],
        "store_name": _store_name(r[1], r[0]),
        "product_id": r[2],
        "sku": r[3],
        "product_name": r[4],
        "unit": r[5],
    }


def gather(
    duck: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    top_n: int = 10,
    low_stock_limit: int = LOW_STOCK_LIMIT,
) -> ReportData:
    """The report's figures from the marts, which must be built for `period.end`."""
    built_at = check_marts(duck, period)
    stores = _stores(duck, period)
    total = Sales(
        **{name: sum(getattr(s.sales, name) for s in stores) for name in Sales.__dataclass_fields__}
    )
    products, unknown = _products(duck, period)
    low, low_count = _low_stock(duck, low_stock_limit)
    shifts = _shifts(duck, period)
    weekly: dict[str, Any] = {}
    if period.scope == "weekly":
        weekly = {
            "abc_xyz": _abc_xyz(duck),
            "dead_stock": _dead_stock(duck),
            "cover": _cover(duck),
            "stock_value_minor": int(
                _rows(duck, "SELECT coalesce(sum(value_at_cost_minor), 0) FROM rpt_stock_position")[
                    0
                ][0]
            ),
        }
    return ReportData(
        period=period,
        currency=_currency(duck),
        marts_built_at_utc=built_at,
        total=total,
        stores=stores,
        categories=_categories(duck, period),
        products=products,
        unknown_products=unknown,
        trend=_trend(duck, period),
        low_stock=low,
        low_stock_count=low_count,
        reorder=_reorder(duck),
        shifts=shifts,
        cashiers=_cashiers(shifts),
        top_n=top_n,
        **weekly,
    )


def _currency(duck: duckdb.DuckDBPyConnection) -> str:
    found = [
        str(r[0])
        for r in _rows(duck, "SELECT DISTINCT currency FROM dim_store WHERE currency IS NOT NULL")
    ]
    if len(found) > 1:
        raise ValueError(
            f"the stores use several currencies ({', '.join(sorted(found))}): one report cannot "
            "add them up"
        )
    return found[0] if found else "RUB"


def _stores(duck: duckdb.DuckDBPyConnection, period: Period) -> list[StoreSales]:
    rows = _rows(
        duck,
        f"""
        WITH sold AS (
            SELECT store_id, {SUMS}, coalesce(sum(vat_minor), 0),
                   coalesce(sum(sales_revenue_minor), 0), coalesce(sum(returns_revenue_minor), 0),
                   coalesce(sum(receipts), 0), coalesce(sum(returns), 0)
            FROM rpt_daily_sales WHERE sale_date BETWEEN ? AND ?
            GROUP BY store_id
        )
        SELECT coalesce(sold.store_id, st.store_id) AS id, st.store_name, sold.* EXCLUDE (store_id)
        FROM sold FULL JOIN dim_store st USING (store_id)
        WHERE sold.store_id IS NOT NULL OR st.active
        """,  # noqa: S608 - constants of this module
        period.start,
        period.end,
    )
    stores = [
        StoreSales(int(r[0]), _store_name(r[1], int(r[0])), Sales(*(int(v or 0) for v in r[2:])))
        for r in rows
    ]
    return sorted(stores, key=lambda s: (-s.sales.revenue_minor, s.store_name, s.store_id))


def _categories(duck: duckdb.DuckDBPyConnection, period: Period) -> list[CategorySales]:
    rows = _rows(
        duck,
        f"""
        SELECT p.category_id, c.category_path, {SUMS}
        FROM rpt_product_profit p
        LEFT JOIN (SELECT category_id, any_value(category_path) AS category_path
                   FROM dim_product WHERE category_id IS NOT NULL GROUP BY 1) c
            USING (category_id)
        WHERE p.period = ? AND p.period_start BETWEEN ? AND ?
        GROUP BY ALL
        ORDER BY 3 DESC, 2 NULLS LAST, 1
        """,  # noqa: S608 - constants of this module
        *profit_rows(period),
    )
    return [CategorySales(r[0], r[1], _profit(r[2:])) for r in rows]


def _products(duck: duckdb.DuckDBPyConnection, period: Period) -> tuple[list[ProductSales], Profit]:
    rows = _rows(
        duck,
        f"""
        SELECT p.product_id, d.sku, d.product_name, d.unit, d.category_path,
               coalesce(sum(p.qty_milli), 0), coalesce(sum(p.receipts), 0), {SUMS}
        FROM rpt_product_profit p {PRODUCT.format(t="p")}
        WHERE p.period = ? AND p.period_start BETWEEN ? AND ?
        GROUP BY ALL
        """,  # noqa: S608 - constants of this module
        *profit_rows(period),
    )
    products, unknown = [], Profit()
    for r in rows:
        if r[0] is None:
            unknown = _profit(r[7:])
            continue
        products.append(
            ProductSales(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), _profit(r[7:]))
        )
    products.sort(
        key=lambda p: (-p.profit.gross_profit_minor, -p.profit.revenue_minor, p.product_name or "")
    )
    return products, unknown


def _trend(duck: duckdb.DuckDBPyConnection, period: Period) -> list[TrendDay]:
    first = period.end - dt.timedelta(days=TREND_DAYS - 1)
    found = {
        r[0]: TrendDay(r[0], int(r[1]), _profit(r[2:]))
        for r in _rows(
            duck,
            f"SELECT sale_date, coalesce(sum(receipts), 0), {SUMS} FROM rpt_daily_sales "  # noqa: S608
            "WHERE sale_date BETWEEN ? AND ? GROUP BY sale_date",
            first,
            period.end,
        )
    }
    days = [first + dt.timedelta(days=n) for n in range(TREND_DAYS)]
    return [found.get(day, TrendDay(day, 0, Profit())) for day in days]


def _low_stock(duck: duckdb.DuckDBPyConnection, limit: int) -> tuple[list[LowStock], int]:
    rows = _rows(
        duck,
        f"""
        SELECT s.store_id, st.store_name, s.product_id, d.sku, d.product_name, d.unit,
               s.on_hand_milli, r.reorder_point_milli, coalesce(r.on_order_milli, 0),
               s.days_of_cover, coalesce(r.needs_order, false), count(*) OVER () AS found
        FROM rpt_stock_position s
        LEFT JOIN rpt_reorder r USING (store_id, product_id)
        {STORE.format(t="s")} {PRODUCT.format(t="s")}
        WHERE s.on_hand_milli < 0 OR s.on_hand_milli < r.reorder_point_milli
        ORDER BY s.on_hand_milli < 0 DESC,
                 s.on_hand_milli / nullif(r.reorder_point_milli, 0) NULLS FIRST,
                 st.store_name, d.product_name, s.product_id
        LIMIT ?
        """,  # noqa: S608 - constants of this module
        limit,
    )
    found = int(rows[0][-1]) if rows else 0
    return [
        LowStock(
            **_line(r),
            on_hand_milli=int(r[6]),
            reorder_point_milli=r[7],
            on_order_milli=int(r[8]),
            days_of_cover=r[9],
            needs_order=bool(r[10]),
        )
        for r in rows
    ], found


def _reorder(duck: duckdb.DuckDBPyConnection) -> list[ReorderLine]:
    rows = _rows(
        duck,
        f"""
        SELECT r.store_id, st.store_name, r.product_id, d.sku, d.product_name, d.unit,
               r.supplier_id, sp.supplier_name, r.lead_time_days, r.on_hand_milli,
               r.on_order_milli, r.reorder_point_milli, r.order_up_to_milli,
               r.suggested_qty_milli, r.last_cost_minor, r.suggested_value_minor
        FROM rpt_reorder r {STORE.format(t="r")} {PRODUCT.format(t="r")}
        LEFT JOIN stg_supplier sp USING (supplier_id)
        WHERE r.needs_order
        ORDER BY sp.supplier_name, r.supplier_id, st.store_name, d.product_name, r.product_id
        """,  # noqa: S608 - constants of this module
    )
    return [
        ReorderLine(
            **_line(r),
            supplier_id=r[6],
            supplier_name=r[7],
            lead_time_days=r[8],
            on_hand_milli=r[9],
            on_order_milli=r[10],
            reorder_point_milli=r[11],
            order_up_to_milli=r[12],
            suggested_qty_milli=r[13],
            last_cost_minor=r[14],
            suggested_value_minor=r[15],
        )
        for r in rows
    ]


def _shifts(duck: duckdb.DuckDBPyConnection, period: Period) -> list[ShiftCash]:
    rows = _rows(
        duck,
        f"""
        SELECT c.store_id, st.store_name, CAST(c.shift_uuid AS VARCHAR), c.till_name,
               c.cashier_id, c.cashier_name, {CLOSED_LOCAL} AS closed_local,
               c.expected_minor, c.counted_minor, c.over_short_minor, coalesce(c.flags, '')
        FROM rpt_cash_over_short c {STORE.format(t="c")}
        WHERE CAST({CLOSED_LOCAL} AS DATE) BETWEEN ? AND ?
        ORDER BY st.store_name, closed_local, c.shift_uuid
        """,  # noqa: S608 - constants of this module
        period.start,
        period.end,
    )
    return [
        ShiftCash(
            store_id=r[0],
            store_name=_store_name(r[1], r[0]),
            shift_uuid=r[2],
            till_name=r[3],
            cashier_id=r[4],
            cashier_name=r[5],
            closed_at_local=r[6],
            expected_minor=int(r[7]),
            counted_minor=int(r[8]),
            over_short_minor=int(r[9]),
            flags=r[10],
        )
        for r in rows
    ]


def _cashiers(shifts: list[ShiftCash]) -> list[CashierCash]:
    by_id: dict[int, CashierCash] = {}
    for s in shifts:
        seen = by_id.get(s.cashier_id, CashierCash(s.cashier_id, s.cashier_name, 0, 0, 0))
        by_id[s.cashier_id] = CashierCash(
            s.cashier_id,
            seen.cashier_name or s.cashier_name,
            seen.shifts + 1,
            seen.over_minor + max(s.over_short_minor, 0),
            seen.short_minor + min(s.over_short_minor, 0),
        )
    return sorted(by_id.values(), key=lambda c: (c.over_short_minor, c.cashier_name or ""))


def _abc_xyz(duck: duckdb.DuckDBPyConnection) -> list[AbcXyz]:
    rows = _rows(
        duck,
        f"""
        SELECT a.store_id, st.store_name, a.product_id, d.sku, d.product_name, d.unit,
               a.abc_class, a.xyz_class, a.revenue_ex_vat_minor, a.revenue_share, a.cv
        FROM rpt_abc_xyz a {STORE.format(t="a")} {PRODUCT.format(t="a")}
        ORDER BY st.store_name, a.store_id, a.cumulative_share, a.product_id
        """,  # noqa: S608 - constants of this module
    )
    return [
        AbcXyz(
            **_line(r),
            abc_class=r[6],
            xyz_class=r[7],
            revenue_ex_vat_minor=int(r[8]),
            revenue_share=float(r[9] or 0.0),
            cv=r[10],
        )
        for r in rows
    ]


def _dead_stock(duck: duckdb.DuckDBPyConnection) -> list[DeadStock]:
    rows = _rows(
        duck,
        f"""
        SELECT k.store_id, st.store_name, k.product_id, d.sku, d.product_name, d.unit,
               k.on_hand_milli, k.value_at_cost_minor, k.last_sale_date, k.days_without_sale
        FROM rpt_dead_stock k {STORE.format(t="k")} {PRODUCT.format(t="k")}
        ORDER BY k.value_at_cost_minor DESC NULLS LAST, st.store_name, d.product_name
        """,  # noqa: S608 - constants of this module
    )
    return [
        DeadStock(
            **_line(r),
            on_hand_milli=int(r[6]),
            value_at_cost_minor=r[7],
            last_sale_date=r[8],
            days_without_sale=int(r[9]),
        )
        for r in rows
    ]


def _cover(duck: duckdb.DuckDBPyConnection) -> list[Cover]:
    rows = _rows(
        duck,
        f"""
        SELECT s.store_id, st.store_name, s.product_id, d.sku, d.product_name, d.unit,
               s.on_hand_milli, s.mean_daily_demand_milli, s.days_of_cover, s.value_at_cost_minor
        FROM rpt_stock_position s {STORE.format(t="s")} {PRODUCT.format(t="s")}
        WHERE s.days_of_cover IS NOT NULL
        ORDER BY s.days_of_cover, st.store_name, d.product_name, s.product_id
        """,  # noqa: S608 - constants of this module
    )
    return [
        Cover(
            **_line(r),
            on_hand_milli=int(r[6]),
            mean_daily_demand_milli=float(r[7]),
            days_of_cover=float(r[8]),
            value_at_cost_minor=r[9],
        )
        for r in rows
    ]


__all__ = ["CLOSED_LOCAL", "check_marts", "gather", "marts_as_of"]
