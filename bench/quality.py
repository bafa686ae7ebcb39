"""The quality gate and the owner report at chain scale: 10,000,000 sale lines.

Issue 6 target: "the gate over 10M sale lines (goal <= 15 s) and report rendering (goal <= 10 s)".

1. `bench.warehouse_hub.build` writes the same migrated SQLite hub as `bench.warehouse` (90 days
   of a 5-store chain's trade, the tills' journal heads included). `warehouse.pipeline.refresh`
   builds a fresh DuckDB warehouse from it and `warehouse.pipeline.build_marts` the marts for the
   Sunday that ends the last full ISO week, as that Sunday's daily-close left them.
2. The weekly report of that ISO week: its gate (`flows.publishing.run_gate`, as daily-close
   calls it), then its rendering: `warehouse.report.gather` + `warehouse.report.publish` (HTML,
   charts, CSV, marts.parquet, written atomically) and the owners' e-mail per language (charts,
   HTML with cid images, text, CSV, the MIME message), as `flows.publishing.publish_report` does.
3. The marts are rebuilt for the last day, then the daily report of that day: gate and rendering,
   what daily-close runs every morning.
4. A stress figure: the gate over the whole generated history as one period.

Every gate runs in a fresh process ('spawn'), so its time includes the first `import
great_expectations` as the flow pays it; the import alone is timed in another fresh process, and
the daily and weekly gates run a second time in their process (GX imported: the warm figure).
Peak RSS is each process's own VmHWM. The baseline of each gate, in its own process: a
hand-written DuckDB script computing the same checks' figures from the same warehouse and hub
without Great Expectations (`BASELINE_SQL`); the gate's figures must equal it, and over the whole
history equal the generator's own sums. On the clean generated hub every blocking check must pass.

`python -m bench.quality [--lines N] [--keep DIR]` runs it alone (default 10,000,000, or
KASSA_BENCH_QUALITY_LINES); `--keep DIR` (or KASSA_BENCH_QUALITY_DIR) keeps the files there and
reuses a hub generated there before with the same shape and generator (the warehouse is always
rebuilt from it). `python -m bench.run` runs it with the others.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import hashlib
import importlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench import FAIL, INFO, PASS, Metric, Report, seconds, verdict
from bench import warehouse_hub as hub
from bench import warehouse_jobs as jobs

LINES_ENV = "KASSA_BENCH_QUALITY_LINES"
DIR_ENV = "KASSA_BENCH_QUALITY_DIR"
LINES = 10_000_000
GOAL_GATE_S = 15.0
GOAL_RENDER_S = 10.0
LANGUAGES = ("ru", "en")
MAIL_LIMIT_BYTES = 25_000_000  # what many mail services accept per message
MARKER = "hub.json"  # beside a kept hub: the shape and generator it was built with

T = TypeVar("T")


# --- timing the parts of a call ------------------------------------------------------------


@contextmanager
def timed_parts(targets: list[tuple[Any, str, str]]) -> Iterator[dict[str, float]]:
    """Wrap each `owner.attribute` (a function or method) so its wall time adds up under its
    label while the block runs; the originals are put back after. A missing attribute is
    skipped: the parts are a breakdown, the total is timed apart."""
    parts: dict[str, float] = {}
    saved: list[tuple[Any, str, Any]] = []
    for owner, attribute, label in targets:
        original = owner.__dict__.get(attribute) if isinstance(owner, type) else None
        original = original or getattr(owner, attribute, None)
        if not callable(original):
            continue

        @functools.wraps(original)
        def wrapper(*args: Any, _original: Any = original, _label: str = label, **kw: Any) -> Any:
            began = time.perf_counter()
            try:
                return _original(*args, **kw)
            finally:
                parts[_label] = parts.get(_label, 0.0) + time.perf_counter() - began

        saved.append((owner, attribute, original))
        setattr(owner, attribute, wrapper)
    try:
        yield parts
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)


class _Laps:
    """`lap(label)`: the wall time since the previous lap (or since made), under `label`."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, label: str) -> None:
        now = time.perf_counter()
        self.laps[label] = now - self._last
        self._last = now


def _with_other(parts: dict[str, float], total: float) -> dict[str, float]:
    return {**parts, "other": max(0.0, total - sum(parts.values()))}


# --- the measured jobs (each meant to run alone in a fresh process) ------------------------

GX_CONTEXT = "GX import + context"
HUB_READ = "hub read"
DUCKDB = "DuckDB queries"
GX_VALIDATION = "GX validation"


@dataclass
class GateRun:
    name: str  # daily | weekly | history
    scope: str
    start: dt.date
    end: dt.date
    seconds: float  # fresh process: the first import of great_expectations included
    parts: dict[str, float] = field(default_factory=dict)
    warm_seconds: float = 0.0  # the same gate again in the same process (0: not run)
    warm_parts: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0
    rss_after: dict[str, int] = field(default_factory=dict)
    verdict: dict[str, Any] = field(default_factory=dict)  # quality.json
    queries: dict[str, float] = field(default_factory=dict)  # the cold run's DuckDB, by check


# How a gate's DuckDB query starts or what it reads -> the check it serves (for the breakdown).
QUERIES = (
    ("WITH RECURSIVE line", "journal gaps"),
    ("WITH active AS", "tills synced"),
    ("FROM q_hub_issue", "journal issues"),
    ("FROM q_hub_quarantine q JOIN q_window", "quarantine"),
    ("WITH hub AS", "store-day reconciliation"),
    ("WITH period_sale AS", "sale totals"),
    ("l.qty_milli FROM", "quantities"),
    ("WITH period_return AS", "returns"),
    ("without_cost_minor", "cost coverage"),
    ("product_missing", "referential"),
    ("_extract_state", "freshness"),
)


def query_name(sql: str) -> str:
    text = " ".join(sql.split())
    return next((name for key, name in QUERIES if key in text), "other")


@contextmanager
def query_times() -> Iterator[dict[str, float]]:
    """The wall time of each DuckDB query the gate runs (`warehouse.quality._frame`), by check."""
    from warehouse import quality

    original = quality._frame
    times: dict[str, float] = {}

    def frame(duck: Any, sql: str) -> Any:
        began = time.perf_counter()
        try:
            return original(duck, sql)
        finally:
            name = query_name(sql)
            times[name] = times.get(name, 0.0) + time.perf_counter() - began

    quality._frame = frame
    try:
        yield times
    finally:
        quality._frame = original


def _gate_targets() -> list[tuple[Any, str, str]]:
    from warehouse import quality

    return [
        (quality._Judge, "__init__", GX_CONTEXT),
        (quality, "_load_hub", HUB_READ),
        (quality, "_frame", DUCKDB),
        (quality._Judge, "judge", GX_VALIDATION),
    ]


