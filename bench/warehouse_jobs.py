"""The measured jobs of `bench.warehouse`, each meant to run alone in a fresh process.

- `pipeline_job`: the warehouse as the flows run it: `warehouse.pipeline.refresh` (ADBC extract of
  every hub table, staging, dimensions, facts) then `warehouse.pipeline.build_marts` (every mart,
  written back to DuckDB and to Parquet).
- `duckdb_job`: the hand-written DuckDB baseline: an ADBC extract of only the tables and columns
  the heavy marts need, then one SQL script (below, `DUCKDB_SCRIPT`).
- `pandas_job`: the pandas baseline: the same tables read with `pandas.read_sql` over the same
  ADBC connection (Arrow underneath; nullable integers so money never becomes float), then the
  same outputs in pandas.

The baselines compute the heavy outputs of the marts and nothing else: `fct_sale_line` (the
store's local day, returns negative, COGS and gross profit from the cost snapshots),
`rpt_daily_sales`, `rpt_product_profit` (day and ISO week), the moving-average cost of every
receipt (the hub's rule), the stock position at the end of the as-of day (on hand, average cost,
value at cost) and the 28-day demand statistics (zero-sale days counted, out-of-stock days left
out). Each job returns its wall time by phase, its own peak RSS (taken before the key sums are
read) and the key sums (`Sums`) that must agree between the three.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

WINDOW_DAYS = 28
Sums = dict[str, float]  # "table.figure" -> value (integers stay exact below 2**53)

# The hub tables and columns the baselines read (as DuckDB types for the DuckDB baseline).
NEEDED: dict[str, tuple[tuple[str, str], ...]] = {
    "store": (("id", "BIGINT"), ("timezone", "VARCHAR")),
    "product": (("id", "BIGINT"), ("category_id", "BIGINT")),
    "supplier": (("id", "BIGINT"), ("active", "BOOLEAN")),
    "supplier_product": (("supplier_id", "BIGINT"), ("product_id", "BIGINT")),
    "sale": (
        ("id", "BIGINT"),
        ("store_id", "BIGINT"),
        ("kind", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
    ),
    "sale_line": (
        ("id", "BIGINT"),
        ("sale_id", "BIGINT"),
        ("product_id", "BIGINT"),
        ("qty_milli", "BIGINT"),
        ("amount_minor", "BIGINT"),
        ("vat_minor", "BIGINT"),
        ("unit_cost_minor", "BIGINT"),
    ),
    "stock_move": (
        ("id", "BIGINT"),
        ("store_id", "BIGINT"),
        ("product_id", "BIGINT"),
        ("kind", "VARCHAR"),
        ("qty_milli", "BIGINT"),
        ("unit_cost_minor", "BIGINT"),
        ("at", "TIMESTAMP"),
    ),
}


@dataclass
class JobResult:
    name: str
    seconds: float  # the job's wall time, from its first read of the hub to its last write
    parts: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    peak_rss: int = 0  # bytes: the process's high-water mark (VmHWM) when the job was done
    rss_after: dict[str, int] = field(default_factory=dict)  # phase -> high-water mark after it
    sums: Sums = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def peak_rss() -> int:
    """This process's peak resident set size in bytes: VmHWM of its own address space (unlike
    ru_maxrss, which a spawned child inherits from the parent it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


T = TypeVar("T")


