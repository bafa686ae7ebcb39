"""`kassa demo`: a demo chain on a fresh embedded SQLite hub, seeded through the hub's own code.

Every step goes through the hub's service functions (tax rates, stores, the scale-label
template, staff, pairing) and its real CSV import (parse, dry-run plan, apply), each in one
`db.write()` transaction. Then the demo proves the result over HTTP: a paired till pulls the
whole catalog feed page by page, and the owner signs in and lists the stores.

What it leaves in `data_dir`:
  hub.db        the hub database (serve it with `kassa hub serve`)
  catalog.csv   the catalog in the hub's import format (re-import it, or edit and import)
  tills.json    the paired tills' device tokens, for till agents (0600)
  staff.json    the owner's and managers' passwords and the cashiers' PINs (0600)
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import func, select

from hub.catalog import importer
from hub.catalog import reference as catalog_service
from hub.catalog.models import Barcode, Category, Product, TaxRate
from hub.catalog.schemas import TaxRateCreate, WeightTemplateCreate
from hub.db import Database
from hub.devices import service as devices_service
from hub.devices.models import Device
from hub.migrate import upgrade
from hub.settings import Settings
from hub.staff import service as staff_service
from hub.staff.models import User
from hub.staff.schemas import UserCreate
from hub.stores import service as stores_service
from hub.stores.models import Store
from hub.stores.schemas import StoreCreate
from kassa import demo_catalog
from wire.barcodes import WeightTemplate as LabelTemplate
from wire.barcodes import decode_weighted, ean_check_digit
from wire.money import CURRENCY_EXPONENTS, Money, line_amount_minor
from wire.v1 import CatalogDelta

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


@dataclass
class FeedProof:
    """What one till received from the feed, over HTTP."""

    pages: int = 0
    product_ids: set[int] = field(default_factory=set)
    categories: int = 0
    cashiers: int = 0  # active, with a PIN: who can sign in at this till
    seconds: float = 0.0
    not_modified: bool = False  # a poll with the last ETag answered 304
    label: str = ""  # a weighted scale label decoded with what the feed delivered


@dataclass
class DemoSummary:
    data_dir: Path
    database_url: str
    catalog_csv: Path
    tills_json: Path
    staff_json: Path
    stores: int
    tills: int
    owners: int
    managers: int
    cashiers: int
    tax_rates: int
    categories: int
    category_depth: int
    products: int
    barcodes: int
    weighted_products: int
    import_created: int
    feed_pages: int
    feed_products: int
    feed_categories: int
    feed_cashiers: int
    feed_seconds: float
    feed_not_modified: bool
    feed_till: str
    label_example: str
    owner_email: str
    owner_password: str
    stores_seen_by_owner: list[str]
    barcode_lookup: str
    logins: list[Login]
    seconds: float


def run_demo(
    data_dir: str = "var/demo", products: int = 2000, *, console: Console | None = None
) -> DemoSummary:
    """Seed a demo chain on a fresh SQLite hub in `data_dir`, prove it over HTTP, summarize."""
    started = time.perf_counter()
    console = console or Console()
    root = Path(data_dir).resolve()
    db_path = _fresh(root)
    url = f"sqlite:///{db_path}"
    settings = Settings(database_url=url, env="dev", cookie_secure=False)

    with console.status("Migrating a fresh hub database..."):
        upgrade(url)
    db = Database(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        with console.status("Seeding tax rates, stores and the scale-label template..."):
            _seed_tax_rates(db)
            stores = _seed_stores(db, settings)
            _seed_template(db)
        with console.status(f"Importing {products} products through the hub's CSV import..."):
            csv_path = root / "catalog.csv"
            created = _import_catalog(db, settings, products, csv_path)
        with console.status("Creating staff (argon2 hashes take a moment)..."):
            logins = _seed_staff(db, stores)
        with console.status("Pairing tills..."):
            tills = _pair_tills(db, settings, stores)
        tills_json = root / "tills.json"
        _write_private(tills_json, _tills_document(tills))
        staff_json = root / "staff.json"
        _write_private(staff_json, _staff_document(logins))
        owner = next(login for login in logins if login.role == "owner")
        with console.status("Proving it over HTTP: a till pulls the feed, the owner signs in..."):
            proof, seen, lookup = _prove(settings, db, tills[0], owner)
        summary = _summarize(
            db,
            root=root,
            url=url,
            csv_path=csv_path,
            tills_json=tills_json,
            staff_json=staff_json,
            created=created,
            proof=proof,
            till=tills[0],
            owner=owner,
            seen=seen,
            lookup=lookup,
            logins=logins,
            started=started,
        )
    finally:
        db.dispose()
    _print_summary(console, summary)
    return summary


# --- seeding -------------------------------------------------------------------------------


def _fresh(root: Path) -> Path:
    """Delete the previous demo's database (and its WAL files) so every run starts clean."""
    root.mkdir(parents=True, exist_ok=True)
    db_path = root / "hub.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    for name in ("catalog.csv", "tills.json", "staff.json"):
        (root / name).unlink(missing_ok=True)
    return db_path


