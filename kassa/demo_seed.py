"""Seeding the demo chain through the hub's own services and its real CSV import.

Every step is one `db.write()` transaction through a hub service function (tax rates, stores,
the scale-label template, staff, pairing) or the import's parse, dry-run plan and apply. Also
writes the credential files the demo leaves behind (tills.json, staff.json), readable only by
their owner.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from hub.catalog import importer
from hub.catalog import reference as catalog_service
from hub.catalog.schemas import TaxRateCreate, WeightTemplateCreate
from hub.db import Database
from hub.devices import service as devices_service
from hub.settings import Settings
from hub.staff import service as staff_service
from hub.staff.schemas import UserCreate
from hub.stores import service as stores_service
from hub.stores.schemas import StoreCreate
from kassa import demo_catalog
from wire.money import CURRENCY_EXPONENTS

HUB_URL = "http://127.0.0.1:8000"
OWNER_EMAIL = "owner@demo.kassa"
WEIGHT_PATTERN = "22PPPPPWWWWWC"
TILLS_PER_STORE = 2

STORES: tuple[dict[str, str], ...] = (
    {
        "name": "Продукты на Ленина",
        "address": "г. Москва, ул. Ленина, д. 12",
        "timezone": "Europe/Moscow",
        "currency": "RUB",
        "language": "ru",
        "receipt_header": "ООО «Демо-Ритейл»\nМагазин «Продукты на Ленина»\nИНН 7701234567",
        "receipt_footer": "Спасибо за покупку!\nЖдём вас снова: ежедневно 8:00-23:00",
    },
    {
        "name": "Продукты на Невском",
        "address": "г. Санкт-Петербург, Невский пр., д. 48",
        "timezone": "Europe/Moscow",
        "currency": "RUB",
        "language": "ru",
        "receipt_header": "ООО «Демо-Ритейл»\nМагазин «Продукты на Невском»\nИНН 7701234567",
        "receipt_footer": "Спасибо за покупку!\nОбмен и возврат - с чеком в течение 14 дней",
    },
)
# Per store: (manager name, manager e-mail, cashier names)
STAFF: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Ольга Петрова",
        "manager.lenina@demo.kassa",
        ("Анна Смирнова", "Мария Кузнецова", "Иван Попов"),
    ),
    (
        "Дмитрий Соколов",
        "manager.nevsky@demo.kassa",
        ("Елена Васильева", "Сергей Новиков", "Татьяна Морозова"),
    ),
)


@dataclass(frozen=True)
class Login:
    role: str
    name: str
    store: str  # "" for the owner
    login: str  # e-mail, or "PIN" for cashiers
    secret: str  # password or PIN


@dataclass(frozen=True)
class Till:
    store_id: int
    store: str
    device_id: int
    name: str
    token: str


def seed_tax_rates(db: Database) -> None:
    with db.write() as s:
        for code, name, rate_bp in demo_catalog.TAX_RATES:
            catalog_service.create_tax_rate(
                s, actor=None, data=TaxRateCreate(code=code, name=name, rate_bp=rate_bp)
            )


def seed_stores(db: Database, settings: Settings) -> list[tuple[int, str]]:
    with db.write() as s:
        created = [
            stores_service.create_store(
                s,
                actor=None,
                data=StoreCreate.model_validate(values),
                catalog_currency=settings.catalog_currency,
            )
            for values in STORES
        ]
        return [(store.id, store.name) for store in created]


def seed_template(db: Database) -> None:
    with db.write() as s:
        catalog_service.create_weight_template(
            s,
            actor=None,
            data=WeightTemplateCreate(name="Весы: вес в граммах", pattern=WEIGHT_PATTERN),
        )


def catalog_csv(products: int) -> bytes:
    """The demo catalog as an import file in exactly the format the hub exports."""
    rows = [list(importer.COLUMNS)]
    for product in demo_catalog.generate(products):
        rows.append(
            [
                product.sku,
                product.name,
                "/".join(product.category),
                product.unit,
                importer.format_minor(product.price_minor, 2),
                product.tax_code,
                " ".join(product.barcodes),
                "1",
                product.scale_code or "",
            ]
        )
    return importer.to_csv(rows)


def import_catalog(db: Database, settings: Settings, products: int, csv_path: Path) -> int:
    """Dry-run, then apply, the hub's import of the generated CSV; returns products created."""
    data = catalog_csv(products)
    csv_path.write_bytes(data)
    exponent = CURRENCY_EXPONENTS[settings.catalog_currency]
    parsed = importer.read_file(data, filename=csv_path.name, exponent=exponent)
    with db.read() as s:
        report = importer.plan(s, parsed).report()
    if report.errors:
        first = "; ".join(f"row {e.row} {e.column}: {e.message}" for e in report.errors[:5])
        raise RuntimeError(f"the demo catalog fails the import dry-run: {first}")
    with db.write() as s:
        applied = importer.apply(s, actor=None, parsed=parsed, filename=csv_path.name)
    return applied.to_create


def _pin() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def seed_staff(db: Database, stores: list[tuple[int, str]]) -> list[Login]:
    logins = [Login("owner", "Владелец сети", "", OWNER_EMAIL, secrets.token_urlsafe(12))]
    with db.write() as s:
        staff_service.create_user(
            s,
            actor=None,
            data=UserCreate(
                name=logins[0].name, role="owner", email=OWNER_EMAIL, password=logins[0].secret
            ),
        )
        for (store_id, store), (manager, email, cashiers) in zip(stores, STAFF, strict=True):
            login = Login("manager", manager, store, email, secrets.token_urlsafe(12))
            staff_service.create_user(
                s,
                actor=None,
                data=UserCreate(
                    name=manager,
                    role="manager",
                    store_id=store_id,
                    email=email,
                    password=login.secret,
                    max_discount_bp=2000,
                ),
            )
            logins.append(login)
            for name in cashiers:
                login = Login("cashier", name, store, "PIN", _pin())
                staff_service.create_user(
                    s,
                    actor=None,
                    data=UserCreate(
                        name=name,
                        role="cashier",
                        store_id=store_id,
                        pin=login.secret,
                        max_discount_bp=500,
                    ),
                )
                logins.append(login)
    return logins


def pair_tills(db: Database, settings: Settings, stores: list[tuple[int, str]]) -> list[Till]:
    """Pair each till as a real one is: a one-time code, then `pair` trades it for a token."""
    tills = []
    for store_id, store in stores:
        for number in range(1, TILLS_PER_STORE + 1):
            with db.write() as s:
                code, _row = devices_service.create_pairing_code(
                    s,
                    actor=None,
                    store_id=store_id,
                    device_name=f"Касса {number}",
                    minutes=settings.pairing_code_minutes,
                )
            token, device = devices_service.pair(
                db,
                code=code,
                version="kassa-demo",
                ip=None,
                window_seconds=settings.login_window_seconds,
            )
            tills.append(Till(store_id, store, device.id, device.name, token))
    return tills


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds credentials)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)


def tills_document(tills: list[Till]) -> str:
    return json.dumps(
        {
            "hub_url": HUB_URL,
            "tills": [
                {
                    "store_id": t.store_id,
                    "store": t.store,
                    "device_id": t.device_id,
                    "name": t.name,
                    "token": t.token,
                }
                for t in tills
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def staff_document(logins: list[Login]) -> str:
    return json.dumps(
        [
            {"role": x.role, "name": x.name, "store": x.store, "login": x.login, "secret": x.secret}
            for x in logins
        ],
        ensure_ascii=False,
        indent=2,
    )
