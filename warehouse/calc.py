"""Profit, stock and reorder arithmetic: pure Polars functions of DataFrames.

Each function takes plain frames (the marts module reads them from DuckDB; the tests build them
by hand) and returns a frame; none reads a file or a clock. Money and quantities stay integers:
only averages, deviations and ratios are floats, and each is rounded once, where it is posted.
"""

from __future__ import annotations

import datetime as dt
from statistics import NormalDist

import polars as pl

SERIES = ["store_id", "product_id"]
COSTED_KINDS = ("receipt", "transfer_in")  # moves that bring stock in at a cost (as the hub)


def div_half_up(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """Exact integer numerator / denominator (> 0) rounded half away from zero, as the hub's
    `round_half_up`: -2.5 -> -3."""
    den = denominator if isinstance(denominator, pl.Expr) else pl.lit(denominator)
    magnitude = (numerator.abs() * 2 + den) // (den * 2)
    return pl.when(numerator >= 0).then(magnitude).otherwise(-magnitude)


def half_up(value: pl.Expr) -> pl.Expr:
    """A non-negative float posted as an integer, halves up."""
    return (value + 0.5).floor().cast(pl.Int64)


# --- cost ---------------------------------------------------------------------------------


def moving_average_cost(moves: pl.DataFrame) -> pl.DataFrame:
    """The moving-average cost history of every store and product, from its stock moves.

    `moves`: store_id, product_id, stock_move_id, moved_at_utc, kind, qty_milli, unit_cost_minor
    (every move: sales and counts change the stock the next receipt averages with).

    One row per receipt or transfer-in at a cost: the stock just before it, what came in, and the
    new average = round_half_up((on hand x average + received x unit cost) / (on hand +
    received)). When nothing was on hand (zero or negative: a stock-out), or no average existed
    yet, the average restarts at the received unit cost. The hub applies the same rule as it
    posts; moves are taken in the order the hub posted them (their id).
    """
    ordered = moves.sort("stock_move_id").with_columns(
        (pl.col("qty_milli").cum_sum().over(SERIES) - pl.col("qty_milli")).alias(
            "on_hand_before_milli"
        )
    )
    receipts = ordered.filter(
        pl.col("kind").is_in(COSTED_KINDS) & pl.col("unit_cost_minor").is_not_null()
    )
    return receipt_costs(receipts.drop("kind"), moves.schema)


def receipt_costs(
    receipts: pl.DataFrame, schema: pl.Schema | None = None, start: pl.DataFrame | None = None
) -> pl.DataFrame:
    """`moving_average_cost` from the costed receipts alone, each with the stock just before it.

    `receipts`: store_id, product_id, stock_move_id, moved_at_utc, qty_milli, unit_cost_minor,
    on_hand_before_milli (the sum of every earlier move of the series, in posting order). The
    warehouse computes that sum in DuckDB, so only receipts, not every sale, reach Polars.
    `start`: store_id, product_id, previous_avg: the average each series had before these
    receipts (an incremental build continues from the last one it posted).
    """
    receipts = receipts.sort("stock_move_id").with_columns(
        pl.int_range(pl.len()).over(SERIES).alias("nth")
    )
    columns = [
        *SERIES,
        "stock_move_id",
        "valid_from_utc",
        "on_hand_before_milli",
        "received_milli",
        "received_unit_cost_minor",
        "avg_cost_minor",
    ]
    if receipts.is_empty():
        return _cost_history(_empty_costs(schema or receipts.schema), columns)
    # The average is a recurrence over each series' receipts; step through the n-th receipt of
    # every series at once (as many steps as the longest series has receipts).
    steps: list[pl.DataFrame] = []
    previous = pl.DataFrame(
        schema={"store_id": pl.Int64, "product_id": pl.Int64, "previous_avg": pl.Int64}
    ).cast({c: receipts.schema[c] for c in SERIES})
    if start is not None:
        previous = start.select(*SERIES, pl.col("previous_avg").cast(pl.Int64)).cast(
            {c: receipts.schema[c] for c in SERIES}
        )
    by_step = receipts.partition_by("nth", as_dict=True)  # split once: each step its own rows
    for nth in range(int(receipts["nth"].max() or 0) + 1):  # type: ignore[arg-type]
        step = (
            by_step[(nth,)]
            .join(previous, on=SERIES, how="left")
            .with_columns(
                pl.when(
                    pl.col("previous_avg").is_null()
                    | (pl.col("on_hand_before_milli") <= 0)
                    | (pl.col("qty_milli") <= 0)
                )
                .then(pl.col("unit_cost_minor"))
                .otherwise(
                    div_half_up(
                        pl.col("on_hand_before_milli") * pl.col("previous_avg")
                        + pl.col("qty_milli") * pl.col("unit_cost_minor"),
                        pl.col("on_hand_before_milli") + pl.col("qty_milli"),
                    )
                )
                .alias("avg_cost_minor")
            )
        )
        previous = step.select(*SERIES, pl.col("avg_cost_minor").alias("previous_avg"))
        steps.append(step)
    history = pl.concat(steps).select(
        *SERIES,
        "stock_move_id",
        pl.col("moved_at_utc").alias("valid_from_utc"),
        "on_hand_before_milli",
        pl.col("qty_milli").alias("received_milli"),
        pl.col("unit_cost_minor").alias("received_unit_cost_minor"),
        pl.col("avg_cost_minor").cast(pl.Int64),
    )
    return _cost_history(history, columns)


def _empty_costs(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "store_id": schema["store_id"],
            "product_id": schema["product_id"],
            "stock_move_id": schema["stock_move_id"],
            "valid_from_utc": schema["moved_at_utc"],
            "on_hand_before_milli": pl.Int64,
            "received_milli": schema["qty_milli"],
            "received_unit_cost_minor": schema["unit_cost_minor"],
            "avg_cost_minor": pl.Int64,
        }
    )


