"""Fixtures for the flow tests.

Prefect reads its settings at import, so PREFECT_HOME points at a temporary folder before any
test imports it (nothing is written to ~/.prefect). Only flow runs need a Prefect server, and
starting one costs 8-16 s: the flow tests share ONE `prefect_test_harness` for the session, and
the tasks are tested through `.fn()` without a server.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select, update

_PREFECT_HOME = tempfile.mkdtemp(prefix="kassa-test-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")

FLOW_SETTINGS = (
    "KASSA_WAREHOUSE_PATH",
    "KASSA_MARTS_DIR",
    "KASSA_CHAIN_TIMEZONE",
    "KASSA_REORDER_SERVICE_LEVEL",
    "KASSA_REFRESH_MINUTES",
    "KASSA_DAILY_CLOSE_CRON",
    "KASSA_PREFECT_HOME",
    "KASSA_WRITER_LOCK_TIMEOUT_SECONDS",
)


@pytest.fixture
def flow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Default flows settings, with the working directory (and so var/) in a temporary folder."""
    for name in FLOW_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sales_hub(
    client: Any, world: Any, db: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A hub with three days of sales and a return (tests/warehouse's `_trade`); the flows find
    it through KASSA_DATABASE_URL. Request it with
    `@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)`: PostgreSQL is covered by
    tests/warehouse."""
    from tests.warehouse.test_extract import _trade

    _trade(client, world, db)
    monkeypatch.setenv("KASSA_DATABASE_URL", db_url)
    return db


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server for every flow run of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


# --- a chain with suppliers, for reorder drafts and daily-close ----------------------------------

AS_OF = dt.date(2026, 11, 23)  # the day after _trade's three days of sales (20-22 Nov, a return)
SUPPLIERS = "/api/v1/suppliers"


def service_token(db: Any, name: str = "kassa flows") -> str:
    """What `kassa hub service-token` makes: the flows' own token, not a person's."""
    from hub.staff.schemas import ServiceTokenCreate
    from hub.staff.service import issue_service_token

    with db.write() as s:
        token, _, _ = issue_service_token(s, data=ServiceTokenCreate(name=name))
    return token


@dataclass
class Chain:
    """A hub with three days of sales in store A (`sales_hub`), two suppliers and a warehouse
    with the marts of `AS_OF`."""

    db: Any
    db_url: str
    client: Any
    world: Any
    warehouse: Path
    marts: Path
    milk: int
    bread: int
    cheese: int
    dairy: int  # supplier of milk and bread, with last costs
    deli: int  # supplier of cheese, without a last cost

    def close_day(self) -> pl.DataFrame:
        """What daily-close does before drafting: refresh, rebuild the marts of AS_OF, read the
        suggestions from Parquet."""
        from flows.reorder import load_suggestions
        from warehouse.pipeline import build_marts, refresh

        refresh(self.db_url, self.warehouse)
        build_marts(self.warehouse, AS_OF, marts_dir=self.marts)
        return load_suggestions(self.marts, AS_OF)

    def mart_rows(self) -> dict[int, dict[str, Any]]:
        frame = pl.read_parquet(self.marts / "rpt_reorder.parquet")
        return {row["product_id"]: row for row in frame.iter_rows(named=True)}

    def set_supplier_active(self, supplier: int, active: bool) -> None:
        changed = self.client.patch(
            f"{SUPPLIERS}/{supplier}", json={"active": active}, headers=self.world.headers("owner")
        )
        assert changed.status_code == 200, changed.text


@pytest.fixture
def chain(sales_hub: Any, client: Any, world: Any, db_url: str, tmp_path: Path) -> Chain:
    from hub.catalog.models import Product
    from hub.stock.models import StockDoc, StockMove

    db = sales_hub
    received = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)
    with db.write() as s:
        products = {p.sku: p.id for p in s.scalars(select(Product))}
        # seed_shop's opening stock is posted now; date it the day before the sales it fed, so
        # the moving-average cost is known at the end of AS_OF
        s.execute(update(StockMove).where(StockMove.kind == "receipt").values(at=received))
        s.execute(update(StockDoc).where(StockDoc.kind == "receipt").values(created_at=received))
    owner = world.headers("owner")

    def supplier(name: str, lead: int, review: int) -> int:
        body = {"name": name, "lead_time_days": lead, "review_period_days": review}
        created = client.post(SUPPLIERS, json=body, headers=owner)
        assert created.status_code == 201, created.text
        return int(created.json()["id"])

    dairy = supplier("ООО «Молочный двор»", 2, 7)
    deli = supplier("ИП Сыроваров", 3, 14)
    for who, product, terms in (
        (
            dairy,
            products["MILK"],
            {"pack_size_milli": 12_000, "min_order_milli": 24_000, "last_cost_minor": 6_500},
        ),
        (dairy, products["BREAD"], {"last_cost_minor": 3_100}),
        (deli, products["CHEESE"], {"pack_size_milli": 500}),
    ):
        put = client.put(f"{SUPPLIERS}/{who}/products/{product}", json=terms, headers=owner)
        assert put.is_success, put.text
    # 24 milk on their way (a sent order): on order in the formula
    orders = f"/api/v1/stores/{world.store_a}/purchase-orders"
    line = {"product_id": products["MILK"], "qty_ordered_milli": 24_000, "unit_cost_minor": 6_500}
    manager = world.headers("manager_a")
    order = client.post(orders, json={"supplier_id": dairy, "lines": [line]}, headers=manager)
    assert order.status_code == 201, order.text
    assert client.post(f"{orders}/{order.json()['id']}/send", headers=manager).is_success
    return Chain(
        db=db,
        db_url=db_url,
        client=client,
        world=world,
        warehouse=tmp_path / "warehouse.duckdb",
        marts=tmp_path / "marts",
        milk=products["MILK"],
        bread=products["BREAD"],
        cheese=products["CHEESE"],
        dairy=dairy,
        deli=deli,
    )
