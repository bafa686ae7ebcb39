"""Several weeks of trading: the hub's real HTTP API for the back office, the real till agent
for the tills.

An owner sets up a supplier; each store's manager orders, sends and receives goods (in two
deliveries, so a purchase order passes through "partially received"). Then every till trades
day by day on the real till agent code (`kassa.demo_till`: simulated serial scanners and TCP
printers, a simulated clock): the cashier logs in by PIN, opens the shift with a counted float,
scans goods (scale labels for weighed ones), pays by cash with change, card or both, now and
then refunds a receipt found by its QR code, pays out cash, and closes with a blind count and a
printed Z report. The agents sync their journals exactly as in a shop; one till's line is down
for two days and it catches up. Mid-way there is a second delivery without an order; at the
end a stock count, a transfer between the stores and a write-off. The figures printed
afterwards are read back from the hub.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, update

from hub.catalog.models import Product, TaxRate
from hub.db import Database
from hub.settings import Settings
from kassa import demo_till
from kassa.demo_proof import serving
from kassa.demo_seed import Login, Till
from till_agent.basket import Payment
from till_agent.core import Done
from wire.money import round_half_up

SEED = 20261128
FLOAT_MINOR = 500_000  # 5,000.00 in the drawer at open
MSK = dt.timezone(dt.timedelta(hours=3))


@dataclass(frozen=True)
class Good:
    product_id: int
    name: str
    unit: str
    price_minor: int
    vat_rate_bp: int | None
    cost_minor: int  # what the supplier charges per unit


@dataclass
class TradeSummary:
    days: int = 0
    last_day: dt.date | None = None  # the last day traded (the chain's yesterday)
    receipts: int = 0
    returns: int = 0
    lines: int = 0
    shifts: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    revenue_minor: int = 0  # sales minus returns, VAT included
    revenue_ex_vat_minor: int = 0
    cogs_minor: int = 0
    stock_value_minor: dict[str, int] = field(default_factory=dict)
    negative_lines: dict[str, int] = field(default_factory=dict)
    purchase_orders: list[str] = field(default_factory=list)
    receipts_without_po: int = 0
    count_note: str = ""
    transfer_note: str = ""
    write_off_note: str = ""
    cost_example: str = ""
    over_short: list[str] = field(default_factory=list)
    z_report: str = ""
    http_seconds: float = 0.0
    seconds: float = 0.0
    printed: int = 0  # receipts and Z reports decoded by the simulated printers
    scanned: int = 0  # codes read through the simulated serial scanners
    max_queue: int = 0  # the most sales a till held while its line was down


def _goods(db: Database, rng: random.Random, count: int) -> list[Good]:
    with db.read() as s:
        rows = s.execute(
            select(Product.id, Product.name, Product.unit, Product.price_minor, TaxRate.rate_bp)
            .join(TaxRate, TaxRate.id == Product.tax_rate_id)
            .where(Product.active.is_(True), Product.price_minor > 0)
            .order_by(Product.id)
        ).all()
    chosen = rng.sample(rows, min(count, len(rows)))
    return [
        Good(
            r.id,
            r.name,
            r.unit,
            r.price_minor,
            r.rate_bp,
            # Suppliers charge 55-80 % of the shelf price.
            round_half_up(r.price_minor * rng.randint(55, 80), 100),
        )
        for r in chosen
    ]


def _opening_milli(good: Good, short: set[int]) -> int:
    if good.product_id in short:
        return 6_000 if good.unit == "kg" else 18_000
    return 30_000 if good.unit == "kg" else 120_000


def _top_up_milli(good: Good, short: set[int]) -> int:
    if good.product_id in short:
        return 2_000 if good.unit == "kg" else 6_000
    return 10_000 if good.unit == "kg" else 48_000


class Api:
    """A thin httpx wrapper that fails loudly: the demo must not hide an error."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def sign_in(self, login: Login) -> dict[str, str]:
        response = self.client.post(
            "/api/v1/auth/token", data={"username": login.login, "password": login.secret}
        )
        self._check(response, "sign in")
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def call(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=headers, **kwargs)
        self._check(response, f"{method} {url}")
        return response.json()

    @staticmethod
    def _check(response: Any, what: str) -> None:
        if response.status_code >= 300:
            raise RuntimeError(f"{what} answered {response.status_code}: {response.text[:500]}")