def _cost_history(history: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return (
        history.select(columns)
        .sort([*SERIES, "stock_move_id"])
        .with_columns(pl.col("valid_from_utc").shift(-1).over(SERIES).alias("valid_to_utc"))
    )


# --- demand and stock --------------------------------------------------------------------


def demand_stats(
    opening: pl.DataFrame,
    daily_moves: pl.DataFrame,
    daily_sold: pl.DataFrame,
    as_of: dt.date,
    window_days: int,
) -> pl.DataFrame:
    """Daily demand of every store and product over the window `as_of - window_days + 1 ..
    as_of`, counting zero-sale days and leaving out days the product was out of stock.

    `opening`: store_id, product_id, opening_milli (on hand when the window starts);
    `daily_moves`: store_id, product_id, day, net_milli (all moves of the day, signed);
    `daily_sold`: store_id, product_id, day, sold_milli (quantity sold that day, returns not
    subtracted: a return is not negative demand).

    A day is out of stock when it opened and closed with nothing on hand and nothing was sold.
    Returns store_id, product_id, window_days, days_counted, mean_daily_demand_milli,
    demand_std_milli (sample deviation; 0 with fewer than two days), on_hand_milli (at the end of
    `as_of`).
    """
    first = as_of - dt.timedelta(days=window_days - 1)
    days = pl.DataFrame({"day": pl.date_range(first, as_of, interval="1d", eager=True)})
    series = pl.concat(
        [opening.select(SERIES), daily_moves.select(SERIES), daily_sold.select(SERIES)]
    ).unique()
    grid = (  # lazy: Polars plans the grid's joins and sort together (a quarter faster)
        series.lazy()
        .join(days.lazy(), how="cross")
        .join(opening.lazy(), on=SERIES, how="left")
        .join(daily_moves.lazy(), on=[*SERIES, "day"], how="left")
        .join(daily_sold.lazy(), on=[*SERIES, "day"], how="left")
        .with_columns(
            pl.col("opening_milli").fill_null(0),
            pl.col("net_milli").fill_null(0),
            pl.col("sold_milli").fill_null(0),
        )
        .sort([*SERIES, "day"])
        .with_columns(
            (pl.col("opening_milli") + pl.col("net_milli").cum_sum().over(SERIES)).alias(
                "closing_milli"
            )
        )
        .with_columns(
            (pl.col("closing_milli") - pl.col("net_milli")).alias("day_open_milli"),
        )
        .with_columns(
            (
                (pl.col("day_open_milli") > 0)
                | (pl.col("closing_milli") > 0)
                | (pl.col("sold_milli") > 0)
            ).alias("in_stock")
        )
    )
    counted = pl.col("sold_milli").filter(pl.col("in_stock"))
    return (
        grid.group_by(SERIES)
        .agg(
            pl.col("in_stock").sum().cast(pl.Int64).alias("days_counted"),
            counted.mean().alias("mean_daily_demand_milli"),
            counted.std(ddof=1).alias("demand_std_milli"),
            pl.col("closing_milli").last().alias("on_hand_milli"),
        )
        .with_columns(
            pl.lit(window_days, pl.Int64).alias("window_days"),
            pl.col("mean_daily_demand_milli").cast(pl.Float64).fill_null(0.0),
            pl.col("demand_std_milli").cast(pl.Float64).fill_null(0.0),
        )
        .select(
            *SERIES,
            "window_days",
            "days_counted",
            "mean_daily_demand_milli",
            "demand_std_milli",
            "on_hand_milli",
        )
        .sort(SERIES)
        .collect()
    )


def stock_position(levels: pl.DataFrame, demand: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Stock at the end of `as_of`, valued at cost, with its days of cover.

    `levels`: store_id, product_id, on_hand_milli, avg_cost_minor (the moving average at that
    moment, NULL when never costed), last_sale_date, last_receipt_date;
    `demand`: store_id, product_id, mean_daily_demand_milli (from `demand_stats`).
    """
    return (
        levels.join(demand.select(*SERIES, "mean_daily_demand_milli"), on=SERIES, how="left")
        .with_columns(
            pl.lit(as_of).alias("as_of"),
            pl.col("mean_daily_demand_milli").fill_null(0.0),
            div_half_up(pl.col("on_hand_milli") * pl.col("avg_cost_minor"), 1000).alias(
                "value_at_cost_minor"
            ),
        )
        .with_columns(
            pl.when((pl.col("mean_daily_demand_milli") > 0) & (pl.col("on_hand_milli") > 0))
            .then(
                (
                    half_up(pl.col("on_hand_milli") * 10 / pl.col("mean_daily_demand_milli")) / 10
                ).round(1)
            )
            .alias("days_of_cover"),
            (pl.col("on_hand_milli") < 0).alias("is_negative"),
        )
        .select(
            *SERIES,
            "as_of",
            "on_hand_milli",
            "avg_cost_minor",
            "value_at_cost_minor",
            "mean_daily_demand_milli",
            "days_of_cover",
            "last_sale_date",
            "last_receipt_date",
            "is_negative",
        )
        .sort(SERIES)
    )


# --- reorder -------------------------------------------------------------------------------


def service_z(service_level: float) -> float:
    """The standard normal quantile of a service level (0.95 -> 1.645)."""
    if not 0.5 <= service_level < 1:
        raise ValueError(f"service level must be at least 0.5 and below 1, got {service_level}")
    return NormalDist().inv_cdf(service_level)


# Every input of the reorder formula, in the order docs/warehouse.md lists them (the mart shows
# them all; a draft purchase order line keeps them as its reason).
REORDER_INPUTS = (
    "window_days",
    "days_counted",
    "mean_daily_demand_milli",
    "demand_std_milli",
    "lead_time_days",
    "review_period_days",
    "service_level",
    "z",
    "safety_stock_milli",
    "reorder_point_milli",
    "order_up_to_milli",
    "on_hand_milli",
    "on_order_milli",
    "pack_size_milli",
    "min_order_milli",
)


def reorder(
    demand: pl.DataFrame,
    on_order: pl.DataFrame,
    terms: pl.DataFrame,
    as_of: dt.date,
    service_level: float,
) -> pl.DataFrame:
    """Reorder suggestions per store and product, with every input of the formula.

    `demand`: from `demand_stats` (d, s, days counted, on hand at the end of `as_of`);
    `on_order`: store_id, product_id, on_order_milli (ordered, not yet received);
    `terms`: product_id, supplier_id, lead_time_days, review_period_days, pack_size_milli,
    min_order_milli, last_cost_minor (one supplier per product).

    SS = z x s x sqrt(L + R); reorder point = d x L + SS; order-up-to = d x (L + R) + SS, each
    posted in whole thousandths (halves up). When on hand + on order <= reorder point and the
    order-up-to level is above it, suggest order-up-to - (on hand + on order) rounded up to the
    pack, and at least the minimum order (itself rounded up to the pack).
    """
    z = service_z(service_level)
    base = (
        demand.join(on_order, on=SERIES, how="full", coalesce=True)
        .join(terms, on="product_id", how="inner")
        .with_columns(
            pl.col("on_hand_milli").fill_null(0),
            pl.col("on_order_milli").fill_null(0),
            pl.col("window_days").fill_null(pl.col("window_days").max()),
            pl.col("days_counted").fill_null(0),
            pl.col("mean_daily_demand_milli").fill_null(0.0),
            pl.col("demand_std_milli").fill_null(0.0),
            pl.lit(as_of).alias("as_of"),
            pl.lit(service_level).alias("service_level"),
            pl.lit(z).alias("z"),
        )
    )
    d, s = pl.col("mean_daily_demand_milli"), pl.col("demand_std_milli")
    lead, review = pl.col("lead_time_days"), pl.col("review_period_days")
    pack = pl.col("pack_size_milli")
    posted = base.with_columns(
        half_up(pl.lit(z) * s * (lead + review).cast(pl.Float64).sqrt()).alias(
            "safety_stock_milli"
        ),
    ).with_columns(
        (half_up(d * lead) + pl.col("safety_stock_milli")).alias("reorder_point_milli"),
        (half_up(d * (lead + review)) + pl.col("safety_stock_milli")).alias("order_up_to_milli"),
        (pl.col("on_hand_milli") + pl.col("on_order_milli")).alias("position_milli"),
    )
    short = pl.col("order_up_to_milli") - pl.col("position_milli")
    packs = -((-short) // pack)
    minimum = -((-pl.col("min_order_milli")) // pack) * pack
    return (
        posted.with_columns(
            ((pl.col("position_milli") <= pl.col("reorder_point_milli")) & (short > 0)).alias(
                "needs_order"
            )
        )
        .with_columns(
            pl.when(pl.col("needs_order"))
            .then(pl.max_horizontal(packs * pack, minimum))
            .otherwise(0)
            .cast(pl.Int64)
            .alias("suggested_qty_milli")
        )
        .with_columns(
            div_half_up(pl.col("suggested_qty_milli") * pl.col("last_cost_minor"), 1000).alias(
                "suggested_value_minor"
            )
        )
        .select(
            *SERIES,
            "supplier_id",
            "as_of",
            *REORDER_INPUTS,
            "needs_order",
            "suggested_qty_milli",
            "last_cost_minor",
            "suggested_value_minor",
        )
        .sort(SERIES)
    )


# --- classes and dead stock ----------------------------------------------------------------


def abc_xyz(daily: pl.DataFrame, as_of: dt.date, weeks: int) -> pl.DataFrame:
    """ABC classes by revenue excluding VAT and XYZ classes by the variability of weekly demand,
    per store, over the `weeks` x 7 days ending `as_of`.

    `daily`: store_id, product_id, sale_date, qty_milli, revenue_ex_vat_minor (net of returns).
    ABC: products by revenue descending (ties by product id); A while the store's running share
    before the product is under 80 %, B under 95 %, C after. XYZ: the coefficient of variation
    (population deviation / mean) of the weekly quantities, weeks without sales included: X up
    to 0.5, Y up to 1.0, Z above (and Z when there is no net demand).
    Weeks are the 7-day buckets counted back from `as_of`.
    """
    first = as_of - dt.timedelta(days=weeks * 7 - 1)
    window = daily.filter(pl.col("sale_date").is_between(first, as_of)).with_columns(
        ((pl.lit(as_of) - pl.col("sale_date")).dt.total_days() // 7).alias("bucket")
    )
    weekly = window.group_by([*SERIES, "bucket"]).agg(pl.col("qty_milli").sum())
    buckets = pl.DataFrame({"bucket": list(range(weeks))}, schema={"bucket": pl.Int64})
    grid = (
        weekly.select(SERIES)
        .unique()
        .join(buckets, how="cross")
        .join(weekly.cast({"bucket": pl.Int64}), on=[*SERIES, "bucket"], how="left")
        .with_columns(pl.col("qty_milli").fill_null(0))
    )
    xyz = grid.group_by(SERIES).agg(
        pl.lit(weeks, pl.Int64).alias("weeks"),
        pl.col("qty_milli").mean().alias("weekly_mean_milli"),
        pl.col("qty_milli").std(ddof=0).alias("weekly_std_milli"),
    )
    revenue = window.group_by(SERIES).agg(pl.col("revenue_ex_vat_minor").sum())
    total = pl.col("revenue_ex_vat_minor").clip(lower_bound=0).sum().over("store_id")
    ranked = (
        revenue.sort(
            ["store_id", "revenue_ex_vat_minor", "product_id"], descending=[False, True, False]
        )
        .with_columns(
            pl.when(total > 0)
            .then(pl.col("revenue_ex_vat_minor").clip(lower_bound=0) / total)
            .otherwise(0.0)
            .alias("revenue_share")
        )
        .with_columns(
            pl.col("revenue_share")
            .fill_nan(0.0)
            .cum_sum()
            .over("store_id")
            .alias("cumulative_share")
        )
        # the share before the product, compared in whole minor units: a float running sum can
        # land a hair under an exact 80 % or 95 % boundary
        .with_columns(
            (
                pl.col("revenue_ex_vat_minor").clip(lower_bound=0).cum_sum().over("store_id")
                - pl.col("revenue_ex_vat_minor").clip(lower_bound=0)
            ).alias("before_minor"),
            total.alias("store_total_minor"),
        )
    )
    cv = pl.col("weekly_std_milli") / pl.col("weekly_mean_milli")
    return (
        ranked.join(xyz, on=SERIES, how="left")
        .with_columns(
            pl.lit(first).alias("window_start"),
            pl.lit(as_of).alias("window_end"),
            pl.when(pl.col("revenue_ex_vat_minor") <= 0)
            .then(pl.lit("C"))
            .when(pl.col("before_minor") * 100 < pl.col("store_total_minor") * 80)
            .then(pl.lit("A"))
            .when(pl.col("before_minor") * 100 < pl.col("store_total_minor") * 95)
            .then(pl.lit("B"))
            .otherwise(pl.lit("C"))
            .alias("abc_class"),
            pl.when(pl.col("weekly_mean_milli") > 0).then(cv).alias("cv"),
        )
        .with_columns(
            pl.when(pl.col("cv").is_null())
            .then(pl.lit("Z"))
            .when(pl.col("cv") <= 0.5)
            .then(pl.lit("X"))
            .when(pl.col("cv") <= 1.0)
            .then(pl.lit("Y"))
            .otherwise(pl.lit("Z"))
            .alias("xyz_class")
        )
        .select(
            *SERIES,
            "window_start",
            "window_end",
            "revenue_ex_vat_minor",
            "revenue_share",
            "cumulative_share",
            "abc_class",
            "weeks",
            "weekly_mean_milli",
            "weekly_std_milli",
            "cv",
            "xyz_class",
        )
        .sort(SERIES)
    )


def dead_stock(
    position: pl.DataFrame, first_move: pl.DataFrame, as_of: dt.date, days: int
) -> pl.DataFrame:
    """Products with stock on hand and no sale for `days` days up to `as_of`.

    `position`: from `stock_position`; `first_move`: store_id, product_id, first_move_date.
    Days without sale count from the last sale, or from the first move when never sold.
    """
    since = pl.coalesce(pl.col("last_sale_date"), pl.col("first_move_date"))
    return (
        position.join(first_move, on=SERIES, how="left")
        .with_columns((pl.lit(as_of) - since).dt.total_days().alias("days_without_sale"))
        .filter((pl.col("on_hand_milli") > 0) & (pl.col("days_without_sale") >= days))
        .select(
            *SERIES,
            "as_of",
            "on_hand_milli",
            "avg_cost_minor",
            "value_at_cost_minor",
            "last_sale_date",
            "days_without_sale",
            "last_receipt_date",
        )
        .sort(SERIES)
    )


# --- profit --------------------------------------------------------------------------------

PROFIT_SUMS = (
    "qty_milli",
    "receipts",
    "revenue_minor",
    "vat_minor",
    "revenue_ex_vat_minor",
    "cogs_minor",
    "gross_profit_minor",
    "revenue_without_cost_minor",
    "costed_revenue_ex_vat_minor",
)


def product_profit(daily: pl.DataFrame) -> pl.DataFrame:
    """Profit per store and product for each day and each ISO week (Monday start).

    `daily`: store_id, product_id, category_id, sale_date and the sums in `PROFIT_SUMS` (one
    row per store, product and day; `receipts` counts sales, and a sale falls on one day, so
    weeks add up). margin_bp = gross profit / revenue ex VAT of the costed lines, in basis
    points, rounded half up; NULL when nothing sold was costed.
    """
    keys = [*SERIES, "period_start"]
    days = daily.rename({"sale_date": "period_start"}).with_columns(pl.lit("day").alias("period"))
    weeks = (
        daily.lazy()
        .with_columns(pl.col("sale_date").dt.truncate("1w").alias("period_start"))
        .group_by(keys)
        .agg(
            pl.col("category_id").sort_by("sale_date").last(),  # as on the week's last day
            # NULL stays NULL when every day is (an uncosted week's COGS), as SQL's sum()
            *[
                pl.when(pl.col(name).is_not_null().any()).then(pl.col(name).sum()).alias(name)
                for name in PROFIT_SUMS
            ],
        )
        .with_columns(pl.lit("week").alias("period"))
    )
    columns = weeks.collect_schema().names()
    both = pl.concat([days.lazy().select(columns), weeks], how="vertical_relaxed")
    return (
        both.with_columns(
            pl.when(pl.col("costed_revenue_ex_vat_minor") > 0)
            .then(
                div_half_up(
                    pl.col("gross_profit_minor") * 10_000, pl.col("costed_revenue_ex_vat_minor")
                )
            )
            .alias("margin_bp")
        )
        .select(
            "period",
            "period_start",
            *SERIES,
            "category_id",
            *[name for name in PROFIT_SUMS if name != "costed_revenue_ex_vat_minor"],
            "margin_bp",
        )
        .sort(["period", "store_id", "product_id", "period_start"], nulls_last=True)
        .collect()
    )


__all__ = [
    "COSTED_KINDS",
    "PROFIT_SUMS",
    "SERIES",
    "abc_xyz",
    "dead_stock",
    "demand_stats",
    "div_half_up",
    "moving_average_cost",
    "product_profit",
    "receipt_costs",
    "reorder",
    "service_z",
    "stock_position",
]
