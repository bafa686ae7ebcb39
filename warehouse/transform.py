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
import polars as pl

from warehouse import calc
from warehouse.extract import transaction


# The store's local calendar day of a UTC timestamp column.
def _local_date(column: str, tz: str = "timezone") -> str:
    return f"CAST(timezone({tz}, CAST({column} AS TIMESTAMPTZ)) AS DATE)"


# round_half_up(qty_milli * unit_cost_minor / 1000) keeping the sign of qty_milli, as the hub does.
def _at_cost(qty: str, cost: str) -> str:
    return (
        f"CASE WHEN {cost} IS NULL THEN NULL ELSE "
        f"CAST(sign({qty}) * ((abs({qty}) * {cost} + 500) // 1000) AS BIGINT) END"
    )


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
        "cash_minor, created_at AS sold_at_utc, received_at AS received_at_utc FROM raw_sale",
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
    (
        "stg_product_version",
        "one row per version of a product the extract has seen",
        "SELECT id AS product_id, sku, name AS product_name, category_id, unit, price_minor, "
        "tax_rate_id, scale_code, active, created_at AS created_at_utc, "
        "updated_at AS updated_at_utc, change_seq FROM raw_product_history",
    ),
    (
        "stg_category",
        "one row per category",
        "SELECT id AS category_id, parent_id, name AS category_name, active FROM raw_category",
    ),
    (
        "stg_tax_rate",
        "one row per tax rate",
        "SELECT id AS tax_rate_id, code AS tax_code, name AS tax_name, rate_bp FROM raw_tax_rate",
    ),
    (
        "stg_device",
        "one row per device (till)",
        "SELECT id AS device_id, store_id, name AS till_name, paired_at AS paired_at_utc, "
        "revoked_at AS revoked_at_utc, last_seen_at AS last_seen_at_utc, replaces_device_id "
        "FROM raw_device",
    ),
    (
        "stg_till_state",
        "one row per till that has sent anything",
        "SELECT device_id, store_id, last_contact_at AS last_contact_at_utc, "
        "last_sale_at AS last_sale_at_utc, max_sale_seq, max_shift_seq, sales_count "
        "FROM raw_till_state",
    ),
    (
        "stg_staff_user",
        "one row per staff member (no e-mail, no secrets)",
        "SELECT id AS staff_id, name AS staff_name, role, store_id, active FROM raw_staff_user",
    ),
    (
        "stg_shift",
        "one row per shift",
        "SELECT id AS shift_id, shift_uuid, store_id, device_id, cashier_id, "
        "opened_at AS opened_at_utc, closed_at AS closed_at_utc, float_minor, cash_sales_minor, "
        "cash_refunds_minor, pay_ins_minor, pay_outs_minor, sales_count, returns_count, "
        "sales_total_minor, returns_total_minor, counted_minor, expected_minor, "
        "over_short_minor, flags FROM raw_shift",
    ),
    (
        "stg_stock_doc",
        "one row per stock document",
        "SELECT id AS doc_id, kind AS doc_kind, store_id, to_store_id, supplier_id, "
        "purchase_order_id, reason AS doc_reason, created_at AS created_at_utc FROM raw_stock_doc",
    ),
    (
        "stg_stock_move",
        "one row per stock movement",
        "SELECT id AS stock_move_id, store_id, product_id, kind, qty_milli, unit_cost_minor, "
        'sale_id, sale_line_no, doc_id, counted_milli, reason, "at" AS posted_at_utc '
        "FROM raw_stock_move",
    ),
    (
        "stg_supplier",
        "one row per supplier",
        "SELECT id AS supplier_id, name AS supplier_name, lead_time_days, review_period_days, "
        "active FROM raw_supplier",
    ),
    (
        "stg_supplier_product",
        "one row per supplier and product it sells us",
        "SELECT id AS supplier_product_id, supplier_id, product_id, supplier_sku, "
        "pack_size_milli, min_order_milli, last_cost_minor FROM raw_supplier_product",
    ),
    (
        "stg_purchase_order",
        "one row per purchase order",
        "SELECT id AS purchase_order_id, store_id, supplier_id, status, source_key, "
        "created_at AS created_at_utc, sent_at AS sent_at_utc, expected_at, "
        "closed_at AS closed_at_utc FROM raw_purchase_order",
    ),
    (
        "stg_purchase_order_line",
        "one row per purchase order line",
        "SELECT id AS purchase_order_line_id, purchase_order_id, product_id, qty_ordered_milli, "
        "qty_received_milli, unit_cost_minor FROM raw_purchase_order_line",
    ),
)