def _qty(good: Good, rng: random.Random) -> int:
    if good.unit == "kg":
        return rng.randint(150, 1500)  # grams off the scale
    return 1000 * rng.choice((1, 1, 1, 1, 2, 2, 3))


def trade(
    settings: Settings,
    db: Database,
    tills: Sequence[Till],
    logins: Sequence[Login],
    *,
    days: int = 21,
    goods_count: int = 240,
    receipts_per_day: tuple[int, int] = (25, 45),
    root: Path,
) -> TradeSummary:
    import httpx

    from hub.app import create_app

    started = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311 - a reproducible simulation, not a secret
    goods = _goods(db, rng, goods_count)
    owner = next(x for x in logins if x.role == "owner")
    managers = {x.store: x for x in logins if x.role == "manager"}
    stores = {t.store_id: t.store for t in tills}
    today = dt.datetime.now(MSK).replace(hour=0, minute=0, second=0, microsecond=0)
    summary = TradeSummary(days=days, last_day=(today - dt.timedelta(days=1)).date())
    first_day = today - dt.timedelta(days=days)

    with (
        serving(create_app(settings, db)) as base_url,
        httpx.Client(base_url=base_url, timeout=120) as client,
    ):
        api = Api(client)
        owner_h = api.sign_in(owner)
        manager_h = {sid: api.sign_in(managers[name]) for sid, name in stores.items()}
        supplier = api.call(
            "POST",
            "/api/v1/suppliers",
            owner_h,
            json={
                "name": "ООО «Продснаб»",
                "contact": "заказ@продснаб.рф, +7 495 000-00-00",
                "lead_time_days": 2,
                "review_period_days": 7,
            },
        )
        for good in goods:
            api.call(
                "PUT",
                f"/api/v1/suppliers/{supplier['id']}/products/{good.product_id}",
                owner_h,
                json={
                    "pack_size_milli": 1000 if good.unit == "kg" else 6000,
                    "min_order_milli": 6000,
                    "last_cost_minor": good.cost_minor,
                },
            )
        # Every eighth good was under-ordered: it runs low (or out) and shows up for reorder.
        short = {g.product_id for g in goods[::8]}
        # Opening stock: order, send, receive in two deliveries.
        for store_id, headers in manager_h.items():
            base = f"/api/v1/stores/{store_id}/purchase-orders"
            order = api.call(
                "POST",
                base,
                headers,
                json={
                    "supplier_id": supplier["id"],
                    "note": "Первичный завоз",
                    "lines": [
                        {
                            "product_id": g.product_id,
                            "qty_ordered_milli": _opening_milli(g, short),
                            "unit_cost_minor": g.cost_minor,
                        }
                        for g in goods
                    ],
                },
            )
            api.call("POST", f"{base}/{order['id']}/send", headers)
            docs = []
            halves: list[list[dict[str, int]]] = [[], []]
            for line in order["lines"]:
                first = line["qty_ordered_milli"] // 2
                halves[0].append({"product_id": line["product_id"], "qty_milli": first})
                halves[1].append(
                    {
                        "product_id": line["product_id"],
                        "qty_milli": line["qty_ordered_milli"] - first,
                    }
                )
            status = ""
            for half in halves:
                received = api.call(
                    "POST", f"{base}/{order['id']}/receive", headers, json={"lines": half}
                )
                docs.append(received["doc"]["id"])
                status = received["purchase_order"]["status"]
                summary.purchase_orders.append(f"{stores[store_id]}: PO {order['id']} {status}")
            # Ordered the day before the first trading day, delivered that morning.
            date_documents(
                db, first_day.replace(hour=7), docs, order=order["id"], ordered_days_before=1
            )

        cashier_pins = {(x.store, x.name): x.secret for x in logins if x.role == "cashier"}
        clock = demo_till.Clock(first_day)
        fleet = [(t.device_id, t.store_id, t.name, t.token) for t in tills]
        began = time.perf_counter()
        with demo_till.demo_tills(root, base_url, fleet, clock) as running:
            shifts_of = {
                t.device_id: _cashier_for(running[t.device_id], t, n, cashier_pins)
                for n, t in enumerate(tills)
            }
            for day in range(days):
                date = first_day + dt.timedelta(days=day)
                if day == days // 2:
                    for store_id, headers in manager_h.items():
                        top_up = api.call(
                            "POST",
                            f"/api/v1/stores/{store_id}/receipts",
                            headers,
                            json={
                                "supplier_id": supplier["id"],
                                "note": "Довоз без заказа",
                                "lines": [
                                    {
                                        "product_id": g.product_id,
                                        "qty_milli": _top_up_milli(g, short),
                                        # Prices went up 6 % since the first delivery.
                                        "unit_cost_minor": round_half_up(g.cost_minor * 106, 100),
                                    }
                                    for g in goods
                                ],
                            },
                        )
                        date_documents(db, date.replace(hour=8), [top_up["id"]])
                        summary.receipts_without_po += 1
                for n, till in enumerate(tills):
                    demo = running[till.device_id]
                    _trade_day(
                        summary,
                        demo,
                        shifts_of[till.device_id],
                        clock,
                        goods,
                        date,
                        rng,
                        receipts_per_day,
                    )
                    # The last till's line is down for two days mid-way: it keeps selling
                    # and catches up when the line is back.
                    if n == len(tills) - 1 and days // 3 <= day < days // 3 + 2:
                        queued = demo.agent.journal.status().pending_sales
                        summary.max_queue = max(summary.max_queue, queued)
                        continue
                    _sync(demo)
            for demo in running.values():
                _sync(demo)
                counts = demo.agent.journal.results()
                summary.created += counts.get("created", 0)
                summary.duplicates += counts.get("duplicate", 0)
                summary.rejected += counts.get("conflict", 0) + counts.get("rejected", 0)
                summary.printed += len(demo.receipts())
                summary.scanned += demo.scanned
        summary.http_seconds = time.perf_counter() - began

        _stock_work(api, summary, tills, manager_h, goods, rng)
        _read_back(api, summary, db, stores, manager_h, tills, goods)
    summary.seconds = time.perf_counter() - started
    return summary


