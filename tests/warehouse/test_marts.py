"""Dimensions, facts and marts from a real hub (SQLite and PostgreSQL): stock and moving-average
cost equal the hub's own levels, payments add up to the sales, price changes become product
versions that sales point at, purchase orders on their way count as on order, and the Parquet
copies equal the tables."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
from sqlalchemy import select

from hub.sales.models import Sale
from hub.stock.models import StockLevel
from kassa.till_sim import Item
from tests.hub.sales_fixtures import new_till, post, receive, seed_shop, statuses
from tests.warehouse.test_extract import _trade
from warehouse.extract import open_warehouse
from warehouse.marts import GRAINS, headline
from warehouse.pipeline import build_marts, refresh
from warehouse.transform import build

SUPPLIERS = "/api/v1/suppliers"


def _supplier_with_order(client: Any, world: Any, milk: int) -> int:
    owner = world.headers("owner")
    created = client.post(
        SUPPLIERS, json={"name": "ООО «Молочный двор»", "lead_time_days": 2}, headers=owner
    )
    assert created.status_code == 201, created.text
    supplier = int(created.json()["id"])
    terms = {"pack_size_milli": 12_000, "min_order_milli": 24_000, "last_cost_minor": 6_500}
    assert client.put(
        f"{SUPPLIERS}/{supplier}/products/{milk}", json=terms, headers=owner
    ).is_success
    orders = f"/api/v1/stores/{world.store_a}/purchase-orders"
    line = {"product_id": milk, "qty_ordered_milli": 36_000, "unit_cost_minor": 6_500}
    order = client.post(
        orders, json={"supplier_id": supplier, "lines": [line]}, headers=world.headers("manager_a")
    )
    assert order.status_code == 201, order.text
    sent = client.post(f"{orders}/{order.json()['id']}/send", headers=world.headers("manager_a"))
    assert sent.is_success, sent.text
    return supplier


def _rows(path: Any, sql: str) -> list[tuple[Any, ...]]:
    duck = open_warehouse(path, read_only=True)
    try:
        return duck.execute(sql).fetchall()
    finally:
        duck.close()


def test_marts_equal_the_hub(client, world, db, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, items = _trade(client, world, db)
    milk = items["milk"].product_id
    with db.write() as s:  # a second delivery at another cost: the average moves
        receive(
            s, world.store_a, [(milk, 24_000, 7_000), (items["bread"].product_id, 1_000, 3_100)]
        )
    supplier = _supplier_with_order(client, world, milk)
    path = tmp_path / "w.duckdb"
    refresh(db_url, path)
    as_of = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)  # every move so far
    built = build_marts(path, as_of, marts_dir=tmp_path / "marts")
    assert set(built.rows) == set(GRAINS)

    with db.read() as s:
        levels = {
            (r.store_id, r.product_id): (r.on_hand_milli, r.avg_cost_minor)
            for r in s.scalars(select(StockLevel))
        }
        sales = {r.id: (r.kind, r.total_minor) for r in s.scalars(select(Sale))}
    position = {
        (store, product): (on_hand, cost)
        for store, product, on_hand, cost in _rows(
            path,
            "SELECT store_id, product_id, on_hand_milli, avg_cost_minor FROM rpt_stock_position",
        )
    }
    assert position == levels
    latest_cost = {
        (store, product): cost
        for store, product, cost in _rows(
            path,
            "SELECT store_id, product_id, avg_cost_minor FROM dim_product_cost "
            "WHERE valid_to_utc IS NULL",
        )
    }
    assert latest_cost == {k: v[1] for k, v in levels.items() if v[1] is not None}
    # milk: 100 @ 60.00, then sold some, then 24 more @ 70.00
    [(before, received, avg)] = _rows(
        path,
        f"SELECT on_hand_before_milli, received_milli, avg_cost_minor FROM dim_product_cost "
        f"WHERE product_id = {milk} AND valid_to_utc IS NULL",
    )
    assert received == 24_000 and before + received == levels[(world.store_a, milk)][0]
    numerator, denominator = before * 6_000 + 24_000 * 7_000, before + 24_000
    assert avg == (2 * numerator + denominator) // (2 * denominator)  # half up

    # payments: per sale, what stayed in the till (tendered minus change) is the sale's total
    paid = dict(_rows(path, "SELECT sale_id, sum(net_minor) FROM fct_payment GROUP BY sale_id"))
    assert paid == {i: (t if kind == "sale" else -t) for i, (kind, t) in sales.items()}

    [(on_order, pack, minimum, chosen)] = _rows(
        path,
        f"SELECT on_order_milli, pack_size_milli, min_order_milli, supplier_id FROM rpt_reorder "
        f"WHERE product_id = {milk}",
    )
    assert (on_order, pack, minimum, chosen) == (36_000, 12_000, 24_000, supplier)

    # Parquet copies equal the tables
    duck = open_warehouse(path, read_only=True)
    try:
        for name, file in built.parquet.items():
            assert file.name == f"{name}.parquet"
            table = duck.sql(f"SELECT * FROM {name}").pl()
            assert pl.read_parquet(file).equals(table), name
        top = headline(duck)
    finally:
        duck.close()
    assert top.revenue_minor == sum(t if k == "sale" else -t for k, t in sales.values())
    assert top.top_products and top.top_products[0][0]


def test_a_price_change_is_a_new_product_version_and_sales_point_at_theirs(
    client, world, db, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    milk = shop.items()["milk"]
    path = tmp_path / "w.duckdb"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    before = till.sale([milk], at=now - dt.timedelta(minutes=5))
    assert statuses(post(client, world.headers("device_a"), [before])) == ["created"]
    refresh(db_url, path)
    changed = client.patch(
        f"/api/v1/catalog/products/{milk.product_id}",
        json={"price_minor": 9490},
        headers=world.headers("owner"),
    )
    assert changed.status_code == 200, changed.text
    after = till.sale(
        [Item(milk.product_id, milk.name, 1000, 9490, 1000)], at=now + dt.timedelta(minutes=5)
    )
    assert statuses(post(client, world.headers("device_a"), [after])) == ["created"]
    refresh(db_url, path)
    refresh(db_url, path)  # nothing new: no new version
    versions = _rows(
        path,
        f"SELECT product_version_id, price_minor, valid_to_utc IS NULL, is_current "
        f"FROM dim_product WHERE product_id = {milk.product_id} ORDER BY valid_from_utc",
    )
    assert [(price, open_, current) for _, price, open_, current in versions] == [
        (8990, False, False),
        (9490, True, True),
    ]
    pointed = dict(
        _rows(
            path,
            f"SELECT sale_uuid::VARCHAR, product_version_id FROM fct_sale_line "
            f"WHERE product_id = {milk.product_id}",
        )
    )
    assert pointed == {str(before.sale_uuid): versions[0][0], str(after.sale_uuid): versions[1][0]}
    other = _rows(
        path, "SELECT count(*) FROM dim_product WHERE product_id <> " + str(milk.product_id)
    )
    assert other == [(2,)]  # bread and cheese: one version each


def test_marts_are_rebuilt_the_same_and_state_their_grain(
    client, world, db, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _trade(client, world, db)
    path = tmp_path / "w.duckdb"
    refresh(db_url, path)
    day = dt.date(2026, 11, 22)
    build_marts(path, day, marts_dir=tmp_path / "marts")
    first = {name: _rows(path, f"SELECT * FROM {name} ORDER BY ALL") for name in GRAINS}
    again = refresh(db_url, path)
    assert again.extracted.total == 0
    build_marts(path, day)
    assert {name: _rows(path, f"SELECT * FROM {name} ORDER BY ALL") for name in GRAINS} == first
    comments = dict(_rows(path, "SELECT table_name, comment FROM duckdb_tables()"))
    for name in (
        *GRAINS,
        "dim_product",
        "dim_product_cost",
        "dim_date",
        "dim_till",
        "dim_cashier",
        "fct_sale_line",
        "fct_payment",
        "fct_stock_move",
        "fct_shift",
    ):
        assert comments[name].startswith("one row per"), name
    # nothing after the as-of date is in the marts
    assert _rows(path, "SELECT max(sale_date) FROM rpt_daily_sales") == [(day,)]
    assert _rows(path, "SELECT DISTINCT as_of FROM rpt_abc_xyz") == [(day,)]
    manifest = json.loads((tmp_path / "marts" / "_manifest.json").read_text())
    assert manifest["as_of"] == day.isoformat() and "rpt_reorder.parquet" in manifest["files"]
    assert not list((tmp_path / "marts").glob(".*.tmp"))


def test_a_line_removed_from_a_draft_order_is_not_on_order(
    client, world, db, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The hub deletes a draft's replaced lines; no change sequence shows a deletion, so the
    extract reads an order's lines again whole whenever the order changes."""
    shop = seed_shop(db, world.store_a)
    owner, manager = world.headers("owner"), world.headers("manager_a")
    supplier = client.post(
        SUPPLIERS, json={"name": "ООО «Хлебозавод»", "lead_time_days": 1}, headers=owner
    )
    supplier_id = supplier.json()["id"]
    for product in (shop.milk, shop.bread):
        client.put(f"{SUPPLIERS}/{supplier_id}/products/{product}", json={}, headers=owner)
    orders = f"/api/v1/stores/{world.store_a}/purchase-orders"
    lines = [
        {"product_id": shop.milk, "qty_ordered_milli": 36_000, "unit_cost_minor": 6_000},
        {"product_id": shop.bread, "qty_ordered_milli": 50_000, "unit_cost_minor": 3_000},
    ]
    order = client.post(orders, json={"supplier_id": supplier_id, "lines": lines}, headers=manager)
    assert order.status_code == 201, order.text
    path = tmp_path / "w.duckdb"
    refresh(db_url, path)
    url = f"{orders}/{order.json()['id']}"
    assert client.put(f"{url}/lines", json={"lines": lines[:1]}, headers=manager).is_success
    assert client.post(f"{url}/send", headers=manager).is_success
    refresh(db_url, path)
    build_marts(path, dt.datetime.now(dt.UTC).date())
    on_order = dict(
        _rows(path, "SELECT product_id, on_order_milli FROM rpt_reorder WHERE on_order_milli > 0")
    )
    assert on_order == {shop.milk: 36_000}
    assert _rows(path, "SELECT count(*) FROM raw_purchase_order_line") == [(1,)]


