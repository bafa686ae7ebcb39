"""The hub under test for the benchmarks: built in bulk, served in a child process.

`build_hub` makes a migrated SQLite hub with N products (reference rows through the hub's
services, the catalog as bulk inserts); `populate` fills any freshly migrated database (SQLite or
PostgreSQL) the same way, with as many paired tills as asked; `change_prices` makes a delta;
`serve` / `serve_url` run the real hub app under uvicorn on 127.0.0.1, as in a shop.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kassa import demo_catalog

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 10_000


@dataclass
class BenchHub:
    path: Path
    url: str
    token: str
    store_id: int
    product_ids: list[int]
    build_seconds: float


@dataclass
class Populated:
    """What `populate` made: one store, its cashiers, paired tills (a device token each)."""

    store_id: int
    cashier_ids: list[int]
    device_ids: list[int]
    tokens: list[str]
    product_ids: list[int]


def build_hub(directory: Path, products: int, *, seed: int = demo_catalog.SEED) -> BenchHub:
    """A migrated SQLite hub with `products` products (1-2 EAN-13 each), one store and a till."""
    from hub.migrate import upgrade

    began = time.perf_counter()
    path = directory / "hub.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    made = populate(url, products, seed=seed)
    return BenchHub(
        path, url, made.tokens[0], made.store_id, made.product_ids, time.perf_counter() - began
    )


def populate(
    url: str, products: int, *, devices: int = 1, seed: int = demo_catalog.SEED
) -> Populated:
    """Fill a freshly migrated hub database (SQLite or PostgreSQL): tax rates, one store, three
    cashiers, `devices` paired tills and `products` products (1-2 EAN-13 each).

    Reference rows go through the hub's services; products, barcodes and categories are bulk
    Core inserts with one `next_change_seq` block each, as a catalog import writes them.
    """
    from hub.catalog import reference as catalog_service
    from hub.catalog.schemas import TaxRateCreate, WeightTemplateCreate
    from hub.db import Database, next_change_seq
    from hub.devices.models import Device
    from hub.staff import security
    from hub.staff import service as staff_service
    from hub.staff.schemas import UserCreate
    from hub.stores import service as stores_service
    from hub.stores.schemas import StoreCreate

    db = Database(url)
    try:
        with db.write() as s:
            taxes = {
                code: catalog_service.create_tax_rate(
                    s, actor=None, data=TaxRateCreate(code=code, name=name, rate_bp=rate)
                ).id
                for code, name, rate in demo_catalog.TAX_RATES
            }
            store = stores_service.create_store(
                s,
                actor=None,
                data=StoreCreate(
                    name="Продукты на Ленина",
                    address="г. Москва, ул. Ленина, д. 12",
                    timezone="Europe/Moscow",
                ),
                catalog_currency="RUB",
            )
            catalog_service.create_weight_template(
                s, actor=None, data=WeightTemplateCreate(name="Весы", pattern="22PPPPPWWWWWC")
            )
            cashier_ids = [
                staff_service.create_user(
                    s,
                    actor=None,
                    data=UserCreate(
                        name=name, role="cashier", store_id=store.id, pin=f"{1234 + number}"
                    ),
                ).id
                for number, name in enumerate(("Анна Смирнова", "Мария Кузнецова", "Иван Попов"))
            ]
            tokens, tills = [], []
            for number in range(1, devices + 1):
                token, digest = security.new_token(security.DEVICE_PREFIX)
                till = Device(
                    store_id=store.id,
                    name=f"Касса {number}",
                    token_hash=digest,
                    change_seq=next_change_seq(s),
                )
                s.add(till)
                tokens.append(token)
                tills.append(till)
            s.flush()
            device_ids = [till.id for till in tills]
            store_id = store.id
        with db.write() as s:
            categories = _insert_categories(s)
            ids = _insert_products(s, products, categories, taxes, seed)
    finally:
        db.dispose()
    return Populated(store_id, cashier_ids, device_ids, tokens, ids)


def _insert_categories(s: Any) -> dict[tuple[str, ...], int]:
    from sqlalchemy import insert

    from hub.catalog.models import Category
    from hub.db import next_change_seq

    paths = sorted(
        {
            section.path[:depth]
            for section in demo_catalog.SECTIONS
            for depth in range(1, len(section.path) + 1)
        },
        key=lambda path: (len(path), path),
    )
    last = next_change_seq(s, len(paths))
    ids = {path: number for number, path in enumerate(paths, start=1)}
    s.execute(
        insert(Category),
        [
            {
                "id": ids[path],
                "parent_id": ids[path[:-1]] if len(path) > 1 else None,
                "name": path[-1],
                "active": True,
                "change_seq": last - len(paths) + ids[path],
            }
            for path in paths
        ],
    )
    return ids


def _insert_products(
    s: Any, count: int, categories: dict[tuple[str, ...], int], taxes: dict[str, int], seed: int
) -> list[int]:
    from sqlalchemy import insert

    from hub.catalog.models import Barcode, Product, fold
    from hub.db import next_change_seq, utcnow

    first = next_change_seq(s, count) - count + 1
    now = utcnow()
    products: list[dict[str, Any]] = []
    barcodes: list[dict[str, Any]] = []
    for number, item in enumerate(demo_catalog.generate(count, seed=seed), start=1):
        products.append(
            {
                "id": number,
                "sku": item.sku,
                "name": item.name,
                "sku_folded": fold(item.sku),
                "name_folded": fold(item.name),
                "category_id": categories[item.category],
                "unit": item.unit,
                "price_minor": item.price_minor,
                "tax_rate_id": taxes[item.tax_code],
                "scale_code": item.scale_code,
                "active": True,
                "change_seq": first + number - 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        barcodes += [{"code": code, "product_id": number} for code in item.barcodes]
    for start in range(0, len(products), CHUNK):
        s.execute(insert(Product), products[start : start + CHUNK])
    for start in range(0, len(barcodes), CHUNK):
        s.execute(insert(Barcode), barcodes[start : start + CHUNK])
    return [p["id"] for p in products]


def change_prices(hub: BenchHub, count: int, *, seed: int = 7) -> set[int]:
    """Raise `count` random prices by 10 RUB, one change_seq each, as the catalog service does."""
    from sqlalchemy import select, update

    from hub.catalog.models import Product
    from hub.db import Database, next_change_seq, utcnow

    chosen = sorted(random.Random(seed).sample(hub.product_ids, count))
    db = Database(hub.url)
    try:
        with db.write() as s:
            first = next_change_seq(s, count) - count + 1
            query = select(Product.id, Product.price_minor).where(Product.id.in_(chosen))
            prices = dict(s.execute(query).all())
            now = utcnow()
            s.execute(
                update(Product),
                [
                    {
                        "id": pid,
                        "price_minor": prices[pid] + 1000,
                        "change_seq": first + i,
                        "updated_at": now,
                    }
                    for i, pid in enumerate(chosen)
                ],
            )
    finally:
        db.dispose()
    return set(chosen)


@contextlib.contextmanager
def serve(hub: BenchHub) -> Iterator[str]:
    with serve_url(hub.url) as base_url:
        yield base_url


@contextlib.contextmanager
def serve_url(database_url: str, *, env: dict[str, str] | None = None) -> Iterator[str]:
    """The hub app on `database_url` under uvicorn in a child process on a free port of
    127.0.0.1; `env` adds settings (KASSA_...) for it.

    (Not `uvicorn --fd`: uvicorn takes an inherited socket for AF_UNIX, so TCP_NODELAY is never
    set and every response with a body waits ~40 ms for a delayed ACK.)
    """
    env = {
        **os.environ,
        "KASSA_DATABASE_URL": database_url,
        "KASSA_ENV": "dev",
        "KASSA_COOKIE_SECURE": "false",
        **(env or {}),
    }
    for _attempt in range(5):  # another process may grab the port between probe and bind
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "hub.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
            try:
                if _wait_ready(f"http://127.0.0.1:{port}", process, log):
                    yield f"http://127.0.0.1:{port}"
                    return
            finally:
                _stop(process)
    raise RuntimeError("could not start the hub on a free port")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Any) -> bool:
    """True once /healthz answers; False if the port was taken; raises on any other failure."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            if "address already in use" in output.lower():
                return False
            raise RuntimeError(f"the hub exited: {output[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return True
        time.sleep(0.1)
    raise RuntimeError("the hub did not answer /healthz within 60 s")
