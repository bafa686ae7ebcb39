"""Facts and the daily mart from a real hub's sales: given/expected figures for a small day,
the store's own calendar day, and totals per store and day equal to the hub's."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.sales.models import Sale, SaleLine
from tests.hub.sales_fixtures import new_till, post, seed_shop, statuses
from tests.warehouse.test_extract import _trade
from warehouse.extract import extract, open_warehouse
from warehouse.marts import MartParams, build_marts_in
from warehouse.transform import MODELS, STAGING, build

LATER = dt.date(2026, 12, 31)  # marts as of a day after every sale


def test_a_sale_and_its_return_given_and_expected(client, world, db, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """2 milk at 89.90 (VAT 10 %, cost 60.00) late in the Moscow evening, then 1 returned."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    milk = shop.items()["milk"]
    late = dt.datetime(2026, 11, 20, 22, 30, tzinfo=dt.UTC)  # 01:30 on the 21st in Moscow
    sale = till.sale([milk.__class__(milk.product_id, milk.name, 2000, 8990, 1000)], at=late)
    refund = till.refund(sale, [(1, 1000)], at=late + dt.timedelta(hours=1))
    assert statuses(post(client, world.headers("device_a"), [sale, refund])) == ["created"] * 2
    duck = open_warehouse(tmp_path / "w.duckdb")
    extract(db_url, duck)
    build(duck)
    build_marts_in(duck, LATER, MartParams(), None)
    facts = duck.execute(
        "SELECT kind, sale_date, qty_milli, revenue_minor, vat_minor, revenue_ex_vat_minor, "
        "unit_cost_minor, cogs_minor, gross_profit_minor FROM fct_sale_line ORDER BY kind DESC"
    ).fetchall()
    day = dt.date(2026, 11, 21)
    assert facts == [
        ("sale", day, 2000, 17980, 1635, 16345, 6000, 12000, 4345),
        ("return", day, -1000, -8990, -817, -8173, 6000, -6000, -2173),
    ]
    [daily] = duck.execute(
        "SELECT store_id, sale_date, receipts, returns, revenue_minor, revenue_ex_vat_minor, "
        "cogs_minor, gross_profit_minor, revenue_without_cost_minor FROM rpt_daily_sales"
    ).fetchall()
    assert daily == (world.store_a, day, 1, 1, 8990, 8172, 6000, 2172, 0)
    duck.close()


def test_daily_sales_equal_the_hub_per_store_and_local_day(
    client, world, db, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _trade(client, world, db)
    duck = open_warehouse(tmp_path / "w.duckdb")
    extract(db_url, duck)
    built = build(duck)
    build_marts_in(duck, LATER, MartParams(), None)
    with db.read() as s:
        rows = s.execute(
            select(Sale.store_id, Sale.created_at, Sale.kind, Sale.id, SaleLine.amount_minor).join(
                SaleLine, SaleLine.sale_id == Sale.id
            )
        ).all()
    moscow = ZoneInfo("Europe/Moscow")
    expected: dict[tuple[int, dt.date], list[Any]] = {}
    for store_id, created_at, kind, sale_id, amount in rows:
        key = (store_id, created_at.astimezone(moscow).date())
        entry = expected.setdefault(key, [set(), set(), 0])
        entry[0 if kind == "sale" else 1].add(sale_id)
        entry[2] += amount if kind == "sale" else -amount
    got = {
        (store_id, day): [receipts, returns, revenue]
        for store_id, day, receipts, returns, revenue in duck.execute(
            "SELECT store_id, sale_date, receipts, returns, revenue_minor FROM rpt_daily_sales"
        ).fetchall()
    }
    assert got == {k: [len(v[0]), len(v[1]), v[2]] for k, v in expected.items()}
    assert built.rows["fct_sale_line"] == len(rows)
    grains = dict(
        duck.execute(
            "SELECT table_name, comment FROM duckdb_tables() UNION ALL "
            "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    )
    for name, _grain, _sql in (*STAGING, *MODELS):  # every model states its grain
        assert grains[name].startswith("one row per"), name
    duck.close()