def isolated(function: Callable[..., T], *args: Any) -> T:
    """Run `function(*args)` in a fresh interpreter (multiprocessing 'spawn'), so its peak RSS
    is its own and nothing it allocates stays in this process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def _hub_path(hub_url: str) -> str:
    return hub_url.split(":///", 1)[1]


def _adbc_reader(hub_url: str) -> Any:
    import adbc_driver_sqlite.dbapi as adbc

    return adbc.connect(f"file:{_hub_path(hub_url)}?mode=ro")


# --- the pipeline ---------------------------------------------------------------------------


def pipeline_job(hub_url: str, warehouse_path: str, as_of: dt.date, marts_dir: str) -> JobResult:
    """refresh + build_marts on `warehouse_path` (fresh for a full rebuild, the previous run's
    for an incremental one)."""
    from warehouse import pipeline

    began = time.perf_counter()
    result = JobResult("pipeline", 0.0)
    result.rss_after["start"] = peak_rss()
    refreshed = pipeline.refresh(hub_url, warehouse_path)
    result.rss_after["refresh"] = peak_rss()
    result.parts["extract"] = refreshed.extracted.seconds
    result.parts["staging, dimensions and facts"] = refreshed.built.seconds
    result.rows.update({f"raw {k}": v for k, v in refreshed.extracted.rows.items() if v})
    result.rows.update(refreshed.built.rows)
    try:
        marts = pipeline.build_marts(warehouse_path, as_of, marts_dir=marts_dir)
    except NotImplementedError:
        result.notes.append("warehouse.pipeline.build_marts is not implemented: no marts")
    else:
        result.parts["marts (DuckDB and Parquet)"] = marts.seconds
        result.rows.update(marts.rows)
        result.rss_after["marts"] = peak_rss()
    result.seconds = time.perf_counter() - began
    result.parts.setdefault("marts (DuckDB and Parquet)", 0.0)
    result.parts["other"] = max(0.0, result.seconds - sum(result.parts.values()))
    result.peak_rss = peak_rss()
    result.sums = warehouse_sums(warehouse_path)
    return result


def _tables(duck: Any) -> set[str]:
    return {str(r[0]) for r in duck.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def _one(duck: Any, sql: str) -> tuple[Any, ...]:
    return tuple(duck.execute(sql).fetchall()[0])


def sums_from(duck: Any, names: dict[str, str]) -> Sums:
    """The key sums from tables named like the marts: `names` maps fct_sale_line,
    rpt_daily_sales, rpt_product_profit, rpt_stock_position and demand (all series) and
    reorder (series with a supplier) to the tables that hold them; absent tables are skipped."""
    have = _tables(duck)
    sums: Sums = {}

    def add(prefix: str, table: str, figures: str, labels: list[str]) -> None:
        if table not in have:
            return
        values = _one(duck, f"SELECT {figures} FROM {table}")  # noqa: S608 - our own names
        for label, value in zip(labels, values, strict=True):
            sums[f"{prefix}.{label}"] = float(value or 0)

    add(
        "fct_sale_line",
        names["fct_sale_line"],
        "count(*), sum(revenue_minor), sum(vat_minor), sum(cogs_minor), sum(gross_profit_minor), "
        "sum(CASE WHEN unit_cost_minor IS NULL THEN revenue_minor ELSE 0 END)",
        [
            "rows",
            "revenue_minor",
            "vat_minor",
            "cogs_minor",
            "gross_profit_minor",
            "revenue_without_cost_minor",
        ],
    )
    add(
        "rpt_daily_sales",
        names["rpt_daily_sales"],
        "count(*), sum(receipts), sum(returns), sum(revenue_minor), sum(gross_profit_minor)",
        ["rows", "receipts", "returns", "revenue_minor", "gross_profit_minor"],
    )
    table = names["rpt_product_profit"]
    for period in ("day", "week"):
        add(
            f"rpt_product_profit.{period}",
            table,
            f"count(*) FILTER (period = '{period}'), "
            f"sum(revenue_minor) FILTER (period = '{period}'), "
            f"sum(gross_profit_minor) FILTER (period = '{period}'), "
            f"sum(margin_bp) FILTER (period = '{period}')",
            ["rows", "revenue_minor", "gross_profit_minor", "margin_bp"],
        )
    add(
        "rpt_stock_position",
        names["rpt_stock_position"],
        "count(*), sum(on_hand_milli), sum(avg_cost_minor), sum(value_at_cost_minor), "
        "sum(mean_daily_demand_milli)",
        [
            "rows",
            "on_hand_milli",
            "avg_cost_minor",
            "value_at_cost_minor",
            "mean_daily_demand_milli",
        ],
    )
    add(
        "rpt_reorder",
        names["rpt_reorder"],
        "count(*), sum(days_counted), sum(mean_daily_demand_milli), sum(demand_std_milli)",
        ["rows", "days_counted", "mean_daily_demand_milli", "demand_std_milli"],
    )
    return sums


def warehouse_sums(warehouse_path: str) -> Sums:
    from warehouse.extract import open_warehouse

    duck = open_warehouse(warehouse_path, read_only=True)
    try:
        return sums_from(
            duck,
            {
                "fct_sale_line": "fct_sale_line",
                "rpt_daily_sales": "rpt_daily_sales",
                "rpt_product_profit": "rpt_product_profit",
                "rpt_stock_position": "rpt_stock_position",
                "rpt_reorder": "rpt_reorder",
            },
        )
    finally:
        duck.close()


# --- the hand-written DuckDB baseline ------------------------------------------------------

DUCKDB_SCRIPT = """
CREATE TABLE b_fct_sale_line AS
SELECT l.id AS sale_line_id, l.sale_id, s.store_id, l.product_id, p.category_id, s.kind,
       CAST(timezone(st.timezone, CAST(s.created_at AS TIMESTAMPTZ)) AS DATE) AS sale_date,
       s.sign * l.qty_milli AS qty_milli,
       s.sign * l.amount_minor AS revenue_minor,
       s.sign * l.vat_minor AS vat_minor,
       s.sign * (l.amount_minor - l.vat_minor) AS revenue_ex_vat_minor,
       l.unit_cost_minor,
       s.sign * ((l.qty_milli * l.unit_cost_minor + 500) // 1000) AS cogs_minor,
       s.sign * (l.amount_minor - l.vat_minor - (l.qty_milli * l.unit_cost_minor + 500) // 1000)
           AS gross_profit_minor
FROM sale_line l
JOIN (SELECT *, CASE WHEN kind = 'return' THEN -1 ELSE 1 END AS sign FROM sale) s
  ON s.id = l.sale_id
JOIN store st ON st.id = s.store_id
LEFT JOIN product p ON p.id = l.product_id;

CREATE TABLE b_daily_sales AS
SELECT store_id, sale_date,
       count(DISTINCT sale_id) FILTER (kind = 'sale') AS receipts,
       count(DISTINCT sale_id) FILTER (kind = 'return') AS returns,
       count(*) AS lines, sum(revenue_minor) AS revenue_minor, sum(vat_minor) AS vat_minor,
       sum(revenue_ex_vat_minor) AS revenue_ex_vat_minor, sum(cogs_minor) AS cogs_minor,
       sum(gross_profit_minor) AS gross_profit_minor,
       sum(revenue_minor) FILTER (unit_cost_minor IS NULL) AS revenue_without_cost_minor
FROM b_fct_sale_line WHERE sale_date <= $as_of
GROUP BY store_id, sale_date;

CREATE TABLE b_product_profit AS
WITH day AS (
    SELECT store_id, product_id, sale_date AS period_start, any_value(category_id) AS category_id,
           sum(qty_milli) AS qty_milli,
           count(DISTINCT sale_id) FILTER (kind = 'sale') AS receipts,
           sum(revenue_minor) AS revenue_minor, sum(vat_minor) AS vat_minor,
           sum(revenue_ex_vat_minor) AS revenue_ex_vat_minor, sum(cogs_minor) AS cogs_minor,
           sum(gross_profit_minor) AS gross_profit_minor,
           sum(revenue_minor) FILTER (unit_cost_minor IS NULL) AS revenue_without_cost_minor,
           sum(revenue_ex_vat_minor) FILTER (unit_cost_minor IS NOT NULL) AS costed_minor
    FROM b_fct_sale_line WHERE sale_date <= $as_of
    GROUP BY store_id, product_id, sale_date
), both_periods AS (
    SELECT 'day' AS period, * FROM day
    UNION ALL
    SELECT 'week', store_id, product_id, CAST(date_trunc('week', period_start) AS DATE),
           any_value(category_id), sum(qty_milli), sum(receipts), sum(revenue_minor),
           sum(vat_minor), sum(revenue_ex_vat_minor), sum(cogs_minor), sum(gross_profit_minor),
           sum(revenue_without_cost_minor), sum(costed_minor)
    FROM day GROUP BY store_id, product_id, CAST(date_trunc('week', period_start) AS DATE)
)
SELECT * EXCLUDE (costed_minor),
       CASE WHEN costed_minor > 0 THEN
           sign(gross_profit_minor)
           * ((2 * abs(gross_profit_minor) * 10000 + costed_minor) // (2 * costed_minor))
       END AS margin_bp
FROM both_periods;

CREATE TABLE b_moves AS
SELECT m.*, CAST(timezone(st.timezone, CAST(m.at AS TIMESTAMPTZ)) AS DATE) AS move_date
FROM stock_move m JOIN store st ON st.id = m.store_id;

CREATE TEMP TABLE b_receipts AS
SELECT * FROM (
    SELECT id, store_id, product_id, kind, qty_milli, unit_cost_minor, move_date,
           sum(qty_milli) OVER (PARTITION BY store_id, product_id ORDER BY id
                                ROWS UNBOUNDED PRECEDING) - qty_milli AS on_hand_before,
    FROM b_moves
)
WHERE kind IN ('receipt', 'transfer_in') AND unit_cost_minor IS NOT NULL;

CREATE TABLE b_cost AS
WITH RECURSIVE numbered AS (
    SELECT *, row_number() OVER (PARTITION BY store_id, product_id ORDER BY id) AS nth
    FROM b_receipts
), chain AS (
    SELECT store_id, product_id, nth, id, move_date, unit_cost_minor AS avg_cost_minor
    FROM numbered WHERE nth = 1
    UNION ALL
    SELECT r.store_id, r.product_id, r.nth, r.id, r.move_date,
           CASE WHEN r.on_hand_before <= 0 OR r.qty_milli <= 0 THEN r.unit_cost_minor
                ELSE (2 * (r.on_hand_before * c.avg_cost_minor + r.qty_milli * r.unit_cost_minor)
                      + r.on_hand_before + r.qty_milli)
                     // (2 * (r.on_hand_before + r.qty_milli))
           END
    FROM chain c JOIN numbered r
      ON r.store_id = c.store_id AND r.product_id = c.product_id AND r.nth = c.nth + 1
)
SELECT * FROM chain;

CREATE TABLE b_stock_position AS
WITH levels AS (
    SELECT store_id, product_id, sum(qty_milli) AS on_hand_milli
    FROM b_moves WHERE move_date <= $as_of GROUP BY ALL
), cost AS (
    SELECT store_id, product_id, arg_max(avg_cost_minor, id) AS avg_cost_minor
    FROM b_cost WHERE move_date <= $as_of GROUP BY ALL
)
SELECT l.store_id, l.product_id, l.on_hand_milli, c.avg_cost_minor,
       sign(l.on_hand_milli) * ((2 * abs(l.on_hand_milli) * c.avg_cost_minor + 1000) // 2000)
           AS value_at_cost_minor
FROM levels l LEFT JOIN cost c USING (store_id, product_id);

CREATE TABLE b_demand AS
WITH days AS (
    SELECT CAST(range AS DATE) AS day
    FROM range(CAST($first AS TIMESTAMP), CAST($as_of AS TIMESTAMP) + INTERVAL 1 DAY,
               INTERVAL 1 DAY)
), opening AS (
    SELECT store_id, product_id, sum(qty_milli) AS opening_milli
    FROM b_moves WHERE move_date < $first GROUP BY ALL
), moved AS (
    SELECT store_id, product_id, move_date AS day, sum(qty_milli) AS net_milli
    FROM b_moves WHERE move_date BETWEEN $first AND $as_of GROUP BY ALL
), sold AS (
    SELECT store_id, product_id, sale_date AS day, sum(qty_milli) AS sold_milli
    FROM b_fct_sale_line
    WHERE kind = 'sale' AND product_id IS NOT NULL AND sale_date BETWEEN $first AND $as_of
    GROUP BY ALL
), series AS (
    SELECT store_id, product_id FROM opening
    UNION SELECT store_id, product_id FROM moved
    UNION SELECT store_id, product_id FROM sold
), grid AS (
    SELECT s.store_id, s.product_id, d.day, coalesce(o.opening_milli, 0) AS opening_milli,
           coalesce(m.net_milli, 0) AS net_milli, coalesce(x.sold_milli, 0) AS sold_milli
    FROM series s CROSS JOIN days d
    LEFT JOIN opening o ON o.store_id = s.store_id AND o.product_id = s.product_id
    LEFT JOIN moved m
      ON m.store_id = s.store_id AND m.product_id = s.product_id AND m.day = d.day
    LEFT JOIN sold x
      ON x.store_id = s.store_id AND x.product_id = s.product_id AND x.day = d.day
), running AS (
    SELECT *, opening_milli + sum(net_milli) OVER (
               PARTITION BY store_id, product_id ORDER BY day ROWS UNBOUNDED PRECEDING
           ) AS closing_milli
    FROM grid
)
SELECT store_id, product_id,
       count(*) FILTER (in_stock) AS days_counted,
       coalesce(avg(sold_milli) FILTER (in_stock), 0) AS mean_daily_demand_milli,
       coalesce(stddev_samp(sold_milli) FILTER (in_stock), 0) AS demand_std_milli
FROM (SELECT *, closing_milli - net_milli > 0 OR closing_milli > 0 OR sold_milli > 0 AS in_stock
      FROM running)
GROUP BY store_id, product_id;

CREATE TABLE b_stock_position_demand AS
SELECT p.*, coalesce(d.mean_daily_demand_milli, 0) AS mean_daily_demand_milli
FROM b_stock_position p LEFT JOIN b_demand d USING (store_id, product_id);

CREATE TABLE b_reorder AS
SELECT d.* FROM b_demand d
WHERE d.product_id IN (
    SELECT sp.product_id FROM supplier_product sp JOIN supplier s ON s.id = sp.supplier_id
    WHERE s.active
);
"""

DUCKDB_TABLES = {
    "fct_sale_line": "b_fct_sale_line",
    "rpt_daily_sales": "b_daily_sales",
    "rpt_product_profit": "b_product_profit",
    "rpt_stock_position": "b_stock_position_demand",
    "rpt_reorder": "b_reorder",
}


def _script(as_of: dt.date, window_days: int) -> list[str]:
    first = as_of - dt.timedelta(days=window_days - 1)
    text = DUCKDB_SCRIPT.replace("$as_of", f"DATE '{as_of.isoformat()}'").replace(
        "$first", f"DATE '{first.isoformat()}'"
    )
    return [statement for statement in text.split(";") if statement.strip()]


def duckdb_job(
    hub_url: str, duck_path: str, as_of: dt.date, window_days: int = WINDOW_DAYS
) -> JobResult:
    """ADBC (Arrow record batches) into a fresh DuckDB file, then `DUCKDB_SCRIPT`."""
    from warehouse.extract import hub_connection, open_warehouse

    result = JobResult("duckdb", 0.0)
    result.rss_after["start"] = peak_rss()
    began = time.perf_counter()
    duck = open_warehouse(duck_path)
    try:
        # The pipeline's own lean ADBC reader (Arrow C streams, no pyarrow/pandas import).
        with hub_connection(hub_url) as (_kind, hub):
            for table, columns in NEEDED.items():
                names = ", ".join(f'"{name}"' for name, _ty in columns)
                with hub.query(f"SELECT {names} FROM {table}") as stream:  # noqa: S608 - ours
                    casts = ", ".join(f'CAST("{n}" AS {ty}) AS "{n}"' for n, ty in columns)
                    duck.register("incoming", stream)
                    try:
                        duck.execute(f"CREATE TABLE {table} AS SELECT {casts} FROM incoming")  # noqa: S608
                    finally:
                        duck.unregister("incoming")
        extracted = time.perf_counter()
        result.parts["extract"] = extracted - began
        result.rss_after["extract"] = peak_rss()
        for statement in _script(as_of, window_days):
            duck.execute(statement)
        result.seconds = time.perf_counter() - began
        result.parts["SQL"] = result.seconds - result.parts["extract"]
        result.peak_rss = result.rss_after["SQL"] = peak_rss()
        result.sums = sums_from(duck, DUCKDB_TABLES)
        for name, table in DUCKDB_TABLES.items():
            result.rows[name] = int(_one(duck, f"SELECT count(*) FROM {table}")[0])  # noqa: S608
    finally:
        duck.close()
    return result


# --- the pandas baseline ---------------------------------------------------------------------


def pandas_job(hub_url: str, as_of: dt.date, window_days: int = WINDOW_DAYS) -> JobResult:
    """`pandas.read_sql` over ADBC (Arrow underneath, nullable integers), then pandas."""
    import numpy as np
    import pandas as pd

    result = JobResult("pandas", 0.0)
    result.rss_after["start"] = peak_rss()
    began = time.perf_counter()
    hub = _adbc_reader(hub_url)
    try:
        frames = {
            table: pd.read_sql(
                f"SELECT {', '.join(name for name, _ty in columns)} FROM {table}",  # noqa: S608
                hub,
                dtype_backend="numpy_nullable",
            )
            for table, columns in NEEDED.items()
        }
    finally:
        hub.close()
    read = time.perf_counter()
    result.parts["read"] = read - began
    result.rss_after["read"] = peak_rss()
    store, product = frames["store"], frames["product"]
    sale, line, moves = frames["sale"], frames["sale_line"], frames["stock_move"]
    zones = dict(zip(store["id"].tolist(), store["timezone"].tolist(), strict=True))

    def local_date(at: pd.Series, store_id: pd.Series) -> pd.Series:
        utc = pd.to_datetime(at, format="%Y-%m-%d %H:%M:%S.%f").dt.tz_localize("UTC")
        out = pd.Series(pd.NaT, index=at.index, dtype="datetime64[us]")
        for number, zone in zones.items():
            mine = store_id == number
            out[mine] = utc[mine].dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
        return out

    as_of_ts, first_ts = pd.Timestamp(as_of), pd.Timestamp(as_of - dt.timedelta(window_days - 1))
    # fct_sale_line
    sale["sale_date"] = local_date(sale["created_at"], sale["store_id"])
    sale["sign"] = np.where(sale["kind"] == "return", -1, 1)
    fct = line.merge(
        sale[["id", "store_id", "kind", "sale_date", "sign"]].rename(columns={"id": "sale_id"}),
        on="sale_id",
    ).merge(product.rename(columns={"id": "product_id"}), on="product_id", how="left")
    sign = fct["sign"]
    cogs = (fct["qty_milli"] * fct["unit_cost_minor"] + 500) // 1000
    fct["qty_milli"] = sign * fct["qty_milli"]
    fct["revenue_minor"] = sign * fct["amount_minor"]
    fct["vat_minor"] = sign * fct["vat_minor"]
    fct["revenue_ex_vat_minor"] = fct["revenue_minor"] - fct["vat_minor"]
    fct["cogs_minor"] = sign * cogs
    fct["gross_profit_minor"] = fct["revenue_ex_vat_minor"] - fct["cogs_minor"]
    uncosted = fct["unit_cost_minor"].isna()
    fct["revenue_without_cost_minor"] = fct["revenue_minor"].where(uncosted, 0)
    fct["costed_minor"] = fct["revenue_ex_vat_minor"].where(~uncosted, 0)
    fct["sale_of_kind_sale"] = fct["sale_id"].where(fct["kind"] == "sale")
    fct["sale_of_kind_return"] = fct["sale_id"].where(fct["kind"] == "return")
    fct["costed_lines"] = (~uncosted).astype("int64")
    sums = {
        name: (name, "sum")
        for name in (
            "revenue_minor",
            "vat_minor",
            "revenue_ex_vat_minor",
            "cogs_minor",
            "gross_profit_minor",
            "revenue_without_cost_minor",
            "costed_lines",
        )
    }

    def uncosted_is_null(frame: pd.DataFrame) -> pd.DataFrame:
        """As SQL's sum(): NULL, not 0, where no line had a cost."""
        for name in ("cogs_minor", "gross_profit_minor"):
            frame[name] = frame[name].where(frame["costed_lines"] > 0)
        return frame

    upto = fct[fct["sale_date"] <= as_of_ts]
    daily = uncosted_is_null(
        upto.groupby(["store_id", "sale_date"], as_index=False).agg(
            receipts=("sale_of_kind_sale", "nunique"),
            returns=("sale_of_kind_return", "nunique"),
            lines=("sale_id", "size"),
            **sums,
        )
    )
    # rpt_product_profit: days, then ISO weeks from the days
    day = upto.groupby(["store_id", "product_id", "sale_date"], as_index=False, dropna=False).agg(
        category_id=("category_id", "first"),
        qty_milli=("qty_milli", "sum"),
        receipts=("sale_of_kind_sale", "nunique"),
        costed_minor=("costed_minor", "sum"),
        **sums,
    )
    weekday = pd.to_timedelta(day["sale_date"].dt.day_of_week, unit="D")
    day["week_start"] = day["sale_date"] - weekday
    week = day.groupby(["store_id", "product_id", "week_start"], as_index=False, dropna=False).agg(
        category_id=("category_id", "first"),
        **{name: (name, "sum") for name in ("qty_milli", "receipts", "costed_minor", *sums)},
    )
    profit = pd.concat(
        [
            uncosted_is_null(day)
            .drop(columns=["week_start"])
            .rename(columns={"sale_date": "period_start"})
            .assign(period="day"),
            uncosted_is_null(week)
            .rename(columns={"week_start": "period_start"})
            .assign(period="week"),
        ],
        ignore_index=True,
    )
    gross, costed = profit["gross_profit_minor"], profit["costed_minor"]
    margin = (2 * gross.abs() * 10_000 + costed) // (2 * costed)
    profit["margin_bp"] = (np.sign(gross) * margin).where(costed > 0)
    # stock: local dates, the moving-average cost receipt by receipt, the position
    moves["move_date"] = local_date(moves["at"], moves["store_id"])
    moves = moves.sort_values("id", ignore_index=True)
    keys = ["store_id", "product_id"]
    moves["on_hand_before"] = moves.groupby(keys)["qty_milli"].cumsum() - moves["qty_milli"]
    receipts = moves[
        moves["kind"].isin(["receipt", "transfer_in"]) & moves["unit_cost_minor"].notna()
    ].copy()
    receipts["nth"] = receipts.groupby(keys).cumcount()
    receipts["series"] = receipts["store_id"] * 10**9 + receipts["product_id"]
    previous = pd.Series(dtype="Int64")
    steps = []
    for nth in range(int(receipts["nth"].max()) + 1 if len(receipts) else 0):
        step = receipts[receipts["nth"] == nth]
        before = step["series"].map(previous)
        held, got, cost = step["on_hand_before"], step["qty_milli"], step["unit_cost_minor"]
        restart = before.isna() | (held <= 0) | (got <= 0)
        blended = (2 * (held * before + got * cost) + held + got) // (2 * (held + got))
        avg = cost.where(restart, blended).astype("Int64")
        previous = pd.concat([previous, pd.Series(avg.to_numpy(), index=step["series"])])
        previous = previous[~previous.index.duplicated(keep="last")]
        steps.append(step.assign(avg_cost_minor=avg))
    costs = pd.concat(steps) if steps else receipts.assign(avg_cost_minor=pd.Series(dtype="Int64"))
    upto_moves = moves[moves["move_date"] <= as_of_ts]
    position = upto_moves.groupby(keys, as_index=False).agg(on_hand_milli=("qty_milli", "sum"))
    last_cost = (
        costs[costs["move_date"] <= as_of_ts]
        .sort_values("id")
        .groupby(keys, as_index=False)
        .agg(avg_cost_minor=("avg_cost_minor", "last"))
    )
    position = position.merge(last_cost, on=keys, how="left")
    on_hand = position["on_hand_milli"]
    value = (2 * on_hand.abs() * position["avg_cost_minor"] + 1000) // 2000
    position["value_at_cost_minor"] = np.sign(on_hand) * value
    # demand over the window: every series x day, zero-sale days counted, out-of-stock left out
    opening = (
        moves[moves["move_date"] < first_ts].groupby(keys)["qty_milli"].sum().rename("opening")
    )
    in_window = moves[(moves["move_date"] >= first_ts) & (moves["move_date"] <= as_of_ts)]
    moved = in_window.groupby([*keys, "move_date"])["qty_milli"].sum().rename("net")
    moved.index = moved.index.set_names([*keys, "day"])
    sold_lines = upto[
        (upto["kind"] == "sale") & upto["product_id"].notna() & (upto["sale_date"] >= first_ts)
    ]
    sold = sold_lines.groupby([*keys, "sale_date"])["qty_milli"].sum().rename("sold")
    sold.index = sold.index.set_names([*keys, "day"])
    series = (
        pd.concat(
            [
                opening.index.to_frame(index=False),
                moved.index.to_frame(index=False)[keys],
                sold.index.to_frame(index=False)[keys],
            ]
        )
        .drop_duplicates()
        .sort_values(keys, ignore_index=True)
    )
    days = pd.date_range(first_ts, as_of_ts, freq="D").astype("datetime64[us]")
    grid = pd.DataFrame(
        {
            "store_id": np.repeat(series["store_id"].to_numpy(), len(days)),
            "product_id": np.repeat(series["product_id"].to_numpy(), len(days)),
            "day": np.tile(days.to_numpy(), len(series)),
        }
    )
    grid = grid.join(opening, on=keys).join(moved, on=[*keys, "day"]).join(sold, on=[*keys, "day"])
    grid = grid.fillna({"opening": 0, "net": 0, "sold": 0})
    grid["closing"] = grid["opening"] + grid.groupby(keys)["net"].cumsum()
    grid["in_stock"] = (
        (grid["closing"] - grid["net"] > 0) | (grid["closing"] > 0) | (grid["sold"] > 0)
    )
    counted = grid[grid["in_stock"]].groupby(keys)["sold"]
    demand = pd.DataFrame(
        {
            "days_counted": grid.groupby(keys)["in_stock"].sum(),
            "mean_daily_demand_milli": counted.mean(),
            "demand_std_milli": counted.std(ddof=1),
        }
    ).reset_index()
    demand = demand.fillna({"mean_daily_demand_milli": 0.0, "demand_std_milli": 0.0})
    position = position.merge(
        demand[[*keys, "mean_daily_demand_milli"]], on=keys, how="left"
    ).fillna({"mean_daily_demand_milli": 0.0})
    supplied = frames["supplier_product"].merge(
        frames["supplier"][frames["supplier"]["active"].astype(bool)],
        left_on="supplier_id",
        right_on="id",
    )["product_id"]
    reorder = demand[demand["product_id"].isin(supplied)]
    result.seconds = time.perf_counter() - began
    result.parts["pandas"] = result.seconds - result.parts["read"]
    result.peak_rss = result.rss_after["pandas"] = peak_rss()

    def total(frame: pd.DataFrame, column: str) -> float:
        return float(frame[column].sum())

    out: Sums = {
        "fct_sale_line.rows": float(len(fct)),
        "fct_sale_line.revenue_minor": total(fct, "revenue_minor"),
        "fct_sale_line.vat_minor": total(fct, "vat_minor"),
        "fct_sale_line.cogs_minor": total(fct, "cogs_minor"),
        "fct_sale_line.gross_profit_minor": total(fct, "gross_profit_minor"),
        "fct_sale_line.revenue_without_cost_minor": total(fct, "revenue_without_cost_minor"),
        "rpt_daily_sales.rows": float(len(daily)),
        "rpt_daily_sales.receipts": total(daily, "receipts"),
        "rpt_daily_sales.returns": total(daily, "returns"),
        "rpt_daily_sales.revenue_minor": total(daily, "revenue_minor"),
        "rpt_daily_sales.gross_profit_minor": total(daily, "gross_profit_minor"),
    }
    for period in ("day", "week"):
        part = profit[profit["period"] == period]
        out[f"rpt_product_profit.{period}.rows"] = float(len(part))
        for name in ("revenue_minor", "gross_profit_minor", "margin_bp"):
            out[f"rpt_product_profit.{period}.{name}"] = total(part, name)
    out.update(
        {
            "rpt_stock_position.rows": float(len(position)),
            "rpt_stock_position.on_hand_milli": total(position, "on_hand_milli"),
            "rpt_stock_position.avg_cost_minor": total(position, "avg_cost_minor"),
            "rpt_stock_position.value_at_cost_minor": total(position, "value_at_cost_minor"),
            "rpt_stock_position.mean_daily_demand_milli": total(
                position, "mean_daily_demand_milli"
            ),
            "rpt_reorder.rows": float(len(reorder)),
            "rpt_reorder.days_counted": total(reorder, "days_counted"),
            "rpt_reorder.mean_daily_demand_milli": total(reorder, "mean_daily_demand_milli"),
            "rpt_reorder.demand_std_milli": total(reorder, "demand_std_milli"),
        }
    )
    result.sums = out
    result.rows = {
        "fct_sale_line": len(fct),
        "rpt_daily_sales": len(daily),
        "rpt_product_profit": len(profit),
        "rpt_stock_position": len(position),
        "rpt_reorder": len(reorder),
    }
    return result


# --- agreement ---------------------------------------------------------------------------


def disagreements(reference: Sums, other: Sums, *, tolerance: float = 1e-9) -> list[str]:
    """Figures both have whose values differ (floats within a relative `tolerance`)."""
    out = []
    for key in sorted(reference.keys() & other.keys()):
        a, b = reference[key], other[key]
        exact = (
            key.endswith(
                (
                    "_minor",
                    "_milli",
                    ".rows",
                    ".receipts",
                    ".returns",
                    ".margin_bp",
                    ".days_counted",
                )
            )
            and "demand" not in key
        )
        limit = 0.0 if exact else tolerance * max(1.0, abs(a), abs(b))
        if abs(a - b) > limit:
            out.append(f"{key}: {a:,.6g} vs {b:,.6g}")
    return out


def truth_sums(truth: Any) -> Sums:
    """The generator's own figures under the same names."""
    return {
        "fct_sale_line.rows": float(truth.lines),
        "fct_sale_line.revenue_minor": float(truth.revenue_minor),
        "fct_sale_line.vat_minor": float(truth.vat_minor),
        "fct_sale_line.cogs_minor": float(truth.cogs_minor),
        "fct_sale_line.gross_profit_minor": float(truth.gross_profit_minor),
        "fct_sale_line.revenue_without_cost_minor": float(truth.revenue_without_cost_minor),
        "rpt_daily_sales.receipts": float(truth.sales),
        "rpt_daily_sales.returns": float(truth.returns),
        "rpt_daily_sales.revenue_minor": float(truth.revenue_minor),
        "rpt_stock_position.on_hand_milli": float(truth.on_hand_milli),
    }


__all__ = [
    "DUCKDB_SCRIPT",
    "NEEDED",
    "JobResult",
    "Sums",
    "disagreements",
    "duckdb_job",
    "isolated",
    "pandas_job",
    "peak_rss",
    "pipeline_job",
    "truth_sums",
    "warehouse_sums",
]
