"""The quality gate on a real hub (SQLite and PostgreSQL) and a real warehouse: clean data passes
every check with the hub's own figures; each fault of the issue (a till's sales missing for a day,
an altered total, costs removed, a till that has not synced) fails its check, names the cause,
and passes again once the data is fixed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, text

from hub.sales.models import Sale, SaleLine
from kassa.till_sim import Item
from tests.hub.sales_fixtures import post, statuses
from tests.warehouse.test_extract import _trade
from warehouse.extract import open_warehouse
from warehouse.pipeline import refresh
from warehouse.quality import Verdict, run_gate

DAY = dt.date(2026, 11, 21)  # the second of _trade's three days (Europe/Moscow)


def _gate(path: Any, db_url: str, day: dt.date = DAY) -> Verdict:
    duck = open_warehouse(path)
    try:
        return run_gate(duck, db_url, "daily", day, day)
    finally:
        duck.close()


def _check(verdict: Verdict, check_id: str) -> Any:
    return next(c for c in verdict.checks if c.id == check_id)


def _failed(verdict: Verdict) -> set[str]:
    return {c.id for c in verdict.checks if not c.passed}


def _hub_day(db: Any, day: dt.date) -> tuple[int, int]:
    """Sales and net line revenue of store A on `day` in Moscow, straight from the hub."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=3)))
    end = start + dt.timedelta(days=1)
    with db.read() as s:
        rows = s.execute(
            select(Sale.id, Sale.kind, SaleLine.amount_minor)
            .join(SaleLine, SaleLine.sale_id == Sale.id)
            .where(Sale.created_at >= start, Sale.created_at < end)
        ).all()
    sales = {r.id for r in rows if r.kind == "sale"}
    revenue = sum(-r.amount_minor if r.kind == "return" else r.amount_minor for r in rows)
    return len(sales), revenue


@pytest.fixture
def traded(client, world, db, db_url, tmp_path):  # type: ignore[no-untyped-def]
    _trade(client, world, db)
    path = tmp_path / "w.duckdb"
    refresh(db_url, path)
    return path


def test_clean_data_passes_every_check_with_the_hub_figures(traded, db, db_url) -> None:  # type: ignore[no-untyped-def]
    verdict = _gate(traded, db_url)
    assert verdict.publishable, verdict.dumps()
    assert _failed(verdict) == set()
    sales, revenue = _hub_day(db, DAY)
    assert sales == 20
    numbers = _check(verdict, "reconciliation.store_day").numbers
    assert numbers["hub_sales"] == sales
    assert numbers["hub_revenue_minor"] == numbers["warehouse_revenue_minor"] == revenue
    assert _check(verdict, "consistency.sale_totals").numbers["sales"] == sales
    assert _check(verdict, "completeness.tills_synced").numbers["active_tills"] == 1
    doc = verdict.to_json()
    assert doc["verdict"] == "published"
    assert {c["suite"] for c in doc["checks"]} == {
        "completeness",
        "reconciliation",
        "consistency",
        "cost_coverage",
        "referential",
        "freshness",
    }
    for check in doc["checks"]:
        assert check["severity"] in ("blocking", "warning")
        assert check["explanation"]["ru"] and check["explanation"]["en"]
    assert doc["summary"]["en"] == "data complete and consistent"


def test_a_till_missing_its_sales_for_a_day_blocks_and_names_store_and_day(
    traded, db, db_url
) -> None:  # type: ignore[no-untyped-def]
    # The warehouse lost device A's sales of the day (as if an extract had skipped them).
    duck = open_warehouse(traded)
    start, end = "2026-11-20 21:00:00", "2026-11-21 21:00:00"  # Moscow's 21.11 in UTC
    duck.execute(
        "DELETE FROM fct_sale_line WHERE sold_at_utc >= ? AND sold_at_utc < ?", [start, end]
    )
    duck.execute("DELETE FROM fct_payment WHERE sold_at_utc >= ? AND sold_at_utc < ?", [start, end])
    duck.execute("DELETE FROM raw_sale WHERE created_at >= ? AND created_at < ?", [start, end])
    duck.close()
    verdict = _gate(traded, db_url)
    assert not verdict.publishable
    assert "reconciliation.store_day" in _failed(verdict)
    assert "completeness.no_seq_gaps" in _failed(verdict)
    recon = _check(verdict, "reconciliation.store_day")
    assert any("21.11.2026" in r and "Магазин А" in r for r in recon.reasons["ru"])
    assert any("receipts hub 20, warehouse 0" in r for r in recon.reasons["en"])
    gaps = _check(verdict, "completeness.no_seq_gaps")
    assert any("sales #21–40 are missing" in r for r in gaps.reasons["en"]), gaps.reasons
    assert verdict.summary()["en"].startswith("report withheld: ")

    # Fixed by a full re-extract: the report may go.
    traded.unlink()
    refresh(db_url, traded)
    assert _gate(traded, db_url).publishable


