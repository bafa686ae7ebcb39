"""Marts: rebuilt for one as-of date from the dimensions and facts, written back to DuckDB in one
transaction and then to Parquet for readers that must not take the DuckDB file's lock.

SQL gathers and aggregates (what SQL says clearly); the profit, stock and reorder arithmetic is
`warehouse.calc`, pure Polars functions with given/expected tests. Grains are in docs/warehouse.md
and in each table's comment.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from warehouse import calc
from warehouse.extract import transaction
from warehouse.transform import int64

STATE = "_mart_state"


@dataclass(frozen=True)
class MartParams:
    service_level: float = 0.95  # reorder: probability of not running out within L + R
    window_days: int = 28  # reorder and days of cover: demand window ending on the as-of date
    dead_stock_days: int = 60  # dead stock: no sale for this many days
    abc_weeks: int = 13  # ABC/XYZ window in weeks

    def __post_init__(self) -> None:
        calc.service_z(self.service_level)  # raises with a clear message when out of range
        for name in ("window_days", "dead_stock_days", "abc_weeks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class MartsBuilt:
    as_of: dt.date
    rows: dict[str, int] = field(default_factory=dict)
    parquet: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


GRAINS: dict[str, str] = {
    "rpt_daily_sales": "one row per store and local day up to the as-of date",
    "rpt_product_profit": "one row per store, product and period (period = day or its ISO "
    "week, Monday start)",
    "rpt_stock_position": "one row per store and product that has moved by the end of the "
    "as-of day",
    "rpt_reorder": "one row per store and product that has a supplier and stock history or "
    "stock on order",
    "rpt_abc_xyz": "one row per store and product sold in the weeks ending on the as-of date",
    "rpt_dead_stock": "one row per store and product with stock and no sale for the dead-stock "
    "period",
    "rpt_cash_over_short": "one row per closed shift up to the as-of date",
}


# Columns that come back from Polars as text and go back to their warehouse type.
_TYPED = {"rpt_cash_over_short": "* REPLACE (CAST(shift_uuid AS UUID) AS shift_uuid)"}


def _pl(duck: duckdb.DuckDBPyConnection, sql: str, *params: object) -> pl.DataFrame:
    return int64(duck.sql(sql, params=list(params)).pl())


def daily_sales(duck: duckdb.DuckDBPyConnection, as_of: dt.date) -> pl.DataFrame:
    return _pl(
        duck,
        """
        SELECT store_id, sale_date, ?::DATE AS as_of,
               count(DISTINCT CASE WHEN kind = 'sale' THEN sale_id END) AS receipts,
               count(DISTINCT CASE WHEN kind = 'return' THEN sale_id END) AS returns,
               count(*) AS lines,
               sum(revenue_minor) AS revenue_minor,
               sum(CASE WHEN kind = 'sale' THEN revenue_minor ELSE 0 END) AS sales_revenue_minor,
               sum(CASE WHEN kind = 'return' THEN revenue_minor ELSE 0 END)
                   AS returns_revenue_minor,
               sum(vat_minor) AS vat_minor,
               sum(revenue_ex_vat_minor) AS revenue_ex_vat_minor,
               sum(cogs_minor) AS cogs_minor,
               sum(gross_profit_minor) AS gross_profit_minor,
               sum(CASE WHEN unit_cost_minor IS NULL THEN revenue_minor ELSE 0 END)
                   AS revenue_without_cost_minor,
               CASE WHEN receipts > 0 THEN CAST(
                   (2 * sum(CASE WHEN kind = 'sale' THEN revenue_minor ELSE 0 END) + receipts)
                   // (2 * receipts) AS BIGINT) END AS average_ticket_minor
        FROM fct_sale_line
        WHERE sale_date <= ?
        GROUP BY store_id, sale_date
        ORDER BY store_id, sale_date
        """,
        as_of,
        as_of,
    )


def product_profit(duck: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[pl.DataFrame]:
    """Product profit one store at a time: the day rows of a chain do not all sit in memory."""
    stores = [
        int(r[0]) for r in duck.execute("SELECT store_id FROM dim_store ORDER BY 1").fetchall()
    ]
    for store in stores or [None]:
        yield _store_profit(duck, as_of, store)


def _store_profit(
    duck: duckdb.DuckDBPyConnection, as_of: dt.date, store: int | None
) -> pl.DataFrame:
    daily = _pl(
        duck,
        """
        SELECT store_id, product_id, arg_max(category_id, sold_at_utc) AS category_id, sale_date,
               sum(qty_milli) AS qty_milli,
               count(DISTINCT sale_id) FILTER (WHERE kind = 'sale') AS receipts,
               sum(revenue_minor) AS revenue_minor,
               sum(vat_minor) AS vat_minor,
               sum(revenue_ex_vat_minor) AS revenue_ex_vat_minor,
               sum(cogs_minor) AS cogs_minor,
               sum(gross_profit_minor) AS gross_profit_minor,
               sum(CASE WHEN unit_cost_minor IS NULL THEN revenue_minor ELSE 0 END)
                   AS revenue_without_cost_minor,
               sum(CASE WHEN unit_cost_minor IS NULL THEN 0 ELSE revenue_ex_vat_minor END)
                   AS costed_revenue_ex_vat_minor
        FROM fct_sale_line
        WHERE sale_date <= ? AND (store_id = ? OR ? IS NULL)
        GROUP BY store_id, product_id, sale_date
        """,
        as_of,
        store,
        store,
    )
    return calc.product_profit(daily).with_columns(pl.lit(as_of).alias("as_of"))


def demand(duck: duckdb.DuckDBPyConnection, as_of: dt.date, window_days: int) -> pl.DataFrame:
    first = as_of - dt.timedelta(days=window_days - 1)
    opening = _pl(
        duck,
        "SELECT store_id, product_id, sum(qty_milli) AS opening_milli FROM fct_stock_move "
        "WHERE move_date < ? GROUP BY ALL",
        first,
    )
    moves = _pl(
        duck,
        "SELECT store_id, product_id, move_date AS day, sum(qty_milli) AS net_milli "
        "FROM fct_stock_move WHERE move_date BETWEEN ? AND ? GROUP BY ALL",
        first,
        as_of,
    )
    sold = _pl(
        duck,
        "SELECT store_id, product_id, sale_date AS day, sum(qty_milli) AS sold_milli "
        "FROM fct_sale_line WHERE kind = 'sale' AND product_id IS NOT NULL "
        "AND sale_date BETWEEN ? AND ? GROUP BY ALL",
        first,
        as_of,
    )
    return calc.demand_stats(opening, moves, sold, as_of, window_days)


def levels(duck: duckdb.DuckDBPyConnection, as_of: dt.date) -> pl.DataFrame:
    """On hand, cost and key dates of every store and product at the end of `as_of`."""
    return _pl(
        duck,
        """
        WITH moves AS (SELECT * FROM fct_stock_move WHERE move_date <= ?),
        cost AS (
            SELECT c.store_id, c.product_id, arg_max(c.avg_cost_minor, c.stock_move_id)
                   AS avg_cost_minor
            FROM dim_product_cost c JOIN moves m USING (stock_move_id)
            GROUP BY ALL
        )
        SELECT store_id, product_id, sum(qty_milli) AS on_hand_milli,
               any_value(cost.avg_cost_minor) AS avg_cost_minor,
               max(CASE WHEN kind = 'sale' THEN move_date END) AS last_sale_date,
               max(CASE WHEN kind IN ('receipt', 'transfer_in') THEN move_date END)
                   AS last_receipt_date,
               min(move_date) AS first_move_date
        FROM moves LEFT JOIN cost USING (store_id, product_id)
        GROUP BY store_id, product_id
        """,
        as_of,
    )


def on_order(duck: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return _pl(
        duck,
        """
        SELECT po.store_id, l.product_id,
               sum(greatest(l.qty_ordered_milli - l.qty_received_milli, 0)) AS on_order_milli
        FROM stg_purchase_order_line l JOIN stg_purchase_order po USING (purchase_order_id)
        WHERE po.status IN ('sent', 'partially_received')
        GROUP BY ALL
        """,
    )


def terms(duck: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One supplier per product: the active supplier with the lowest id."""
    return _pl(
        duck,
        """
        SELECT sp.product_id, sp.supplier_id, s.lead_time_days, s.review_period_days,
               sp.pack_size_milli, sp.min_order_milli, sp.last_cost_minor
        FROM stg_supplier_product sp JOIN stg_supplier s USING (supplier_id)
        WHERE s.active
        QUALIFY row_number() OVER (PARTITION BY sp.product_id ORDER BY sp.supplier_id) = 1
        """,
    )


def sold_daily(duck: duckdb.DuckDBPyConnection, first: dt.date, as_of: dt.date) -> pl.DataFrame:
    return _pl(
        duck,
        "SELECT store_id, product_id, sale_date, sum(qty_milli) AS qty_milli, "
        "sum(revenue_ex_vat_minor) AS revenue_ex_vat_minor FROM fct_sale_line "
        "WHERE product_id IS NOT NULL AND sale_date BETWEEN ? AND ? GROUP BY ALL",
        first,
        as_of,
    )


def cash_over_short(duck: duckdb.DuckDBPyConnection, as_of: dt.date) -> pl.DataFrame:
    return _pl(
        duck,
        """
        SELECT f.store_id, f.shift_uuid, f.device_id, t.till_name, f.cashier_id,
               c.cashier_name, f.shift_date, ?::DATE AS as_of, f.opened_at_utc,
               f.closed_at_utc, f.expected_minor, f.counted_minor, f.over_short_minor, f.flags
        FROM fct_shift f
        LEFT JOIN dim_till t USING (device_id)
        LEFT JOIN dim_cashier c USING (cashier_id)
        WHERE f.is_closed AND f.shift_date <= ?
        ORDER BY f.store_id, f.closed_at_utc
        """,
        as_of,
        as_of,
    )


def chunks(
    duck: duckdb.DuckDBPyConnection, as_of: dt.date, params: MartParams
) -> Iterator[tuple[str, pl.DataFrame]]:
    """Every mart for `as_of` as (name, frame) pieces; a mart may come in several pieces (product
    profit comes one store at a time). Nothing is written."""
    stats = demand(duck, as_of, params.window_days)
    stock = levels(duck, as_of)
    position = calc.stock_position(stock.drop("first_move_date"), stats, as_of)
    abc_first = as_of - dt.timedelta(days=params.abc_weeks * 7 - 1)
    yield "rpt_daily_sales", daily_sales(duck, as_of)
    for piece in product_profit(duck, as_of):
        yield "rpt_product_profit", piece
    yield "rpt_stock_position", position
    yield (
        "rpt_reorder",
        calc.reorder(stats, on_order(duck), terms(duck), as_of, params.service_level),
    )
    yield (
        "rpt_abc_xyz",
        calc.abc_xyz(sold_daily(duck, abc_first, as_of), as_of, params.abc_weeks).with_columns(
            pl.lit(as_of).alias("as_of")
        ),
    )
    yield (
        "rpt_dead_stock",
        calc.dead_stock(
            position, stock.select(*calc.SERIES, "first_move_date"), as_of, params.dead_stock_days
        ),
    )
    yield "rpt_cash_over_short", cash_over_short(duck, as_of)


def build_marts_in(
    duck: duckdb.DuckDBPyConnection, as_of: dt.date, params: MartParams, marts_dir: Path | None
) -> MartsBuilt:
    """Compute every mart, replace them in one transaction, then write the Parquet copies."""
    started = time.perf_counter()
    built = MartsBuilt(as_of)
    with transaction(duck):
        for name, frame in chunks(duck, as_of, params):
            duck.register("mart_frame", frame.to_arrow())
            columns = _TYPED.get(name, "*")
            if name in built.rows:  # a further piece of the same mart
                duck.execute(f"INSERT INTO {name} SELECT {columns} FROM mart_frame")  # noqa: S608
            else:
                duck.execute(
                    f"CREATE OR REPLACE TABLE {name} AS SELECT {columns} FROM mart_frame"  # noqa: S608
                )
                duck.execute(f"COMMENT ON TABLE {name} IS '{GRAINS[name]}'")
            duck.unregister("mart_frame")
            built.rows[name] = built.rows.get(name, 0) + frame.height
        duck.execute(
            f"CREATE OR REPLACE TABLE {STATE} AS SELECT ?::DATE AS as_of, "
            "now()::TIMESTAMP AS built_at_utc, ?::DOUBLE AS service_level, "
            "?::INTEGER AS window_days, ?::INTEGER AS dead_stock_days, ?::INTEGER AS abc_weeks",
            [
                as_of,
                params.service_level,
                params.window_days,
                params.dead_stock_days,
                params.abc_weeks,
            ],
        )
    if marts_dir is not None:
        built.parquet = write_parquet(duck, marts_dir, list(built.rows))
    built.seconds = time.perf_counter() - started
    return built


MANIFEST = "_manifest.json"


def write_parquet(
    duck: duckdb.DuckDBPyConnection, directory: Path, names: list[str]
) -> dict[str, Path]:
    """Each table to `<directory>/<name>.parquet`, and `_mart_state.parquet` with the build.

    Every file is written to a temporary name first; only when all are on disk are they renamed
    into place (each rename is atomic), and `_manifest.json` (as-of date, build time, files) is
    replaced last. Every mart carries its `as_of`, so a reader can check that the files it read
    belong to one build."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(".*.parquet.tmp"):  # left by a build that died
        stale.unlink()
    staged: dict[str, tuple[Path, Path]] = {}
    for name in [*names, STATE]:
        target = directory / f"{name}.parquet"
        temporary = directory / f".{name}.parquet.tmp"
        duck.execute(f"COPY {name} TO '{temporary}' (FORMAT parquet)")
        staged[name] = (temporary, target)
    for temporary, _ in staged.values():
        _fsync(temporary)
    for temporary, target in staged.values():
        os.replace(temporary, target)
    as_of, built_at = duck.execute(f"SELECT as_of, built_at_utc FROM {STATE}").fetchall()[0]  # noqa: S608
    manifest = {
        "as_of": as_of.isoformat(),
        "built_at_utc": built_at.isoformat(),
        "files": sorted(f"{name}.parquet" for name in staged),
    }
    temporary = directory / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    _fsync(temporary)
    os.replace(temporary, directory / MANIFEST)
    return {name: target for name, (_, target) in staged.items() if name != STATE}


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


@dataclass
class Headline:
    """The figures `make demo` and `kassa flows run` print after the marts are built."""

    as_of: dt.date
    revenue_minor: int
    revenue_ex_vat_minor: int
    gross_profit_minor: int
    receipts: int
    top_products: list[tuple[str, int, int]]  # name, revenue ex VAT, gross profit
    reorder_lines: int
    reorder_value_minor: int

    @property
    def margin_bp(self) -> int | None:
        if self.revenue_ex_vat_minor <= 0:
            return None
        value, base = self.gross_profit_minor * 10_000, self.revenue_ex_vat_minor
        magnitude = (2 * abs(value) + base) // (2 * base)  # half away from zero
        return magnitude if value >= 0 else -magnitude


def headline(duck: duckdb.DuckDBPyConnection, top: int = 5) -> Headline:
    """Whole-history figures from the marts last built, for every store."""
    as_of, revenue, ex_vat, profit, receipts = duck.execute(
        f"SELECT any_value(m.as_of), coalesce(sum(revenue_minor), 0), "  # noqa: S608
        "coalesce(sum(revenue_ex_vat_minor), 0), coalesce(sum(gross_profit_minor), 0), "
        f"coalesce(sum(receipts), 0) FROM rpt_daily_sales, {STATE} m"
    ).fetchall()[0]
    products = duck.execute(
        """
        SELECT coalesce(d.product_name, '?'), sum(p.revenue_ex_vat_minor),
               sum(p.gross_profit_minor)
        FROM rpt_product_profit p
        LEFT JOIN dim_product d ON d.product_id = p.product_id AND d.is_current
        WHERE p.period = 'day' AND p.product_id IS NOT NULL
        GROUP BY ALL ORDER BY 3 DESC NULLS LAST, 1 LIMIT ?
        """,
        [top],
    ).fetchall()
    lines, value = duck.execute(
        "SELECT count(*), coalesce(sum(suggested_value_minor), 0) FROM rpt_reorder "
        "WHERE needs_order"
    ).fetchall()[0]
    return Headline(
        as_of,
        int(revenue),
        int(ex_vat),
        int(profit),
        int(receipts),
        [(str(n), int(r), int(p or 0)) for n, r, p in products],
        int(lines),
        int(value),
    )


__all__ = [
    "GRAINS",
    "Headline",
    "MartParams",
    "MartsBuilt",
    "build_marts_in",
    "chunks",
    "headline",
    "write_parquet",
]
