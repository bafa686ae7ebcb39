"""The demo's warehouse step: extract the demo hub into a DuckDB file, build dimensions, facts
and every mart (with their Parquet copies), then read the headline figures back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from warehouse.extract import open_warehouse
from warehouse.marts import Headline, headline
from warehouse.pipeline import build_marts
from warehouse.pipeline import refresh as refresh_warehouse


@dataclass
class WarehouseSummary:
    path: Path
    marts_dir: Path
    extracted_rows: int = 0
    extract_seconds: float = 0.0
    again_rows: int = 0  # a second refresh right after: must add nothing
    build_seconds: float = 0.0
    marts_seconds: float = 0.0
    fact_rows: int = 0
    mart_rows: dict[str, int] = field(default_factory=dict)
    revenue_minor: int = 0
    revenue_ex_vat_minor: int = 0
    gross_profit_minor: int = 0
    days: int = 0
    per_store: list[tuple[str, int, int]] = field(default_factory=list)  # name, revenue, profit
    headline: Headline | None = None


def refresh(hub_url: str, path: Path, timezone: str = "Europe/Moscow") -> WarehouseSummary:
    for stale in (path, path.with_name(path.name + ".wal")):  # a fresh warehouse every run
        stale.unlink(missing_ok=True)
    summary = WarehouseSummary(path, path.parent / "marts")
    first = refresh_warehouse(hub_url, path)
    summary.extracted_rows, summary.extract_seconds = first.extracted.total, first.extracted.seconds
    summary.build_seconds, summary.fact_rows = (
        first.built.seconds,
        first.built.rows["fct_sale_line"],
    )
    summary.again_rows = refresh_warehouse(hub_url, path).extracted.total
    # The demo's deliveries are stamped with today's date: build the marts as of today.
    today = dt.datetime.now(dt.UTC).astimezone(ZoneInfo(timezone)).date()
    marts = build_marts(path, today, marts_dir=summary.marts_dir)
    summary.marts_seconds, summary.mart_rows = marts.seconds, marts.rows
    duck = open_warehouse(path, read_only=True)
    try:
        summary.headline = headline(duck)
        revenue, ex_vat, profit, days = duck.execute(
            "SELECT sum(revenue_minor), sum(revenue_ex_vat_minor), sum(gross_profit_minor), "
            "count(DISTINCT sale_date) FROM rpt_daily_sales"
        ).fetchall()[0]
        summary.revenue_minor, summary.revenue_ex_vat_minor = int(revenue), int(ex_vat)
        summary.gross_profit_minor, summary.days = int(profit), int(days)
        summary.per_store = [
            (str(name), int(r), int(p))
            for name, r, p in duck.execute(
                "SELECT d.store_name, sum(r.revenue_minor), sum(r.gross_profit_minor) "
                "FROM rpt_daily_sales r JOIN dim_store d USING (store_id) "
                "GROUP BY d.store_name ORDER BY d.store_name"
            ).fetchall()
        ]
    finally:
        duck.close()
    return summary
