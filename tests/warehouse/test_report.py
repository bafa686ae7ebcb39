"""The owner report (issue 6) from a warehouse the real pipeline built from a seeded hub on SQLite
(tests/warehouse/test_notebooks.py's shop: three days of trade, a return, a shift closed 5.00
short, an unknown barcode, kefir sold without cost, caviar never sold): its figures equal SQL on
the hub's own tables; the page shows them in Russian and English, escapes a hostile product name
and links nothing outside itself; the charts are PNGs of a fixed size; the CSV files parse back
and add up; publishing is atomic and happens once; the weekly report adds ABC/XYZ, dead stock and
days of cover; a day without sales and a warehouse without anything still make a report.

PostgreSQL is not needed here: the report reads only the DuckDB file (the extract from PostgreSQL
is tested in test_extract and test_marts)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import struct
import threading
import warnings
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from sqlalchemy import select

from hub.catalog.models import Category
from hub.sales.models import Sale, SaleLine
from hub.stores.models import Store
from tests.warehouse.test_notebooks import AS_OF, _build, build_warehouse
from warehouse import report
from warehouse.extract import open_warehouse
from warehouse.pipeline import build_marts, refresh
from warehouse.report_data import Sales, div_half_up, ratio_bp
from warehouse.report_format import Formatter

SUNDAY = dt.date(2026, 11, 29)  # ends the ISO week of AS_OF (Monday 23 November)
HOSTILE = '=1+1 <script>alert("кефир")</script> $x^2$'  # kefir's name when the report is made
CATEGORY = "Молочное & <i>$y$"  # the dairy category when the report is made (no "/" allowed)
NNBSP, NBSP = "\u202f", "\u00a0"


# --- the shop, built once and copied for each test ----------------------------------------


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only (see the module docstring)."""
    path = tmp_path / "hub.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _half_up(numerator: int, denominator: int) -> int:
    quotient = Decimal(numerator) / Decimal(denominator)
    return int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class HubDay:
    """One store's local day of sales, from the hub's sale and sale_line tables."""

    revenue_minor: int = 0
    revenue_ex_vat_minor: int = 0
    gross_profit_minor: int = 0
    sales_revenue_minor: int = 0
    receipts: int = 0
    returns: int = 0

    def __add__(self, other: HubDay) -> HubDay:
        return HubDay(
            *(a + b for a, b in zip(vars(self).values(), vars(other).values(), strict=True))
        )


def _hub_days(db: Any) -> dict[tuple[int, dt.date], HubDay]:
    """Sales per store and local day, straight from the hub's tables: totals from `sale`, profit
    from `sale_line` (a return's rows are stored positive and flagged by the sale's kind)."""
    with db.read() as s:
        zones = {i: ZoneInfo(tz) for i, tz in s.execute(select(Store.id, Store.timezone))}
        sales = {
            i: (store, kind, at.astimezone(zones[store]).date(), total)
            for i, store, kind, at, total in s.execute(
                select(Sale.id, Sale.store_id, Sale.kind, Sale.created_at, Sale.total_minor)
            )
        }
        lines = s.execute(
            select(
                SaleLine.sale_id,
                SaleLine.amount_minor,
                SaleLine.vat_minor,
                SaleLine.qty_milli,
                SaleLine.unit_cost_minor,
            )
        ).all()
    days: dict[tuple[int, dt.date], HubDay] = {}
    for store, kind, day, total in sales.values():
        sign = -1 if kind == "return" else 1
        days[(store, day)] = days.get((store, day), HubDay()) + HubDay(
            revenue_minor=sign * total,
            sales_revenue_minor=total if kind == "sale" else 0,
            receipts=int(kind == "sale"),
            returns=int(kind == "return"),
        )
    for sale_id, amount, vat, qty, cost in lines:
        store, kind, day, _ = sales[sale_id]
        sign = -1 if kind == "return" else 1
        profit = 0 if cost is None else amount - vat - _half_up(qty * cost, 1000)
        days[(store, day)] += HubDay(
            revenue_ex_vat_minor=sign * (amount - vat), gross_profit_minor=sign * profit
        )
    return days


