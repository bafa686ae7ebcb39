"""Whole flow runs on one temporary Prefect server for the session (`prefect_server`): the
refresh fills the warehouse; daily-close, against a real hub process (uvicorn), a real SMTP
server (aiosmtpd) and the flows' service token, withholds a report while a till has not synced
(alerting operations), then publishes it exactly once, e-mails every owner once in their
language and drafts the reorder purchase orders once, however often it is re-run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.purchasing.models import PurchaseOrder
from hub.sales.models import Sale, SaleLine
from tests.flows.conftest import service_token
from tests.hub.live_hub import LiveHub

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _hub_count(db: Any, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@sqlite_only
def test_warehouse_refresh_flow_fills_the_warehouse(
    prefect_server: None, flow_env: Path, sales_hub: Any
) -> None:
    from prefect.client.orchestration import get_client

    from flows.flows import warehouse_refresh
    from flows.tasks import WRITER_TAG

    state = warehouse_refresh(return_state=True)
    assert state.is_completed(), state.message
    refreshed = state.result()
    sales, lines = _hub_count(sales_hub, Sale), _hub_count(sales_hub, SaleLine)
    assert refreshed.extracted.rows["sale"] == sales
    con = duckdb.connect(str(flow_env / "var" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw_sale").fetchall() == [(sales,)]
        assert con.execute("SELECT count(*) FROM fct_sale_line").fetchall() == [(lines,)]
    finally:
        con.close()
    with get_client(sync_client=True) as client:  # the server holds writers to one at a time
        assert client.read_concurrency_limit_by_tag(WRITER_TAG).concurrency_limit == 1


# --- daily-close end to end ----------------------------------------------------------------------

DAY = dt.date(2026, 11, 22)  # a Sunday: the daily and the weekly report close


@dataclass
class Shop:
    chain: Any
    hub: LiveHub
    mail: Path
    ops: str = "ops@example.ru"


@pytest.fixture
def shop(chain: Any, flow_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    from flows.mail_sink import start_sink

    owner = chain.world.headers("owner")
    for body in (
        {"email": "owner@example.ru", "name": "Анна Владелица", "language": "ru"},
        {"email": "analyst@example.com", "name": "Sam", "language": "en", "weekly": False},
        {"email": "paused@example.com", "name": "Off", "language": "en", "active": False},
    ):
        created = chain.client.post("/api/v1/reports/recipients", json=body, headers=owner)
        assert created.status_code == 201, created.text
    mail = flow_env / "sink"
    controller, port = start_sink(mail)
    with LiveHub(chain.db_url) as hub:
        base = hub.base_url
        for name, value in {
            "KASSA_HUB_URL": base,
            "KASSA_HUB_TOKEN": service_token(chain.db),
            "KASSA_SMTP_HOST": "127.0.0.1",
            "KASSA_SMTP_PORT": str(port),
            "KASSA_SMTP_FROM": "Kassa <kassa@shop.example>",
            "KASSA_OPS_EMAIL": "ops@example.ru",
            "KASSA_OPS_LANGUAGE": "en",
            "KASSA_WAREHOUSE_PATH": str(chain.warehouse),
            "KASSA_MARTS_DIR": str(chain.marts),
        }.items():
            monkeypatch.setenv(name, value)
        try:
            yield Shop(chain, hub, mail)
        finally:
            controller.stop()


def _mails(directory: Path) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(directory.glob("*.eml"))
    ]


def _close(day: dt.date = DAY) -> Any:
    from kassa.cli import app

    return CliRunner().invoke(app, ["flows", "run", "daily-close", "--date", day.isoformat()])


def _hub_day(db: Any, day: dt.date) -> tuple[int, int]:
    """Receipts and net revenue of the Moscow day, straight from the hub's tables."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=3)))
    with db.read() as s:
        rows = s.execute(
            select(Sale.id, Sale.kind, SaleLine.amount_minor)
            .join(SaleLine, SaleLine.sale_id == Sale.id)
            .where(Sale.created_at >= start, Sale.created_at < start + dt.timedelta(days=1))
        ).all()
    receipts = len({r.id for r in rows if r.kind == "sale"})
    return receipts, sum(-r.amount_minor if r.kind == "return" else r.amount_minor for r in rows)


def _rub(minor: int) -> str:
    units, cents = divmod(minor, 100)
    return f"{units:,}".replace(",", "\u202f") + f",{cents:02d}\u00a0₽"


def _drafts(db: Any) -> dict[str, int]:
    with db.read() as s:
        return {
            str(o.source_key): o.id
            for o in s.scalars(select(PurchaseOrder).where(PurchaseOrder.source_key.is_not(None)))
        }