_TRACKED = "sku, product_name, category_id, unit, price_minor, tax_rate_id, scale_code, active"

MODELS: tuple[tuple[str, str, str], ...] = (
    (
        "dim_store",
        "one row per store",
        "SELECT store_id, store_name, timezone, currency, language, active FROM stg_store",
    ),
    (
        "dim_product",
        "one row per product version: a change of name, sku, category, unit, price, tax rate, "
        "scale code or active flag starts a new version",
        f"""
        WITH seen AS (
            SELECT *, lag(struct_pack({_TRACKED})) OVER w AS before,
                   row_number() OVER w AS nth
            FROM stg_product_version
            WINDOW w AS (PARTITION BY product_id ORDER BY change_seq)
        ),
        versions AS (
            SELECT *, CASE WHEN nth = 1 THEN created_at_utc ELSE updated_at_utc END
                          AS valid_from_utc
            FROM seen
            WHERE nth = 1 OR before IS DISTINCT FROM struct_pack({_TRACKED})
        ),
        SELECT v.change_seq AS product_version_id,
               v.product_id, v.sku, v.product_name, v.unit, v.category_id, c.category_name,
               p.category_path, v.price_minor, t.rate_bp AS tax_rate_bp, t.tax_code,
               v.scale_code, v.active, v.valid_from_utc,
               lead(v.valid_from_utc) OVER (PARTITION BY v.product_id ORDER BY v.change_seq)
                   AS valid_to_utc,
               lead(v.valid_from_utc) OVER (PARTITION BY v.product_id ORDER BY v.change_seq)
                   IS NULL AS is_current
        FROM versions v
        LEFT JOIN stg_category c USING (category_id)
        LEFT JOIN category_paths p USING (category_id)
        LEFT JOIN stg_tax_rate t USING (tax_rate_id)
        """,
    ),
    (
        "dim_till",
        "one row per till (device)",
        """
        SELECT d.device_id, d.store_id, d.till_name, d.paired_at_utc, d.revoked_at_utc,
               d.replaces_device_id, coalesce(t.last_contact_at_utc, d.last_seen_at_utc)
                   AS last_contact_at_utc,
               t.last_sale_at_utc, coalesce(t.sales_count, 0) AS sales_count,
               d.revoked_at_utc IS NULL AS active
        FROM stg_device d LEFT JOIN stg_till_state t USING (device_id)
        """,
    ),
    (
        "dim_cashier",
        "one row per staff member (cashiers, managers, owners; not the machines' service "
        "accounts); no e-mail, no secrets",
        "SELECT staff_id AS cashier_id, staff_name AS cashier_name, role, store_id, active "
        "FROM stg_staff_user WHERE role <> 'service'",
    ),
    (
        "fct_sale_line",
        "one row per sale line (returns negative): quantity, revenue with and without VAT, "
        "VAT, the unit cost snapshot taken at ingest, COGS and gross profit",
        f"""
        WITH lines AS (
            SELECT l.*, s.sale_uuid, s.device_id, s.cashier_id, s.shift_uuid, s.kind,
                   s.sold_at_utc, st.timezone,
                   CASE WHEN s.kind = 'return' THEN -1 ELSE 1 END AS sign
            FROM stg_sale_line l
            JOIN stg_sale s USING (sale_id)
            JOIN stg_store st ON st.store_id = s.store_id
        ),
        -- Each version covers [join_from, join_to): the first from the beginning of time,
        -- the last to its end, so every line of a known product meets exactly one version.
        -- (A hash join on the product and a range filter: an ASOF join sorted all 10M lines.)
        starts AS (
            SELECT product_id, product_version_id, category_id,
                   CASE WHEN valid_from_utc = min(valid_from_utc) OVER (PARTITION BY product_id)
                        THEN TIMESTAMP '-infinity' ELSE valid_from_utc END AS join_from
            FROM dim_product
        ),
        versions AS (
            SELECT *, coalesce(lead(join_from) OVER (
                       PARTITION BY product_id ORDER BY join_from, product_version_id),
                       TIMESTAMP 'infinity') AS join_to
            FROM starts
        )
        SELECT sale_line_id, sale_id, sale_uuid, store_id, device_id, cashier_id, shift_uuid,
               CASE WHEN unknown_product THEN NULL ELSE lines.product_id END AS product_id,
               lines.product_id AS sent_product_id,
               CASE WHEN NOT unknown_product THEN v.product_version_id END
                   AS product_version_id,
               CASE WHEN NOT unknown_product THEN v.category_id END AS category_id,
               unknown_product,
               line_name, kind, sold_at_utc,
               {_local_date("sold_at_utc")} AS sale_date,
               sign * qty_milli AS qty_milli,
               sign * amount_minor AS revenue_minor,
               sign * vat_minor AS vat_minor,
               sign * (amount_minor - vat_minor) AS revenue_ex_vat_minor,
               unit_cost_minor,
               sign * {_at_cost("qty_milli", "unit_cost_minor")} AS cogs_minor,
               sign * (amount_minor - vat_minor - {_at_cost("qty_milli", "unit_cost_minor")})
                   AS gross_profit_minor
        FROM lines
        LEFT JOIN versions v
            ON lines.product_id = v.product_id
            AND lines.sold_at_utc >= v.join_from AND lines.sold_at_utc < v.join_to
        """,
    ),
    (
        "fct_payment",
        "one row per tender of a sale or return (refunds negative); the change given sits on "
        "the sale's first cash row",
        f"""
        WITH p AS (
            SELECT p.*, s.sale_uuid, s.device_id, s.cashier_id, s.shift_uuid, s.kind,
                   s.sold_at_utc, s.change_minor AS sale_change_minor, st.timezone,
                   CASE WHEN s.kind = 'return' THEN -1 ELSE 1 END AS sign,
                   p.tender = 'cash' AND p.payment_no = c.first_cash_no AS first_cash
            FROM stg_sale_payment p
            JOIN stg_sale s USING (sale_id)
            JOIN stg_store st ON st.store_id = s.store_id
            LEFT JOIN (
                SELECT sale_id, min(payment_no) AS first_cash_no FROM stg_sale_payment
                WHERE tender = 'cash' GROUP BY sale_id
            ) c ON c.sale_id = p.sale_id
        )
        SELECT sale_payment_id, sale_id, sale_uuid, store_id, device_id, cashier_id,
               shift_uuid, kind, tender, payment_no, sold_at_utc,
               {_local_date("sold_at_utc")} AS sale_date,
               sign * amount_minor AS amount_minor,
               CASE WHEN first_cash THEN sign * sale_change_minor ELSE 0 END AS change_minor,
               sign * (amount_minor - CASE WHEN first_cash THEN sale_change_minor ELSE 0 END)
                   AS net_minor
        FROM p
        """,
    ),
    (
        "fct_stock_move",
        "one row per stock movement (into the store positive, out of it negative); a sale's "
        "move is dated when the sale was made, not when the hub received it",
        f"""
        SELECT m.stock_move_id, m.store_id, m.product_id, m.kind,
               coalesce(s.sold_at_utc, m.posted_at_utc) AS moved_at_utc,
               {_local_date("coalesce(s.sold_at_utc, m.posted_at_utc)", "st.timezone")}
                   AS move_date,
               m.posted_at_utc,
               m.qty_milli, m.counted_milli, m.unit_cost_minor,
               {_at_cost("m.qty_milli", "m.unit_cost_minor")} AS value_minor,
               m.sale_id, m.doc_id, d.doc_kind, d.supplier_id, m.reason
        FROM stg_stock_move m
        JOIN stg_store st ON st.store_id = m.store_id
        LEFT JOIN stg_sale s ON s.sale_id = m.sale_id
        LEFT JOIN stg_stock_doc d USING (doc_id)
        """,
    ),
    (
        "fct_shift",
        "one row per shift: float, cash movements, the blind count and over/short",
        f"""
        SELECT s.shift_id, s.shift_uuid, s.store_id, s.device_id, s.cashier_id,
               s.opened_at_utc, s.closed_at_utc,
               {_local_date("coalesce(s.opened_at_utc, s.closed_at_utc)", "st.timezone")}
                   AS shift_date,
               s.closed_at_utc IS NOT NULL AS is_closed, s.float_minor, s.cash_sales_minor,
               s.cash_refunds_minor, s.pay_ins_minor, s.pay_outs_minor, s.sales_count,
               s.returns_count, s.sales_total_minor, s.returns_total_minor, s.expected_minor,
               s.counted_minor, s.over_short_minor, s.flags
        FROM stg_shift s JOIN stg_store st USING (store_id)
        """,
    ),
    (
        "dim_date",
        "one row per calendar day, from the first day with a sale or stock move to the last "
        "(or today)",
        """
        WITH bounds AS (
            SELECT least(min(d), current_date) AS first_day, greatest(max(d), current_date)
                   AS last_day
            FROM (SELECT sale_date AS d FROM fct_sale_line
                  UNION ALL SELECT move_date FROM fct_stock_move)
        ),
        days AS (
            SELECT CAST(unnest(generate_series(first_day, last_day, INTERVAL 1 DAY)) AS DATE)
                   AS date_day
            FROM bounds
        )
        SELECT date_day, year(date_day) AS year, month(date_day) AS month,
               day(date_day) AS day_of_month, isoyear(date_day) AS iso_year,
               week(date_day) AS iso_week,
               CAST(date_trunc('week', date_day) AS DATE) AS week_start,
               CAST(date_trunc('month', date_day) AS DATE) AS month_start,
               isodow(date_day) AS day_of_week,
               dayname(date_day) AS weekday_en,
               ['понедельник', 'вторник', 'среда', 'четверг', 'пятница', 'суббота',
                'воскресенье'][isodow(date_day)] AS weekday_ru,
               isodow(date_day) >= 6 AS is_weekend
        FROM days
        """,
    ),
)

