"""The warehouse at chain scale: a full rebuild of 10,000,000 sale lines, then an incremental one.

Issue target: "generate 10M sale lines in a hub database (SQLite), then time a full rebuild
(extract + facts + marts) and its peak RSS, next to a hand-written DuckDB SQL baseline and a
pandas baseline computing the same marts in the same run; then an incremental refresh adding
1.25M lines. Goals: full rebuild <= 60 s, peak RSS <= 3 GB, <= 1.5x the DuckDB baseline, >= 5x
faster than pandas; incremental <= 10 s."

1. `bench.warehouse_hub.build` writes a migrated SQLite hub with 90 days of a 5-store chain's
   trade (the shape is in its docstring) and, beside it, the rows of the next days.
2. Full rebuild: `warehouse.pipeline.refresh` into a fresh DuckDB file, then
   `warehouse.pipeline.build_marts` for the last day (DuckDB tables and Parquet files).
3. Baselines, in the same run on the same hub file: a hand-written DuckDB SQL script over an ADBC
   extract of only the columns it needs, and pandas (`read_sql` over ADBC), both computing the
   heavy marts (`bench.warehouse_jobs`).
4. The next days are copied into the hub (as if it had kept running) and the same warehouse file
   is refreshed and its marts rebuilt for the new last day: the incremental refresh. The
   hand-written DuckDB script runs again from scratch on the grown hub, to check the incremental
   result against a from-scratch one.

Every job runs alone in a fresh process ('spawn'): its peak RSS is its own (VmHWM), its time is
wall-clock from its first read of the hub to its last write. The pipeline, both baselines and the
generator's own sums must agree on revenue, VAT, COGS, gross profit, row counts of the daily and
product marts, stock on hand and value, and the demand statistics; a disagreement is a FAIL row.

`python -m bench.warehouse [--lines N]` runs it alone (default 10,000,000, or
KASSA_BENCH_WAREHOUSE_LINES); `python -m bench.run` runs it with the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench import FAIL, INFO, PASS, Metric, Report, seconds, verdict
from bench import warehouse_hub as hub
from bench import warehouse_jobs as jobs
from warehouse.sources import SOURCES

LINES_ENV = "KASSA_BENCH_WAREHOUSE_LINES"
LINES = 10_000_000
INCREMENT_SHARE = 8  # the increment adds lines / 8 (1.25M at 10M)
GOAL_REBUILD_S = 60.0
GOAL_RSS_BYTES = 3_000_000_000  # "3 GB", taken as 10^9 bytes (the stricter reading)
GOAL_DUCKDB_RATIO = 1.5
GOAL_PANDAS_FACTOR = 5.0
GOAL_INCREMENT_S = 10.0

T = TypeVar("T")


@dataclass
class Measured:
    shape: hub.Shape
    built: hub.Built
    full: jobs.JobResult
    duckdb: jobs.JobResult
    pandas: jobs.JobResult
    apply_seconds: float  # copying the increment into the hub (not timed against a goal)
    incremental: jobs.JobResult
    duckdb_after: jobs.JobResult  # the DuckDB baseline from scratch on the grown hub
    agreement: dict[str, list[str]] = field(default_factory=dict)  # check -> disagreements
    compared: dict[str, int] = field(default_factory=dict)  # check -> figures compared
    load: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())  # at the start, at the end

    @property
    def agrees(self) -> bool:
        return not any(self.agreement.values())


def default_lines() -> int:
    return int(os.environ.get(LINES_ENV, LINES))


def shape_for(lines: int) -> hub.Shape:
    return hub.Shape(lines=lines, increment_lines=max(1, lines // INCREMENT_SHARE))


def measure(
    lines: int | None = None,
    *,
    shape: hub.Shape | None = None,
    isolate: bool = True,
    keep: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Measured:
    """Build the hub, run the three jobs, apply the increment, refresh incrementally.

    `isolate=False` runs every job in this process (for the smoke test: fast, but the peak RSS
    figures are then this process's). `keep` keeps the files there instead of a temporary
    directory.
    """
    shape = shape or shape_for(lines or default_lines())
    say = progress or (lambda _text: None)

    def run(function: Callable[..., T], *args: Any) -> T:
        return jobs.isolated(function, *args) if isolate else function(*args)

    load_at_start = _load()
    scratch = None if keep else tempfile.TemporaryDirectory(prefix="kassa-bench-warehouse-")
    root = keep or Path(scratch.name)  # type: ignore[union-attr]
    try:
        root.mkdir(parents=True, exist_ok=True)
        warehouse, marts = root / "warehouse.duckdb", root / "marts"
        for stale in (warehouse, root / "baseline.duckdb", root / "baseline-after.duckdb"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(marts, ignore_errors=True)
        say(f"generating {shape.lines:,} sale lines ...")
        built = run(hub.build, root / "hub", shape)
        say(f"  {built.total_rows:,} rows in {built.seconds:.0f} s; full rebuild ...")
        full = run(jobs.pipeline_job, built.url, str(warehouse), shape.as_of, str(marts))
        say(f"  {full.seconds:.1f} s; DuckDB baseline ...")
        duck = run(jobs.duckdb_job, built.url, str(root / "baseline.duckdb"), shape.as_of)
        say(f"  {duck.seconds:.1f} s; pandas baseline ...")
        frames = run(jobs.pandas_job, built.url, shape.as_of)
        say(f"  {frames.seconds:.1f} s; applying the increment ...")
        applied = hub.apply_increment(built.path, built.increment_path)
        say("  incremental refresh ...")
        later = shape.increment_as_of
        incremental = run(jobs.pipeline_job, built.url, str(warehouse), later, str(marts))
        say(f"  {incremental.seconds:.1f} s; DuckDB baseline on the grown hub ...")
        after = run(jobs.duckdb_job, built.url, str(root / "baseline-after.duckdb"), later)
        measured = Measured(shape, built, full, duck, frames, applied, incremental, after)
        measured.load = (load_at_start, _load())
        _compare(measured)
        return measured
    finally:
        if scratch is not None:
            scratch.cleanup()


def _load() -> tuple[float, ...]:
    try:
        return os.getloadavg()
    except OSError:
        return ()


def _compare(m: Measured) -> None:
    checks = {
        "pipeline = generator (base)": (jobs.truth_sums(m.built.base), m.full.sums),
        "DuckDB baseline = pipeline": (m.full.sums, m.duckdb.sums),
        "pandas baseline = pipeline": (m.full.sums, m.pandas.sums),
        "pandas baseline = DuckDB baseline": (m.duckdb.sums, m.pandas.sums),
        "incremental pipeline = generator (grown)": (
            jobs.truth_sums(m.built.total),
            m.incremental.sums,
        ),
        "incremental pipeline = DuckDB baseline from scratch": (
            m.incremental.sums,
            m.duckdb_after.sums,
        ),
    }
    for name, (reference, other) in checks.items():
        m.agreement[name] = jobs.disagreements(reference, other)
        m.compared[name] = len(reference.keys() & other.keys())


# --- the report -----------------------------------------------------------------------------


def _gb(count: float) -> str:
    return f"{count / 2**20:,.0f} MiB ({count / 1e9:.2f} GB)"


def _parts(result: jobs.JobResult) -> str:
    return ", ".join(f"{name} {seconds(value)}" for name, value in result.parts.items() if value)


def _missing_marts(m: Measured) -> list[str]:
    wanted = ("rpt_daily_sales", "rpt_product_profit", "rpt_stock_position", "rpt_reorder")
    return [name for name in wanted if name not in m.full.rows]


FACTS = "staging, dimensions and facts"
MARTS = "marts (DuckDB and Parquet)"


def report(m: Measured) -> Report:
    shape, built, full = m.shape, m.built, m.full
    refresh_s = m.incremental.parts.get("extract", 0) + m.incremental.parts.get(FACTS, 0)
    ratio = full.seconds / m.duckdb.seconds if m.duckdb.seconds else float("inf")
    factor = m.pandas.seconds / full.seconds if full.seconds else 0.0
    agreement_detail = "; ".join(
        f"{name}: {len(problems)} differ" for name, problems in m.agreement.items() if problems
    )
    lines_text = f"{shape.lines:,}"
    metrics = [
        Metric(
            f"Full rebuild of {lines_text} sale lines: extract + staging, dimensions, facts + "
            f"marts (DuckDB and Parquet), fresh warehouse file",
            f"≤ {GOAL_REBUILD_S:g} s",
            f"{seconds(full.seconds)} ({_parts(full)})",
            f"hand-written DuckDB {seconds(m.duckdb.seconds)} ({_parts(m.duckdb)}); "
            f"pandas {seconds(m.pandas.seconds)} ({_parts(m.pandas)})",
            verdict(full.seconds, GOAL_REBUILD_S),
        ),
        Metric(
            "Peak RSS of the full-rebuild process",
            "≤ 3 GB",
            _gb(full.peak_rss),
            f"hand-written DuckDB {_gb(m.duckdb.peak_rss)}; pandas {_gb(m.pandas.peak_rss)}",
            verdict(full.peak_rss, GOAL_RSS_BYTES),
        ),
        Metric(
            "Full rebuild time / hand-written DuckDB baseline time",
            f"≤ {GOAL_DUCKDB_RATIO:g}x",
            f"{ratio:.2f}x",
            f"{seconds(m.duckdb.seconds)} hand-written DuckDB",
            verdict(ratio, GOAL_DUCKDB_RATIO),
        ),
        Metric(
            "pandas baseline time / full rebuild time",
            f"≥ {GOAL_PANDAS_FACTOR:g}x",
            f"{factor:.2f}x",
            f"{seconds(m.pandas.seconds)} pandas",
            PASS if factor >= GOAL_PANDAS_FACTOR else FAIL,
        ),
        Metric(
            f"Incremental refresh after {shape.increment_lines:,} more sale lines "
            f"({shape.increment_days} days): warehouse-refresh, i.e. the extract of the new "
            "change numbers + staging, dimensions and the facts and costs of what came",
            f"≤ {GOAL_INCREMENT_S:g} s",
            f"{seconds(refresh_s)} (extract {seconds(m.incremental.parts.get('extract', 0))}, "
            f"facts {seconds(m.incremental.parts.get(FACTS, 0))})",
            f"full rebuild {seconds(full.seconds)}; hand-written DuckDB from scratch on the "
            f"grown hub {seconds(m.duckdb_after.seconds)}",
            verdict(refresh_s, GOAL_INCREMENT_S),
        ),
        Metric(
            "Marts rebuilt after the increment (daily-close: every mart for the new last day, "
            "DuckDB and Parquet)",
            "-",
            seconds(m.incremental.parts.get(MARTS, 0)),
            f"incremental job in all {seconds(m.incremental.seconds)}",
            INFO,
        ),
        Metric(
            "Peak RSS of the incremental process",
            "-",
            _gb(m.incremental.peak_rss),
            f"{_gb(full.peak_rss)} full rebuild",
            INFO,
        ),
        Metric(
            "Outputs agree: pipeline, DuckDB and pandas baselines, the generator's own sums "
            "(after the rebuild and after the increment)",
            "equal",
            "equal" if m.agrees else f"DIFFERENT: {agreement_detail}",
            f"{sum(m.compared.values())} figures compared in {len(m.compared)} pairs",
            PASS if m.agrees and not _missing_marts(m) else FAIL,
        ),
        Metric(
            "Generating the hub (numpy, ADBC bulk ingest, indexes rebuilt)",
            "-",
            f"{built.total_rows:,} rows in {seconds(built.seconds)} "
            f"({built.total_rows / built.seconds:,.0f} rows/s; generate "
            f"{seconds(built.generate_seconds)}, write {seconds(built.write_seconds)}); "
            f"hub file {built.file_bytes / 2**30:.2f} GiB",
            "-",
            INFO,
        ),
    ]
    notes = [
        _shape_note(m),
        "Scope: the pipeline does more than the baselines: it extracts every column of all "
        f"{len(SOURCES)} hub tables the warehouse reads (hashes, "
        "UUIDs, fiscal fields), builds every dimension and fact (payments, shifts, stock moves, "
        "product versions, the cost history) and every mart (also ABC/XYZ, dead stock, cash "
        "over/short) and writes each mart to Parquet. The baselines extract only the columns "
        "they need and compute fct_sale_line, rpt_daily_sales, rpt_product_profit (day and "
        "week), the moving-average cost of every receipt, the stock position and the 28-day "
        "demand statistics.",
        f"Rows built by the full rebuild: {_rows(full.rows)}.",
        f"Incremental refresh: extracted {_rows(_raw(m.incremental.rows))}. Copying the "
        f"increment into the hub took {seconds(m.apply_seconds)} (not timed against a goal).",
    ]
    notes.append(
        "Peak RSS (high-water mark after each phase, the interpreter and its imports included): "
        + "; ".join(
            f"{r.name if r is not m.incremental else 'incremental pipeline'} "
            + ", ".join(f"{phase} {v / 2**20:,.0f} MiB" for phase, v in r.rss_after.items())
            for r in (full, m.duckdb, m.pandas, m.incremental)
        )
        + "."
    )
    notes += _miss_notes(m, ratio, factor)
    for name, problems in m.agreement.items():
        if problems:
            notes.append(f"DISAGREEMENT, {name}: " + "; ".join(problems[:12]))
    missing = _missing_marts(m)
    if missing:
        notes.append(
            "The pipeline did not build " + ", ".join(missing) + ": those figures were not "
            "compared and the full rebuild does not include them."
        )
    for result in (full, m.incremental):
        notes += [f"{result.name}: {note}" for note in result.notes]
    if all(m.load):
        notes.append(
            "Load average (1 / 5 / 15 min) when the run started: "
            + " / ".join(f"{x:.2f}" for x in m.load[0])
            + "; when it ended: "
            + " / ".join(f"{x:.2f}" for x in m.load[1])
            + ". Every job ran once, one after the other; anything else running on the "
            "machine's cores slows them."
        )
    return Report(
        title=f"Warehouse: full rebuild of {lines_text} sale lines, incremental refresh",
        what=(
            f"`bench.warehouse_hub` writes a migrated SQLite hub holding {shape.days} days of a "
            f"5-store chain's trade ({lines_text} sale lines) with every table the warehouse "
            "reads consistent as the hub keeps it (stock ledger with moving-average cost, cost "
            "snapshots, payments, shifts, purchase orders, change numbers). The full rebuild is "
            "`warehouse.pipeline.refresh` into a fresh DuckDB file then "
            f"`warehouse.pipeline.build_marts` for {shape.as_of} (marts in DuckDB and Parquet). "
            f"Then {shape.increment_lines:,} more sale lines ({shape.increment_days} more days, "
            "new prices, deliveries, purchase orders received, stock levels and till states "
            "updated) are copied into the hub and the same warehouse is refreshed and its marts "
            f"rebuilt for {shape.increment_as_of}. Each job runs alone in a fresh process "
            "(multiprocessing 'spawn'); time is wall-clock inside it, peak RSS its own VmHWM."
        ),
        baseline=(
            "Measured in the same run on the same hub file, each in its own process: (1) a "
            "hand-written DuckDB SQL script (`bench.warehouse_jobs.DUCKDB_SCRIPT`) after an ADBC "
            "extract (Arrow record batches) of only the tables and columns it needs into a fresh "
            "DuckDB file; (2) pandas: the same columns read with `pandas.read_sql` over the same "
            "ADBC connection (Arrow underneath, nullable integers so money stays integer), then "
            "the same outputs with vectorised pandas (groupby, merge, cumsum; the moving average "
            "stepped receipt by receipt over all series at once). Both compute the heavy marts "
            "only (see the notes), and must agree with the pipeline figure by figure."
        ),
        metrics=metrics,
        notes=notes,
    )


def _raw(rows: dict[str, int]) -> dict[str, int]:
    return {k.removeprefix("raw "): v for k, v in rows.items() if k.startswith("raw ")}


def _rows(rows: dict[str, int]) -> str:
    shown = [(k, v) for k, v in rows.items() if not k.startswith("raw ")] or list(rows.items())
    return ", ".join(f"{name} {count:,}" for name, count in shown) or "nothing"


def _shape_note(m: Measured) -> str:
    b, s = m.built, m.shape
    return (
        f"Hub: {b.rows.get('sale', 0):,} sales and returns, {b.rows.get('sale_line', 0):,} "
        f"lines, {b.rows.get('sale_payment', 0):,} payments, {b.rows.get('stock_move', 0):,} "
        f"stock moves, {b.rows.get('purchase_order_line', 0):,} purchase order lines, "
        f"{b.rows.get('shift', 0):,} shifts, {s.products:,} products, 5 stores in 5 time zones "
        f"(one open round the clock), {s.tills_per_store * 5 + 1} tills, {s.suppliers} "
        f"suppliers; {s.days} days ending {s.as_of}. Generator's sums: revenue "
        f"{b.base.revenue_minor:,}, COGS {b.base.cogs_minor:,}, gross profit "
        f"{b.base.gross_profit_minor:,} minor units; {b.base.sales:,} receipts, "
        f"{b.base.returns:,} returns. The increment: {sum(b.increment_rows.values()):,} rows."
    )


def _miss_notes(m: Measured, ratio: float, factor: float) -> list[str]:
    notes = []
    full = m.full
    if full.seconds > GOAL_REBUILD_S or ratio > GOAL_DUCKDB_RATIO:
        extract = full.parts.get("extract", 0.0)
        notes.append(
            f"Where the full rebuild's {seconds(full.seconds)} go: {_parts(full)}. The "
            f"extract alone is {extract / full.seconds:.0%} of it; the DuckDB baseline's "
            f"narrower extract took {seconds(m.duckdb.parts.get('extract', 0.0))} and its SQL "
            f"{seconds(m.duckdb.parts.get('SQL', 0.0))}."
        )
    if factor < GOAL_PANDAS_FACTOR:
        notes.append(
            f"pandas took {seconds(m.pandas.seconds)} ({_parts(m.pandas)}): the goal needs the "
            f"rebuild under {seconds(m.pandas.seconds / GOAL_PANDAS_FACTOR)}."
        )
    notes.append(
        f"Where the incremental job's {seconds(m.incremental.seconds)} go: "
        f"{_parts(m.incremental)}. warehouse-refresh (extract and facts) replaces only the "
        "facts and costs of what the extract brought; the marts (daily-close) are rebuilt over "
        "the whole history."
    )
    return notes


def run() -> Report:
    return report(measure(progress=_stderr))


def _stderr(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=None, help=f"sale lines (default {LINES:,})")
    parser.add_argument("--keep", type=Path, default=None, help="keep the files in this directory")
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    result = report(measure(args.lines, keep=args.keep, progress=_stderr))
    print(result.to_markdown())
    print(f"(started {started:%Y-%m-%d %H:%M} UTC, {time.perf_counter() - began:.0f} s)")
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