@sqlite_only
def test_daily_close_withholds_then_publishes_and_mails_exactly_once(
    prefect_server: None, shop: Shop, world: Any
) -> None:
    chain, db = shop.chain, shop.chain.db
    reports = Path("var/reports")
    with db.read() as s:
        held = int(s.scalar(select(func.max(Sale.till_seq))) or 0)

    # A till says its journal holds two sales the hub has not got: nothing may be published.
    journal = {"X-Kassa-Journal": f"sale={held + 2};shift=0", **world.headers("device_a")}
    assert chain.client.get("/api/v1/till/device", headers=journal).is_success
    result = _close()
    assert result.exit_code == 1, result.output
    assert "daily report for 2026-11-22 WITHHELD" in result.output
    assert "weekly report for 2026-11-22 WITHHELD" in result.output
    assert "the hub lacks 2 sales" in result.output
    assert not (reports / "daily" / "2026-11-22").exists()
    verdict = json.loads((reports / "daily" / "2026-11-22.withheld.json").read_text())
    assert verdict["verdict"] == "withheld"
    assert [c["id"] for c in verdict["checks"] if not c["passed"]] == ["completeness.tills_synced"]
    alerts = _mails(shop.mail)
    assert sorted(m["To"] for m in alerts) == ["ops@example.ru", "ops@example.ru"]
    assert all(m["Content-Language"] == "en" for m in alerts)
    daily_alert = next(m for m in alerts if "daily report for 2026-11-22" in m["Subject"])
    assert (
        "withheld" in daily_alert["Subject"] and "the hub lacks 2 sales" in daily_alert["Subject"]
    )
    assert "the hub lacks 2 sales" in daily_alert.get_body(("plain",)).get_content()
    assert _drafts(db) == {}  # drafts from an incomplete day would mislead

    # The same failure re-run: still withheld, operations are not told twice.
    assert _close().exit_code == 1
    assert len(_mails(shop.mail)) == 2

    # The till catches up: published once, every subscribed owner mailed once, drafts made.
    journal["X-Kassa-Journal"] = f"sale={held};shift=0"
    assert chain.client.get("/api/v1/till/device", headers=journal).is_success
    result = _close()
    assert result.exit_code == 0, result.output
    assert "daily report for 2026-11-22: published at var/reports/daily/2026-11-22" in result.output
    daily = reports / "daily" / "2026-11-22"
    weekly = reports / "weekly" / "2026-11-22"
    for published in (daily, weekly):
        assert json.loads((published / "quality.json").read_text())["verdict"] == "published"
        assert (published / "index.html").is_file() and (published / "marts.parquet").is_file()
        assert list((published / "charts").glob("*.png"))
    owners = [m for m in _mails(shop.mail) if m["To"] != "ops@example.ru"]
    assert sorted((m["To"].addresses[0].addr_spec, m["Content-Language"]) for m in owners) == [
        ("analyst@example.com", "en"),
        ("owner@example.ru", "ru"),
        ("owner@example.ru", "ru"),
    ]
    drafts = _drafts(db)
    assert drafts and all(k.startswith("reorder:") and k.endswith(":2026-11-22") for k in drafts)

    # What an owner reads: the day's figures as the hub has them, charts inline, CSV attached.
    receipts, revenue = _hub_day(db, DAY)
    ru = next(m for m in owners if "отчёт за 22.11.2026" in m["Subject"])
    assert _rub(revenue) in ru["Subject"]
    html = ru.get_body(("html",)).get_content()
    assert _rub(revenue) in html
    cids = {
        part["Content-ID"].strip("<>")
        for part in ru.walk()
        if part.get_content_type() == "image/png"
    }
    assert cids and all(f"cid:{cid}" in html for cid in cids)
    attachments = {a.get_filename(): a.get_content() for a in ru.iter_attachments()}
    assert {"stores.csv", "products.csv", "reorder.csv"} <= set(attachments)
    stores = attachments["stores.csv"]  # ru: ";" and a decimal comma, Excel's BOM
    text = stores.decode("utf-8-sig") if isinstance(stores, bytes) else stores.lstrip("\ufeff")
    head, *_, total = list(csv.reader(io.StringIO(text), delimiter=";"))
    revenue_column = head.index("Выручка, ₽")
    assert total[1] == "Итого"
    assert total[revenue_column] == f"{revenue // 100},{revenue % 100:02d}"
    assert f"{receipts}" in ru.get_body(("plain",)).get_content()
    en = next(m for m in owners if m["Content-Language"] == "en")
    assert "2026" in en["Subject"] and "отчёт" not in en["Subject"]

    # Re-run once more: nothing is published, mailed or drafted twice.
    stamp = (daily / "index.html").stat().st_mtime_ns
    before = len(_mails(shop.mail))
    result = _close()
    assert result.exit_code == 0, result.output
    assert "already published" in result.output
    assert len(_mails(shop.mail)) == before
    assert _drafts(db) == drafts
    assert (daily / "index.html").stat().st_mtime_ns == stamp
