"""The warehouse benchmark's code path at a tiny size (SQLite only): the generated hub keeps the
hub's own rules, and the pipeline and both baselines agree on the key sums. Never timing."""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from bench import run, warehouse
from bench import warehouse_hub as wh
from bench import warehouse_jobs as jobs
from hub.stock.ledger import INCOMING_AT_COST, new_average
from warehouse.sources import SOURCES
from wire.money import line_amount_minor, round_half_up, vat_from_inclusive

SHAPE = wh.Shape(lines=20_000, increment_lines=2_500, products=300, suppliers=6)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> wh.Built:
    return wh.build(tmp_path_factory.mktemp("warehouse_bench"), SHAPE)


def _problems(path: Path) -> list[str]:
    """Every hub rule the generator promises, checked row by row (a few seconds at this size)."""
    found: list[str] = []
    con = sqlite3.connect(path)
    q = con.execute
    if q("PRAGMA integrity_check").fetchone() != ("ok",):
        found.append("integrity_check")
    if q("PRAGMA foreign_key_check").fetchall():
        found.append(f"foreign keys: {q('PRAGMA foreign_key_check').fetchmany(5)}")
    # Change numbers: from the right counter, never reused, never above the counter.
    counters = dict(q("SELECT name, value FROM change_counter"))
    for counter in ("catalog", "ledger"):
        tables = [s.table for s in SOURCES if s.counter == counter]
        union = " UNION ALL ".join(f"SELECT change_seq FROM {t}" for t in tables)
        count, distinct, high = q(
            f"SELECT count(*), count(DISTINCT change_seq), max(change_seq) FROM ({union})"
        ).fetchone()
        if count != distinct or high > counters[counter]:
            found.append(f"{counter}: {count} rows, {distinct} numbers, max {high} > {counters}")
    # Lines: DOMAIN.md amounts; sales: totals, VAT, payments and change.
    for qty, price, discount, amount, rate, vat in q(
        "SELECT qty_milli, unit_price_minor, discount_minor, amount_minor, vat_rate_bp, vat_minor "
        "FROM sale_line"
    ):
        if amount != line_amount_minor(qty, price) - discount or amount <= 0:
            found.append(f"line amount {qty} x {price} - {discount} != {amount}")
        if vat != vat_from_inclusive(amount, rate):
            found.append(f"line VAT {amount} at {rate} != {vat}")
    bad = q(
        "SELECT count(*) FROM sale s JOIN (SELECT sale_id, sum(amount_minor) a, sum(vat_minor) v "
        "FROM sale_line GROUP BY sale_id) l ON l.sale_id = s.id "
        "WHERE l.a != s.total_minor OR l.v != s.vat_minor"
    ).fetchone()[0]
    if bad:
        found.append(f"{bad} sales whose lines do not sum to their total or VAT")
    bad = q(
        "SELECT count(*) FROM sale s JOIN (SELECT sale_id, sum(amount_minor) paid, "
        "sum(CASE WHEN tender = 'cash' THEN amount_minor ELSE 0 END) cash FROM sale_payment "
        "GROUP BY sale_id) p ON p.sale_id = s.id "
        "WHERE p.paid - s.change_minor != s.total_minor OR p.cash != s.cash_minor "
        "OR s.change_minor > p.cash"
    ).fetchone()[0]
    if (
        bad
        or q(
            "SELECT count(*) FROM sale WHERE id NOT IN (SELECT sale_id FROM sale_payment)"
        ).fetchone()[0]
    ):
        found.append(f"{bad} sales whose payments - change != total")
    # Returns: an earlier sale of the same store, one of its lines in full.
    bad = q(
        "SELECT count(*) FROM sale r LEFT JOIN sale o ON o.id = r.original_sale_id "
        "AND o.sale_uuid = r.original_sale_uuid AND o.store_id = r.store_id AND o.kind = 'sale' "
        "AND o.created_at < r.created_at WHERE r.kind = 'return' AND o.id IS NULL"
    ).fetchone()[0]
    bad += q(
        "SELECT count(*) FROM sale r JOIN sale_line rl ON rl.sale_id = r.id "
        "WHERE r.kind = 'return' AND NOT EXISTS (SELECT 1 FROM sale_line ol "
        "WHERE ol.sale_id = r.original_sale_id AND ol.qty_milli = rl.qty_milli "
        "AND ol.amount_minor = rl.amount_minor AND ol.product_id IS rl.product_id)"
    ).fetchone()[0]
    if bad:
        found.append(f"{bad} returns without their sale or line")
    # Journals: per till line 1..n without gaps, each prev_hash the previous sale's hash.
    by_line: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    replaced = dict(
        q("SELECT id, replaces_device_id FROM device WHERE replaces_device_id IS NOT NULL")
    )
    for device, seq, prev, digest in q("SELECT device_id, till_seq, prev_hash, hash FROM sale"):
        by_line[replaced.get(device, device)].append((seq, prev, digest))
    for line, sales in by_line.items():
        sales.sort()
        if [s[0] for s in sales] != list(range(1, len(sales) + 1)):
            found.append(f"till line {line}: till_seq not 1..{len(sales)}")
        if sales[0][1] != "0" * 64 or any(b[1] != a[2] for a, b in itertools.pairwise(sales)):
            found.append(f"till line {line}: broken hash chain")
    states = q(
        "SELECT t.device_id, t.max_sale_seq, t.sales_count, max(s.till_seq), count(s.id) "
        "FROM till_state t LEFT JOIN sale s ON s.device_id = t.device_id GROUP BY t.device_id"
    ).fetchall()
    if any(row[1:3] != (row[3] or 0, row[4]) for row in states):
        found.append(f"till_state disagrees with the sales: {states}")
    # Shifts: the hub's cash formula from the sales and events they hold; never over 24 h.
    bad = q(
        "SELECT count(*) FROM shift h LEFT JOIN (SELECT shift_uuid, "
        "sum(CASE WHEN kind = 'sale' THEN cash_minor - change_minor ELSE 0 END) cs, "
        "sum(CASE WHEN kind = 'return' THEN cash_minor ELSE 0 END) cr, "
        "sum(kind = 'sale') n, sum(kind = 'return') r FROM sale GROUP BY shift_uuid) s "
        "ON s.shift_uuid = h.shift_uuid "
        "WHERE coalesce(s.cs, 0) != h.cash_sales_minor OR coalesce(s.cr, 0) != h.cash_refunds_minor "
        "OR coalesce(s.n, 0) != h.sales_count OR coalesce(s.r, 0) != h.returns_count "
        "OR h.expected_minor != h.float_minor + h.cash_sales_minor - h.cash_refunds_minor "
        "+ h.pay_ins_minor - h.pay_outs_minor "
        "OR h.over_short_minor != h.counted_minor - h.expected_minor "
        "OR julianday(h.closed_at) - julianday(h.opened_at) >= 1"
    ).fetchone()[0]
    if bad:
        found.append(f"{bad} shifts whose figures do not follow from their sales")
    # The stock ledger replayed with the hub's own rule, move by move in id order.
    level: dict[tuple[int, int], list[int | None]] = {}
    line_cost = {
        (sale, no): cost
        for sale, no, cost in q("SELECT sale_id, line_no, unit_cost_minor FROM sale_line")
    }
    for store, product, kind, qty, cost, sale, no, counted in q(
        "SELECT store_id, product_id, kind, qty_milli, unit_cost_minor, sale_id, sale_line_no, "
        "counted_milli FROM stock_move ORDER BY id"
    ):
        on_hand, avg = level.setdefault((store, product), [0, None])
        assert on_hand is not None
        if kind in INCOMING_AT_COST:
            expected_cost: int | None = cost
            avg = new_average(on_hand, avg, qty, cost)
        else:
            expected_cost = avg
        if cost != expected_cost:
            found.append(f"move {store}/{product} {kind}: cost {cost}, the ledger says {avg}")
        if sale is not None and line_cost.pop((sale, no), "missing") != cost:
            found.append(f"sale {sale} line {no}: cost snapshot is not its move's")
        on_hand += qty
        if kind == "count" and counted != on_hand:
            found.append(f"count {store}/{product}: counted {counted}, on hand {on_hand}")
        level[(store, product)] = [on_hand, avg]
    if any(cost is not None for cost in line_cost.values()):
        found.append("lines with a cost but no stock move")
    levels = {
        (s, p): [on_hand, avg]
        for s, p, on_hand, avg in q(
            "SELECT store_id, product_id, on_hand_milli, avg_cost_minor FROM stock_level"
        )
    }
    if levels != level:
        wrong = [k for k in level.keys() | levels.keys() if level.get(k) != levels.get(k)]
        found.append(f"{len(wrong)} stock levels are not the sum of their moves: {wrong[:3]}")
    con.close()
    return found[:20]