def gate_job(
    hub_url: str, warehouse_path: str, scope: str, start: dt.date, end: dt.date, warm: bool
) -> GateRun:
    """The gate as daily-close runs it (`flows.publishing.run_gate`: open the warehouse, run
    every suite, the verdict as JSON); a period that is not a report's (the whole history) goes
    to `warehouse.quality.run_gate` the same way."""
    from flows import publishing
    from warehouse.extract import open_warehouse
    from warehouse.quality import COST_COVERAGE_BP
    from warehouse.quality import run_gate as quality_gate

    name = "history" if (start, end) != _period(scope, end) else scope

    def once() -> dict[str, Any]:
        if name != "history":
            return publishing.run_gate(
                Path(warehouse_path), hub_url, scope, end, cost_coverage_bp=COST_COVERAGE_BP
            )
        duck = open_warehouse(warehouse_path)
        try:
            return quality_gate(duck, hub_url, scope, start, end).to_json()
        finally:
            duck.close()

    run = GateRun(name, scope, start, end, 0.0)
    run.rss_after["start"] = jobs.peak_rss()
    with query_times() as queries, timed_parts(_gate_targets()) as parts:
        began = time.perf_counter()
        run.verdict = once()
        run.seconds = time.perf_counter() - began
    run.parts = _with_other(parts, run.seconds)
    run.queries = queries
    run.rss_after["gate"] = jobs.peak_rss()
    if warm:
        with timed_parts(_gate_targets()) as parts:
            began = time.perf_counter()
            once()
            run.warm_seconds = time.perf_counter() - began
        run.warm_parts = _with_other(parts, run.warm_seconds)
        run.rss_after["warm gate"] = jobs.peak_rss()
    run.peak_rss = jobs.peak_rss()
    return run


def _period(scope: str, end: dt.date) -> tuple[dt.date, dt.date]:
    return (end - dt.timedelta(days=6) if scope == "weekly" else end), end


@dataclass
class ImportRun:
    import_seconds: float
    context_seconds: float
    rss_before: int
    rss_after: int
    version: str


def gx_import_job() -> ImportRun:
    """`import great_expectations` and an ephemeral context, alone in a fresh process."""
    rss_before = jobs.peak_rss()
    began = time.perf_counter()
    import great_expectations as gx

    imported = time.perf_counter()
    gx.get_context(mode="ephemeral")
    done = time.perf_counter()
    return ImportRun(
        imported - began, done - imported, rss_before, jobs.peak_rss(), str(gx.__version__)
    )


@dataclass
class RenderRun:
    scope: str
    day: dt.date
    seconds: float = 0.0  # gather + publish
    parts: dict[str, float] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)  # published file -> bytes
    email: dict[str, float] = field(default_factory=dict)  # language -> seconds
    email_parts: dict[str, dict[str, float]] = field(default_factory=dict)
    email_bytes: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, list[str]] = field(default_factory=dict)  # CSV files not attached
    peak_rss: int = 0
    rss_after: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # what the report holds
    error: str = ""  # why nothing was rendered


GATHER = "gather"
CHARTS = "charts"
CSV = "CSV"
HTML = "HTML"
PARQUET = "marts.parquet"
FILES = "files written + fsync"


def _render_targets() -> list[tuple[Any, str, str]]:
    from warehouse import report

    return [
        (report, "charts", CHARTS),
        (report, "csv_files", CSV),
        (report, "render_html", HTML),
        (report, "write_marts_parquet", PARQUET),
        *((report, name, FILES) for name in ("write_quality", "write_charts", "write_index")),
        (report, "write_csv", FILES),
        (report, "_fsync_dir", FILES),
    ]


def render_job(
    warehouse_path: str, reports_dir: str, scope: str, day: dt.date, quality: dict[str, Any]
) -> RenderRun:
    """`gather` + `publish` of the report (as `flows.publishing.publish_report` does), then the
    owners' e-mail in each language (as it renders them: the CSV files that fit its attachment
    budget, the MIME message included)."""
    from flows import publishing
    from flows.mail import build_message, outbox_key
    from warehouse.extract import open_warehouse
    from warehouse.report import (
        charts,
        csv_files,
        gather,
        publish,
        render_html,
        render_text,
        report_period,
        subject,
    )

    run = RenderRun(scope, day)
    run.rss_after["start"] = jobs.peak_rss()
    if quality.get("verdict") != "published":
        run.error = f"the gate withheld the {scope} report: nothing to publish"
        return run
    period = report_period(scope, day)
    duck = open_warehouse(warehouse_path)
    try:
        with timed_parts(_render_targets()) as parts:
            began = time.perf_counter()
            data = gather(duck, period)
            gathered = time.perf_counter()
            published = publish(Path(reports_dir), data, quality, duck=duck, language="ru")
            run.seconds = time.perf_counter() - began
        run.parts = _with_other({GATHER: gathered - began, **parts}, run.seconds)
    finally:
        duck.close()
    run.rss_after["publish"] = jobs.peak_rss()
    if published.already_published:
        run.error = f"{published.directory} was already published: nothing was written"
    run.files = {name: (published.directory / name).stat().st_size for name in published.files}
    run.rows = {
        "stores": len(data.stores),
        "categories": len(data.categories),
        "products": len(data.products),
        "low stock": len(data.low_stock),
        "reorder": len(data.reorder),
        "shifts": len(data.shifts),
        "ABC/XYZ": len(data.abc_xyz or []),
        "dead stock": len(data.dead_stock or []),
    }
    for language in LANGUAGES:
        lap = _Laps()
        pictures = charts(data, language)
        lap(CHARTS)
        page = render_html(data, quality, language, image_src=lambda name: f"cid:{name}")
        lap(HTML)
        text = render_text(data, language, quality=quality)
        lap("text")
        tables = csv_files(data, language)
        lap(CSV)
        attached, left = publishing.fit_attachments(tables)
        text += publishing.left_out_note(left, language, published.directory)
        run.left_out[language] = left
        message = build_message(
            key=outbox_key("report", scope, period.end, recipient="owner@example.ru"),
            sender="kassa@example.ru",
            to="owner@example.ru",
            subject=subject(data, language),
            text=text,
            html=page,
            language=language,  # type: ignore[arg-type]
            images=pictures,
            attachments=attached,
        ).as_bytes()
        lap("MIME message")
        run.email[language] = sum(lap.laps.values())
        run.email_parts[language] = lap.laps
        run.email_bytes[language] = len(message)
    run.peak_rss = run.rss_after["e-mails"] = jobs.peak_rss()
    return run


def marts_job(warehouse_path: str, as_of: dt.date, marts_dir: str) -> float:
    from warehouse import pipeline

    return pipeline.build_marts(warehouse_path, as_of, marts_dir=marts_dir).seconds


# --- the hand-written baseline ---------------------------------------------------------------