# Every costed receipt with the stock just before it (the sum of the series' earlier moves in
# posting order): only these reach Polars for the moving-average recurrence. The running sum
# carries only the columns it needs (sorting 11M moves with their payload took a third longer).
COST_INPUT = """
WITH before AS (
    SELECT stock_move_id, costed,
           sum(qty_milli) OVER (PARTITION BY store_id, product_id ORDER BY stock_move_id
                                ROWS UNBOUNDED PRECEDING) - qty_milli AS on_hand_before_milli
    FROM (SELECT store_id, product_id, stock_move_id, qty_milli,
                 kind IN ('receipt', 'transfer_in') AND unit_cost_minor IS NOT NULL AS costed
          FROM fct_stock_move)
)
SELECT f.store_id, f.product_id, f.stock_move_id, f.moved_at_utc, f.qty_milli, f.unit_cost_minor,
       b.on_hand_before_milli
FROM before b JOIN fct_stock_move f USING (stock_move_id)
WHERE b.costed
"""
# The same for the moves after the last one costed: the stock before each is what the series
# held (kept in `_cost_state`) plus the new moves before it.
COST_INPUT_AFTER = """
SELECT * EXCLUDE (kind) FROM (
    SELECT f.store_id, f.product_id, f.stock_move_id, f.moved_at_utc, f.kind, f.qty_milli,
           f.unit_cost_minor,
           coalesce(h.on_hand_milli, 0) + coalesce(sum(f.qty_milli) OVER (
               PARTITION BY f.store_id, f.product_id ORDER BY f.stock_move_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS on_hand_before_milli
    FROM fct_stock_move f LEFT JOIN _cost_state h USING (store_id, product_id)
    WHERE f.stock_move_id > ?
)
WHERE kind IN ('receipt', 'transfer_in') AND unit_cost_minor IS NOT NULL
"""
COST_GRAIN = (
    "one row per store, product and cost change: the moving-average cost after each receipt "
    "or transfer-in at a cost"
)