def test_an_unknown_product_is_no_product_in_the_marts(client, world, db, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A till sold an id the catalog does not know (RELIABILITY B6): the hub keeps it flagged;
    the warehouse keeps the sent id apart and counts the line under no product."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    at = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    stranger = Item(999_999, "Товар без карточки", 1000, 15000, 2200, barcode="4600000000017")
    sale = till.sale([stranger, shop.items()["milk"]], at=at)
    assert statuses(post(client, world.headers("device_a"), [sale])) == ["created"]
    path = tmp_path / "w.duckdb"
    refresh(db_url, path)
    build_marts(path, dt.date(2026, 11, 20))
    assert _rows(
        path,
        "SELECT product_id, sent_product_id, product_version_id, unknown_product FROM fct_sale_line "
        "ORDER BY sent_product_id",
    ) == [
        (
            shop.milk,
            shop.milk,
            _rows(
                path, f"SELECT product_version_id FROM dim_product WHERE product_id = {shop.milk}"
            )[0][0],
            False,
        ),
        (None, 999_999, None, True),
    ]
    assert _rows(path, "SELECT product_id FROM rpt_abc_xyz") == [(shop.milk,)]
    assert _rows(
        path,
        "SELECT product_id, revenue_minor FROM rpt_product_profit WHERE period = 'day' "
        "ORDER BY product_id NULLS LAST",
    ) == [(shop.milk, 8990), (None, 15000)]


def test_a_warehouse_without_product_history_starts_it(client, world, db, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A warehouse extracted before the product history existed fills it from what it has,
    so the product dimension is never silently empty."""
    seed_shop(db, world.store_a)
    path = tmp_path / "w.duckdb"
    refresh(db_url, path)
    duck = open_warehouse(path)
    duck.execute("DELETE FROM raw_product_history")
    duck.close()
    refresh(db_url, path)
    assert _rows(path, "SELECT count(*) FROM dim_product") == [(3,)]


def test_an_incremental_build_equals_a_whole_one(client, world, db, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """warehouse-refresh replaces only what the extract brought: the facts and the cost history
    after it equal a build from scratch."""
    till, items = _trade(client, world, db, days=2)
    path = tmp_path / "w.duckdb"
    assert refresh(db_url, path).built.whole
    milk = items["milk"]
    with db.write() as s:  # a delivery at a new cost between two sales
        receive(s, world.store_a, [(milk.product_id, 12_000, 6_400)])
    later = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    more = [till.sale([milk, items["bread"]], at=later + dt.timedelta(minutes=n)) for n in range(5)]
    assert set(statuses(post(client, world.headers("device_a"), more))) == {"created"}
    again = refresh(db_url, path)
    assert not again.built.whole and again.extracted.rows["sale"] == 5
    tables = ("fct_sale_line", "fct_payment", "fct_stock_move", "dim_product_cost")
    incremental = {t: _rows(path, f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
    duck = open_warehouse(path)
    try:
        build(duck, full=True)
    finally:
        duck.close()
    assert {t: _rows(path, f"SELECT * FROM {t} ORDER BY ALL") for t in tables} == incremental
    assert len(incremental["dim_product_cost"]) == 4  # milk twice, bread and cheese once