# The period's hub side, per store window (SQLite; joins, not the gate's correlated subqueries).
HUB_SALES = """
SELECT s.id AS sale_id, s.store_id, s.device_id, s.kind, s.created_at, s.total_minor,
       s.change_minor, count(l.id) AS lines, coalesce(sum(l.amount_minor), 0) AS lines_minor
FROM sale s LEFT JOIN sale_line l ON l.sale_id = s.id
WHERE s.store_id = {store} AND s.created_at >= '{start}' AND s.created_at < '{end}'
GROUP BY s.id
"""
HUB_PAID = """
SELECT s.id AS sale_id, count(p.id) AS payments, coalesce(sum(p.amount_minor), 0) AS paid_minor
FROM sale s LEFT JOIN sale_payment p ON p.sale_id = s.id
WHERE s.store_id = {store} AND s.created_at >= '{start}' AND s.created_at < '{end}'
GROUP BY s.id
"""
JOIN_PAID = (
    "SELECT CAST(l.sale_id AS BIGINT) AS sale_id, CAST(l.store_id AS BIGINT) AS store_id, "
    "CAST(l.device_id AS BIGINT) AS device_id, CAST(l.kind AS VARCHAR) AS kind, "
    "CAST(CAST(l.created_at AS VARCHAR) AS TIMESTAMP) AS created_at, "
    "CAST(l.total_minor AS BIGINT) AS total_minor, "
    "CAST(l.change_minor AS BIGINT) AS change_minor, CAST(l.lines AS BIGINT) AS lines, "
    "CAST(l.lines_minor AS BIGINT) AS lines_minor, CAST(p.payments AS BIGINT) AS payments, "
    "CAST(p.paid_minor AS BIGINT) AS paid_minor "
    "FROM b_lines l JOIN b_paid p USING (sale_id)"
)
HUB_SMALL = {
    "b_till": "SELECT d.id AS device_id, d.store_id, d.paired_at, d.revoked_at, d.last_seen_at, "
    "d.journal_sale_seq, d.journal_shift_seq, d.journal_reported_at, t.last_contact_at, "
    "coalesce(t.max_sale_seq, 0) AS max_sale_seq, coalesce(t.max_shift_seq, 0) AS max_shift_seq "
    "FROM device d LEFT JOIN till_state t ON t.device_id = d.id",
    "b_shift": "SELECT device_id, store_id, opened_at, closed_at FROM shift "
    "WHERE (opened_at IS NULL OR opened_at < '{last}') AND (closed_at IS NULL "
    "OR closed_at >= '{first}')",
    "b_event": "SELECT device_id, store_id, at FROM shift_event "
    "WHERE at >= '{first}' AND at < '{last}'",
    "b_issue": "SELECT i.store_id, s.created_at FROM till_journal_issue i LEFT JOIN sale s "
    "ON s.store_id = i.store_id AND s.sale_uuid = i.sale_uuid",
    "b_quarantine": "SELECT store_id, device_id, till_seq, received_at FROM sale_quarantine",
}
TIMESTAMPS = (
    "created_at",
    "paired_at",
    "revoked_at",
    "last_seen_at",
    "journal_reported_at",
    "last_contact_at",
    "opened_at",
    "closed_at",
    "at",
    "received_at",
)