# The path of every category from the root, as "Молочное / Сыры" (a helper view for dim_product).
CATEGORY_PATHS = """
WITH RECURSIVE walk(category_id, ancestor_id, path, depth) AS (
    SELECT category_id, parent_id, category_name, 0 FROM stg_category
    UNION ALL
    SELECT w.category_id, c.parent_id, c.category_name || ' / ' || w.path, w.depth + 1
    FROM walk w JOIN stg_category c ON c.category_id = w.ancestor_id
    WHERE w.depth < 32
)
SELECT category_id, arg_max(path, depth) AS category_path FROM walk GROUP BY category_id
"""


@dataclass(frozen=True)
class Built:
    rows: dict[str, int]
    seconds: float
    whole: bool = True  # the big facts were rebuilt whole (not only what changed)


BUILD_STATE = "_build_state"

# The big facts are kept incrementally: (key column, the keys whose rows changed since the last
# build). `{table}` stands for the extract cursor of raw_<table> at that build. A sale changed on
# the hub brings its lines, payments and stock moves again; so does a changed stock document.
INCREMENTAL: dict[str, tuple[str, str]] = {
    "fct_sale_line": (
        "sale_id",
        "SELECT id FROM raw_sale WHERE change_seq > {sale} "
        "UNION SELECT sale_id FROM raw_sale_line WHERE change_seq > {sale_line}",
    ),
    "fct_payment": (
        "sale_id",
        "SELECT id FROM raw_sale WHERE change_seq > {sale} "
        "UNION SELECT sale_id FROM raw_sale_payment WHERE change_seq > {sale_payment}",
    ),
    "fct_stock_move": (
        "stock_move_id",
        "SELECT id FROM raw_stock_move WHERE change_seq > {stock_move} "
        "UNION SELECT m.id FROM raw_stock_move m JOIN raw_sale s ON s.id = m.sale_id "
        "WHERE s.change_seq > {sale} "
        "UNION SELECT m.id FROM raw_stock_move m JOIN raw_stock_doc d ON d.id = m.doc_id "
        "WHERE d.change_seq > {stock_doc}",
    ),
}
# A change here touches every fact row (a store's time zone moves its local dates): rebuild all.
FULL_REBUILD_SOURCES = ("store",)


