"""Fixtures shared by the hub's stock and purchasing tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def products(db) -> list[int]:  # type: ignore[no-untyped-def]
    """Three products: milk (piece), cheese (kg), bread (piece)."""
    from hub.catalog.models import Product, TaxRate
    from hub.db import next_change_seq

    with db.write() as s:
        rate = TaxRate(code="vat10", name="НДС 10%", rate_bp=1000, change_seq=next_change_seq(s))
        s.add(rate)
        s.flush()
        rows = [
            Product(
                sku=sku,
                name=name,
                unit=unit,
                price_minor=price,
                tax_rate_id=rate.id,
                change_seq=next_change_seq(s),
            )
            for sku, name, unit, price in [
                ("MILK", "Молоко 1 л", "piece", 8990),
                ("CHEESE", "Сыр Российский", "kg", 79900),
                ("BREAD", "Хлеб Бородинский", "piece", 5500),
            ]
        ]
        s.add_all(rows)
        s.flush()
        return [p.id for p in rows]


@pytest.fixture
def settings(settings, tmp_path):  # type: ignore[no-untyped-def]
    """The root conftest's settings, with reports read from this test's own directory (never
    from the checkout's var/reports or a KASSA_REPORTS_DIR of the shell)."""
    settings.reports_dir = str(tmp_path / "reports")
    return settings