# Each statement returns one row: its figures, named `<check id>.<number>` as in quality.json.
BASELINE_SQL: dict[str, str] = {
    "completeness.tills_synced": """
WITH active AS (
    SELECT device_id FROM b_sale
    UNION SELECT e.device_id FROM b_event e JOIN b_window w USING (store_id)
        WHERE e.at >= w.start_utc AND e.at < w.end_utc
    UNION SELECT h.device_id FROM b_shift h JOIN b_window w USING (store_id)
        WHERE coalesce(h.opened_at, w.start_utc) < w.end_utc
          AND (h.closed_at IS NULL OR h.closed_at >= w.start_utc)
    UNION SELECT t.device_id FROM b_till t JOIN b_window w USING (store_id)
        WHERE greatest(t.last_seen_at, t.journal_reported_at, t.last_contact_at) >= w.start_utc
          AND t.paired_at < w.end_utc
),
shifts AS (
    SELECT device_id, bool_or(closed_at IS NULL) AS open, max(closed_at) AS closed
    FROM b_shift GROUP BY ALL
),
rejected AS (SELECT device_id, max(till_seq) AS seq FROM b_quarantine GROUP BY ALL)
SELECT count(*) AS active_tills,
       count(*) FILTER (WHERE NOT coalesce(
           t.revoked_at < w.end_utc
           OR (t.journal_reported_at IS NULL AND t.last_contact_at >= w.end_utc)
           OR (t.journal_sale_seq <= greatest(t.max_sale_seq, coalesce(r.seq, 0))
               AND t.journal_shift_seq <= t.max_shift_seq
               AND (t.journal_reported_at >= w.end_utc
                    OR (NOT coalesce(s.open, false) AND t.journal_reported_at >= s.closed))),
           false)) AS failing_rows
FROM b_till t JOIN b_window w USING (store_id)
LEFT JOIN shifts s USING (device_id) LEFT JOIN rejected r USING (device_id)
WHERE t.device_id IN (SELECT device_id FROM active)
""",
    "completeness.no_seq_gaps": """
WITH RECURSIVE line(device_id, root) AS (
    SELECT device_id, device_id FROM dim_till WHERE replaces_device_id IS NULL
    UNION ALL
    SELECT t.device_id, l.root FROM dim_till t JOIN line l ON t.replaces_device_id = l.device_id
),
seqs AS (
    SELECT l.root, s.store_id, s.till_seq, min(s.sold_at_utc) AS sold_at
    FROM stg_sale s JOIN line l USING (device_id) GROUP BY ALL
),
steps AS (
    SELECT *, lag(till_seq, 1, 0) OVER journal AS prev_seq, lag(sold_at) OVER journal AS prev_at
    FROM seqs WINDOW journal AS (PARTITION BY root ORDER BY till_seq)
),
gaps AS (
    SELECT g.*, till_seq - prev_seq - 1 AS missing,
           (SELECT count(DISTINCT q.till_seq) FROM b_quarantine q JOIN line l USING (device_id)
            WHERE l.root = g.root AND q.till_seq > g.prev_seq AND q.till_seq < g.till_seq)
               AS quarantined
    FROM steps g JOIN b_window w USING (store_id)
    WHERE g.till_seq > g.prev_seq + 1
      AND coalesce(g.prev_at, w.start_utc) < w.end_utc AND g.sold_at >= w.start_utc
)
SELECT count(*) AS gaps, coalesce(sum(missing - quarantined), 0) AS missing_sales,
       coalesce(sum(quarantined), 0) AS quarantined_in_gaps,
       count(*) FILTER (WHERE missing > quarantined) AS failing_rows
FROM gaps
""",
    "completeness.hash_chain": """
SELECT count(*) AS journal_issues FROM b_issue i JOIN b_window w USING (store_id)
WHERE i.created_at >= w.start_utc AND i.created_at < w.end_utc
""",
    "completeness.quarantine": """
SELECT count(*) AS quarantined FROM b_quarantine q JOIN b_window w USING (store_id)
WHERE q.received_at >= w.start_utc AND q.received_at < w.end_utc
""",
    "reconciliation.store_day": """
WITH hub AS (
    SELECT store_id, CAST(timezone(w.timezone, CAST(created_at AS TIMESTAMPTZ)) AS DATE) AS day,
           count(*) FILTER (WHERE kind = 'sale') AS sales,
           count(*) FILTER (WHERE kind = 'return') AS returns,
           sum(lines) AS lines, sum(payments) AS payments,
           sum(CASE WHEN kind = 'return' THEN -1 ELSE 1 END * lines_minor) AS revenue,
           sum(CASE WHEN kind = 'return' THEN -1 ELSE 1 END * (paid_minor - change_minor))
               AS net_paid,
           sum(CASE WHEN kind = 'return' THEN -1 ELSE 1 END * total_minor) AS totals
    FROM b_sale JOIN b_window w USING (store_id) GROUP BY ALL
),
lines AS (
    SELECT l.store_id, l.sale_date AS day,
           count(DISTINCT l.sale_id) FILTER (WHERE l.kind = 'sale') AS sales,
           count(DISTINCT l.sale_id) FILTER (WHERE l.kind = 'return') AS returns,
           count(*) AS lines, sum(l.revenue_minor) AS revenue
    FROM fct_sale_line l JOIN b_window w USING (store_id)
    WHERE l.sold_at_utc >= w.start_utc AND l.sold_at_utc < w.end_utc GROUP BY ALL
),
paid AS (
    SELECT p.store_id, p.sale_date AS day, count(*) AS payments, sum(p.net_minor) AS net_paid
    FROM fct_payment p JOIN b_window w USING (store_id)
    WHERE p.sold_at_utc >= w.start_utc AND p.sold_at_utc < w.end_utc GROUP BY ALL
),
totals AS (
    SELECT s.store_id, CAST(timezone(w.timezone, CAST(s.sold_at_utc AS TIMESTAMPTZ)) AS DATE)
               AS day,
           sum(CASE WHEN s.kind = 'return' THEN -1 ELSE 1 END * s.total_minor) AS totals
    FROM stg_sale s JOIN b_window w USING (store_id)
    WHERE s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc GROUP BY ALL
),
joined AS (
    SELECT coalesce(h.sales, 0) AS hub_sales, coalesce(l.sales, 0) AS wh_sales,
           coalesce(h.returns, 0) AS hub_returns, coalesce(l.returns, 0) AS wh_returns,
           coalesce(h.lines, 0) AS hub_lines, coalesce(l.lines, 0) AS wh_lines,
           coalesce(h.payments, 0) AS hub_payments, coalesce(p.payments, 0) AS wh_payments,
           coalesce(h.revenue, 0) AS hub_revenue, coalesce(l.revenue, 0) AS wh_revenue,
           coalesce(h.net_paid, 0) AS hub_net_paid, coalesce(p.net_paid, 0) AS wh_net_paid,
           coalesce(h.totals, 0) AS hub_totals, coalesce(t.totals, 0) AS wh_totals
    FROM hub h FULL JOIN lines l USING (store_id, day) FULL JOIN paid p USING (store_id, day)
    FULL JOIN totals t USING (store_id, day)
)
SELECT count(*) AS store_days, sum(hub_sales) AS hub_sales,
       sum(hub_revenue) AS hub_revenue_minor, sum(wh_revenue) AS warehouse_revenue_minor,
       count(*) FILTER (WHERE hub_sales <> wh_sales OR hub_returns <> wh_returns
                        OR hub_lines <> wh_lines OR hub_payments <> wh_payments
                        OR hub_revenue <> wh_revenue OR hub_net_paid <> wh_net_paid
                        OR hub_totals <> wh_totals) AS failing_rows
FROM joined
""",
    "consistency": """
WITH period_sale AS (
    SELECT s.sale_id, s.total_minor, s.change_minor FROM stg_sale s
    JOIN b_window w USING (store_id)
    WHERE s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
),
lines AS (
    SELECT sale_id, sum(amount_minor) AS amount, count(*) AS n,
           count(*) FILTER (WHERE qty_milli < 1) AS bad_qty
    FROM stg_sale_line WHERE sale_id IN (SELECT sale_id FROM period_sale) GROUP BY ALL
),
paid AS (
    SELECT sale_id, sum(amount_minor) AS amount FROM stg_sale_payment
    WHERE sale_id IN (SELECT sale_id FROM period_sale) GROUP BY ALL
)
SELECT count(*) AS "sale_totals.sales",
       count(*) FILTER (WHERE s.total_minor IS DISTINCT FROM coalesce(l.amount, 0)
                        OR s.total_minor IS DISTINCT FROM coalesce(p.amount, 0) - s.change_minor)
           AS "sale_totals.failing_rows",
       coalesce(sum(l.n), 0) AS "quantities.lines",
       coalesce(sum(l.bad_qty), 0) AS "quantities.failing_rows"
FROM period_sale s LEFT JOIN lines l USING (sale_id) LEFT JOIN paid p USING (sale_id)
""",
    "consistency.returns": """
WITH originals AS (
    SELECT DISTINCT s.original_sale_id AS sale_id FROM stg_sale s JOIN b_window w USING (store_id)
    WHERE s.kind = 'return' AND s.original_sale_id IS NOT NULL
      AND s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
),
sold AS (
    SELECT sale_id, coalesce(product_id, -1) AS product_id, sum(qty_milli) AS qty
    FROM stg_sale_line WHERE sale_id IN (SELECT sale_id FROM originals) GROUP BY ALL
),
returned AS (
    SELECT s.original_sale_id AS sale_id, coalesce(l.product_id, -1) AS product_id,
           sum(l.qty_milli) AS qty
    FROM stg_sale s JOIN stg_sale_line l USING (sale_id)
    WHERE s.kind = 'return' AND s.original_sale_id IN (SELECT sale_id FROM originals)
    GROUP BY ALL
)
SELECT count(*) AS returned_products,
       count(*) FILTER (WHERE r.qty > coalesce(s.qty, 0)) AS failing_rows
FROM returned r LEFT JOIN sold s USING (sale_id, product_id)
""",
    "cost_coverage.revenue": """
WITH stores AS (
    SELECT l.store_id, sum(l.revenue_ex_vat_minor) AS revenue,
           coalesce(sum(l.revenue_ex_vat_minor) FILTER (WHERE l.unit_cost_minor IS NULL), 0)
               AS without
    FROM fct_sale_line l JOIN b_window w USING (store_id)
    WHERE l.sold_at_utc >= w.start_utc AND l.sold_at_utc < w.end_utc GROUP BY ALL
)
SELECT coalesce(sum(revenue), 0) AS revenue_ex_vat_minor,
       coalesce(sum(without), 0) AS without_cost_minor,
       count(*) FILTER (WHERE revenue <> 0
                        AND (abs(revenue) - abs(without)) * 10000 // abs(revenue) < $coverage)
           AS failing_rows
FROM stores
""",
    "referential": """
WITH lines AS (
    SELECT s.sale_id,
           (l.product_id IS NOT NULL AND p.product_id IS NULL)
           OR (l.product_id IS NULL AND NOT coalesce(l.unknown_product, false))
           OR st.store_id IS NULL OR t.device_id IS NULL
           OR (s.cashier_id IS NOT NULL AND c.cashier_id IS NULL
               AND NOT contains(coalesce(r.flags, ''), 'unknown_cashier')) AS unexplained,
           coalesce(l.unknown_product, false) AS unknown_product,
           contains(coalesce(r.flags, ''), 'unknown_cashier') AS unknown_cashier,
           CASE WHEN s.kind = 'return' THEN -l.amount_minor ELSE l.amount_minor END AS revenue
    FROM stg_sale_line l JOIN stg_sale s USING (sale_id) JOIN raw_sale r ON r.id = s.sale_id
    JOIN b_window w ON w.store_id = s.store_id
    LEFT JOIN (SELECT DISTINCT product_id FROM dim_product) p ON p.product_id = l.product_id
    LEFT JOIN dim_store st ON st.store_id = s.store_id
    LEFT JOIN dim_till t ON t.device_id = s.device_id
    LEFT JOIN dim_cashier c ON c.cashier_id = s.cashier_id
    WHERE s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
)
SELECT count(*) AS "known.lines", count(*) FILTER (WHERE unexplained) AS "known.failing_rows",
       count(*) FILTER (WHERE unknown_product) AS "flagged.unknown_product_lines",
       coalesce(sum(revenue) FILTER (WHERE unknown_product), 0)
           AS "flagged.unknown_product_revenue_minor",
       count(DISTINCT sale_id) FILTER (WHERE unknown_cashier) AS "flagged.unknown_cashier_sales",
       count(*) FILTER (WHERE unknown_product OR unknown_cashier) AS "flagged.flagged_lines"
FROM lines
""",
    "freshness.refreshed": """
SELECT count(*) FILTER (WHERE NOT (e.extracted_at >= (SELECT max(end_utc) FROM b_window)
                                   AND coalesce(b.cursor, -1) = e.cursor)) AS failing_rows
FROM _extract_state e LEFT JOIN _build_state b USING (source)
""",
}


