"""`kassa demo`: a fresh SQLite hub seeded through the hub's own services, proven over HTTP."""

from __future__ import annotations

import datetime as dt
import email
import io
import json
import shutil
import stat
from email import policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlalchemy import func, select

from flows.mail_sink import saved_messages
from flows.publishing import scopes_for
from hub.catalog import importer
from hub.catalog.models import Barcode, Category, Product
from hub.db import Database
from kassa.demo import DemoSummary, category_depth, run_demo
from warehouse.marts import GRAINS
from wire.barcodes import is_valid_gtin

PRODUCTS = 300


def _run(data_dir: Path, days: int = 10) -> tuple[DemoSummary, str]:
    out = io.StringIO()
    summary = run_demo(
        str(data_dir), products=PRODUCTS, days=days, console=Console(file=out, width=120)
    )
    return summary, out.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSummary, str]:
    return _run(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def hub_db(demo: tuple[DemoSummary, str]):  # type: ignore[no-untyped-def]
    database = Database(demo[0].database_url)
    yield database
    database.dispose()


def test_the_summary_counts_the_chain(demo: tuple[DemoSummary, str]) -> None:
    summary, _ = demo
    assert (summary.stores, summary.tills) == (2, 4)
    assert (summary.owners, summary.managers, summary.cashiers) == (1, 2, 6)
    assert summary.tax_rates == 4
    assert summary.products == PRODUCTS
    assert summary.import_created == PRODUCTS
    assert PRODUCTS <= summary.barcodes <= 2 * PRODUCTS
    assert summary.weighted_products > 0
    assert summary.category_depth >= 2
    assert sorted(summary.stores_seen_by_owner) == ["Продукты на Ленина", "Продукты на Невском"]


def test_the_till_received_the_whole_catalog_over_http(demo: tuple[DemoSummary, str]) -> None:
    summary, _ = demo
    assert summary.feed_products == PRODUCTS
    assert summary.feed_categories == summary.categories
    assert summary.feed_cashiers == 3  # the three cashiers of the till's own store
    assert summary.feed_pages >= 1
    assert summary.feed_not_modified is True
    assert " кг x " in summary.label_example
    assert summary.barcode_lookup.split(" -> ")[0].isdigit()


def test_every_product_has_valid_unique_russian_eans(hub_db: Database) -> None:
    with hub_db.read() as s:
        codes = list(s.scalars(select(Barcode.code)))
        without = s.scalar(
            select(func.count())
            .select_from(Product)
            .where(~Product.id.in_(select(Barcode.product_id)))
        )
    assert without == 0
    assert len(codes) == len(set(codes))
    assert all(len(code) == 13 and is_valid_gtin(code) for code in codes)
    assert all("460" <= code[:3] <= "469" for code in codes)


def test_weighted_goods_are_sold_per_kg_with_scale_codes(hub_db: Database) -> None:
    with hub_db.read() as s:
        rows = s.execute(select(Product.unit, Product.scale_code, Product.price_minor)).all()
    weighted = [r for r in rows if r.scale_code is not None]
    assert weighted
    assert all(r.unit == "kg" for r in weighted)
    assert all(r.unit == "piece" for r in rows if r.scale_code is None)
    assert all(isinstance(r.price_minor, int) and r.price_minor > 0 for r in rows)
    assert len({r.scale_code for r in weighted}) == len(weighted)


def test_categories_form_a_tree(hub_db: Database) -> None:
    with hub_db.read() as s:
        parents = dict(s.execute(select(Category.id, Category.parent_id)).all())
    assert all(parent is None or parent in parents for parent in parents.values())
    assert any(parent is None for parent in parents.values())
    assert category_depth(hub_db) >= 2


def test_the_written_csv_reimports_without_changes(
    demo: tuple[DemoSummary, str], hub_db: Database
) -> None:
    summary, _ = demo
    parsed = importer.read_file(summary.catalog_csv.read_bytes(), filename="c.csv", exponent=2)
    with hub_db.read() as s:
        report = importer.plan(s, parsed).report()
    assert report.errors == []
    assert (report.rows, report.unchanged, report.to_create, report.to_update) == (
        PRODUCTS,
        PRODUCTS,
        0,
        0,
    )


def test_till_tokens_and_logins_are_private_files(demo: tuple[DemoSummary, str]) -> None:
    summary, _ = demo
    for path in (summary.tills_json, summary.staff_json):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tills = json.loads(summary.tills_json.read_text(encoding="utf-8"))["tills"]
    assert len(tills) == 4
    assert all(till["token"].startswith("kd_") for till in tills)
    assert sorted({till["store_id"] for till in tills}) == [1, 2]


def test_the_printout_says_how_to_serve_and_sign_in(demo: tuple[DemoSummary, str]) -> None:
    summary, printed = demo
    assert f"KASSA_DATABASE_URL={summary.database_url}" in printed
    assert f"KASSA_REPORTS_DIR={summary.close.reports_dir}" in printed
    assert "kassa hub serve" in printed
    assert summary.owner_email in printed
    assert summary.owner_password in printed
    assert "Продукты на Невском" in printed


def test_running_again_starts_fresh(demo: tuple[DemoSummary, str], tmp_path: Path) -> None:
    """A run in a directory that holds a whole previous demo (its hub, tills, warehouse, the
    published report, the e-mails and the outbox, and a leftover WAL) starts clean."""
    first, _ = demo
    shutil.copytree(first.data_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "hub.db-wal").write_bytes(b"")  # a leftover WAL must not survive either
    assert saved_messages(tmp_path / "mail") and (tmp_path / "reports").is_dir()
    second, _ = _run(tmp_path, days=1)
    counts = ("stores", "tills", "owners", "managers", "cashiers", "products", "barcodes")
    assert [getattr(second, c) for c in counts] == [getattr(first, c) for c in counts]
    assert second.weighted_products == first.weighted_products
    assert second.feed_products == PRODUCTS
    assert second.owner_password != first.owner_password
    assert second.trade.days == 1 and second.trade.receipts < first.trade.receipts
    # The previous close is gone too: the report is published again and mailed again (a key
    # left in the outbox would have stopped the e-mails, a report left in place its rewrite).
    close = second.close
    assert close.published and close.reports[0].directory is not None
    assert close.reports[0].directory.parent.parent == tmp_path / "reports"
    expected = sum(1 for r in close.reports for p in close.recipients if getattr(p, r.scope))
    assert len(close.mails) == len(saved_messages(tmp_path / "mail")) == expected


def test_weeks_of_trading_went_through_the_api_exactly_once(
    demo: tuple[DemoSummary, str], hub_db: Database
) -> None:
    """Every demo sale was created once; the printed figures are the database's figures."""
    from hub.sales.models import Sale, SaleLine
    from hub.shifts.models import Shift
    from hub.stock.models import StockLevel, StockMove

    trade = demo[0].trade
    assert trade.receipts > 1000 and trade.returns > 0
    assert trade.created == trade.receipts + trade.returns
    assert (trade.duplicates, trade.rejected) == (0, 0)
    # Sold on the real till agent: scanned through the pty scanners, printed and decoded.
    assert trade.scanned > trade.receipts
    assert trade.printed == trade.receipts + trade.returns + trade.shifts  # + Z reports
    assert trade.max_queue > 0  # the till whose line was down queued and caught up
    with hub_db.read() as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == trade.created
        revenue = 0
        for kind, sign in (("sale", 1), ("return", -1)):
            revenue += sign * int(
                s.scalar(
                    select(func.coalesce(func.sum(SaleLine.amount_minor), 0))
                    .join(Sale, Sale.id == SaleLine.sale_id)
                    .where(Sale.kind == kind)
                )
                or 0
            )
        assert revenue == trade.revenue_minor
        assert (
            s.scalar(
                select(func.count()).select_from(SaleLine).where(SaleLine.unit_cost_minor.is_(None))
            )
            == 0
        ), "every line sold after the first delivery has a cost"
        closed = s.scalar(
            select(func.count()).select_from(Shift).where(Shift.over_short_minor.is_not(None))
        )
        assert closed == trade.shifts
        # The materialised level is the sum of the ledger, for every store x product.
        sums = dict(
            s.execute(
                select(
                    StockMove.store_id * 1_000_000 + StockMove.product_id,
                    func.sum(StockMove.qty_milli),
                ).group_by(StockMove.store_id, StockMove.product_id)
            ).all()
        )
        levels = {
            row.store_id * 1_000_000 + row.product_id: row.on_hand_milli
            for row in s.scalars(select(StockLevel))
        }
        assert levels == sums
        kinds = set(s.scalars(select(StockMove.kind).distinct()))
    assert {
        "receipt",
        "sale",
        "return",
        "count",
        "transfer_out",
        "transfer_in",
        "write_off",
    } <= kinds
    assert trade.revenue_ex_vat_minor - trade.cogs_minor > 0
    assert "days of trading on the real till agent" in demo[1]


def test_the_warehouse_holds_the_same_sales(demo: tuple[DemoSummary, str]) -> None:
    """The demo's warehouse step: everything extracted once, the mart's revenue is the hub's."""
    w, trade = demo[0].warehouse, demo[0].trade
    assert w.path.exists() and w.extracted_rows > trade.created and w.again_rows == 0
    assert w.revenue_minor == trade.revenue_minor
    assert w.revenue_ex_vat_minor == trade.revenue_ex_vat_minor
    assert w.fact_rows == trade.lines + trade.returns  # one line per refund in the demo
    assert 0 < w.gross_profit_minor < w.revenue_ex_vat_minor
    assert "The warehouse (DuckDB), read back" in demo[1]
    assert set(w.mart_rows) == set(GRAINS) and all(
        (w.marts_dir / f"{name}.parquet").exists() for name in GRAINS
    )
    assert w.headline is not None and w.headline.revenue_minor == trade.revenue_minor
    assert w.headline.gross_profit_minor == w.gross_profit_minor
    assert len(w.headline.top_products) == 5 and "top 1" in demo[1]
    assert "warehouse-refresh" in demo[1] and w.headline.reorder_lines > 0
    assert w.as_of == demo[0].close.day  # daily-close built the marts for the closed day
    assert w.mart_rows["rpt_stock_position"] > 0 and w.mart_rows["rpt_cash_over_short"] > 0


def test_the_deliveries_are_dated_before_the_goods_were_sold(hub_db: Database) -> None:
    """The demo dates its deliveries on the simulated calendar: every good was received before
    the first sale, so yesterday's stock is not below zero for everything."""
    from hub.sales.models import Sale
    from hub.stock.models import StockDoc

    with hub_db.read() as s:
        first_sale = s.scalar(select(func.min(Sale.created_at)))
        opening = s.scalar(
            select(func.min(StockDoc.created_at)).where(StockDoc.purchase_order_id.is_not(None))
        )
    assert first_sale is not None and opening is not None and opening < first_sale


def test_the_demo_ends_with_a_published_report_and_mail(
    demo: tuple[DemoSummary, str], hub_db: Database
) -> None:
    """daily-close closed yesterday: the gate passed, the report is published, the owners'
    e-mails reached the demo's SMTP sink as .eml files, and reorder drafts were made."""
    from hub.purchasing.models import PurchaseOrder

    summary, printed = demo
    close = summary.close
    yesterday = dt.datetime.now(ZoneInfo("Europe/Moscow")).date() - dt.timedelta(days=1)
    assert close.day == summary.trade.last_day == yesterday
    assert close.flow.withheld == "" and close.published
    assert [r.scope for r in close.reports] == scopes_for(close.day)

    daily = close.reports[0]
    directory = close.reports_dir / "daily" / close.day.isoformat()
    assert daily.directory == directory and daily.index == directory / "index.html"
    assert json.loads((directory / "quality.json").read_text(encoding="utf-8"))["verdict"] == (
        "published"
    )
    assert "<html" in (directory / "index.html").read_text(encoding="utf-8").lower()
    assert daily.failed == [] and "verdict 'published'" in daily.hub_answer
    assert "index.html answered 200" in daily.hub_answer

    # One e-mail per report and subscribed recipient, each a parseable MIME message with an
    # HTML part whose charts are inline PNG images it refers to by Content-ID.
    files = saved_messages(close.mail_dir)
    expected = sum(1 for r in close.reports for p in close.recipients if getattr(p, r.scope))
    assert len(files) == len(close.mails) == expected >= 2
    assert not list(close.mail_dir.glob(".*.partial"))
    addressed = set()
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        addressed.add(message["To"].addresses[0].addr_spec)
        body = message.get_body(("html",))
        assert body is not None
        page = body.get_content()
        images = [p for p in message.walk() if p.get_content_type() == "image/png"]
        assert images
        for image in images:
            assert image.get_content_disposition() == "inline"
            assert f"cid:{image['Content-ID'].strip('<>')}" in page
            assert image.get_content().startswith(b"\x89PNG")
    assert addressed == {r.email for r in close.recipients}
    assert {m.path for m in close.mails} == set(files)
    assert all(m.html and m.images > 0 for m in close.mails)

    # Reorder drafts from the day's suggestions, made through the hub's API.
    with hub_db.read() as s:
        drafts = s.scalar(
            select(func.count())
            .select_from(PurchaseOrder)
            .where(PurchaseOrder.status == "draft", PurchaseOrder.source_key.is_not(None))
        )
    assert drafts is not None and close.drafts == drafts > 0 and close.draft_lines > 0

    # What the printout says, and where to find it.
    assert f"Closing {close.day}: the daily-close Prefect flow" in printed
    assert f"daily report for {close.day}: data complete and consistent" in printed
    assert str(daily.index) in printed
    for mail in close.mails:
        assert mail.path.name in printed
    assert "draft purchase orders" in printed
    assert f"/api/v1/reports/daily/{close.day}" in printed
    assert f"{close.mail_dir}/*.eml" in printed
