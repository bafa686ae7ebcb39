"""The demo's warehouse step: extract the demo hub into a DuckDB file and build the facts and
the daily mart, then read the headline figures back from the warehouse."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from warehouse.extract import extract, open_warehouse
from warehouse.transform import build


@dataclass
class WarehouseSummary:
    path: Path
    extracted_rows: int = 0
    extract_seconds: float = 0.0
    again_rows: int = 0  # a second extract right after: must add nothing
    build_seconds: float = 0.0
    fact_rows: int = 0
    revenue_minor: int = 0
    revenue_ex_vat_minor: int = 0
    gross_profit_minor: int = 0
    days: int = 0
    per_store: list[tuple[str, int, int]] = field(default_factory=list)  # name, revenue, profit


def refresh(hub_url: str, path: Path) -> WarehouseSummary:
    for stale in (path, path.with_name(path.name + ".wal")):  # a fresh warehouse every run
        stale.unlink(missing_ok=True)
    summary = WarehouseSummary(path)
    duck = open_warehouse(path)
    try:
        first = extract(hub_url, duck)
        summary.extracted_rows, summary.extract_seconds = first.total, first.seconds
        summary.again_rows = extract(hub_url, duck).total
        built = build(duck)
        summary.build_seconds, summary.fact_rows = built.seconds, built.rows["fct_sale_line"]
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