@dataclass
class BaselineRun:
    start: dt.date
    end: dt.date
    seconds: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0
    figures: dict[str, float] = field(default_factory=dict)  # "<check id>.<number>" -> value


def baseline_job(hub_url: str, warehouse_path: str, start: dt.date, end: dt.date) -> BaselineRun:
    """The same checks' figures in hand-written SQL: the period's hub side read over ADBC into
    DuckDB temp tables, then one statement per check (`BASELINE_SQL`); no Great Expectations,
    no rows in Python."""
    from warehouse.extract import hub_connection, open_warehouse

    importlib.import_module(
        "pyarrow"
    )  # the gate's process has it from its imports: off both clocks
    run = BaselineRun(start, end)
    began = time.perf_counter()
    duck = open_warehouse(warehouse_path, read_only=True)
    try:
        duck.execute(
            "CREATE TEMP TABLE b_window AS SELECT store_id, timezone, "
            "CAST(timezone(timezone, CAST($start AS TIMESTAMP)) AS TIMESTAMP) AS start_utc, "
            "CAST(timezone(timezone, CAST($end AS TIMESTAMP)) AS TIMESTAMP) AS end_utc "
            "FROM dim_store",
            {"start": start, "end": end + dt.timedelta(days=1)},
        )
        wins = duck.execute("SELECT store_id, start_utc, end_utc FROM b_window").fetchall()
        opened = time.perf_counter()
        first, last = min(w[1] for w in wins), max(w[2] for w in wins)
        with hub_connection(hub_url) as (_kind, con):
            read = con.table

            sales = [
                tuple(
                    read(sql.format(store=store, start=a, end=b)) for sql in (HUB_SALES, HUB_PAID)
                )
                for store, a, b in wins
            ]
            small = {
                name: read(sql.format(first=first, last=last)) for name, sql in HUB_SMALL.items()
            }
        for n, (lines, paid) in enumerate(sales):
            duck.register("b_lines", lines)
            duck.register("b_paid", paid)
            verb = "CREATE TEMP TABLE b_sale AS" if n == 0 else "INSERT INTO b_sale"
            duck.execute(f"{verb} {JOIN_PAID}")
            duck.unregister("b_lines")
            duck.unregister("b_paid")
        for name, table in small.items():
            duck.register("b_arrow", table)
            casts = ", ".join(  # typed even when empty (ADBC has no types for no rows)
                f'CAST(CAST("{c}" AS VARCHAR) AS TIMESTAMP) AS "{c}"'
                if c in TIMESTAMPS
                else f'CAST("{c}" AS BIGINT) AS "{c}"'
                for c in table.column_names
            )
            duck.execute(f"CREATE TEMP TABLE {name} AS SELECT {casts} FROM b_arrow")  # noqa: S608
            duck.unregister("b_arrow")
        read_done = time.perf_counter()
        from warehouse.quality import COST_COVERAGE_BP

        for check, sql in BASELINE_SQL.items():
            params = {"coverage": COST_COVERAGE_BP} if "$coverage" in sql else None
            result = duck.execute(sql, params)
            names = [d[0] for d in result.description]
            for name, value in zip(names, result.fetchone() or (), strict=True):
                run.figures[f"{check}.{name}"] = float(value or 0)
        run.seconds = time.perf_counter() - began
        run.parts = {
            "open": opened - began,
            "hub read": read_done - opened,
            "SQL": run.seconds - (read_done - began),
        }
        run.peak_rss = jobs.peak_rss()
    finally:
        duck.close()
    return run


# --- the run -----------------------------------------------------------------------------


@dataclass
class Measured:
    shape: hub.Shape
    built: hub.Built
    reused_hub: bool
    setup: jobs.JobResult  # refresh + marts for the Sunday
    marts_seconds: float  # marts for the last day
    gx: ImportRun
    gates: dict[str, GateRun]  # daily | weekly | history
    baselines: dict[str, BaselineRun]
    renders: dict[str, RenderRun]  # daily | weekly
    agreement: dict[str, list[str]] = field(default_factory=dict)  # pair -> disagreements
    compared: dict[str, int] = field(default_factory=dict)
    load: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    machine: tuple[dict[str, float], dict[str, float]] = ({}, {})  # `machine_check` at start, end

    @property
    def agrees(self) -> bool:
        return not any(self.agreement.values())


def default_lines() -> int:
    return int(os.environ.get(LINES_ENV, LINES))