def build(duck: duckdb.DuckDBPyConnection, *, full: bool = False) -> Built:
    """(Re)build the staging views, dimensions and facts in one transaction: readers see the old
    models or the new ones, never half.

    The dimensions and small facts are rebuilt whole. The big facts (sale lines, payments, stock
    moves) are rebuilt whole on the first build, when a store changed, or with `full`; otherwise
    only the rows of what the extract brought since the last build are replaced."""
    started = time.perf_counter()
    rows: dict[str, int] = {}
    extracted = dict(duck.execute("SELECT source, cursor FROM _extract_state").fetchall())
    built = _built(duck)
    whole = (
        full
        or built is None
        or any(
            duck.execute(
                f"SELECT 1 FROM raw_{table} WHERE change_seq > ? LIMIT 1", [built.get(table, 0)]
            ).fetchall()
            for table in FULL_REBUILD_SOURCES
        )
    )
    with transaction(duck):
        for name, grain, sql in STAGING:
            duck.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
            duck.execute(f"COMMENT ON VIEW {name} IS '{_quote(grain)}'")
        duck.execute(f"CREATE OR REPLACE VIEW category_paths AS {CATEGORY_PATHS}")
        for name, grain, sql in MODELS:
            if name in INCREMENTAL and not whole and _exists(duck, name):
                key, changed = INCREMENTAL[name]
                since = {table: (built or {}).get(table, 0) for table in extracted}
                duck.execute(f"CREATE OR REPLACE TEMP TABLE changed AS {changed.format(**since)}")
                duck.execute(f"DELETE FROM {name} WHERE {key} IN (SELECT * FROM changed)")
                duck.execute(
                    f"INSERT INTO {name} SELECT * FROM ({sql}) WHERE {key} IN "
                    "(SELECT * FROM changed)"
                )
                duck.execute("DROP TABLE changed")
            else:
                duck.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")
            duck.execute(f"COMMENT ON TABLE {name} IS '{_quote(grain)}'")
            rows[name] = int(duck.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
        rows["dim_product_cost"] = _build_costs(duck, whole)
        duck.execute(
            f"CREATE OR REPLACE TABLE {BUILD_STATE} AS SELECT source, cursor FROM _extract_state"
        )
    return Built(rows, time.perf_counter() - started, whole)


COST_STATE = "_cost_state"  # what each store and product held after the last costed move
COST_CURSOR = "_cost_cursor"


def _build_costs(duck: duckdb.DuckDBPyConnection, whole: bool) -> int:
    """`dim_product_cost`: whole, or continued from the last stock move it has seen (the hub
    numbers its ledger in posting order, so later moves always have higher ids). `_cost_state`
    keeps what each series held after that move; `_cost_cursor` the move's id."""
    last = None if whole or not _exists(duck, COST_CURSOR) else _cost_cursor(duck)
    if last is None:
        costs = calc.receipt_costs(int64(duck.sql(COST_INPUT).pl()))
        duck.register("cost_frame", costs.to_arrow())
        duck.execute("CREATE OR REPLACE TABLE dim_product_cost AS SELECT * FROM cost_frame")
        duck.execute(f"COMMENT ON TABLE dim_product_cost IS '{_quote(COST_GRAIN)}'")
        duck.execute(
            f"CREATE OR REPLACE TABLE {COST_STATE} AS SELECT store_id, product_id, "
            "CAST(sum(qty_milli) AS BIGINT) AS on_hand_milli FROM fct_stock_move GROUP BY ALL"
        )
    else:
        receipts = int64(duck.sql(COST_INPUT_AFTER, params=[last]).pl())
        start = duck.sql(
            "SELECT store_id, product_id, avg_cost_minor AS previous_avg FROM dim_product_cost "
            "WHERE valid_to_utc IS NULL"
        ).pl()
        costs = calc.receipt_costs(receipts, start=start)
        duck.register("cost_frame", costs.to_arrow())
        duck.execute(  # the open row of a series that got a new cost ends where the new begins
            "UPDATE dim_product_cost c SET valid_to_utc = f.first_from FROM ("
            "SELECT store_id, product_id, min(valid_from_utc) AS first_from FROM cost_frame "
            "GROUP BY ALL) f WHERE c.store_id = f.store_id AND c.product_id = f.product_id "
            "AND c.valid_to_utc IS NULL"
        )
        duck.execute("INSERT INTO dim_product_cost SELECT * FROM cost_frame")
        duck.execute(
            f"CREATE OR REPLACE TABLE {COST_STATE} AS "
            "SELECT store_id, product_id, "
            "CAST(coalesce(h.on_hand_milli, 0) + coalesce(n.moved, 0) AS BIGINT) AS on_hand_milli "
            f"FROM {COST_STATE} h FULL JOIN ("
            "SELECT store_id, product_id, sum(qty_milli) AS moved FROM fct_stock_move "
            "WHERE stock_move_id > ? GROUP BY ALL) n USING (store_id, product_id)",
            [last],
        )
    duck.unregister("cost_frame")
    duck.execute(
        f"CREATE OR REPLACE TABLE {COST_CURSOR} AS SELECT coalesce(max(stock_move_id), 0) "
        "AS last_stock_move_id FROM fct_stock_move"
    )
    return int(duck.execute("SELECT count(*) FROM dim_product_cost").fetchall()[0][0])


def _cost_cursor(duck: duckdb.DuckDBPyConnection) -> int:
    return int(duck.execute(f"SELECT last_stock_move_id FROM {COST_CURSOR}").fetchall()[0][0])


def _exists(duck: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        duck.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [table]).fetchall()
    )


def _built(duck: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    """The extract cursors the last build saw, or None before the first build."""
    if not _exists(duck, BUILD_STATE):
        return None
    return {str(k): int(v) for k, v in duck.execute(f"SELECT * FROM {BUILD_STATE}").fetchall()}


def int64(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB sums BIGINT into HUGEINT (a Polars decimal): back to Int64, exact or an error."""
    return frame.with_columns(pl.col(pl.Decimal(38, 0)).cast(pl.Int64, strict=True))


def _quote(text: str) -> str:
    return " ".join(text.split()).replace("'", "''")


__all__ = ["MODELS", "STAGING", "Built", "build"]