def _seed_tax_rates(db: Database) -> None:
    with db.write() as s:
        for code, name, rate_bp in demo_catalog.TAX_RATES:
            catalog_service.create_tax_rate(
                s, actor=None, data=TaxRateCreate(code=code, name=name, rate_bp=rate_bp)
            )


def _seed_stores(db: Database, settings: Settings) -> list[tuple[int, str]]:
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


def _seed_template(db: Database) -> None:
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


def _import_catalog(db: Database, settings: Settings, products: int, csv_path: Path) -> int:
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


def _seed_staff(db: Database, stores: list[tuple[int, str]]) -> list[Login]:
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


def _pair_tills(db: Database, settings: Settings, stores: list[tuple[int, str]]) -> list[Till]:
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


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds credentials)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)


def _tills_document(tills: list[Till]) -> str:
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


def _staff_document(logins: list[Login]) -> str:
    return json.dumps(
        [
            {"role": x.role, "name": x.name, "store": x.store, "login": x.login, "secret": x.secret}
            for x in logins
        ],
        ensure_ascii=False,
        indent=2,
    )


# --- proving it over HTTP ------------------------------------------------------------------


def _feed_pages(client: Any, token: str, cursor: int = 0) -> Iterator[tuple[CatalogDelta, str]]:
    """Follow the till feed from `cursor` while `has_more`: (delta, ETag) per page."""
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        response = client.get("/api/v1/till/catalog", params={"cursor": cursor}, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"catalog feed answered {response.status_code}: {response.text}")
        delta = CatalogDelta.model_validate_json(response.content)
        yield delta, response.headers["ETag"]
        cursor = delta.next_cursor
        if not delta.has_more:
            return


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port of 127.0.0.1 in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the hub did not start: see the log above")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _poll(client: Any, token: str, cursor: int, etag: str) -> tuple[int, str]:
    response = client.get(
        "/api/v1/till/catalog",
        params={"cursor": cursor},
        headers={"Authorization": f"Bearer {token}", "If-None-Match": etag},
    )
    return response.status_code, response.headers.get("ETag", "")


