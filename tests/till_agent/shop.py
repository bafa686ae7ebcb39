"""A small shop's catalog fed straight into a till's cache (no hub): Russian names, pieces and
weighed goods, a scale-label template, two cashiers with real argon2 PIN hashes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from argon2 import PasswordHasher

from till_agent.catalog import CatalogCache
from till_agent.core import Till
from till_agent.journal import Journal
from till_agent.printer import PrinterTransport
from till_agent.receipt import PrinterLayout
from wire.barcodes import ean_check_digit
from wire.v1 import CatalogDelta


class Clock:
    """The till's clock, set by the test (starts 2026-11-27 09:00 UTC)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


# Cheap parameters: the hub's real ones cost ~50 ms a verify, which tests do not need.
_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PINS = {1: "1111", 2: "2222"}


def ean(body: str) -> str:
    return body + str(ean_check_digit(body))


MILK = ean("460000000001")
BREAD = ean("460000000002")
TEA = ean("460000000003")
CHEESE = ean("460000000004")  # sold by weight: its plain barcode needs a weight


def scale_label(scale_code: str, grams: int) -> str:
    """A '22PPPPPWWWWWC' label: product code 5 digits, weight in grams 5 digits."""
    return ean(f"22{int(scale_code):05d}{grams:05d}")


def delta() -> CatalogDelta:
    products = [
        (1, "Молоко «Простоквашино» 3,2% 1 л", "piece", 8990, 1, [MILK], None),
        (2, "Хлеб Бородинский", "piece", 5450, 1, [BREAD], None),
        (3, "Чай чёрный 100 пак.", "piece", 24900, 2, [TEA], None),
        (4, "Сыр Российский весовой", "kg", 89900, 1, [CHEESE], "123"),
        (5, "Яблоки Голден", "kg", 15990, 1, [], "77"),
    ]
    return CatalogDelta.model_validate(
        {
            "cursor": 0,
            "next_cursor": 10,
            "has_more": False,
            "store": {
                "id": 1,
                "name": "Магазин «У дома»",
                "address": "г. Москва, ул. Ленина, д. 1",
                "timezone": "Europe/Moscow",
                "currency": "RUB",
                "language": "ru",
                "receipt_header": "ИНН 7701234567",
                "receipt_footer": "Спасибо за покупку!",
            },
            "tax_rates": [
                {"id": 1, "code": "vat10", "name": "НДС 10%", "rate_bp": 1000},
                {"id": 2, "code": "vat22", "name": "НДС 22%", "rate_bp": 2200},
            ],
            "categories": [{"id": 1, "parent_id": None, "name": "Продукты", "active": True}],
            "products": [
                {
                    "id": pid,
                    "sku": f"SKU-{pid}",
                    "name": name,
                    "category_id": 1,
                    "unit": unit,
                    "price_minor": price,
                    "tax_rate_id": rate,
                    "vat_rate_bp": 1000 if rate == 1 else 2200,
                    "barcodes": codes,
                    "scale_code": scale,
                    "active": True,
                }
                for pid, name, unit, price, rate, codes, scale in products
            ],
            "weight_templates": [
                {"id": 1, "name": "Весы", "pattern": "22PPPPPWWWWWC", "active": True}
            ],
            "cashiers": [
                {
                    "id": 1,
                    "name": "Иванова Мария",
                    "pin_hash": _HASHER.hash(PINS[1]),
                    "max_discount_bp": 1000,
                    "active": True,
                },
                {
                    "id": 2,
                    "name": "Петров Олег",
                    "pin_hash": _HASHER.hash(PINS[2]),
                    "max_discount_bp": 0,
                    "active": True,
                },
            ],
        }
    )


def make_till(
    directory: Path,
    printer: PrinterTransport,
    *,
    layout: PrinterLayout | None = None,
    **kwargs: object,
) -> Till:
    catalog = CatalogCache(directory / "catalog.db")
    if catalog.count() == 0:
        catalog.apply(delta(), None)
    journal = Journal(directory / "journal.db")
    return Till(journal, catalog, printer, layout=layout, till_name="Касса 1", **kwargs)  # type: ignore[arg-type]
