"""The warehouse's extract from a real hub database (SQLite and PostgreSQL, through ADBC):
every hub table the warehouse reads lands in the raw layer; a second run adds nothing; new and
updated rows come on the next run; row counts and money per store and day equal the hub's."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.sales.models import Sale, SaleLine, SalePayment
from kassa.till_sim import Item
from tests.hub.sales_fixtures import new_till, post, seed_shop, statuses
from warehouse.extract import ExtractError, cursors, extract, open_warehouse
from warehouse.sources import SOURCES


def _trade(client: Any, world: Any, db: Any, days: int = 3, per_day: int = 20) -> Any:
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    rng = random.Random(5)
    items = shop.items()
    start = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    sales = []
    for day in range(days):
        for n in range(per_day):
            basket = [items["milk"]] + ([items["bread"]] if rng.random() < 0.5 else [])
            if rng.random() < 0.3:
                cheese = items["cheese"]
                basket.append(Item(cheese.product_id, cheese.name, rng.randint(100, 900), 89900))
            at = start + dt.timedelta(days=day, minutes=20 * n)
            sales.append(till.sale(basket, tender=rng.choice(("cash", "card")), at=at))
    sales.append(till.refund(sales[3], [(1, 1000)], at=start + dt.timedelta(days=days)))
    for chunk in range(0, len(sales), 50):
        assert set(
            statuses(post(client, world.headers("device_a"), sales[chunk : chunk + 50]))
        ) == {"created"}
    return till, items


def _hub_per_day(db: Any) -> dict[tuple[int, str, str], tuple[int, int]]:
    with db.read() as s:
        rows = s.execute(
            select(Sale.store_id, Sale.created_at, Sale.kind, SaleLine.amount_minor).join(
                SaleLine, SaleLine.sale_id == Sale.id
            )
        ).all()
    out: dict[tuple[int, str, str], tuple[int, int]] = {}
    for store_id, created_at, kind, amount in rows:
        key = (store_id, created_at.astimezone(dt.UTC).date().isoformat(), kind)
        count, total = out.get(key, (0, 0))
        out[key] = (count + 1, total + amount)
    return out


def _counts(db: Any) -> dict[str, int]:
    with db.read() as s:
        return {
            model.__tablename__: int(s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Sale, SaleLine, SalePayment)
        }


def test_extract_is_complete_incremental_and_idempotent(
    client, world, db, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    till, items = _trade(client, world, db)
    duck = open_warehouse(tmp_path / "warehouse.duckdb")
    first = extract(db_url, duck)
    assert first.rows["sale"] == _counts(db)["sale"] and first.rows["sale_line"] > 0
    for table, count in _counts(db).items():
        assert duck.execute(f"SELECT count(*) FROM raw_{table}").fetchall()[0][0] == count
    per_day = {
        (store_id, day.isoformat(), kind): (int(n), int(total))
        for store_id, day, kind, n, total in duck.execute(
            "SELECT s.store_id, CAST(s.created_at AS DATE), s.kind, count(*), sum(l.amount_minor) "
            "FROM raw_sale s JOIN raw_sale_line l ON l.sale_id = s.id GROUP BY ALL"
        ).fetchall()
    }
    assert per_day == _hub_per_day(db)  # exact: counts and money per store-day

    again = extract(db_url, duck)  # nothing new: nothing added, the cursors stay
    assert again.total == 0 and cursors(duck) == {t: c for t, c in first.cursors.items() if c}

    # New sales and an updated row (a price change) come on the next run, and only they.
    more = [
        till.sale([items["bread"]], at=dt.datetime(2026, 11, 25, 10, n, tzinfo=dt.UTC))
        for n in range(5)
    ]
    assert set(statuses(post(client, world.headers("device_a"), more))) == {"created"}
    with db.write() as s:
        from hub.catalog.models import Product
        from hub.db import next_change_seq

        product = s.scalars(select(Product).order_by(Product.id)).first()
        product.price_minor += 100
        product.change_seq = next_change_seq(s)
        product_id, new_price = product.id, product.price_minor
    third = extract(db_url, duck)
    assert third.rows["product"] == 1 and third.rows["sale"] == 5 and third.rows["sale_line"] == 5
    assert duck.execute("SELECT count(*) FROM raw_sale").fetchall()[0][0] == _counts(db)["sale"]
    assert duck.execute(
        "SELECT count(*), max(price_minor) FROM raw_product WHERE id = ?", [product_id]
    ).fetchall() == [(1, new_price)]
    duck.close()


def test_every_source_has_its_raw_table_and_a_bad_hub_url_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    duck = open_warehouse(tmp_path / "w.duckdb")
    with pytest.raises(ExtractError, match="no hub database"):
        extract(f"sqlite:///{tmp_path / 'missing.db'}", duck)
    with pytest.raises(ExtractError, match="SQLite or PostgreSQL"):
        extract("mysql://x/y", duck)
    not_a_hub = tmp_path / "notes.db"
    not_a_hub.write_text("not a database\n", encoding="utf-8")
    with pytest.raises(ExtractError, match=r"change counters .*KASSA_DATABASE_URL"):
        extract(f"sqlite:///{not_a_hub}", duck)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a database, but never migrated
    with pytest.raises(ExtractError, match="kassa hub migrate"):
        extract(f"sqlite:///{empty}", duck)
    tables = {r[0] for r in duck.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {s.raw for s in SOURCES} <= tables
    duck.close()