def date_documents(
    db: Database,
    at: dt.datetime,
    docs: Sequence[int],
    *,
    order: int | None = None,
    ordered_days_before: int = 0,
) -> None:
    """Date goods receipts (and their purchase order) on the simulated calendar.

    The tills trade on a simulated clock, weeks in a minute, but the hub stamps a back-office
    document with its own clock, as it should (it has no back-dated delivery). Left so, three
    weeks of goods would arrive today, after they were sold: the stock at the end of any past
    day, and so yesterday's report, its low-stock list and the reorder drafts made from it,
    would show every product below zero. So the demo moves each delivery to the morning it
    belongs to: the documents, their stock moves and the order's dates; nothing else changes
    (levels, costs and change sequences were posted in this order anyway)."""
    from hub.purchasing.models import PurchaseOrder
    from hub.stock.models import StockDoc, StockMove

    moment = at.astimezone(dt.UTC)
    with db.write() as s:
        s.execute(update(StockDoc).where(StockDoc.id.in_(docs)).values(created_at=moment))
        s.execute(update(StockMove).where(StockMove.doc_id.in_(docs)).values(at=moment))
        if order is not None:
            ordered = moment - dt.timedelta(days=ordered_days_before)
            closed = PurchaseOrder.closed_at.is_not(None)
            s.execute(
                update(PurchaseOrder)
                .where(PurchaseOrder.id == order)
                .values(
                    created_at=ordered,
                    sent_at=ordered + dt.timedelta(minutes=5),
                    closed_at=case((closed, moment), else_=None),
                )
            )


def _cashier_for(
    demo: demo_till.DemoTill, till: Till, n: int, pins: dict[tuple[str, str], str]
) -> tuple[int, str]:
    """The till's cashier (the feed's id, the PIN the demo made): two per store, in turn."""
    mine = [c for c in demo.till.cashiers() if (till.store, c.name) in pins]
    cashier = mine[n % 2 % len(mine)]
    return cashier.id, pins[(till.store, cashier.name)]


def _sync(demo: demo_till.DemoTill) -> None:
    for _ in range(20):
        outcome = demo.agent.sync_now()
        status = demo.agent.journal.status()
        if outcome.ok and not (status.pending_sales or status.pending_events):
            return
        time.sleep(min(outcome.retry_after or 0.2, 1.0))
    raise RuntimeError(f"till {demo.device_id} could not sync: {outcome}")