def _prove(
    settings: Settings, db: Database, till: Till, owner: Login
) -> tuple[FeedProof, list[str], str]:
    """Over real HTTP: the till pulls the whole feed, then polls; the owner signs in."""
    import httpx

    from hub.app import create_app

    proof = FeedProof()
    templates: list[LabelTemplate] = []
    weighted: list[Any] = []
    with (
        serving(create_app(settings, db)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        began = time.perf_counter()
        cursor, etag = 0, ""
        for delta, page_etag in _feed_pages(client, till.token):
            proof.pages += 1
            proof.product_ids.update(p.id for p in delta.products)
            proof.categories += len(delta.categories)
            proof.cashiers += sum(1 for c in delta.cashiers if c.active and c.pin_hash)
            templates += [LabelTemplate(t.id, t.pattern) for t in delta.weight_templates]
            weighted += [p for p in delta.products if p.scale_code is not None]
            cursor, etag = delta.next_cursor, page_etag
        proof.seconds = time.perf_counter() - began
        # A till then polls from its last cursor with the last ETag: nothing changed -> 304.
        status, _ = _poll(client, till.token, cursor, etag)
        proof.not_modified = status == 304
        proof.label = _decode_label(templates, weighted)

        signed_in = client.post(
            "/api/v1/auth/token", data={"username": owner.login, "password": owner.secret}
        )
        if signed_in.status_code != 200:
            raise RuntimeError(f"the owner cannot sign in: {signed_in.text}")
        bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        listed = client.get("/api/v1/stores", headers=bearer)
        listed.raise_for_status()
        seen = [store["name"] for store in listed.json()]
        lookup = _barcode_lookup(client, db, bearer)
    return proof, seen, lookup


def _decode_label(templates: list[LabelTemplate], weighted: list[Any]) -> str:
    """Print a scale label for 734 g of the first weighted product and decode it like a till."""
    if not templates or not weighted:
        return "no weighted goods"
    product = weighted[0]
    body = "22" + f"{int(product.scale_code):05d}" + "00734"
    label = body + str(ean_check_digit(body))
    match = decode_weighted(label, templates)
    if match is None or match.qty_milli is None:
        return f"label {label} did not decode"
    found = next(p for p in weighted if int(p.scale_code) == int(match.scale_code))
    amount = Money(line_amount_minor(match.qty_milli, found.price_minor), "RUB")
    price = Money(found.price_minor, "RUB")
    kg = f"{match.qty_milli // 1000},{match.qty_milli % 1000:03d}"
    return f"{label} -> {found.name}: {kg} кг x {price.format()}/кг = {amount.format()}"


def _barcode_lookup(client: Any, db: Database, bearer: dict[str, str]) -> str:
    with db.read() as s:
        code = s.scalars(select(Barcode.code).order_by(Barcode.code).limit(1)).one()
    found = client.get("/api/v1/catalog/products", params={"q": code}, headers=bearer)
    found.raise_for_status()
    items = found.json()["items"]
    if len(items) != 1:
        raise RuntimeError(f"barcode {code} found {len(items)} products")
    price = Money(items[0]["price_minor"], "RUB").format()
    return f"{code} -> {items[0]['name']}, {price}"


# --- summary -------------------------------------------------------------------------------


def category_depth(db: Database) -> int:
    with db.read() as s:
        paths = catalog_service.category_paths(s)
    return max((path.count("/") + 1 for path in paths.values()), default=0)


def _summarize(
    db: Database,
    *,
    root: Path,
    url: str,
    csv_path: Path,
    tills_json: Path,
    staff_json: Path,
    created: int,
    proof: FeedProof,
    till: Till,
    owner: Login,
    seen: list[str],
    lookup: str,
    logins: list[Login],
    started: float,
) -> DemoSummary:
    def count(model: Any, *where: Any) -> int:
        with db.read() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return DemoSummary(
        data_dir=root,
        database_url=url,
        catalog_csv=csv_path,
        tills_json=tills_json,
        staff_json=staff_json,
        stores=count(Store),
        tills=count(Device),
        owners=count(User, User.role == "owner"),
        managers=count(User, User.role == "manager"),
        cashiers=count(User, User.role == "cashier"),
        tax_rates=count(TaxRate),
        categories=count(Category),
        category_depth=category_depth(db),
        products=count(Product),
        barcodes=count(Barcode),
        weighted_products=count(Product, Product.scale_code.is_not(None)),
        import_created=created,
        feed_pages=proof.pages,
        feed_products=len(proof.product_ids),
        feed_categories=proof.categories,
        feed_cashiers=proof.cashiers,
        feed_seconds=proof.seconds,
        feed_not_modified=proof.not_modified,
        feed_till=f"{till.name} ({till.store})",
        label_example=proof.label,
        owner_email=owner.login,
        owner_password=owner.secret,
        stores_seen_by_owner=seen,
        barcode_lookup=lookup,
        logins=logins,
        seconds=time.perf_counter() - started,
    )


def _print_summary(console: Console, summary: DemoSummary) -> None:
    table = Table(title="Kassa demo chain", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("details")
    table.add_row("stores", str(summary.stores), ", ".join(summary.stores_seen_by_owner))
    table.add_row(
        "tills", str(summary.tills), f"paired with one-time codes -> {summary.tills_json}"
    )
    staff = summary.owners + summary.managers + summary.cashiers
    table.add_row(
        "staff",
        str(staff),
        f"{summary.owners} owner, {summary.managers} managers, {summary.cashiers} cashiers",
    )
    table.add_row("tax rates", str(summary.tax_rates), "НДС 22%, 10%, 0%, без НДС")
    table.add_row("categories", str(summary.categories), f"a tree {summary.category_depth} deep")
    table.add_row(
        "products", str(summary.products), f"{summary.import_created} created by the CSV import"
    )
    table.add_row("barcodes", str(summary.barcodes), "EAN-13, prefixes 460-469")
    table.add_row(
        "weighted goods", str(summary.weighted_products), f"per kg, labels {WEIGHT_PATTERN}"
    )
    table.add_section()
    table.add_row(
        "feed pages",
        str(summary.feed_pages),
        f"{summary.feed_till}: {summary.feed_products} products, "
        f"{summary.feed_categories} categories, {summary.feed_cashiers} cashiers "
        f"in {summary.feed_seconds:.2f} s; ETag poll "
        + ("304 Not Modified" if summary.feed_not_modified else "did NOT answer 304"),
    )
    table.add_row("scale label", "", summary.label_example)
    table.add_row("barcode search", "", summary.barcode_lookup)
    console.print(table)

    people = Table(title="Sign-ins (also in staff.json, readable only by you)", header_style="bold")
    people.add_column("role")
    people.add_column("name")
    people.add_column("login", no_wrap=True)
    people.add_column("password / PIN", no_wrap=True)
    store = None
    for login in summary.logins:
        if login.store != store and login.store:
            people.add_section()
            people.add_row("", f"[bold]{login.store}[/bold]", "", "")
        store = login.store
        people.add_row(login.role, login.name, login.login, login.secret)
    console.print(people)

    serve = (
        f"KASSA_DATABASE_URL={summary.database_url} KASSA_COOKIE_SECURE=false "
        ".venv/bin/kassa hub serve"
    )
    console.print(
        Panel(
            f"Catalog import file: {summary.catalog_csv}\n"
            f"Till tokens:         {summary.tills_json}\n"
            f"Done in {summary.seconds:.1f} s.",
            title="Demo chain ready",
            expand=False,
        )
    )
    console.print("[bold]Serve this hub:[/bold]")
    console.print(f"  {serve}", soft_wrap=True, markup=False, highlight=False)
    console.print(
        f"then open {HUB_URL}/docs, press Authorize and sign in as "
        f"[bold]{summary.owner_email}[/bold] / [bold]{summary.owner_password}[/bold]",
        soft_wrap=True,
    )
