"""The till's catalog cache against the real hub feed: paged initial load, 304 when unchanged,
deltas, offline lookups by barcode and scale label, literal search."""

from __future__ import annotations

from hub.catalog.models import Barcode, Category, Product, TaxRate, WeightTemplate
from hub.db import next_change_seq
from till_agent.catalog import CatalogCache
from wire.barcodes import ean_check_digit


def _seed(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with db.write() as s:
        vat = TaxRate(code="vat10", name="НДС 10%", rate_bp=1000, change_seq=next_change_seq(s))
        cat = Category(name="Продукты", change_seq=next_change_seq(s))
        s.add_all(
            [
                vat,
                cat,
                WeightTemplate(name="Весы", pattern="22PPPPPWWWWWC", change_seq=next_change_seq(s)),
            ]
        )
        s.flush()
        ids = {}
        for i, (name, unit, price, scale) in enumerate(
            [
                ("Молоко 3,2% 1 л", "piece", 8990, None),
                ("Сок 100%_яблоко", "piece", 12900, None),
                ("Сыр Российский", "kg", 89900, "123"),
            ]
        ):
            product = Product(
                sku=f"SKU{i}",
                name=name,
                category_id=cat.id,
                unit=unit,
                price_minor=price,
                tax_rate_id=vat.id,
                scale_code=scale,
                change_seq=next_change_seq(s),
            )
            product.barcodes = [Barcode(code=f"460000000{i:04d}")]
            s.add(product)
            s.flush()
            ids[name] = product.id
        return ids


def test_load_poll_delta_and_lookups(client, world, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(db)
    cache = CatalogCache(tmp_path / "catalog.db")
    token = world.tokens["device_a"]
    assert cache.pull(client, token, limit=2) >= 2  # paged
    assert cache.count() == 3
    assert cache.pull(client, token) == 0  # unchanged: one 304
    with db.write() as s:
        milk = s.get(Product, ids["Молоко 3,2% 1 л"])
        milk.price_minor = 9490
        milk.change_seq = next_change_seq(s)
    assert cache.pull(client, token) == 1
    found = cache.scan("4600000000000")
    assert found is not None and (found.product.name, found.unit_price_minor) == (
        "Молоко 3,2% 1 л",
        9490,
    )
    body = "2200123" + "00350"
    label = body + str(ean_check_digit(body))
    weighed = cache.scan(label)
    assert weighed is not None and (weighed.product.name, weighed.qty_milli) == (
        "Сыр Российский",
        350,
    )
    assert cache.scan("0000000000000") is None
    assert [p.name for p in cache.search("100%_")] == ["Сок 100%_яблоко"]
    assert [p.name for p in cache.search("%")] == ["Молоко 3,2% 1 л", "Сок 100%_яблоко"]
    assert [p.name for p in cache.search("_")] == ["Сок 100%_яблоко"]
    assert [p.name for p in cache.search("СЫР")] == ["Сыр Российский"]
    assert cache.store() is not None and cache.store().id == world.store_a
    assert world.ids["cashier_a"] in [c.id for c in cache.cashiers()]
    cache.close()
    # Offline: a fresh process finds everything in the file.
    again = CatalogCache(tmp_path / "catalog.db")
    assert again.count() == 3 and again.scan(label) is not None
    again.close()