def _trade_day(
    summary: TradeSummary,
    demo: demo_till.DemoTill,
    cashier: tuple[int, str],
    clock: demo_till.Clock,
    goods: Sequence[Good],
    date: dt.datetime,
    rng: random.Random,
    receipts_per_day: tuple[int, int],
) -> None:
    """One shift on a real till: login by PIN, open with the float, scan, pay, now and then a
    return (its receipt QR scanned) and a pay-out, then the blind count and the Z report."""
    till = demo.till
    clock.now = date.replace(hour=8, minute=55)
    till.login(*cashier)
    till.open_shift(FLOAT_MINOR)
    count = rng.randint(*receipts_per_day)
    for n in range(count):
        clock.now = date.replace(hour=9) + dt.timedelta(minutes=n * (12 * 60 // count))
        if n == count // 2 and rng.random() < 0.3:
            till.cash_move("cash_out", 150_000, "Инкассация / выплата")
        recent = till.journal.recent_sales(60)
        if recent and rng.random() < 0.03:
            original = till.find_sale(demo.scan(str(rng.choice(recent).sale_uuid)))
            left = till.returnable(original)
            if left[1]:
                qty = left[1] if left[1] <= 1000 else left[1] // 2
                _check(till.refund(original, {1: qty}, approval_code=_code(rng)))
                summary.returns += 1
                continue
        for good in rng.sample(list(goods), rng.randint(1, 5)):
            product = till.catalog.product(good.product_id)
            assert product is not None
            if good.unit == "kg":
                demo.ring(product, grams=rng.randint(150, 1500))
            else:
                for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3))):
                    demo.ring(product)
        gross = sum(line.gross_minor for line in till.basket.lines)
        if rng.random() < 0.1:
            till.discount_receipt(round_half_up(gross * 5, 100))  # the cashier's 5 % limit
        total = till.basket.totals().total_minor
        summary.lines += len(till.basket.lines)
        roll = rng.random()
        if roll < 0.45:  # cash, rounded up to the next 100 roubles
            payments = [Payment("cash", -(-total // 10_000) * 10_000)]
        elif roll < 0.95:
            payments = [Payment("card", total, _code(rng))]
        else:  # part by card, the rest in cash
            card = total // 2
            payments = [Payment("card", card, _code(rng)), Payment("cash", total - card)]
        _check(till.pay(payments))
        summary.receipts += 1
    clock.now = date.replace(hour=21, minute=5)
    expected = till.report("X").figures.expected_minor or 0
    # The blind count: mostly right, sometimes a few roubles off.
    counted = expected + rng.choice((0, 0, 0, 0, -1_000, -5_000, 2_000, -10_000))
    _report, error = till.close_shift(counted)
    if error is not None:
        raise RuntimeError(f"the Z report did not print: {error}")
    till.logout()
    summary.shifts += 1


def _code(rng: random.Random) -> str:
    """An approval code as the external card terminal shows it."""
    return f"{rng.randrange(1_000_000):06d}"


def _check(done: Done) -> None:
    if not done.printed:
        raise RuntimeError(f"receipt {done.sale.till_seq} did not print: {done.printer_error}")


def _stock_work(
    api: Api,
    summary: TradeSummary,
    tills: Sequence[Till],
    manager_h: dict[int, dict[str, str]],
    goods: Sequence[Good],
    rng: random.Random,
) -> None:
    store_ids = sorted(manager_h)
    first, second = store_ids[0], store_ids[-1]
    headers = manager_h[first]
    counted_goods = rng.sample(list(goods), 8)
    levels = {
        row["product_id"]: row
        for row in api.call(
            "GET", f"/api/v1/stores/{first}/stock", headers, params={"limit": 1000}
        )["items"]
    }
    lines = []
    for good in counted_goods:
        on_hand = levels.get(good.product_id, {}).get("on_hand_milli", 0)
        shrink = 1000 * rng.randint(0, 2) if good.unit != "kg" else rng.randint(0, 400)
        lines.append({"product_id": good.product_id, "counted_milli": max(on_hand - shrink, 0)})
    count = api.call(
        "POST",
        f"/api/v1/stores/{first}/counts",
        headers,
        json={"note": "Выборочная инвентаризация", "lines": lines},
    )
    deltas = [line["delta_milli"] for line in count["lines"]]
    summary.count_note = (
        f"{len(lines)} products counted, {sum(1 for d in deltas if d)} differed, "
        f"total delta {sum(deltas) / 1000:+.3f}"
    )
    if first != second:
        moved = rng.sample(list(goods), 5)
        api.call(
            "POST",
            f"/api/v1/stores/{first}/transfers",
            headers,
            json={
                "to_store_id": second,
                "note": "Перемещение излишков",
                "lines": [
                    {"product_id": g.product_id, "qty_milli": 5000 if g.unit == "kg" else 12_000}
                    for g in moved
                ],
            },
        )
        summary.transfer_note = f"{len(moved)} products moved, valued at the source's average cost"
    spoiled = rng.sample(list(goods), 3)
    api.call(
        "POST",
        f"/api/v1/stores/{second}/write-offs",
        manager_h[second],
        json={
            "reason": "Истёк срок годности",
            "lines": [{"product_id": g.product_id, "qty_milli": 2000} for g in spoiled],
        },
    )
    summary.write_off_note = f"{len(spoiled)} products written off: «Истёк срок годности»"


def _read_back(
    api: Api,
    summary: TradeSummary,
    db: Database,
    stores: dict[int, str],
    manager_h: dict[int, dict[str, str]],
    tills: Sequence[Till],
    goods: Sequence[Good],
) -> None:
    from hub.sales.models import Sale, SaleLine

    with db.read() as s:
        for kind, factor in (("sale", 1), ("return", -1)):
            row = s.execute(
                select(
                    func.coalesce(func.sum(SaleLine.amount_minor), 0),
                    func.coalesce(func.sum(SaleLine.vat_minor), 0),
                    func.coalesce(
                        func.sum(SaleLine.qty_milli * func.coalesce(SaleLine.unit_cost_minor, 0)),
                        0,
                    ),
                )
                .join(Sale, Sale.id == SaleLine.sale_id)
                .where(Sale.kind == kind)
            ).one()
            summary.revenue_minor += factor * int(row[0])
            summary.revenue_ex_vat_minor += factor * (int(row[0]) - int(row[1]))
            summary.cogs_minor += factor * round_half_up(int(row[2]), 1000)
    for store_id, headers in manager_h.items():
        value = 0
        negative = 0
        after = 0
        while True:
            page = api.call(
                "GET",
                f"/api/v1/stores/{store_id}/stock",
                headers,
                params={"after": after, "limit": 1000},
            )
            for row in page["items"]:
                value += row["value_minor"] or 0
                negative += row["on_hand_milli"] < 0
            if not page.get("next_after"):
                break
            after = page["next_after"]
        summary.stock_value_minor[stores[store_id]] = value
        summary.negative_lines[stores[store_id]] = negative
        report = api.call("GET", f"/api/v1/stores/{store_id}/cash/over-short", headers)
        for cashier in report.get("cashiers", []):
            summary.over_short.append(
                f"{stores[store_id]}: {cashier.get('cashier_name') or cashier['cashier_id']} "
                f"{cashier['shifts_closed']} shifts, {cashier['over_short_minor'] / 100:+.2f}"
            )
    first = sorted(manager_h)[0]
    good = goods[0]
    level = next(
        (
            row
            for row in api.call(
                "GET", f"/api/v1/stores/{first}/stock", manager_h[first], params={"limit": 1000}
            )["items"]
            if row["product_id"] == good.product_id
        ),
        None,
    )
    if level:
        summary.cost_example = (
            f"{good.name}: bought at {good.cost_minor / 100:.2f} then "
            f"{round_half_up(good.cost_minor * 106, 100) / 100:.2f}; moving average now "
            f"{(level['avg_cost_minor'] or 0) / 100:.2f}, on hand {level['on_hand_milli'] / 1000:g}"
        )
    shifts = api.call(
        "GET", f"/api/v1/stores/{first}/shifts", manager_h[first], params={"limit": 1}
    )
    if shifts:
        shift = shifts[0]
        z = api.call(
            "GET",
            f"/api/v1/stores/{first}/shifts/{shift['shift_uuid']}/z-report",
            manager_h[first],
        )
        summary.z_report = (
            f"Z report {str(shift['shift_uuid'])[:8]}: float {z['float_minor'] / 100:.2f}, "
            f"expected {z['expected_minor'] / 100:.2f}, counted {z['counted_minor'] / 100:.2f}, "
            f"over/short {z['over_short_minor'] / 100:+.2f}"
        )
