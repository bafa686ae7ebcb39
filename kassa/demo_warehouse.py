"""The demo's warehouse step, on the real Prefect flows: `warehouse-refresh` extracts the demo hub
into a fresh DuckDB file and builds dimensions and facts; `daily-close` then closes yesterday
(a second refresh, every mart with its Parquet copy, the quality gate, the published report,
reorder drafts and e-mails: see `kassa.demo_close`); the headline figures are read back."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse.extract import open_warehouse
from warehouse.marts import GRAINS, Headline, headline
from warehouse.marts import STATE as MART_STATE

if TYPE_CHECKING:
    from warehouse.pipeline import Refreshed


@dataclass
class WarehouseSummary:
    path: Path
    marts_dir: Path
    extracted_rows: int = 0
    extract_seconds: float = 0.0
    again_rows: int = 0  # daily-close's refresh right after: must add nothing
    build_seconds: float = 0.0
    as_of: dt.date | None = None  # the day daily-close built the marts for
    fact_rows: int = 0
    mart_rows: dict[str, int] = field(default_factory=dict)
    revenue_minor: int = 0
    revenue_ex_vat_minor: int = 0
    gross_profit_minor: int = 0
    days: int = 0
    per_store: list[tuple[str, int, int]] = field(default_factory=list)  # name, revenue, profit
    headline: Headline | None = None


@dataclass
class Closed:
    """What the daily-close flow run said: one line per report, and why it failed if it did."""

    day: dt.date
    outcomes: list[str] = field(default_factory=list)
    withheld: str = ""  # the QualityGateFailedError: a report was withheld
    seconds: float = 0.0


def refresh_and_close(
    hub_url: str,
    path: Path,
    *,
    day: dt.date,
    environment: dict[str, str | None],
    timezone: str = "Europe/Moscow",
) -> tuple[WarehouseSummary, Closed]:
    """In one Prefect session (its temporary server starts once): the `warehouse-refresh` flow
    on a fresh warehouse, then the `daily-close` flow for `day`, whose own refresh is the second
    run and must add nothing; then the headline figures are read back. `environment` holds the
    flows' other settings (the hub's API and token, SMTP, the reports directory)."""
    for stale in (path, path.with_name(path.name + ".wal")):  # a fresh warehouse every run
        stale.unlink(missing_ok=True)
    summary = WarehouseSummary(path, path.parent / "marts")
    values: dict[str, str | None] = {
        "KASSA_DATABASE_URL": hub_url,
        "KASSA_WAREHOUSE_PATH": str(path),
        "KASSA_MARTS_DIR": str(summary.marts_dir),
        "KASSA_CHAIN_TIMEZONE": timezone,
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        **environment,
    }
    with _environment(values):
        from flows.settings import configure_prefect, load_settings

        configure_prefect(load_settings())  # before Prefect is imported
        from flows.flows import daily_close, warehouse_refresh
        from flows.tasks import QualityGateFailedError

        first: Refreshed = warehouse_refresh()
        _quiet_great_expectations()
        before = _raw_rows(path)
        closed = Closed(day)
        began = time.perf_counter()
        try:
            closed.outcomes = daily_close(day)
        except QualityGateFailedError as exc:  # the verdict is written; the demo reports it
            closed.outcomes = [o.describe() for o in exc.outcomes]
            closed.withheld = str(exc)
        closed.seconds = time.perf_counter() - began
    summary.extracted_rows, summary.extract_seconds = first.extracted.total, first.extracted.seconds
    summary.build_seconds, summary.fact_rows = (
        first.built.seconds,
        first.built.rows["fct_sale_line"],
    )
    summary.again_rows = _raw_rows(path) - before
    _read_back(summary)
    return summary, closed


def _quiet_great_expectations() -> None:
    """Great Expectations sets one of its loggers to INFO when imported, and the quality gate
    then says where it put a temporary docs site: noise in the demo's printout."""
    import logging

    import great_expectations.data_context.types.base  # noqa: F401 - sets the level first

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)


def _raw_rows(path: Path) -> int:
    """Every row of the raw layer (and its history): what an extract adds to."""
    duck = open_warehouse(path, read_only=True)
    try:
        tables = [
            name
            for (name,) in duck.execute(
                "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'raw_')"
            ).fetchall()
        ]
        return sum(
            int(duck.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])  # noqa: S608
            for name in tables
        )
    finally:
        duck.close()


def _read_back(summary: WarehouseSummary) -> None:
    """The marts daily-close built, and the headline figures, from the warehouse file."""
    duck = open_warehouse(summary.path, read_only=True)
    try:
        summary.as_of = duck.execute(f"SELECT as_of FROM {MART_STATE}").fetchall()[0][0]  # noqa: S608
        summary.mart_rows = {
            name: int(duck.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])  # noqa: S608
            for name in GRAINS
        }
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


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """The flows read their settings from the environment: set them (None: unset) for the run,
    then restore."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
