"""The demo's warehouse step: run the `warehouse-refresh` Prefect flow on the demo hub (extract
into a DuckDB file, dimensions and facts), build every mart with its Parquet copy, and read the
headline figures back. (`daily-close` is not run: its quality gate is the next issue and fails
closed, so the demo builds the marts itself.)"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from warehouse.extract import open_warehouse
from warehouse.marts import Headline, headline
from warehouse.pipeline import Refreshed, build_marts


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
    first = _flow_refresh(hub_url, path)
    summary.extracted_rows, summary.extract_seconds = first.extracted.total, first.extracted.seconds
    summary.build_seconds, summary.fact_rows = (
        first.built.seconds,
        first.built.rows["fct_sale_line"],
    )
    summary.again_rows = _flow_refresh(hub_url, path).extracted.total
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


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """The flows read their settings from the environment: set them for the run, then restore."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _flow_refresh(hub_url: str, path: Path) -> Refreshed:
    """One run of the real `warehouse-refresh` flow (Prefect starts a temporary server for it
    unless PREFECT_API_URL points at one)."""
    from flows.settings import configure_prefect, load_settings

    values = {
        "KASSA_DATABASE_URL": hub_url,
        "KASSA_WAREHOUSE_PATH": str(path),
        "KASSA_MARTS_DIR": str(path.parent / "marts"),
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
    }
    with _environment(values):
        configure_prefect(load_settings())
        from flows.flows import warehouse_refresh

        return warehouse_refresh()
