"""The owner report: its figures (`gather`, from the marts), its page, text, CSV files and charts,
and its atomic publication to `<reports_dir>/<scope>/<YYYY-MM-DD>/`.

    period = report_period("daily", as_of)
    data = gather(duck, period)
    publish(Path("var/reports"), data, quality, duck=duck)

Everything is rendered in memory first, then written into `<scope>/.tmp-<date>-<random>/`
(quality.json first; each file fsynced) and renamed into place in one `os.rename`, so a reader
sees the whole report or none. A report already published is never rewritten. Publishing is one
writer per scope at a time (the daily-close flow's lock): each run removes every `.tmp-*`
directory a crashed run left behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from warehouse.report_charts import CHART_SIZE, chart_names, charts
from warehouse.report_csv import CSV_DELIMITER, csv_files
from warehouse.report_data import SCOPES, TREND_DAYS, Period, ReportData, report_period
from warehouse.report_gather import CLOSED_LOCAL, check_marts, gather
from warehouse.report_render import badge, render_html, render_text, subject

QUALITY = "quality.json"
INDEX = "index.html"
MARTS = "marts.parquet"
CHARTS = "charts"
CSV = "csv"
TEMPORARY = ".tmp-"


@dataclass(frozen=True)
class Published:
    directory: Path  # <reports_dir>/<scope>/<YYYY-MM-DD>
    already_published: bool  # it was there before: nothing was written
    files: tuple[str, ...] = ()  # what was written, relative to `directory`
    seconds: float = 0.0


def report_dir(reports_dir: Path, period: Period) -> Path:
    return Path(reports_dir) / period.scope / period.end.isoformat()


def publish(
    reports_dir: Path,
    data: ReportData,
    quality: dict[str, Any],
    *,
    duck: duckdb.DuckDBPyConnection,
    language: str = "ru",
) -> Published:
    """Write the report once, atomically (see the module docstring). `duck` is the warehouse,
    with the marts still built for the report's last day (for `marts.parquet`)."""
    started = time.perf_counter()
    _check_quality(data.period, quality)
    final = report_dir(reports_dir, data.period)
    scope_dir = final.parent
    scope_dir.mkdir(parents=True, exist_ok=True)
    for stale in scope_dir.glob(f"{TEMPORARY}*"):
        shutil.rmtree(stale, ignore_errors=True)
    if final.exists():
        return Published(final, True, (), time.perf_counter() - started)
    check_marts(duck, data.period)

    pictures = charts(data, language)
    tables = csv_files(data, language)
    page = render_html(
        data,
        quality,
        language,
        image_src=lambda name: f"{CHARTS}/{name}",
        file_href=lambda name: name,
        files=[QUALITY, MARTS, *(f"{CSV}/{name}" for name in tables)],
    )

    temporary = scope_dir / f"{TEMPORARY}{data.period.end.isoformat()}-{secrets.token_hex(4)}"
    temporary.mkdir()
    try:
        written = [
            write_quality(temporary, quality),
            *write_charts(temporary, pictures),
            write_index(temporary, page),
            *write_csv(temporary, tables),
            write_marts_parquet(duck, data.period, temporary / MARTS),
        ]
        for directory in (temporary / CHARTS, temporary / CSV, temporary):
            _fsync_dir(directory)
        try:
            os.rename(temporary, final)
        except OSError:
            if final.exists():  # another run published it first
                shutil.rmtree(temporary, ignore_errors=True)
                return Published(final, True, (), time.perf_counter() - started)
            raise
        _fsync_dir(scope_dir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    files = tuple(sorted(p.relative_to(temporary).as_posix() for p in written))
    return Published(final, False, files, time.perf_counter() - started)


def _check_quality(period: Period, quality: dict[str, Any]) -> None:
    if quality.get("verdict") != "published":
        raise ValueError(
            f"the quality gate withheld the {period.scope} report for "
            f"{period.end.isoformat()} (verdict {quality.get('verdict')!r}): nothing is published"
        )
    expected = (period.scope, period.start.isoformat(), period.end.isoformat())
    given = tuple(str(quality.get(k)) for k in ("scope", "period_start", "period_end"))
    if given != expected:
        raise ValueError(
            f"the quality checks are for {' '.join(given)}, the report is for {' '.join(expected)}"
        )


def _write(path: Path, content: bytes) -> Path:
    with path.open("xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def _fsync_dir(directory: Path) -> None:
    if not directory.is_dir():
        return
    with contextlib.suppress(OSError):  # some platforms cannot open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_quality(directory: Path, quality: dict[str, Any]) -> Path:
    text = json.dumps(quality, ensure_ascii=False, indent=2, default=str) + "\n"
    return _write(directory / QUALITY, text.encode("utf-8"))


def write_charts(directory: Path, pictures: dict[str, bytes]) -> list[Path]:
    (directory / CHARTS).mkdir()
    return [_write(directory / CHARTS / name, content) for name, content in pictures.items()]


def write_index(directory: Path, page: str) -> Path:
    return _write(directory / INDEX, page.encode("utf-8"))


def write_csv(directory: Path, tables: dict[str, bytes]) -> list[Path]:
    (directory / CSV).mkdir()
    return [_write(directory / CSV / name, content) for name, content in tables.items()]


# marts.parquet: (SQL, order) of every table, each a list of structs in one row. Values are
# DuckDB named parameters: $scope, $start, $end, $trend_start, $weekly.
PARQUET_TABLES: dict[str, tuple[str, str]] = {
    "daily_sales": (
        "SELECT * FROM rpt_daily_sales WHERE sale_date BETWEEN $start AND $end",
        "store_id, sale_date",
    ),
    "trend_daily_sales": (
        "SELECT * FROM rpt_daily_sales WHERE sale_date BETWEEN $trend_start AND $end",
        "store_id, sale_date",
    ),
    "product_profit": (
        "SELECT * FROM rpt_product_profit WHERE (period = 'day' AND period_start BETWEEN $start "
        "AND $end) OR (period = 'week' AND $weekly AND period_start = $start)",
        "period, period_start, store_id, product_id",
    ),
    "stock_position": ("SELECT * FROM rpt_stock_position", "store_id, product_id"),
    "reorder": ("SELECT * FROM rpt_reorder", "store_id, product_id"),
    "cash_over_short": (
        "SELECT c.* FROM rpt_cash_over_short c LEFT JOIN dim_store st USING (store_id) "  # noqa: S608
        f"WHERE CAST({CLOSED_LOCAL} AS DATE) BETWEEN $start AND $end",
        "store_id, closed_at_utc",
    ),
}
PARQUET_WEEKLY: dict[str, tuple[str, str]] = {
    "abc_xyz": ("SELECT * FROM rpt_abc_xyz", "store_id, cumulative_share"),
    "dead_stock": ("SELECT * FROM rpt_dead_stock", "store_id, product_id"),
}
PARQUET_NAMES: dict[str, tuple[str, str]] = {
    "stores": (
        "SELECT store_id, store_name, timezone, currency, language, active FROM dim_store",
        "store_id",
    ),
    "products": (  # the current version of every product in the tables above
        "SELECT product_id, sku, product_name, unit, category_id, category_path, price_minor, "
        "tax_rate_bp, active FROM dim_product WHERE is_current AND product_id IN ("
        "SELECT product_id FROM rpt_product_profit UNION SELECT product_id FROM rpt_stock_position "
        "UNION SELECT product_id FROM rpt_reorder UNION SELECT product_id FROM rpt_abc_xyz)",
        "product_id",
    ),
    "suppliers": (
        "SELECT supplier_id, supplier_name, lead_time_days, review_period_days, active "
        "FROM stg_supplier",
        "supplier_id",
    ),
}


def marts_parquet_sql(period: Period) -> str:
    """The query behind marts.parquet (docs/warehouse.md "Published reports")."""
    tables = {
        **PARQUET_TABLES,
        **(PARQUET_WEEKLY if period.scope == "weekly" else {}),
        **PARQUET_NAMES,
    }
    columns = ",\n".join(
        f"coalesce((SELECT list(t ORDER BY {order}) FROM ({sql}) t), []) AS {name}"  # noqa: S608
        for name, (sql, order) in tables.items()
    )
    return (
        "SELECT $scope AS scope, $start AS period_start, $end AS period_end, $end AS as_of,\n"
        + columns
    )


def write_marts_parquet(duck: duckdb.DuckDBPyConnection, period: Period, path: Path) -> Path:
    """`marts.parquet` with DuckDB's own writer; the file is fsynced."""
    target = str(path).replace("'", "''")
    duck.execute(
        f"COPY ({marts_parquet_sql(period)}) TO '{target}' (FORMAT parquet)",
        {
            "scope": period.scope,
            "start": period.start,
            "end": period.end,
            "trend_start": period.end - dt.timedelta(days=TREND_DAYS - 1),
            "weekly": period.scope == "weekly",
        },
    )
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
    return path


__all__ = [
    "CHART_SIZE",
    "CSV_DELIMITER",
    "SCOPES",
    "Period",
    "Published",
    "ReportData",
    "badge",
    "chart_names",
    "charts",
    "csv_files",
    "gather",
    "marts_parquet_sql",
    "publish",
    "render_html",
    "render_text",
    "report_dir",
    "report_period",
    "subject",
]