def test_an_altered_total_blocks_both_ways(traded, db, db_url) -> None:  # type: ignore[no-untyped-def]
    with db.read() as s:
        sale = s.scalars(
            select(Sale).where(Sale.kind == "sale").order_by(Sale.id).offset(25)
        ).first()
        assert sale is not None
        sale_id, seq = sale.id, sale.till_seq
    # Altered in the hub after the extract, behind the change sequence's back.
    with db.write() as s:
        s.execute(
            text("UPDATE sale SET total_minor = total_minor + 100 WHERE id = :i"), {"i": sale_id}
        )
    verdict = _gate(traded, db_url)
    assert "reconciliation.store_day" in _failed(verdict)
    assert any("totals" in r for r in _check(verdict, "reconciliation.store_day").reasons["en"])

    # ... and once it has reached the warehouse, the sale no longer adds up.
    with db.write() as s:
        s.execute(text("UPDATE change_counter SET value = value + 1 WHERE name = 'ledger'"))
        s.execute(
            text(
                "UPDATE sale SET change_seq = (SELECT value FROM change_counter "
                "WHERE name = 'ledger') WHERE id = :i"
            ),
            {"i": sale_id},
        )
    refresh(db_url, traded)
    verdict = _gate(traded, db_url)
    assert "consistency.sale_totals" in _failed(verdict)
    reasons = _check(verdict, "consistency.sale_totals").reasons["en"]
    assert any(f"sale #{seq}:" in r for r in reasons), reasons
    assert not verdict.publishable


def test_removed_costs_block_cost_coverage(traded, db, db_url) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        s.execute(
            text(
                "UPDATE sale_line SET unit_cost_minor = NULL, change_seq = change_seq + 100000 "
                "WHERE product_id IN (SELECT product_id FROM sale_line GROUP BY product_id "
                "ORDER BY sum(amount_minor) DESC LIMIT 1)"
            )
        )
        s.execute(text("UPDATE change_counter SET value = value + 100000 WHERE name = 'ledger'"))
    refresh(db_url, traded)
    verdict = _gate(traded, db_url)
    assert _failed(verdict) == {"cost_coverage.revenue"}
    check = _check(verdict, "cost_coverage.revenue")
    assert check.numbers["without_cost_minor"] > 0
    assert "Магазин А: себестоимость известна для" in check.reasons["ru"][0]


def test_a_till_that_has_not_synced_blocks_until_it_has(client, traded, world, db, db_url) -> None:  # type: ignore[no-untyped-def]
    with db.read() as s:
        held = s.execute(text("SELECT max(till_seq) FROM sale")).scalar_one()
    # The till says (on any request) that its journal goes three sales further than the hub holds.
    head = {"X-Kassa-Journal": f"sale={held + 3};shift=0", **world.headers("device_a")}
    assert client.get("/api/v1/till/device", headers=head).is_success
    refresh(db_url, traded)
    verdict = _gate(traded, db_url)
    assert _failed(verdict) == {"completeness.tills_synced"}
    reason = _check(verdict, "completeness.tills_synced").reasons["en"][0]
    assert "the hub lacks 3 sales" in reason and f"hub at #{held}" in reason

    # It catches up (reports the head the hub holds): the report may go.
    head["X-Kassa-Journal"] = f"sale={held};shift=0"
    assert client.get("/api/v1/till/device", headers=head).is_success
    assert _gate(traded, db_url).publishable


def test_a_till_silent_since_before_the_period_end_blocks(traded, world, db, db_url) -> None:  # type: ignore[no-untyped-def]
    # Device A's last upload was during the day, and it has not been in touch since.
    with db.write() as s:
        s.execute(
            text("UPDATE till_state SET last_contact_at = :at WHERE device_id = :d"),
            {"at": dt.datetime(2026, 11, 21, 15, 40), "d": world.ids["device_a"]},
        )
    verdict = _gate(traded, db_url)
    assert _failed(verdict) == {"completeness.tills_synced"}
    assert (
        "has not synced since 21.11 18:40"
        in _check(verdict, "completeness.tills_synced").reasons["en"][0]
    )


def test_a_stale_warehouse_fails_freshness(traded, db_url) -> None:  # type: ignore[no-untyped-def]
    duck = open_warehouse(traded)
    duck.execute("UPDATE _extract_state SET extracted_at = TIMESTAMP '2026-11-21 12:00:00'")
    duck.close()
    verdict = _gate(traded, db_url)
    assert "freshness.refreshed" in _failed(verdict)
    assert "before the period ended" in _check(verdict, "freshness.refreshed").reasons["en"][0]


def test_unknown_products_are_a_warning_not_a_block(client, world, db, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    till, _ = _trade(client, world, db)
    at = dt.datetime(2026, 11, 21, 16, 0, tzinfo=dt.UTC)
    unknown = Item(None, "Товар без карточки", 1000, 150, barcode="2000000000017")
    assert statuses(post(client, world.headers("device_a"), [till.sale([unknown], at=at)])) == [
        "created"
    ]
    path = tmp_path / "w.duckdb"
    refresh(db_url, path)
    verdict = _gate(path, db_url)
    assert verdict.publishable
    assert _failed(verdict) == {"referential.flagged"}
    flagged = _check(verdict, "referential.flagged")
    assert flagged.severity == "warning"
    assert flagged.numbers["unknown_product_lines"] == 1
    assert flagged.numbers["unknown_product_revenue_minor"] == 150
    assert flagged.reasons["en"] == ["1 lines of unknown products, 1.50"]
    assert verdict.summary()["en"] == "data complete; 1 warning(s)"
