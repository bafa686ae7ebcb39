"""Several weeks of trading, through the hub's real HTTP API only.

An owner sets up a supplier; each store's manager orders, sends and receives goods (in two
deliveries, so a purchase order passes through "partially received"). Then every till trades
day by day: a shift opens with a counted float, receipts (cash with change, card, weighted
goods, receipt discounts), now and then a return and a pay-out, and the shift closes with a blind
count. Sales and shift events go up in batches exactly as a till sends them. Mid-way there is a
second delivery without an order; at the end a stock count, a transfer between the stores and a
write-off. The figures printed afterwards are read back from the hub.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from hub.catalog.models import Product, TaxRate
from hub.db import Database
from hub.settings import Settings
from hub.staff.models import User
from kassa.demo_proof import serving
from kassa.demo_seed import Login, Till
from kassa.till_sim import Item, SimTill
from wire.money import round_half_up
from wire.v1 import SaleV1, ShiftEventV1

SEED = 20261128
BATCH = 50
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


def _cashiers(db: Database) -> dict[int, list[int]]:
    with db.read() as s:
        rows = s.execute(select(User.id, User.store_id).where(User.role == "cashier")).all()
    out: dict[int, list[int]] = {}
    for row in rows:
        out.setdefault(row.store_id, []).append(row.id)
    return out


class _Api:
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
) -> TradeSummary:
    import httpx

    from hub.app import create_app

    started = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311 - a reproducible simulation, not a secret
    goods = _goods(db, rng, goods_count)
    cashiers = _cashiers(db)
    owner = next(x for x in logins if x.role == "owner")
    managers = {x.store: x for x in logins if x.role == "manager"}
    stores = {t.store_id: t.store for t in tills}
    summary = TradeSummary(days=days)
    today = dt.datetime.now(MSK).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = today - dt.timedelta(days=days)

    with (
        serving(create_app(settings, db)) as base_url,
        httpx.Client(base_url=base_url, timeout=120) as client,
    ):
        api = _Api(client)
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
                            "qty_ordered_milli": 30_000 if g.unit == "kg" else 120_000,
                            "unit_cost_minor": g.cost_minor,
                        }
                        for g in goods
                    ],
                },
            )
            api.call("POST", f"{base}/{order['id']}/send", headers)
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
                status = api.call(
                    "POST", f"{base}/{order['id']}/receive", headers, json={"lines": half}
                )["purchase_order"]["status"]
                summary.purchase_orders.append(f"{stores[store_id]}: PO {order['id']} {status}")

        sims = {  # each till its own cashier
            t.device_id: SimTill(cashier_id=cashiers[t.store_id][n % 2], tz=MSK)
            for n, t in enumerate(tills)
        }
        journal: dict[int, list[SaleV1]] = {t.device_id: [] for t in tills}
        began = time.perf_counter()
        for day in range(days):
            date = first_day + dt.timedelta(days=day)
            if day == days // 2:
                for store_id, headers in manager_h.items():
                    api.call(
                        "POST",
                        f"/api/v1/stores/{store_id}/receipts",
                        headers,
                        json={
                            "supplier_id": supplier["id"],
                            "note": "Довоз без заказа",
                            "lines": [
                                {
                                    "product_id": g.product_id,
                                    "qty_milli": 10_000 if g.unit == "kg" else 48_000,
                                    # Prices went up 6 % since the first delivery.
                                    "unit_cost_minor": round_half_up(g.cost_minor * 106, 100),
                                }
                                for g in goods
                            ],
                        },
                    )
                    summary.receipts_without_po += 1
            for till in tills:
                _trade_day(
                    api,
                    summary,
                    till,
                    sims[till.device_id],
                    journal,
                    goods,
                    date,
                    rng,
                    receipts_per_day,
                )
        summary.http_seconds = time.perf_counter() - began

        _stock_work(api, summary, tills, manager_h, goods, rng)
        _read_back(api, summary, db, stores, manager_h, tills, goods)
    summary.seconds = time.perf_counter() - started
    return summary


def _trade_day(
    api: _Api,
    summary: TradeSummary,
    till: Till,
    sim: SimTill,
    journal: dict[int, list[SaleV1]],
    goods: Sequence[Good],
    date: dt.datetime,
    rng: random.Random,
    receipts_per_day: tuple[int, int],
) -> None:
    device = {"Authorization": f"Bearer {till.token}"}
    opened = date.replace(hour=8, minute=55)
    events: list[ShiftEventV1] = [sim.shift_event("open", FLOAT_MINOR, at=opened)]
    sales: list[SaleV1] = []
    cash = FLOAT_MINOR
    returned = {s.original_sale_uuid for s in journal[till.device_id] if s.kind == "return"}
    count = rng.randint(*receipts_per_day)
    for n in range(count):
        at = date.replace(hour=9) + dt.timedelta(minutes=n * (12 * 60 // count))
        if journal[till.device_id] and rng.random() < 0.03:
            original = rng.choice(journal[till.device_id][-60:])
            if original.kind == "sale" and original.sale_uuid not in returned:
                returned.add(original.sale_uuid)
                line = original.lines[0]
                qty = line.qty_milli if line.qty_milli <= 1000 else line.qty_milli // 2
                refund = sim.refund(original, [(1, qty)], at=at)
                sales.append(refund)
                summary.returns += 1
                if refund.payments[0].tender == "cash":
                    cash -= refund.total_minor
                continue
        basket = [
            Item(g.product_id, g.name, _qty(g, rng), g.price_minor, g.vat_rate_bp)
            for g in rng.sample(list(goods), rng.randint(1, 5))
        ]
        tender = "cash" if rng.random() < 0.45 else "card"
        gross = sum(round_half_up(i.qty_milli * i.unit_price_minor, 1000) for i in basket)
        discount = round_half_up(gross * 5, 100) if rng.random() < 0.1 else 0
        sale = sim.sale(basket, tender=tender, receipt_discount_minor=discount, at=at)
        sales.append(sale)
        summary.receipts += 1
        summary.lines += len(sale.lines)
        if tender == "cash":
            cash += sale.total_minor
    if rng.random() < 0.3:
        events.append(
            sim.shift_event(
                "cash_out", 150_000, at=date.replace(hour=14), reason="Инкассация / выплата"
            )
        )
        cash -= 150_000
    # The blind count: mostly right, sometimes a few roubles off.
    counted = cash + rng.choice((0, 0, 0, 0, -1_000, -5_000, 2_000, -10_000))
    events.append(sim.shift_event("close", counted, at=date.replace(hour=21, minute=5)))
    summary.shifts += 1
    journal[till.device_id].extend(sales)
    sent_at = dt.datetime.now(MSK).isoformat()
    for start in range(0, len(sales), BATCH):
        chunk = sales[start : start + BATCH]
        result = api.call(
            "POST",
            "/api/v1/till/sales/batch",
            device,
            json={
                "store_id": till.store_id,
                "sent_at": sent_at,
                "sales": [s.model_dump(mode="json") for s in chunk],
            },
        )
        for item in result["results"]:
            status = item["status"]
            if status == "created":
                summary.created += 1
            elif status == "duplicate":
                summary.duplicates += 1
            else:
                summary.rejected += 1
                raise RuntimeError(f"the hub did not take a demo sale: {item}")
    api.call(
        "POST",
        "/api/v1/till/shifts/batch",
        device,
        json={"store_id": till.store_id, "events": [e.model_dump(mode="json") for e in events]},
    )


def _stock_work(
    api: _Api,
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
    api: _Api,
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
