"""Shared set-up for the sales tests: a small catalog with cost, and helpers to post batches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.catalog.models import Product, TaxRate
from hub.db import LEDGER_SEQ, next_change_seq
from hub.stock import ledger
from hub.stock.models import StockDoc
from kassa.till_sim import Item, SimTill
from wire.v1 import SaleV1

BATCH = "/api/v1/till/sales/batch"


@dataclass
class Shop:
    milk: int
    bread: int
    cheese: int  # sold by weight

    def items(self) -> dict[str, Item]:
        return {
            "milk": Item(self.milk, "Молоко 3,2% 1 л", 1000, 8990, 1000),
            "bread": Item(self.bread, "Хлеб «Бородинский»", 2000, 5450, 1000),
            "cheese": Item(self.cheese, "Сыр Российский, кг", 350, 89900, 2200),
        }


def seed_shop(db: Any, store_id: int) -> Shop:
    """Three products with stock received at a known cost in `store_id`."""
    with db.write() as s:
        rate = TaxRate(code="vat10", name="НДС 10%", rate_bp=1000, change_seq=next_change_seq(s))
        s.add(rate)
        s.flush()
        ids = []
        for sku, name, unit, price in (
            ("MILK", "Молоко 3,2% 1 л", "piece", 8990),
            ("BREAD", "Хлеб «Бородинский»", "piece", 5450),
            ("CHEESE", "Сыр Российский", "kg", 89900),
        ):
            product = Product(
                sku=sku,
                name=name,
                unit=unit,
                price_minor=price,
                tax_rate_id=rate.id,
                change_seq=next_change_seq(s),
            )
            s.add(product)
            s.flush()
            ids.append(product.id)
        receive(
            s,
            store_id,
            [(ids[0], 100_000, 6000), (ids[1], 50_000, 3000), (ids[2], 10_000, 61000)],
        )
    return Shop(*ids)


def receive(s: Any, store_id: int, lines: list[tuple[int, int, int]]) -> None:
    """A goods receipt of (product_id, qty_milli, unit_cost_minor) lines, straight to the ledger."""
    doc = StockDoc(kind="receipt", store_id=store_id, change_seq=next_change_seq(s, 1, LEDGER_SEQ))
    s.add(doc)
    s.flush()
    ledger.post(
        s,
        store_id,
        [ledger.Move(p, "receipt", q, unit_cost_minor=c, doc_id=doc.id) for p, q, c in lines],
    )


def body(sales: list[SaleV1], **extra: Any) -> dict[str, Any]:
    return {"sales": [s.model_dump(mode="json") for s in sales], **extra}


def post(client: Any, headers: dict[str, str], sales: list[SaleV1], **extra: Any) -> Any:
    return client.post(BATCH, json=body(sales, **extra), headers=headers)


def statuses(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["status"] for r in response.json()["results"]]


def mutate(sale: SaleV1, **changes: Any) -> dict[str, Any]:
    data = json.loads(sale.model_dump_json())
    data.update(changes)
    return data


def new_till(world: Any) -> SimTill:
    return SimTill(cashier_id=world.ids["cashier_a"])