def shape_for(lines: int) -> hub.Shape:
    return hub.Shape(lines=lines, increment_lines=max(1, lines // 8))


def last_sunday(day: dt.date) -> dt.date:
    """The Sunday that ends the last full ISO week up to `day` (`day` itself on a Sunday)."""
    return day - dt.timedelta(days=day.isoweekday() % 7)


def _marker(shape: hub.Shape) -> dict[str, Any]:
    source = Path(hub.__file__).read_bytes()
    return {
        "shape": {k: str(v) for k, v in dataclasses.asdict(shape).items()},
        "generator": hashlib.sha256(source).hexdigest(),
    }


def _kept_hub(directory: Path, shape: hub.Shape) -> hub.Built | None:
    """The hub a previous run built in `directory` with the same shape and generator."""
    try:
        saved = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    path = directory / "hub.db"
    if saved.get("marker") != _marker(shape) or not path.exists():
        return None
    built = saved["built"]
    return hub.Built(
        path=path,
        url=f"sqlite:///{path}",
        increment_path=directory / "increment.db",
        shape=shape,
        base=hub.Truth(**built["base"]),
        total=hub.Truth(**built["total"]),
        rows=built["rows"],
        increment_rows=built["increment_rows"],
        generate_seconds=built["generate_seconds"],
        write_seconds=built["write_seconds"],
        file_bytes=path.stat().st_size,
    )


def _keep_hub(directory: Path, built: hub.Built) -> None:
    fields = ("rows", "increment_rows", "generate_seconds", "write_seconds")
    saved = {
        "marker": _marker(built.shape),
        "built": {
            "base": dataclasses.asdict(built.base),
            "total": dataclasses.asdict(built.total),
            **{name: getattr(built, name) for name in fields},
        },
    }
    (directory / MARKER).write_text(json.dumps(saved, indent=1))


def measure(
    lines: int | None = None,
    *,
    shape: hub.Shape | None = None,
    isolate: bool = True,
    keep: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Measured:
    """Build (or reuse) the hub, build the warehouse, run the gates, baselines and renderings.

    `isolate=False` runs every job in this process (for the smoke test: fast, but the peak RSS
    figures are then this process's and GX is imported once). `keep` keeps the files there.
    """
    shape = shape or shape_for(lines or default_lines())
    say = progress or (lambda _text: None)
    sunday = last_sunday(shape.as_of)
    if sunday - dt.timedelta(days=6) < shape.first_day:
        raise ValueError(f"{shape.days} days ending {shape.as_of} hold no full ISO week")

    def run(function: Callable[..., T], *args: Any) -> T:
        return jobs.isolated(function, *args) if isolate else function(*args)

    load_at_start, machine_at_start = _load(), machine_check() if isolate else {}
    scratch = None if keep else tempfile.TemporaryDirectory(prefix="kassa-bench-quality-")
    root = keep or Path(scratch.name)  # type: ignore[union-attr]
    try:
        root.mkdir(parents=True, exist_ok=True)
        warehouse, marts, reports = root / "warehouse.duckdb", root / "marts", root / "reports"
        for stale in (warehouse, Path(f"{warehouse}.wal")):
            stale.unlink(missing_ok=True)
        for directory in (marts, reports):
            shutil.rmtree(directory, ignore_errors=True)
        built = _kept_hub(root / "hub", shape) if keep else None
        reused = built is not None
        if built is None:
            say(f"generating {shape.lines:,} sale lines ...")
            (root / "hub" / MARKER).unlink(missing_ok=True)
            built = run(hub.build, root / "hub", shape)
            if keep:
                _keep_hub(root / "hub", built)
        else:
            say(f"reusing the hub in {root / 'hub'}")
        say(f"  hub ready; warehouse refresh + marts for {sunday} ...")
        setup = run(jobs.pipeline_job, built.url, str(warehouse), sunday, str(marts))
        say(f"  {setup.seconds:.1f} s; GX import alone ...")
        gx = run(gx_import_job)
        gates: dict[str, GateRun] = {}
        baselines: dict[str, BaselineRun] = {}
        renders: dict[str, RenderRun] = {}
        week = _period("weekly", sunday)
        say(f"  {gx.import_seconds:.1f} s; weekly gate {week[0]} .. {week[1]} ...")
        gates["weekly"] = run(gate_job, built.url, str(warehouse), "weekly", *week, True)
        say(f"  {gates['weekly'].seconds:.1f} s; its baseline ...")
        baselines["weekly"] = run(baseline_job, built.url, str(warehouse), *week)
        say(f"  {baselines['weekly'].seconds:.1f} s; weekly report ...")
        renders["weekly"] = run(
            render_job, str(warehouse), str(reports), "weekly", sunday, gates["weekly"].verdict
        )
        say(f"  {renders['weekly'].seconds:.1f} s; marts for {shape.as_of} ...")
        marts_seconds = run(marts_job, str(warehouse), shape.as_of, str(marts))
        day = _period("daily", shape.as_of)
        say(f"  {marts_seconds:.1f} s; daily gate {shape.as_of} ...")
        gates["daily"] = run(gate_job, built.url, str(warehouse), "daily", *day, True)
        say(f"  {gates['daily'].seconds:.1f} s; its baseline ...")
        baselines["daily"] = run(baseline_job, built.url, str(warehouse), *day)
        say(f"  {baselines['daily'].seconds:.1f} s; daily report ...")
        renders["daily"] = run(
            render_job, str(warehouse), str(reports), "daily", shape.as_of, gates["daily"].verdict
        )
        history = (shape.first_day, shape.as_of)
        say(f"  {renders['daily'].seconds:.1f} s; the gate over {history[0]} .. {history[1]} ...")
        gates["history"] = run(gate_job, built.url, str(warehouse), "daily", *history, False)
        say(f"  {gates['history'].seconds:.1f} s; its baseline ...")
        baselines["history"] = run(baseline_job, built.url, str(warehouse), *history)
        say(f"  {baselines['history'].seconds:.1f} s")
        measured = Measured(
            shape, built, reused, setup, marts_seconds, gx, gates, baselines, renders
        )
        measured.load = (load_at_start, _load())
        measured.machine = (machine_at_start, machine_check() if isolate else {})
        _compare(measured)
        return measured
    finally:
        if scratch is not None:
            scratch.cleanup()


def machine_check() -> dict[str, float]:
    """Seconds this machine takes for two allocation-heavy steps in a fresh process (rendering
    and GX are allocation-heavy; on a VM whose page faults are slow they vary run to run)."""
    return jobs.isolated(_machine_steps)


def _machine_steps() -> dict[str, float]:
    began = time.perf_counter()
    rows = [{"id": n, "text": str(n), "cells": [n]} for n in range(1_000_000)]
    built = time.perf_counter()
    del rows
    block = bytearray(2**30)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    return {"1M small dicts": built - began, "1 GiB touched": time.perf_counter() - built}


def _load() -> tuple[float, ...]:
    try:
        return os.getloadavg()
    except OSError:
        return ()


UNCOMPARED = {"threshold_bp", "oldest_extract_utc", "period_end_utc", "states", "expectations"}


def gate_figures(verdict: dict[str, Any]) -> dict[str, float]:
    """quality.json's numbers as `<check id>.<number>` -> value."""
    return {
        f"{check['id']}.{name}": float(value)
        for check in verdict.get("checks", [])
        for name, value in check["numbers"].items()
        if name not in UNCOMPARED and isinstance(value, int | float)
    }


def truth_figures(truth: hub.Truth) -> dict[str, float]:
    """The generator's sums under the gate's names (for a period holding the whole base)."""
    return {
        "reconciliation.store_day.hub_sales": float(truth.sales),
        "reconciliation.store_day.hub_revenue_minor": float(truth.revenue_minor),
        "reconciliation.store_day.warehouse_revenue_minor": float(truth.revenue_minor),
        "consistency.sale_totals.sales": float(truth.sales + truth.returns),
        "consistency.quantities.lines": float(truth.lines),
        "referential.known.lines": float(truth.lines),
    }


def _compare(m: Measured) -> None:
    for name, run in m.gates.items():
        figures = gate_figures(run.verdict)
        pairs = {f"{name} gate = hand-written baseline": m.baselines[name].figures}
        if name == "history":
            pairs["whole-history gate = generator"] = truth_figures(m.built.base)
        for pair, reference in pairs.items():
            missing = sorted(reference.keys() - figures.keys())
            m.agreement[pair] = [f"{key}: not in the gate's numbers" for key in missing]
            m.agreement[pair] += jobs.disagreements(reference, figures)
            m.compared[pair] = len(reference.keys() & figures.keys())


# --- the report -----------------------------------------------------------------------------


def _mib(count: float) -> str:
    return f"{count / 2**20:,.0f} MiB"


def _parts(parts: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds(value)}" for name, value in parts.items() if value)


def _top(parts: dict[str, float]) -> tuple[str, float]:
    return max(parts.items(), key=lambda item: item[1]) if parts else ("-", 0.0)


def _failed(run: GateRun, severity: str) -> list[dict[str, Any]]:
    return [
        c for c in run.verdict.get("checks", []) if c["severity"] == severity and not c["passed"]
    ]


def _period_text(run: GateRun) -> str:
    return str(run.end) if run.start == run.end else f"{run.start} .. {run.end}"


def _size(run: GateRun) -> str:
    figures = gate_figures(run.verdict)
    return (
        f"{figures.get('consistency.sale_totals.sales', 0):,.0f} sales, "
        f"{figures.get('consistency.quantities.lines', 0):,.0f} lines"
    )


def _gate_metric(m: Measured, name: str, title: str, goal: bool) -> Metric:
    run, base = m.gates[name], m.baselines[name]
    measured = f"{seconds(run.seconds)} ({_parts(run.parts)})"
    if not goal:
        side = "within" if run.seconds <= GOAL_GATE_S else "over"
        measured += f"; {side} the daily gate's {GOAL_GATE_S:g} s"
    return Metric(
        f"{title} ({_size(run)}), fresh process, GX import included",
        f"≤ {GOAL_GATE_S:g} s" if goal else "-",
        measured,
        f"hand-written DuckDB {seconds(base.seconds)} ({_parts(base.parts)}); "
        f"gate / baseline {run.seconds / base.seconds:.1f}x"
        if base.seconds
        else "-",
        verdict(run.seconds, GOAL_GATE_S) if goal else INFO,
    )


def _render_metric(m: Measured, name: str, title: str) -> Metric:
    run = m.renders[name]
    if run.error or not run.seconds:
        return Metric(title, f"≤ {GOAL_RENDER_S:g} s", f"not measured: {run.error}", "-", FAIL)
    top, top_s = _top({k: v for k, v in run.parts.items() if k != "other"})
    charts_total = sum(v for k, v in run.files.items() if k.startswith("charts/"))
    return Metric(
        title,
        f"≤ {GOAL_RENDER_S:g} s",
        f"{seconds(run.seconds)} ({_parts(run.parts)}); {len(run.files)} files, "
        f"{sum(run.files.values()) / 2**20:.1f} MiB (marts.parquet "
        f"{run.files.get('marts.parquet', 0) / 2**20:.1f} MiB, "
        f"charts {charts_total / 1024:.0f} KiB)",
        f"dominated by {top}: {seconds(top_s)}, {top_s / run.seconds:.0%}",
        verdict(run.seconds, GOAL_RENDER_S),
    )


def _expected_files(run: RenderRun) -> list[str]:
    """What a published report lacks of what it must hold."""
    names = set(run.files)
    wanted = ["quality.json", "index.html", "marts.parquet"]
    missing = [name for name in wanted if name not in names]
    if not any(name.startswith("charts/") and name.endswith(".png") for name in names):
        missing.append("charts/*.png")
    if not any(name.startswith("csv/") and name.endswith(".csv") for name in names):
        missing.append("csv/*.csv")
    return missing + [f"{name} (empty)" for name, size in run.files.items() if not size]


def report(m: Measured) -> Report:
    shape, gates, renders = m.shape, m.gates, m.renders
    daily, weekly, history = gates["daily"], gates["weekly"], gates["history"]
    blocking = {name: _failed(run, "blocking") for name, run in gates.items()}
    warnings = {name: _failed(run, "warning") for name, run in gates.items()}

    def verdict_text(name: str) -> str:
        run = gates[name]
        state = run.verdict.get("verdict", "no verdict")
        failed = ", ".join(c["id"] for c in blocking[name])
        text = f"{name} {state}" + (f" (blocking failed: {failed})" if failed else "")
        if warnings[name]:
            text += " (warnings: " + ", ".join(c["id"] for c in warnings[name]) + ")"
        return text

    all_pass = not any(blocking.values()) and all(
        run.verdict.get("verdict") == "published" for run in gates.values()
    )
    problems = {name: _expected_files(run) for name, run in renders.items()}
    renders_ok = all(not run.error and not problems[name] for name, run in renders.items())
    lines_text = f"{shape.lines:,}"
    email = "; ".join(
        f"{name}: " + ", ".join(f"{lang} {seconds(s)}" for lang, s in run.email.items())
        for name, run in renders.items()
        if run.email
    )
    metrics = [
        _gate_metric(
            m, "daily", f"Quality gate for the daily report of {shape.as_of}, as daily-close", True
        ),
        _gate_metric(
            m,
            "weekly",
            f"Quality gate for the weekly report of the last full ISO week, {_period_text(weekly)}",
            False,
        ),
        _gate_metric(
            m,
            "history",
            f"Stress: the gate over the whole history ({shape.days} days) as one period, "
            f"{_period_text(history)}",
            False,
        ),
        Metric(
            "The same gates again in the same process (GX already imported)",
            "-",
            f"daily {seconds(daily.warm_seconds)} ({_parts(daily.warm_parts)}); weekly "
            f"{seconds(weekly.warm_seconds)} ({_parts(weekly.warm_parts)})",
            f"`import great_expectations` alone in a fresh process {seconds(m.gx.import_seconds)} "
            f"(+{_mib(m.gx.rss_after - m.gx.rss_before)} RSS), an ephemeral context "
            f"{seconds(m.gx.context_seconds)} (GX {m.gx.version})",
            INFO,
        ),
        Metric(
            "Peak RSS of the gate processes",
            "-",
            f"daily {_mib(daily.peak_rss)}, weekly {_mib(weekly.peak_rss)}, whole history "
            f"{_mib(history.peak_rss)}",
            "hand-written DuckDB: "
            + ", ".join(f"{n} {_mib(b.peak_rss)}" for n, b in m.baselines.items()),
            INFO,
        ),
        _render_metric(
            m,
            "daily",
            f"Daily report of {shape.as_of}: `gather` + `publish` (HTML, charts, CSV, "
            "marts.parquet, atomic write), fresh process",
        ),
        _render_metric(
            m,
            "weekly",
            "Weekly report (with ABC/XYZ, dead stock, stock cover): `gather` + `publish`, "
            "fresh process",
        ),
        Metric(
            "Owner e-mail per language after publishing: charts, HTML with cid images, text, "
            "CSV, the MIME message",
            "-",
            email or "not measured",
            "; ".join(
                f"{name} {lang}: {_parts(parts)}"
                for name, run in renders.items()
                for lang, parts in list(run.email_parts.items())[:1]
            )
            or "-",
            INFO,
        ),
        Metric(
            "Peak RSS of the rendering processes",
            "-",
            ", ".join(f"{name} {_mib(run.peak_rss)}" for name, run in renders.items()),
            "-",
            INFO,
        ),
        Metric(
            "Every blocking check passes on the clean generated hub",
            "published",
            "; ".join(verdict_text(name) for name in ("daily", "weekly", "history")),
            "-",
            PASS if all_pass else FAIL,
        ),
        Metric(
            "Gate figures agree: hand-written baseline (each period), the generator's sums "
            "(whole history)",
            "equal",
            "equal"
            if m.agrees
            else "DIFFERENT: "
            + "; ".join(f"{k}: {len(v)} differ" for k, v in m.agreement.items() if v),
            f"{sum(m.compared.values())} figures compared in {len(m.compared)} pairs",
            PASS if m.agrees else FAIL,
        ),
        Metric(
            "Published reports complete (quality.json, index.html, marts.parquet, charts, CSV)",
            "complete",
            "; ".join(
                f"{name}: " + (run.error or ", ".join(problems[name]) or f"{len(run.files)} files")
                for name, run in renders.items()
            ),
            "-",
            PASS if renders_ok else FAIL,
        ),
        Metric(
            "Setup: hub, warehouse refresh + marts for the Sunday, marts for the last day",
            "-",
            (
                f"hub reused ({m.built.file_bytes / 2**30:.2f} GiB)"
                if m.reused_hub
                else f"hub generated in {seconds(m.built.seconds)} "
                f"({m.built.file_bytes / 2**30:.2f} GiB)"
            )
            + f"; refresh + marts {seconds(m.setup.seconds)} ({_parts(m.setup.parts)}); marts "
            f"for {shape.as_of} {seconds(m.marts_seconds)}",
            "-",
            INFO,
        ),
    ]
    notes = [_shape_note(m), *_where_notes(m)]
    for name, problems_found in m.agreement.items():
        if problems_found:
            notes.append(f"DISAGREEMENT, {name}: " + "; ".join(problems_found[:12]))
    for name, failed in blocking.items():
        for check in failed:
            notes.append(
                f"{name} gate, {check['id']} failed: "
                + ("; ".join(check["reasons"]["en"][:5]) or check["explanation"]["en"])
            )
    if all(m.load):
        notes.append(
            "Load average (1 / 5 / 15 min) when the run started: "
            + " / ".join(f"{x:.2f}" for x in m.load[0])
            + "; when it ended: "
            + " / ".join(f"{x:.2f}" for x in m.load[1])
            + ". Every job ran once, one after the other."
        )
    if all(m.machine):
        notes.append(
            "Machine check, a fresh process building 1,000,000 small dicts and touching 1 GiB "
            "of new memory (allocation-heavy like the rendering and GX: on a VM whose memory "
            "is slow at the time both take longer, and so do they): at the start "
            + ", ".join(f"{k} {seconds(v)}" for k, v in m.machine[0].items())
            + "; at the end "
            + ", ".join(f"{k} {seconds(v)}" for k, v in m.machine[1].items())
            + "."
        )
    return Report(
        title=f"Quality gate and owner report over {lines_text} sale lines",
        what=(
            f"`bench.warehouse_hub` writes the migrated SQLite hub of `bench.warehouse` "
            f"({shape.days} days of a 5-store chain's trade, {lines_text} sale lines, every till's "
            "journal head as `X-Kassa-Journal` reported it); `warehouse.pipeline.refresh` builds "
            "a fresh DuckDB warehouse from it and `build_marts` the marts for "
            f"{last_sunday(shape.as_of)}, the Sunday ending the last full ISO week. The weekly "
            "report of that week is gated (`flows.publishing.run_gate`, as daily-close calls "
            "it: the six Great Expectations suites of `warehouse.quality`) and rendered "
            "(`warehouse.report.gather` + `publish`: HTML, PNG charts, CSV, marts.parquet, "
            "written atomically; then the owners' e-mail in Russian and English as "
            f"`publish_report` builds it); then the marts are rebuilt for {shape.as_of} and "
            "the daily report of that day is gated and rendered, as every morning. A stress run "
            "gates the whole history as one period. Each gate and each rendering runs alone in "
            "a fresh process (multiprocessing 'spawn'): the gate's time includes the first "
            "`import great_expectations`, as the flow pays it once per run (the import alone "
            "and the warm figures are reported apart); peak RSS is each process's VmHWM. The "
            "parts of a time are the wall time spent inside the named functions."
        ),
        baseline=(
            "Measured in the same run on the same files, each in its own process: a hand-written "
            "DuckDB script (`bench.quality.BASELINE_SQL`) computing the same checks' figures "
            "for the same period (active and synced tills, journal gaps, issues and quarantine, "
            "the store-day reconciliation, sale totals, quantities and returns, cost coverage, "
            "referential integrity, freshness) from the warehouse and the period's hub rows "
            "read over ADBC, with no Great Expectations and no rows in Python. The gate's "
            "numbers must equal it figure by figure. For the rendering there is no alternative "
            "implementation to compare with: its parts show what dominates."
        ),
        metrics=metrics,
        notes=notes,
    )


def _shape_note(m: Measured) -> str:
    b, s = m.built, m.shape
    return (
        f"Hub: {b.rows.get('sale', 0):,} sales and returns, {b.rows.get('sale_line', 0):,} "
        f"lines, {b.rows.get('sale_payment', 0):,} payments, {b.rows.get('shift', 0):,} shifts, "
        f"{s.products:,} products, 5 stores in 5 time zones, {s.tills_per_store * 5 + 1} tills "
        f"(one replaced mid-period); {s.days} days {s.first_day} .. {s.as_of}. Generator's "
        f"sums: {b.base.sales:,} receipts, {b.base.returns:,} returns, revenue "
        f"{b.base.revenue_minor:,} minor units."
    )


def _where_notes(m: Measured) -> list[str]:
    notes = []
    for name in ("daily", "weekly", "history"):
        run = m.gates[name]
        top, top_s = _top({k: v for k, v in run.parts.items() if k != "other"})
        gx_share = (run.parts.get(GX_CONTEXT, 0) + run.parts.get(GX_VALIDATION, 0)) / run.seconds
        slowest = sorted(run.queries.items(), key=lambda kv: -kv[1])[:3]
        notes.append(
            f"{name} gate: {seconds(run.seconds)}, of which {top} {seconds(top_s)}; Great "
            f"Expectations (import, context, validation) {gx_share:.0%}; 'other' is Python "
            "around the checks (opening the warehouse and the hub, rows, reasons, numbers, "
            f"verdict). Slowest DuckDB queries: {_parts(dict(slowest))}. Hand-written DuckDB "
            f"{seconds(m.baselines[name].seconds)}."
        )
    for name, rendered in m.renders.items():
        if rendered.rows:
            notes.append(
                f"{name} report holds: "
                + ", ".join(f"{k} {v:,}" for k, v in rendered.rows.items() if v)
                + "; largest files "
                + ", ".join(
                    f"{k} {v / 2**20:.1f} MiB"
                    for k, v in sorted(rendered.files.items(), key=lambda kv: -kv[1])[:4]
                )
                + "; the e-mail "
                + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in rendered.email_bytes.items())
                + "."
            )
            left = sorted({name for names in rendered.left_out.values() for name in names})
            if left:
                notes.append(
                    f"The {name} owner e-mail leaves out CSV files over its attachment budget "
                    f"(`flows.publishing.fit_attachments`): {', '.join(left)}."
                )
            if max(rendered.email_bytes.values(), default=0) > MAIL_LIMIT_BYTES:
                notes.append(
                    f"The {name} owner e-mail is larger than the 25 MB many mail services accept: "
                    "a relay with such a limit would refuse it."
                )
    return notes


def run() -> Report:
    keep = os.environ.get(DIR_ENV)
    return report(measure(keep=Path(keep) if keep else None, progress=_stderr))


def _stderr(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=None, help=f"sale lines (default {LINES:,})")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the files there (reuse a hub built there)"
    )
    args = parser.parse_args(argv)
    keep = args.keep or (Path(os.environ[DIR_ENV]) if os.environ.get(DIR_ENV) else None)
    started = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    result = report(measure(args.lines, keep=keep, progress=_stderr))
    print(result.to_markdown())
    print(f"(started {started:%Y-%m-%d %H:%M} UTC, {time.perf_counter() - began:.0f} s)")
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
