"""Staging, dimensions, facts and the first mart, in DuckDB SQL over the raw layer.

Layers as in jaffle-shop: `raw_*` (what the extract wrote) -> `stg_*` views (rename and cast
only) -> dimensions and facts (tables, rebuilt by `build`) -> marts. Every model states its
grain. Money stays integer minor units; a return's rows carry negative quantities and amounts,
so sums over a fact are net sales. Local dates are the store's own (its IANA time zone).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb

# (name, grain, SQL). Views over raw first, then tables in dependency order.
STAGING: tuple[tuple[str, str, str], ...] = (
    (
        "stg_store",
        "one row per store",
        "SELECT id AS store_id, name AS store_name, timezone, currency, language, active "
        "FROM raw_store",
    ),
    (
        "stg_sale",
        "one row per sale or return received by the hub",
        "SELECT id AS sale_id, sale_uuid, store_id, device_id, cashier_id, shift_uuid, kind, "
        "original_sale_id, till_seq, currency, total_minor, vat_minor, change_minor, "
        "created_at AS sold_at_utc FROM raw_sale",
    ),
    (
        "stg_sale_line",
        "one row per line of a sale or return",
        "SELECT id AS sale_line_id, sale_id, store_id, line_no, product_id, unknown_product, "
        "name AS line_name, qty_milli, unit_price_minor, discount_minor, amount_minor, "
        "vat_rate_bp, vat_minor, unit_cost_minor FROM raw_sale_line",
    ),
    (
        "stg_sale_payment",
        "one row per tender of a sale or return",
        "SELECT id AS sale_payment_id, sale_id, store_id, payment_no, tender, amount_minor "
        "FROM raw_sale_payment",
    ),
)

MODELS: tuple[tuple[str, str, str], ...] = (
    (
        "dim_store",
        "one row per store",
        "SELECT store_id, store_name, timezone, currency, language, active FROM stg_store",
    ),
    (
        "fct_sale_line",
        "one row per sale line (returns negative): quantity, revenue with and without VAT, "
        "VAT, the unit cost snapshot taken at ingest, COGS and gross profit",
        """
        WITH lines AS (
            SELECT l.*, s.sale_uuid, s.device_id, s.cashier_id, s.shift_uuid, s.kind,
                   s.sold_at_utc, st.timezone,
                   CASE WHEN s.kind = 'return' THEN -1 ELSE 1 END AS sign
            FROM stg_sale_line l
            JOIN stg_sale s USING (sale_id)
            JOIN stg_store st ON st.store_id = s.store_id
        )
        SELECT sale_line_id, sale_id, sale_uuid, store_id, device_id, cashier_id, shift_uuid,
               product_id, unknown_product, line_name, kind,
               sold_at_utc,
               CAST(timezone(timezone, CAST(sold_at_utc AS TIMESTAMPTZ)) AS DATE) AS sale_date,
               sign * qty_milli AS qty_milli,
               sign * amount_minor AS revenue_minor,
               sign * vat_minor AS vat_minor,
               sign * (amount_minor - vat_minor) AS revenue_ex_vat_minor,
               unit_cost_minor,
               CASE WHEN unit_cost_minor IS NULL THEN NULL
                    ELSE sign * CAST((qty_milli * unit_cost_minor + 500) // 1000 AS BIGINT)
               END AS cogs_minor,
               CASE WHEN unit_cost_minor IS NULL THEN NULL
                    ELSE sign * (amount_minor - vat_minor
                                 - CAST((qty_milli * unit_cost_minor + 500) // 1000 AS BIGINT))
               END AS gross_profit_minor
        FROM lines
        """,
    ),
    (
        "rpt_daily_sales",
        "one row per store and local day: receipts, returns, revenue with and without VAT, "
        "VAT, COGS, gross profit and the revenue whose cost is unknown",
        """
        SELECT store_id, sale_date,
               count(DISTINCT CASE WHEN kind = 'sale' THEN sale_id END) AS receipts,
               count(DISTINCT CASE WHEN kind = 'return' THEN sale_id END) AS returns,
               count(*) AS lines,
               sum(revenue_minor) AS revenue_minor,
               sum(vat_minor) AS vat_minor,
               sum(revenue_ex_vat_minor) AS revenue_ex_vat_minor,
               sum(cogs_minor) AS cogs_minor,
               sum(gross_profit_minor) AS gross_profit_minor,
               sum(CASE WHEN unit_cost_minor IS NULL THEN revenue_minor ELSE 0 END)
                   AS revenue_without_cost_minor
        FROM fct_sale_line
        GROUP BY store_id, sale_date
        """,
    ),
)


@dataclass(frozen=True)
class Built:
    rows: dict[str, int]
    seconds: float


def build(duck: duckdb.DuckDBPyConnection) -> Built:
    """(Re)build the staging views and every model in one transaction: readers see the old
    models or the new ones, never half."""
    started = time.perf_counter()
    rows: dict[str, int] = {}
    duck.execute("BEGIN")
    try:
        for name, grain, sql in STAGING:
            duck.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
            duck.execute(f"COMMENT ON VIEW {name} IS '{_quote(grain)}'")
        for name, grain, sql in MODELS:
            duck.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")
            duck.execute(f"COMMENT ON TABLE {name} IS '{_quote(grain)}'")
            rows[name] = int(duck.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])  # noqa: S608
        duck.execute("COMMIT")
    except BaseException:
        duck.execute("ROLLBACK")
        raise
    return Built(rows, time.perf_counter() - started)


def _quote(text: str) -> str:
    return " ".join(text.split()).replace("'", "''")


__all__ = ["MODELS", "STAGING", "Built", "build"]
