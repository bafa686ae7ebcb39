"""`kassa demo`: a demo chain on a fresh embedded SQLite hub, seeded through the hub's own code.

Every step goes through the hub's service functions (tax rates, stores, the scale-label
template, staff, pairing) and its real CSV import (parse, dry-run plan, apply), each in one
`db.write()` transaction. Then the demo proves the result over HTTP: a paired till pulls the
whole catalog feed page by page, and the owner signs in and lists the stores.

Then it trades for weeks on real till agents (`demo_trade`) and closes yesterday with the real
`warehouse-refresh` and `daily-close` Prefect flows (`demo_close`): the quality gate, the
published report, reorder drafts, and the owners' e-mails delivered to an SMTP sink it starts.

What it leaves in `data_dir`:
  hub.db            the hub database (serve it with `kassa hub serve`)
  catalog.csv       the catalog in the hub's import format (re-import it, or edit and import)
  tills.json        the paired tills' device tokens, for till agents (0600)
  staff.json        the owner's and managers' passwords and the cashiers' PINs (0600)
  tills/            the till agents' journals and caches
  warehouse.duckdb  the warehouse, with the marts (Parquet copies in marts/)
  reports/          the published report: reports/daily/<yesterday>/index.html
  mail/             the e-mails the SMTP sink received, one .eml each (and the outbox.db)

This module runs the steps and counts the result; `demo_seed` seeds, `demo_proof` proves it over
HTTP, `demo_trade` trades, `demo_close` closes the day and `demo_report` prints the summary.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import func, select

from hub.catalog import reference as catalog_service
from hub.catalog.models import Barcode, Category, Product, TaxRate
from hub.db import Database
from hub.devices.models import Device
from hub.migrate import upgrade
from hub.settings import Settings
from hub.staff.models import User
from hub.stores.models import Store
from kassa import demo_close, demo_proof, demo_report, demo_seed, demo_trade
from kassa.demo_close import CloseSummary
from kassa.demo_proof import FeedProof
from kassa.demo_seed import Login, Till
from kassa.demo_trade import TradeSummary
from kassa.demo_warehouse import WarehouseSummary


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
    trade: TradeSummary
    warehouse: WarehouseSummary
    close: CloseSummary
    seconds: float


def run_demo(
    data_dir: str = "var/demo",
    products: int = 2000,
    *,
    days: int = 21,
    console: Console | None = None,
) -> DemoSummary:
    """Seed a demo chain on a fresh SQLite hub in `data_dir`, prove it over HTTP, summarize."""
    started = time.perf_counter()
    console = console or Console()
    root = Path(data_dir).resolve()
    db_path = _fresh(root)
    url = f"sqlite:///{db_path}"
    settings = Settings(
        database_url=url, env="dev", cookie_secure=False, reports_dir=str(root / "reports")
    )

    with console.status("Migrating a fresh hub database..."):
        upgrade(url)
    db = Database(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        with console.status("Seeding tax rates, stores and the scale-label template..."):
            demo_seed.seed_tax_rates(db)
            stores = demo_seed.seed_stores(db, settings)
            demo_seed.seed_template(db)
        with console.status(f"Importing {products} products through the hub's CSV import..."):
            csv_path = root / "catalog.csv"
            created = demo_seed.import_catalog(db, settings, products, csv_path)
        with console.status("Creating staff (argon2 hashes take a moment)..."):
            logins = demo_seed.seed_staff(db, stores)
        with console.status("Pairing tills..."):
            tills = demo_seed.pair_tills(db, settings, stores)
        tills_json = root / "tills.json"
        demo_seed.write_private(tills_json, demo_seed.tills_document(tills))
        staff_json = root / "staff.json"
        demo_seed.write_private(staff_json, demo_seed.staff_document(logins))
        owner = next(login for login in logins if login.role == "owner")
        with console.status("Proving it over HTTP: a till pulls the feed, the owner signs in..."):
            proof, seen, lookup = demo_proof.prove(settings, db, tills[0], owner)
        with console.status(
            f"Trading for {days} days on real till agents (simulated printers and scanners): "
            "deliveries, sales, shifts, returns, "
            "a count, a transfer, a write-off..."
        ):
            trade = demo_trade.trade(settings, db, tills, logins, days=days, root=root)
        with console.status(
            "Closing yesterday on the Prefect flows: warehouse-refresh, then daily-close "
            "(marts, quality gate, report, reorder drafts, e-mail to a local SMTP sink)..."
        ):
            warehouse, closed = demo_close.close(
                settings,
                db,
                owner,
                root=root,
                hub_db_url=url,
                warehouse_path=root / "warehouse.duckdb",
                day=trade.last_day,  # yesterday in the stores' time zone
            )
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
            trade=trade,
            warehouse=warehouse,
            closed=closed,
            started=started,
        )
    finally:
        db.dispose()
    demo_report.print_summary(console, summary)
    return summary


def _fresh(root: Path) -> Path:
    """Delete the previous demo's database (and its WAL files) so every run starts clean."""
    root.mkdir(parents=True, exist_ok=True)
    db_path = root / "hub.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    for name in ("catalog.csv", "tills.json", "staff.json"):
        (root / name).unlink(missing_ok=True)
    shutil.rmtree(root / "tills", ignore_errors=True)  # the till agents' journals and caches
    # The previous close: a report already published, or an e-mail key already in the outbox,
    # would not be made again.
    shutil.rmtree(root / "reports", ignore_errors=True)
    shutil.rmtree(root / "mail", ignore_errors=True)
    return db_path


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
    trade: TradeSummary,
    warehouse: WarehouseSummary,
    closed: CloseSummary,
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
        trade=trade,
        warehouse=warehouse,
        close=closed,
        seconds=time.perf_counter() - started,
    )