def test_the_generated_hub_keeps_the_hub_rules(built: wh.Built) -> None:
    assert built.rows["sale_line"] == SHAPE.lines
    assert _problems(built.path) == []


def test_the_increment_keeps_them_too(built: wh.Built, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "hub.db"
    shutil.copy(built.path, copy)
    wh.apply_increment(copy, built.increment_path)
    with sqlite3.connect(copy) as con:
        assert (
            con.execute("SELECT count(*) FROM sale_line").fetchone()[0]
            == SHAPE.lines + SHAPE.increment_lines
        )
    assert _problems(copy) == []


def test_round_half_up_vectorised_matches_wire() -> None:
    import numpy as np

    nums = np.arange(0, 5000, dtype=np.int64)
    for den in (1000, 10_000 + 2200, 7):
        assert wh.half_up(nums, den).tolist() == [round_half_up(int(n), den) for n in nums]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> warehouse.Measured:
    return warehouse.measure(
        shape=SHAPE, isolate=False, keep=tmp_path_factory.mktemp("warehouse_measure")
    )


def test_the_pipeline_and_both_baselines_agree_on_every_figure(
    measured: warehouse.Measured,
) -> None:
    assert measured.agreement == {name: [] for name in measured.agreement}
    # Every pair compared the figures it should: the marts' too, not just the fact table.
    assert measured.compared["DuckDB baseline = pipeline"] == len(measured.duckdb.sums) == 28
    assert measured.compared["pandas baseline = DuckDB baseline"] == 28
    assert measured.compared["pipeline = generator (base)"] == 10
    assert measured.full.sums["fct_sale_line.rows"] == SHAPE.lines
    assert measured.incremental.sums["fct_sale_line.rows"] == SHAPE.lines + SHAPE.increment_lines
    assert measured.full.sums["rpt_product_profit.week.rows"] > 0


def test_a_disagreement_is_reported_as_a_failure(measured: warehouse.Measured) -> None:
    sums = dict(measured.pandas.sums)
    sums["fct_sale_line.cogs_minor"] += 1
    sums["rpt_reorder.demand_std_milli"] *= 1.001
    assert [p.split(":")[0] for p in jobs.disagreements(measured.duckdb.sums, sums)] == [
        "fct_sale_line.cogs_minor",
        "rpt_reorder.demand_std_milli",
    ]
    broken = dataclasses.replace(measured, pandas=dataclasses.replace(measured.pandas, sums=sums))
    broken.agreement, broken.compared = {}, {}
    warehouse._compare(broken)
    report = warehouse.report(broken)
    agree = next(m for m in report.metrics if m.name.startswith("Outputs agree"))
    assert agree.verdict == "FAIL" and "DIFFERENT" in agree.measured
    assert any(note.startswith("DISAGREEMENT, pandas baseline") for note in report.notes)


def test_the_report_states_every_goal_and_is_found_by_the_runner(
    measured: warehouse.Measured,
) -> None:
    report = warehouse.report(measured)
    goals = [m.goal for m in report.metrics if m.verdict != "info"]
    assert goals == ["≤ 60 s", "≤ 3 GB", "≤ 1.5x", "≥ 5x", "≤ 10 s", "equal"]
    assert all(m.verdict in ("pass", "FAIL") for m in report.metrics if m.goal != "-")
    text = run.render([(report, 1.0)], run.machine())
    assert "## Warehouse: full rebuild of 20,000 sale lines" in text
    assert "hand-written DuckDB" in text and "pandas" in text
    assert "warehouse" in run.modules()
    assert not {"warehouse_hub", "warehouse_jobs"} & set(run.modules())


def test_the_scale_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warehouse.LINES_ENV, "1000000")
    shape = warehouse.shape_for(warehouse.default_lines())
    assert (shape.lines, shape.increment_lines, shape.increment_days) == (1_000_000, 125_000, 11)
    assert warehouse.shape_for(10_000_000).increment_lines == 1_250_000