@dataclass
class Shop:
    path: Path  # this test's own copy of the warehouse, marts built for AS_OF
    hub: dict[tuple[int, dt.date], HubDay]
    stores: dict[int, str]
    reports: Path
    copies: list[Path] = field(default_factory=list)

    def hub_sales(self, first: dt.date, last: dt.date, store: int | None = None) -> HubDay:
        return sum(
            (v for (s, d), v in self.hub.items() if first <= d <= last and store in (None, s)),
            HubDay(),
        )

    def marts_for(self, day: dt.date) -> None:
        build_marts(self.path, day)

    def duck(self) -> duckdb.DuckDBPyConnection:
        return open_warehouse(self.path, read_only=True)


_BUILT: dict[str, Any] = {}


def _rename(client: Any, world: Any, db: Any, kefir: int) -> None:
    owner = world.headers("owner")
    response = client.patch(
        f"/api/v1/catalog/products/{kefir}", json={"name": HOSTILE}, headers=owner
    )
    assert response.status_code == 200, response.text
    with db.read() as s:
        dairy = s.scalars(select(Category).where(Category.name == "Молочное")).one().id
    response = client.patch(
        f"/api/v1/catalog/categories/{dairy}", json={"name": CATEGORY}, headers=owner
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def shop(request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: Any) -> Shop:
    """The shop's warehouse, marts built for AS_OF. Built through the hub once per session (about
    3 s); every test gets its own copy. After the trade the kefir and the dairy category get
    hostile names: the report shows the current names."""
    if not _BUILT:
        client, world, db, url = (
            request.getfixturevalue(name) for name in ("client", "world", "db", "db_url")
        )
        var = tmp_path_factory.mktemp("report-shop")
        path = build_warehouse(client, world, db, url, var)
        kefir = open_warehouse(path, read_only=True)
        try:
            [(kefir_id,)] = kefir.execute(
                "SELECT product_id FROM dim_product WHERE sku = 'KEFIR' AND is_current"
            ).fetchall()
        finally:
            kefir.close()
        _rename(client, world, db, kefir_id)
        refresh(url, path)
        build_marts(path, AS_OF)
        with db.read() as s:
            stores = dict(s.execute(select(Store.id, Store.name)).all())
        _BUILT.update(path=path, hub=_hub_days(db), stores=stores)
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(_BUILT["path"], path)
    return Shop(path, _BUILT["hub"], _BUILT["stores"], tmp_path / "reports")


def _gather(shop: Shop, scope: str, day: dt.date, **options: Any) -> report.ReportData:
    duck = shop.duck()
    try:
        return report.gather(duck, report.report_period(scope, day), **options)
    finally:
        duck.close()


def _quality(period: report.Period, *, warning: bool = False) -> dict[str, Any]:
    checks = [
        {
            "id": "tills_synced",
            "suite": "sync",
            "severity": "blocking",
            "passed": True,
            "explanation": {"ru": "Все кассы передали данные", "en": "Every till synced"},
            "reasons": {"ru": [], "en": []},
            "numbers": {"tills": 1},
        },
        {
            "id": "cost_known",
            "suite": "cost",
            "severity": "warning",
            "passed": not warning,
            "explanation": {
                "ru": "Себестоимость известна для 99 % выручки",
                "en": "Cost is known for 99% of revenue",
            },
            "reasons": {"ru": ["Известна для 0 % <выручки>"], "en": ["Known for 0% <of revenue>"]},
            "numbers": {"share_bp": 0},
        },
    ]
    return {
        "scope": period.scope,
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "verdict": "published",
        "checked_at": "2026-11-24T03:20:00+00:00",
        "summary": {"ru": "", "en": ""},
        "checks": checks,
    }


def ru_money(minor: int) -> str:
    rubles, kopecks = divmod(abs(minor), 100)
    sign = "-" if minor < 0 else ""
    return f"{sign}{rubles:,}".replace(",", NNBSP) + f",{kopecks:02d}{NBSP}₽"


def en_money(minor: int) -> str:
    rubles, kopecks = divmod(abs(minor), 100)
    return f"{'-' if minor < 0 else ''}{rubles:,}.{kopecks:02d}{NBSP}₽"


# --- periods, rounding, formats -----------------------------------------------------------


def test_a_daily_report_is_its_day_and_a_weekly_one_the_iso_week_ending_on_a_sunday() -> None:
    assert report.report_period("daily", AS_OF) == report.Period("daily", AS_OF, AS_OF)
    week = report.report_period("weekly", SUNDAY)
    assert (week.start, week.end, week.days) == (dt.date(2026, 11, 23), SUNDAY, 7)
    with pytest.raises(ValueError, match="2026-11-27 is a Friday"):
        report.report_period("weekly", dt.date(2026, 11, 27))
    with pytest.raises(ValueError, match="unknown report scope 'monthly'"):
        report.report_period("monthly", AS_OF)


def test_ratios_round_half_away_from_zero_once_and_money_is_formatted_from_integers() -> None:
    assert [div_half_up(n, 2) for n in (5, -5, 3, -3, 4)] == [3, -3, 2, -2, 2]
    assert ratio_bp(1, 3) == 3333 and ratio_bp(2, 3) == 6667 and ratio_bp(5, 0) is None
    ru, en = Formatter("ru"), Formatter("en")
    assert ru.money(123_456_789) == f"1{NNBSP}234{NNBSP}567,89{NBSP}₽"
    assert en.money(123_456_789) == f"1,234,567.89{NBSP}₽"
    assert (ru.money(-5), en.money(-5), ru.money(0)) == (
        f"-0,05{NBSP}₽",
        f"-0.05{NBSP}₽",
        f"0,00{NBSP}₽",
    )
    assert (ru.pct(2345), en.pct(-455), ru.pct(None)) == (f"23,45{NBSP}%", "-4.55%", "—")
    assert (ru.qty(1250, "kg"), en.qty(6000, "piece")) == (f"1,250{NBSP}кг", f"6{NBSP}pcs")
    assert (ru.date(AS_OF), en.date(AS_OF)) == ("23.11.2026", "23 Nov 2026")
    assert ru.whole_money(123_450) == f"1{NNBSP}235{NBSP}₽"  # half up, for chart axes
    with pytest.raises(ValueError, match="unknown report language 'de'"):
        Formatter("de")


# --- figures --------------------------------------------------------------------------------


def _assert_sales_equal(sales: Sales, hub: HubDay) -> None:
    assert sales.revenue_minor == hub.revenue_minor
    assert sales.revenue_ex_vat_minor == hub.revenue_ex_vat_minor
    assert sales.gross_profit_minor == hub.gross_profit_minor
    assert sales.sales_revenue_minor == hub.sales_revenue_minor
    assert (sales.receipts, sales.returns) == (hub.receipts, hub.returns)
    if hub.receipts:
        assert sales.average_ticket_minor == _half_up(hub.sales_revenue_minor, hub.receipts)
    if hub.revenue_ex_vat_minor > 0:
        assert sales.margin_bp == _half_up(
            hub.gross_profit_minor * 10_000, hub.revenue_ex_vat_minor
        )


def test_daily_and_weekly_figures_equal_the_hubs_own_sales(shop: Shop) -> None:
    """Revenue (net of returns), receipts, returns, revenue without VAT, gross profit, average
    ticket and margin, for the chain and each store, equal sums over the hub's sale tables."""
    cases = [("daily", AS_OF, AS_OF), ("daily", dt.date(2026, 11, 22), dt.date(2026, 11, 22))]
    cases.append(("weekly", dt.date(2026, 11, 16), dt.date(2026, 11, 22)))
    cases.append(("weekly", dt.date(2026, 11, 23), SUNDAY))
    for scope, first, last in cases:
        shop.marts_for(last)
        data = _gather(shop, scope, last)
        assert (data.period.start, data.period.end) == (first, last)
        hub = shop.hub_sales(first, last)
        _assert_sales_equal(data.total, hub)
        assert {s.store_id for s in data.stores} == set(shop.stores)  # store B: active, no sales
        for store in data.stores:
            assert store.store_name == shop.stores[store.store_id]
            _assert_sales_equal(store.sales, shop.hub_sales(first, last, store.store_id))
        # every line is in exactly one category and one product (or the unknown barcodes)
        for name in ("revenue_minor", "revenue_ex_vat_minor", "gross_profit_minor"):
            total = getattr(data.total, name)
            assert sum(getattr(c.profit, name) for c in data.categories) == total
            products = sum(getattr(p.profit, name) for p in data.products)
            assert products + getattr(data.unknown_products, name) == total
        # the trend: 28 days ending on the last day, each equal to the hub's day
        assert [d.day for d in data.trend] == [
            last - dt.timedelta(days=n) for n in range(27, -1, -1)
        ]
        for day in data.trend:
            hub_day = shop.hub_sales(day.day, day.day)
            assert (day.profit.revenue_minor, day.receipts) == (
                hub_day.revenue_minor,
                hub_day.receipts,
            )
            assert day.profit.gross_profit_minor == hub_day.gross_profit_minor

    # 23 November: a return of milk, kefir sold without cost, an unknown barcode
    shop.marts_for(AS_OF)
    data = _gather(shop, "daily", AS_OF)
    assert data.total.returns == 1 and data.total.returns_revenue_minor == -8990
    assert data.unknown_products.revenue_minor == 15_000
    kefir = next(p for p in data.products if p.sku == "KEFIR")
    assert kefir.product_name == HOSTILE and not kefir.profit.cost_known
    assert kefir.profit.margin_bp is None
    assert {c.category_name for c in data.categories} == {CATEGORY, None}


def test_stock_reorder_and_cash_come_from_the_marts_as_of_the_last_day(shop: Shop) -> None:
    data = _gather(shop, "daily", AS_OF, low_stock_limit=2)
    duck = shop.duck()
    try:
        negative = duck.execute(
            "SELECT count(*) FROM rpt_stock_position WHERE on_hand_milli < 0"
        ).fetchall()[0][0]
        reorder = duck.execute(
            "SELECT count(*), sum(suggested_value_minor) FROM rpt_reorder WHERE needs_order"
        ).fetchall()[0]
    finally:
        duck.close()
    # negative stock first, the limit applied, the count kept
    assert negative == 2 and data.low_stock_count == 3 and len(data.low_stock) == 2
    assert all(row.is_negative for row in data.low_stock)
    assert (len(data.reorder), data.reorder_value_minor) == reorder
    assert {r.supplier_name for r in data.reorder} == {"ООО «Молочный двор»"}
    # the shift of the 23rd closed at 17:00 UTC, 20:00 in Moscow, 5.00 short
    [shift] = data.shifts
    assert (shift.over_short_minor, shift.cashier_name) == (-500, "Кассир А")
    assert shift.closed_at_local == dt.datetime(2026, 11, 23, 20, 0)
    [cashier] = data.cashiers
    assert (cashier.shifts, cashier.over_minor, cashier.short_minor) == (1, 0, -500)
    assert not data.weekly and not data.abc_xyz and not data.dead_stock and not data.cover
    # the day before has no closed shift
    shop.marts_for(dt.date(2026, 11, 22))
    assert _gather(shop, "daily", dt.date(2026, 11, 22)).shifts == []


def test_the_marts_must_be_built_for_the_reports_last_day(shop: Shop) -> None:
    with pytest.raises(ValueError, match=r"built for 2026-11-23, the weekly report needs them"):
        _gather(shop, "weekly", SUNDAY)


# --- the page, the text, the subject --------------------------------------------------------


def test_the_page_shows_the_figures_in_russian_and_english_and_escapes_names(shop: Shop) -> None:
    data = _gather(shop, "daily", AS_OF)
    hub = shop.hub_sales(AS_OF, AS_OF)
    quality = _quality(data.period, warning=True)
    ru = report.render_html(data, quality, "ru", image_src=lambda n: f"charts/{n}")
    en = report.render_html(data, quality, "en", image_src=lambda n: f"cid:{n}")
    assert _half_up(hub.gross_profit_minor * 10_000, hub.revenue_ex_vat_minor) == -455
    ticket = _half_up(hub.sales_revenue_minor, hub.receipts)
    for page, money, pct in ((ru, ru_money, "-4,55\u00a0%"), (en, en_money, "-4.55%")):
        assert money(hub.revenue_minor) in page and money(hub.gross_profit_minor) in page
        assert money(ticket) in page and money(-8990) in page
        assert pct in page
        assert money(798_200) in page  # reorder suggestions' value (thousands grouped)
        assert money(-500) in page  # the shift's shortage
        # escaped: the hostile names are text, never markup
        assert "<script" not in page.lower() and "<i>$y$" not in page
        assert "&lt;script&gt;alert(&#34;кефир&#34;)&lt;/script&gt;" in page
        assert "Молочное &amp; &lt;i&gt;$y$" in page
        assert "&lt;выручки&gt;" in page or "&lt;of revenue&gt;" in page
        # self-contained
        assert "http://" not in page and "https://" not in page and "<link" not in page
        assert "Магазин А" in page and "Магазин Б" in page
    assert "7\u202f982,00\u00a0₽" in ru and "7,982.00\u00a0₽" in en
    assert 'src="charts/trend.png"' in ru and 'src="cid:trend.png"' in en
    assert "Данные полные, есть предупреждения" in ru and "Себестоимость известна" in ru
    assert "Data complete, with warnings" in en and "Cost is known for 99% of revenue" in en
    assert "за вычетом возвратов" in ru and "net of returns" in en  # the footnote
    assert "Отчёт за 23.11.2026" in ru and "Report for 23 Nov 2026" in en
    assert "ABC" not in ru and "Неликвид" not in ru  # weekly sections only

    green = report.render_html(data, _quality(data.period), "ru", image_src=str)
    assert "badge-ok" in green and "Данные полные" in green and "предупреждения" not in green


def test_the_subject_and_the_plain_text_carry_the_headline(shop: Shop) -> None:
    data = _gather(shop, "daily", AS_OF)
    revenue = shop.hub_sales(AS_OF, AS_OF).revenue_minor
    assert report.subject(data, "ru") == f"Kassa: отчёт за 23.11.2026 — выручка {ru_money(revenue)}"
    assert (
        report.subject(data, "en") == f"Kassa: report for 23 Nov 2026 — revenue {en_money(revenue)}"
    )
    text = report.render_text(data, "ru", quality=_quality(data.period))
    assert f"Выручка (с НДС, за вычетом возвратов): {ru_money(revenue)}" in text
    assert "Данные: Данные полные" in text and "Чеки: 6; Возвраты: 1" in text
    assert "Receipts: 6; Returns: 1" in report.render_text(data, "en")


# --- charts ---------------------------------------------------------------------------------


def _png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n" and content[12:16] == b"IHDR"
    width, height = struct.unpack(">II", content[16:24])
    return width, height


def test_charts_are_pngs_of_a_fixed_size_drawn_the_same_in_threads(shop: Shop) -> None:
    data = _gather(shop, "daily", AS_OF)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing Cyrillic glyph would warn
        ru = report.charts(data, "ru")
        en = report.charts(data, "en")
    assert list(ru) == report.chart_names(data) == ["trend.png", "stores.png", "categories.png"]
    for content in [*ru.values(), *en.values()]:
        assert _png_size(content) == report.CHART_SIZE
    assert ru != en  # the labels differ
    drawn: list[dict[str, bytes]] = []
    threads = [threading.Thread(target=lambda: drawn.append(report.charts(data))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert drawn == [ru, ru]  # deterministic, and no shared pyplot state


# --- CSV -------------------------------------------------------------------------------------


def _csv(content: bytes, delimiter: str) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


def _minor(text: str) -> int:
    whole, fraction = text.replace(",", ".").split(".")
    assert len(fraction) == 2, text
    return int(whole + fraction)


def test_csv_files_parse_back_and_add_up(shop: Shop) -> None:
    data = _gather(shop, "daily", AS_OF)
    hub = shop.hub_sales(AS_OF, AS_OF)
    for language, delimiter in (("ru", ";"), ("en", ",")):
        files = report.csv_files(data, language)
        assert set(files) == {
            "stores.csv",
            "categories.csv",
            "products.csv",
            "trend.csv",
            "low_stock.csv",
            "reorder.csv",
            "cash_shifts.csv",
            "cash_cashiers.csv",
        }
        head, *stores = _csv(files["stores.csv"], delimiter)
        revenue = head.index("Выручка, ₽" if language == "ru" else "Revenue, ₽")
        profit = head.index("Валовая прибыль, ₽" if language == "ru" else "Gross profit, ₽")
        *rows, total = stores
        assert total[1] == ("Итого" if language == "ru" else "Total")
        assert sum(_minor(r[revenue]) for r in rows) == _minor(total[revenue]) == hub.revenue_minor
        assert sum(_minor(r[profit]) for r in rows) == _minor(total[profit])
        assert _minor(total[profit]) == hub.gross_profit_minor
        head, *products = _csv(files["products.csv"], delimiter)
        assert sum(_minor(r[7]) for r in products) == hub.revenue_minor  # with unknown barcodes
        kefir = next(r for r in products if r[1] == "KEFIR")
        assert kefir[2] == "'" + HOSTILE  # never a formula in a spreadsheet
        head, *categories = _csv(files["categories.csv"], delimiter)
        assert sum(_minor(r[2]) for r in categories[:-1]) == _minor(categories[-1][2])
        head, *trend = _csv(files["trend.csv"], delimiter)
        assert len(trend) == 28 and trend[-1][0] == "2026-11-23"
        head, *shifts = _csv(files["cash_shifts.csv"], delimiter)
        assert [_minor(r[8]) for r in shifts] == [-500]
    ru = report.csv_files(data, "ru")["stores.csv"].decode("utf-8-sig")
    assert ";539,50;-89,90;" in ru  # decimal comma, no grouping, returns negative


# --- publishing -------------------------------------------------------------------------------


def _snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.relative_to(directory).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_publish_writes_the_report_once_quality_first(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _gather(shop, "daily", AS_OF)
    quality = _quality(data.period)
    order: list[str] = []
    write = report._write

    def recording(path: Path, content: bytes) -> Path:
        order.append(path.name)
        return write(path, content)

    monkeypatch.setattr(report, "_write", recording)
    duck = shop.duck()
    try:
        published = report.publish(shop.reports, data, quality, duck=duck)
        monkeypatch.undo()
        directory = shop.reports / "daily" / "2026-11-23"
        assert published.directory == directory and not published.already_published
        assert order[0] == "quality.json"
        files = _snapshot(directory)
        assert set(files) == set(published.files)
        assert {"quality.json", "index.html", "marts.parquet", "csv/stores.csv"} <= set(files)
        assert {"charts/trend.png", "charts/stores.png", "charts/categories.png"} <= set(files)
        assert json.loads(files["quality.json"][1]) == quality
        page = files["index.html"][1].decode("utf-8")
        for name in report.chart_names(data):
            assert f'src="charts/{name}"' in page
        assert 'href="csv/stores.csv"' in page and 'href="marts.parquet"' in page
        assert [p.name for p in (shop.reports / "daily").iterdir()] == ["2026-11-23"]

        again = report.publish(shop.reports, data, quality, duck=duck)
    finally:
        duck.close()
    assert again.already_published and again.directory == directory and again.files == ()
    assert _snapshot(directory) == files  # nothing rewritten: same bytes, same mtimes


def test_marts_parquet_holds_the_mart_rows_of_the_period(shop: Shop) -> None:
    shop.marts_for(SUNDAY)
    duck = shop.duck()
    try:
        data = report.gather(duck, report.report_period("weekly", SUNDAY))
        published = report.publish(shop.reports, data, _quality(data.period), duck=duck)
        expected_sales = duck.execute(
            "SELECT * FROM rpt_daily_sales WHERE sale_date BETWEEN ? AND ? "
            "ORDER BY store_id, sale_date",
            [data.period.start, SUNDAY],
        ).fetchall()
        expected_dead = duck.execute("SELECT * FROM rpt_dead_stock").fetchall()
        stock_rows = duck.execute("SELECT count(*) FROM rpt_stock_position").fetchall()[0][0]
    finally:
        duck.close()
    file = published.directory / "marts.parquet"
    con = duckdb.connect()
    try:
        assert con.execute(f"SELECT count(*) FROM '{file}'").fetchall() == [(1,)]
        one = con.execute(f"SELECT scope, period_start, period_end FROM '{file}'").fetchall()
        assert one == [("weekly", dt.date(2026, 11, 23), SUNDAY)]

        def unnest(column: str) -> list[tuple[Any, ...]]:
            sql = f"SELECT unnest({column}, recursive := true) FROM '{file}'"
            return con.execute(sql).fetchall()

        assert unnest("daily_sales") == expected_sales
        assert unnest("dead_stock") == expected_dead and len(expected_dead) == 1
        assert len(unnest("stock_position")) == stock_rows
        assert len(unnest("trend_daily_sales")) == 4  # 20-23 November, one store
        profit = Counter(row[0] for row in unnest("product_profit"))
        assert profit == {"day": 3, "week": 3}  # kefir, milk's return, the unknown barcode
        [shift] = unnest("cash_over_short")
        assert shift[12] == -500
        names = {row[2] for row in unnest("products")}
        assert HOSTILE in names and "Икра красная 100 г" in names
        assert {row[1] for row in unnest("stores")} == set(shop.stores.values())
        assert len(unnest("abc_xyz")) == 4
    finally:
        con.close()


def test_a_failed_publish_leaves_nothing_and_a_crashed_one_is_cleaned(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _gather(shop, "daily", AS_OF)
    quality = _quality(data.period)
    scope = shop.reports / "daily"

    def full_disk(*args: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_marts_parquet", full_disk)  # the last file written
    duck = shop.duck()
    try:
        with pytest.raises(OSError, match="No space left"):
            report.publish(shop.reports, data, quality, duck=duck)
        assert list(scope.iterdir()) == []  # no report, no temporary directory
        monkeypatch.undo()

        crashed = scope / ".tmp-2026-11-23-0badf00d"  # what a killed run leaves
        (crashed / "charts").mkdir(parents=True)
        (crashed / "quality.json").write_text("{}")
        published = report.publish(shop.reports, data, quality, duck=duck)
    finally:
        duck.close()
    assert [p.name for p in scope.iterdir()] == ["2026-11-23"]
    assert not published.already_published and (published.directory / "marts.parquet").is_file()


def test_publish_refuses_a_withheld_report_or_checks_of_another_period(shop: Shop) -> None:
    data = _gather(shop, "daily", AS_OF)
    duck = shop.duck()
    try:
        withheld = {**_quality(data.period), "verdict": "withheld"}
        with pytest.raises(ValueError, match="withheld the daily report for 2026-11-23"):
            report.publish(shop.reports, data, withheld, duck=duck)
        other = _quality(report.report_period("daily", dt.date(2026, 11, 22)))
        with pytest.raises(ValueError, match="quality checks are for daily 2026-11-22"):
            report.publish(shop.reports, data, other, duck=duck)
    finally:
        duck.close()
    assert not (shop.reports / "daily" / "2026-11-23").exists()


# --- weekly, empty ------------------------------------------------------------------------------


def test_the_weekly_report_adds_abc_xyz_dead_stock_and_days_of_cover(shop: Shop) -> None:
    shop.marts_for(SUNDAY)
    data = _gather(shop, "weekly", SUNDAY)
    assert data.weekly and len(data.abc_xyz) == 4
    assert [(r.sku, r.abc_class) for r in data.abc_xyz][:1] == [("CHEESE", "A")]
    [dead] = data.dead_stock
    assert (dead.product_name, dead.last_sale_date, dead.value_at_cost_minor) == (
        "Икра красная 100 г",
        None,
        210_000,
    )
    assert data.cover and data.cover == sorted(data.cover, key=lambda c: c.days_of_cover)
    assert data.stock_value_minor > 0
    page = report.render_html(data, _quality(data.period), "ru", image_src=lambda n: n)
    for text in (
        "Недельный отчёт: 23.11.2026 – 29.11.2026",
        "ABC/XYZ-анализ",
        "Неликвид",
        "Икра красная 100 г",
        "никогда",
        "Запас в днях",
        ru_money(210_000),
    ):
        assert text in page, text
    en = report.render_html(data, _quality(data.period), "en", image_src=lambda n: n)
    assert "Weekly report: 23 Nov 2026 – 29 Nov 2026" in en and "Dead stock" in en
    assert report.subject(data, "ru").startswith(
        "Kassa: недельный отчёт за 23.11.2026 – 29.11.2026"
    )
    files = report.csv_files(data, "en")
    assert {"abc_xyz.csv", "dead_stock.csv", "days_of_cover.csv"} <= set(files)
    _, *dead_rows = _csv(files["dead_stock.csv"], ",")
    assert [r[4] for r in dead_rows] == ["Икра красная 100 г"] and dead_rows[0][-2] == ""


def test_a_day_without_sales_still_makes_a_sensible_report(shop: Shop) -> None:
    quiet = dt.date(2026, 12, 10)  # 28 days back reach the trade of 20-23 November
    shop.marts_for(quiet)
    data = _gather(shop, "daily", quiet)
    assert not data.has_sales and data.total == Sales()
    assert data.total.average_ticket_minor is None and data.total.margin_bp is None
    assert report.chart_names(data) == ["trend.png"]
    ru = report.render_html(data, _quality(data.period), "ru", image_src=lambda n: n)
    en = report.render_html(data, _quality(data.period), "en", image_src=lambda n: n)
    assert "За этот период продаж не было." in ru and "No sales in this period." in en
    assert 'src="trend.png"' in ru and "stores.png" not in ru
    assert report.subject(data, "ru") == "Kassa: отчёт за 10.12.2026 — выручка 0,00\u00a0₽"
    duck = shop.duck()
    try:
        published = report.publish(shop.reports, data, _quality(data.period), duck=duck)
    finally:
        duck.close()
    assert (published.directory / "index.html").is_file()


def test_an_empty_warehouse_still_makes_a_report(world: Any, db_url: str, tmp_path: Path) -> None:
    """Stores, staff and tills, nothing sold or received: every section says so."""
    path = _build(db_url, tmp_path)
    duck = open_warehouse(path, read_only=True)
    try:
        data = report.gather(duck, report.report_period("daily", AS_OF))
        assert report.charts(data) == {}
        published = report.publish(tmp_path / "reports", data, _quality(data.period), duck=duck)
    finally:
        duck.close()
    page = (published.directory / "index.html").read_text(encoding="utf-8")
    for text in (
        "За этот период продаж не было.",
        "За 28 дней продаж не было.",
        "Заказывать сейчас ничего не нужно.",
        "За период не закрыто ни одной смены.",
        "Все остатки выше точки заказа",
    ):
        assert text in page, text
    assert "<img" not in page and list((published.directory / "charts").iterdir()) == []
    con = duckdb.connect()
    try:
        file = published.directory / "marts.parquet"
        rows = con.execute(f"SELECT unnest(daily_sales, recursive := true) FROM '{file}'")
        assert rows.fetchall() == []
        lengths = con.execute(f"SELECT len(daily_sales), len(stores) FROM '{file}'").fetchall()
    finally:
        con.close()
    assert lengths == [(0, 2)]  # no sales: an empty list; the two stores are named
