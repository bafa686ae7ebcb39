"""The till catalog feed: cursor paging, ETag, store scoping, PIN hashes."""

from __future__ import annotations

from hub.catalog.models import Barcode, Category, Product, TaxRate
from hub.db import next_change_seq
from wire.v1 import CatalogDelta


def _seed(db, n: int = 7) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        vat = TaxRate(code="vat22", name="НДС 22%", rate_bp=2200, change_seq=next_change_seq(s))
        cat = Category(name="Молочные продукты", change_seq=next_change_seq(s))
        s.add_all([vat, cat])
        s.flush()
        for i in range(n):
            product = Product(
                sku=f"SKU{i}",
                name=f"Молоко {i}",
                category_id=cat.id,
                unit="piece",
                price_minor=8990 + i,
                tax_rate_id=vat.id,
                change_seq=next_change_seq(s),
            )
            product.barcodes = [Barcode(code=f"460000000{i:04d}")]
            s.add(product)


def _pages(client, headers, cursor: int = 0, limit: int = 3):  # type: ignore[no-untyped-def]
    pages = []
    while True:
        response = client.get(
            f"/api/v1/till/catalog?cursor={cursor}&limit={limit}", headers=headers
        )
        assert response.status_code == 200, response.text
        delta = CatalogDelta.model_validate_json(response.content)
        pages.append(delta)
        cursor = delta.next_cursor
        if not delta.has_more:
            return pages, cursor, response.headers["ETag"]


def test_full_feed_pages_through_everything_once(client, world, db) -> None:  # type: ignore[no-untyped-def]
    _seed(db)
    pages, cursor, _etag = _pages(client, world.headers("device_a"))
    products = [p for page in pages for p in page.products]
    assert sorted(p.sku for p in products) == [f"SKU{i}" for i in range(7)]
    assert len({p.id for p in products}) == 7
    first = next(p for p in products if p.sku == "SKU0")
    assert first.barcodes == ("4600000000000",)
    assert first.vat_rate_bp == 2200
    assert first.price_minor == 8990
    stores = [page.store for page in pages if page.store is not None]
    assert [s.id for s in stores] == [world.store_a]
    assert stores[0].timezone == "Europe/Moscow"
    cashiers = {c.id: c for page in pages for c in page.cashiers}
    assert set(cashiers) == {world.ids["cashier_a"]}  # no managers, no other store's staff
    assert cashiers[world.ids["cashier_a"]].active is True
    assert cashiers[world.ids["cashier_a"]].pin_hash.startswith("$argon2id$")
    assert all(
        len(p.products)
        + len(p.categories)
        + len(p.tax_rates)
        + len(p.cashiers)
        + (p.store is not None)
        <= 3
        for p in pages
    )
    assert cursor > 0


def test_delta_after_a_price_change_and_etag(client, world, db) -> None:  # type: ignore[no-untyped-def]
    _seed(db)
    headers = world.headers("device_a")
    _, cursor, etag = _pages(client, headers, limit=1000)
    unchanged = client.get(
        f"/api/v1/till/catalog?cursor={cursor}&limit=1000",
        headers={**headers, "If-None-Match": etag},
    )
    assert unchanged.status_code == 304
    with db.write() as s:
        product = s.query(Product).filter_by(sku="SKU3").one()
        product.price_minor = 9999
        product.change_seq = next_change_seq(s)
    changed = client.get(
        f"/api/v1/till/catalog?cursor={cursor}&limit=1000",
        headers={**headers, "If-None-Match": etag},
    )
    assert changed.status_code == 200
    delta = CatalogDelta.model_validate_json(changed.content)
    assert [(p.sku, p.price_minor) for p in delta.products] == [("SKU3", 9999)]
    assert delta.has_more is False
    assert delta.next_cursor > cursor


def test_a_store_b_till_never_sees_store_a_settings_or_staff(client, world, db) -> None:  # type: ignore[no-untyped-def]
    from hub.devices.models import Device
    from hub.staff import security

    token, digest = security.new_token(security.DEVICE_PREFIX)
    with db.write() as s:
        s.add(
            Device(
                store_id=world.store_b,
                name="Касса Б",
                token_hash=digest,
                change_seq=next_change_seq(s),
            )
        )
    pages, _cursor, _etag = _pages(client, {"Authorization": f"Bearer {token}"}, limit=1000)
    stores = [p.store for p in pages if p.store is not None]
    assert [s.id for s in stores] == [world.store_b]
    assert [c for p in pages for c in p.cashiers] == []


def test_a_disabled_cashier_is_deactivated_on_the_till(client, world, db) -> None:  # type: ignore[no-untyped-def]
    headers = world.headers("device_a")
    _p, cursor, _e = _pages(client, headers, limit=1000)
    response = client.patch(
        f"/api/v1/users/{world.ids['cashier_a']}",
        json={"active": False},
        headers=world.headers("manager_a"),
    )
    assert response.status_code == 200
    pages, _c, _e = _pages(client, headers, cursor=cursor, limit=1000)
    (cashier,) = [c for p in pages for c in p.cashiers]
    assert cashier.id == world.ids["cashier_a"]
    assert cashier.active is False
    assert cashier.pin_hash is None


def test_a_cursor_ahead_of_the_hub_asks_for_a_reload(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/till/catalog?cursor=999999", headers=world.headers("device_a"))
    assert response.status_code == 409
    assert response.json()["detail"][0]["field"] == "cursor"


def test_bad_cursor_is_a_422_naming_it(client, world) -> None:  # type: ignore[no-untyped-def]
    for bad in ("-1", "abc", str(2**63), "1.5"):
        response = client.get(
            f"/api/v1/till/catalog?cursor={bad}", headers=world.headers("device_a")
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "cursor"
