"""Purchasing (DOMAIN.md "Purchasing and reorder"): suppliers and their terms, purchase orders
draft -> sent -> partially_received -> received / cancelled, deliveries posting stock at cost,
goods receipts without an order; access, bad input, idempotent machine-made drafts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.purchasing.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct
from hub.stock.models import StockDoc, StockLevel, StockMove

SUPPLIERS = "/api/v1/suppliers"


@pytest.fixture
def supplier(client, world) -> int:  # type: ignore[no-untyped-def]
    body = {"name": "ООО «Молочный двор»", "contact": "+7 900 000-00-00", "lead_time_days": 2}
    response = client.post(SUPPLIERS, json=body, headers=world.headers("owner"))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _orders(world, store: int | None = None) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/stores/{store or world.store_a}/purchase-orders"


def _line(product: int, qty: int, cost: int) -> dict[str, int]:
    return {"product_id": product, "qty_ordered_milli": qty, "unit_cost_minor": cost}


def _draft(
    client, world, supplier: int, lines: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"supplier_id": supplier, "lines": lines, **extra}
    response = client.post(_orders(world), json=body, headers=world.headers("manager_a"))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _act(client, world, order: int, action: str, body: Any = None, who: str = "manager_a"):  # type: ignore[no-untyped-def]
    return client.post(f"{_orders(world)}/{order}/{action}", json=body, headers=world.headers(who))


def _level(db, store: int, product: int) -> tuple[int, int | None]:  # type: ignore[no-untyped-def]
    with db.read() as s:
        level = s.get(StockLevel, (store, product))
        return (level.on_hand_milli, level.avg_cost_minor) if level else (0, None)


def _rows(db) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(m)))
            for m in (
                Supplier,
                SupplierProduct,
                PurchaseOrder,
                PurchaseOrderLine,
                StockDoc,
                StockMove,
                AuditEntry,
            )
        )


def _actions(db) -> list[str]:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# --- suppliers -------------------------------------------------------------------------------


def test_suppliers_are_created_read_and_changed(client, world, db, supplier) -> None:  # type: ignore[no-untyped-def]
    got = client.get(f"{SUPPLIERS}/{supplier}", headers=world.headers("manager_b"))
    assert got.status_code == 200
    assert {
        k: got.json()[k] for k in ("name", "lead_time_days", "review_period_days", "active")
    } == {
        "name": "ООО «Молочный двор»",
        "lead_time_days": 2,
        "review_period_days": 7,
        "active": True,
    }
    changed = client.patch(
        f"{SUPPLIERS}/{supplier}",
        json={"review_period_days": 14, "active": False},
        headers=world.headers("owner"),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["review_period_days"], changed.json()["active"]) == (14, False)
    assert changed.json()["change_seq"] > got.json()["change_seq"]
    listed = client.get(SUPPLIERS, params={"active": "false"}, headers=world.headers("manager_a"))
    assert [x["id"] for x in listed.json()] == [supplier]
    assert _actions(db)[-2:] == ["supplier.create", "supplier.update"]


def test_supplier_names_are_unique_and_days_bounded(client, world, db, supplier) -> None:  # type: ignore[no-untyped-def]
    before = _rows(db)
    dup = client.post(
        SUPPLIERS,
        json={"name": "ооо «молочный двор»", "lead_time_days": 1},
        headers=world.headers("owner"),
    )
    assert dup.status_code == 409
    assert dup.json()["detail"][0]["field"] == "name"
    for body, field in [
        ({"name": "Б", "lead_time_days": 366}, "lead_time_days"),
        ({"name": "Б", "lead_time_days": -1}, "lead_time_days"),
        ({"name": "Б", "lead_time_days": 1.5}, "lead_time_days"),
        ({"name": "Б", "lead_time_days": "3"}, "lead_time_days"),
        ({"name": "Б", "lead_time_days": 3, "review_period_days": 0}, "review_period_days"),
        ({"name": "Б", "lead_time_days": 3, "review_period_days": 91}, "review_period_days"),
        ({"name": "", "lead_time_days": 3}, "name"),
        ({"name": "Б\u0000", "lead_time_days": 3}, "name"),
        ({"name": "Б", "lead_time_days": 3, "inn": "7700000000"}, "inn"),
    ]:
        response = client.post(SUPPLIERS, json=body, headers=world.headers("owner"))
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["field"] == field
    assert _rows(db) == before
    other = client.post(
        SUPPLIERS, json={"name": "Хлебозавод", "lead_time_days": 1}, headers=world.headers("owner")
    )
    renamed = client.patch(
        f"{SUPPLIERS}/{other.json()['id']}",
        json={"name": "ООО «МОЛОЧНЫЙ ДВОР»"},
        headers=world.headers("owner"),
    )
    assert renamed.status_code == 409
    assert renamed.json()["detail"][0]["field"] == "name"
    nulled = client.patch(
        f"{SUPPLIERS}/{supplier}", json={"lead_time_days": None}, headers=world.headers("owner")
    )
    assert nulled.status_code == 422
    assert nulled.json()["detail"][0]["field"] == "lead_time_days"


def test_only_catalog_editors_change_suppliers(client, world, supplier) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "Новый", "lead_time_days": 1}
    for who, status in [("manager_a", 403), ("cashier_a", 403), ("anonymous", 401)]:
        assert client.post(SUPPLIERS, json=body, headers=world.headers(who)).status_code == status
    assert client.get(SUPPLIERS, headers=world.headers("cashier_a")).status_code == 403


def test_supplier_terms_per_product(client, world, db, supplier, products) -> None:  # type: ignore[no-untyped-def]
    milk = products[0]
    url = f"{SUPPLIERS}/{supplier}/products/{milk}"
    owner = world.headers("owner")
    created = client.put(
        url, json={"supplier_sku": "MD-001", "pack_size_milli": 12_000}, headers=owner
    )
    assert created.status_code == 201, created.text
    assert {
        k: created.json()[k]
        for k in ("sku", "supplier_sku", "pack_size_milli", "min_order_milli", "last_cost_minor")
    } == {
        "sku": "MILK",
        "supplier_sku": "MD-001",
        "pack_size_milli": 12_000,
        "min_order_milli": 0,
        "last_cost_minor": None,
    }
    # Fields left out keep their value
    changed = client.put(
        url, json={"min_order_milli": 24_000, "last_cost_minor": 6_500}, headers=owner
    )
    assert changed.status_code == 200
    assert (changed.json()["supplier_sku"], changed.json()["pack_size_milli"]) == ("MD-001", 12_000)
    assert (changed.json()["min_order_milli"], changed.json()["last_cost_minor"]) == (24_000, 6_500)
    assert changed.json()["id"] == created.json()["id"]
    assert changed.json()["change_seq"] > created.json()["change_seq"]
    listed = client.get(f"{SUPPLIERS}/{supplier}/products", headers=world.headers("manager_a"))
    assert [x["product_id"] for x in listed.json()] == [milk]
    before = _rows(db)
    for body, field in [
        ({"pack_size_milli": 0}, "pack_size_milli"),
        ({"pack_size_milli": 1.5}, "pack_size_milli"),
        ({"min_order_milli": -1}, "min_order_milli"),
        ({"last_cost_minor": -1}, "last_cost_minor"),
        ({"supplier_sku": "x" * 65}, "supplier_sku"),
    ]:
        response = client.put(url, json=body, headers=owner)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["field"] == field
    missing = client.put(f"{SUPPLIERS}/{supplier}/products/9999", json={}, headers=owner)
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["field"] == "product_id"
    assert client.put(url, json={}, headers=world.headers("manager_a")).status_code == 403
    assert _rows(db) == before
    assert _actions(db)[-2:] == ["supplier_product.create", "supplier_product.update"]


# --- purchase orders -------------------------------------------------------------------------


def test_an_order_is_sent_and_received_in_two_deliveries(
    client, world, db, supplier, products
) -> None:  # type: ignore[no-untyped-def]
    milk, cheese, _ = products
    # Given a draft for 40 milk at 100.00 and 2.5 kg cheese at 700.00
    order = _draft(
        client,
        world,
        supplier,
        [_line(milk, 40_000, 10_000), _line(cheese, 2_500, 70_000)],
        note="к пятнице",
        expected_at="2025-03-07",
    )
    assert (order["status"], order["supplier_name"], order["expected_at"]) == (
        "draft",
        "ООО «Молочный двор»",
        "2025-03-07",
    )
    assert order["total_minor"] == 400_000 + 175_000
    assert order["created_by"] == world.ids["manager_a"]
    sent = _act(client, world, order["id"], "send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent"
    assert sent.json()["sent_at"] is not None
    # When 10 milk arrive at the ordered price
    first = _act(
        client,
        world,
        order["id"],
        "receive",
        {"lines": [{"product_id": milk, "qty_milli": 10_000}]},
    )
    assert first.status_code == 200, first.text
    po, doc = first.json()["purchase_order"], first.json()["doc"]
    assert po["status"] == "partially_received"
    assert po["closed_at"] is None
    assert [
        (x["qty_ordered_milli"], x["qty_received_milli"], x["qty_remaining_milli"])
        for x in po["lines"]
    ] == [
        (40_000, 10_000, 30_000),
        (2_500, 0, 2_500),
    ]
    assert (doc["kind"], doc["purchase_order_id"], doc["supplier_id"]) == (
        "receipt",
        order["id"],
        supplier,
    )
    assert [(m["kind"], m["qty_milli"], m["unit_cost_minor"]) for m in doc["moves"]] == [
        ("receipt", 10_000, 10_000)
    ]
    assert _level(db, world.store_a, milk) == (10_000, 10_000)
    # And the rest arrive, the milk dearer: (10 x 100 + 30 x 120) / 40 = 115.00
    rest = {
        "note": "накладная 17",
        "lines": [
            {"product_id": milk, "qty_milli": 30_000, "unit_cost_minor": 12_000},
            {"product_id": cheese, "qty_milli": 2_500},
        ],
    }
    second = _act(client, world, order["id"], "receive", rest)
    assert second.status_code == 200, second.text
    po = second.json()["purchase_order"]
    assert po["status"] == "received"
    assert po["closed_at"] is not None
    assert [x["qty_remaining_milli"] for x in po["lines"]] == [0, 0]
    assert _level(db, world.store_a, milk) == (40_000, 11_500)
    assert _level(db, world.store_a, cheese) == (2_500, 70_000)
    # Then nothing more can be received, and a received order cannot be cancelled
    again = _act(
        client, world, order["id"], "receive", {"lines": [{"product_id": milk, "qty_milli": 1}]}
    )
    assert again.status_code == 409
    assert "received" in again.json()["detail"][0]["msg"]
    assert _act(client, world, order["id"], "cancel").status_code == 409
    got = client.get(f"{_orders(world)}/{order['id']}", headers=world.headers("owner"))
    assert got.json() == po
    assert _actions(db)[-6:] == [
        "purchase_order.create",
        "purchase_order.send",
        "stock.receipt",
        "purchase_order.receive",
        "stock.receipt",
        "purchase_order.receive",
    ]


def test_over_receipt_is_refused_with_expected_and_actual(
    client, world, db, supplier, products
) -> None:  # type: ignore[no-untyped-def]
    milk, cheese, bread = products
    order = _draft(client, world, supplier, [_line(milk, 10_000, 100), _line(cheese, 1_000, 100)])
    _act(client, world, order["id"], "send")
    _act(
        client, world, order["id"], "receive", {"lines": [{"product_id": milk, "qty_milli": 4_000}]}
    )
    before = _rows(db)
    over = _act(
        client,
        world,
        order["id"],
        "receive",
        {
            "lines": [
                {"product_id": cheese, "qty_milli": 1_000},
                {"product_id": milk, "qty_milli": 6_001},
            ]
        },
    )
    assert over.status_code == 422
    (detail,) = over.json()["detail"]
    assert detail["field"] == "lines.1.qty_milli"
    assert "expected at most 6000" in detail["msg"]
    assert "got 6001" in detail["msg"]
    for lines, field in [
        ([{"product_id": bread, "qty_milli": 1}], "lines.0.product_id"),
        (
            [{"product_id": milk, "qty_milli": 1}, {"product_id": milk, "qty_milli": 1}],
            "lines.1.product_id",
        ),
        ([{"product_id": milk, "qty_milli": 1.5}], "lines.0.qty_milli"),
        ([{"product_id": milk, "qty_milli": 1, "unit_cost_minor": -1}], "lines.0.unit_cost_minor"),
        ([], "lines"),
    ]:
        response = _act(client, world, order["id"], "receive", {"lines": lines})
        assert response.status_code == 422, lines
        assert response.json()["detail"][0]["field"] == field
    assert _rows(db) == before
    assert _level(db, world.store_a, milk) == (4_000, 100)


def test_transitions_follow_the_status(client, world, db, supplier, products) -> None:  # type: ignore[no-untyped-def]
    milk = products[0]
    order = _draft(client, world, supplier, [_line(milk, 1_000, 100)])
    # A draft cannot be received
    early = _act(
        client, world, order["id"], "receive", {"lines": [{"product_id": milk, "qty_milli": 1}]}
    )
    assert early.status_code == 409
    assert early.json()["detail"][0]["field"] == "purchase_order_id"
    assert "is draft" in early.json()["detail"][0]["msg"]
    # A draft is cancelled; cancelling again changes nothing; a cancelled order is not sent
    cancelled = _act(client, world, order["id"], "cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["closed_at"] is not None) == (
        "cancelled",
        True,
    )
    audited = len(_actions(db))
    assert _act(client, world, order["id"], "cancel").json() == cancelled.json()
    assert len(_actions(db)) == audited
    refused = _act(client, world, order["id"], "send")
    assert refused.status_code == 409
    assert "is cancelled" in refused.json()["detail"][0]["msg"]
    lines = client.put(
        f"{_orders(world)}/{order['id']}/lines",
        json={"lines": [_line(milk, 2_000, 100)]},
        headers=world.headers("manager_a"),
    )
    assert lines.status_code == 409
    # Sending twice changes nothing; a partially received order can be cancelled
    other = _draft(client, world, supplier, [_line(milk, 5_000, 100)])
    sent = _act(client, world, other["id"], "send").json()
    assert _act(client, world, other["id"], "send").json() == sent
    _act(
        client, world, other["id"], "receive", {"lines": [{"product_id": milk, "qty_milli": 2_000}]}
    )
    closed = _act(client, world, other["id"], "cancel")
    assert closed.status_code == 200
    assert closed.json()["lines"][0]["qty_received_milli"] == 2_000
    assert _level(db, world.store_a, milk) == (2_000, 100)


def test_draft_lines_are_replaced(client, world, db, supplier, products) -> None:  # type: ignore[no-untyped-def]
    milk, cheese, bread = products
    order = _draft(client, world, supplier, [_line(milk, 1_000, 100), _line(cheese, 1_000, 100)])
    url = f"{_orders(world)}/{order['id']}/lines"
    body = {"lines": [_line(bread, 3_000, 50), {**_line(milk, 2_000, 90), "reason": '{"d": 1}'}]}
    response = client.put(url, json=body, headers=world.headers("manager_a"))
    assert response.status_code == 200, response.text
    out = response.json()
    assert [
        (x["product_id"], x["qty_ordered_milli"], x["unit_cost_minor"], x["reason"])
        for x in out["lines"]
    ] == [
        (milk, 2_000, 90, '{"d": 1}'),
        (bread, 3_000, 50, None),
    ]
    assert out["lines"][0]["id"] == order["lines"][0]["id"]  # milk's line kept its id
    assert out["change_seq"] > order["change_seq"]
    assert out["total_minor"] == 180 + 150
    before = _rows(db)
    for lines, field in [
        ([_line(9999, 1, 1)], "lines.0.product_id"),
        ([_line(milk, 1, 1), _line(milk, 2, 1)], "lines.1.product_id"),
        ([_line(milk, 0, 1)], "lines.0.qty_ordered_milli"),
        ([{**_line(milk, 1, 1), "reason": "a\u0000"}], "lines.0.reason"),
    ]:
        response = client.put(url, json={"lines": lines}, headers=world.headers("manager_a"))
        assert response.status_code == 422, lines
        assert response.json()["detail"][0]["field"] == field
    assert _rows(db) == before


def test_bad_orders_name_the_field_and_write_nothing(client, world, db, supplier, products) -> None:  # type: ignore[no-untyped-def]
    milk = products[0]
    inactive = client.post(
        SUPPLIERS,
        json={"name": "Закрыт", "lead_time_days": 1, "active": False},
        headers=world.headers("owner"),
    ).json()["id"]
    good = {"supplier_id": supplier, "lines": [_line(milk, 1_000, 100)]}
    before = _rows(db)
    for body, field in [
        ({**good, "supplier_id": 9999}, "supplier_id"),
        ({**good, "supplier_id": inactive}, "supplier_id"),
        ({**good, "lines": [_line(milk, 1_000, 100), _line(9999, 1, 1)]}, "lines.1.product_id"),
        ({**good, "lines": [_line(milk, 1_000, 100), _line(milk, 1, 1)]}, "lines.1.product_id"),
        ({**good, "lines": [_line(milk, 1.5, 100)]}, "lines.0.qty_ordered_milli"),  # type: ignore[arg-type]
        (
            {**good, "lines": [{**_line(milk, 1, 100), "unit_cost_minor": "1"}]},
            "lines.0.unit_cost_minor",
        ),
        ({**good, "lines": []}, "lines"),
        ({**good, "expected_at": "07.03.2025"}, "expected_at"),
        ({**good, "expected_at": 1741305600}, "expected_at"),
        ({**good, "note": "a\u0000b"}, "note"),
        ({**good, "source_key": ""}, "source_key"),
        ({**good, "status": "sent"}, "status"),
    ]:
        response = client.post(
            _orders(world),
            content=json.dumps(body),
            headers={**world.headers("manager_a"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["field"] == field
    assert _rows(db) == before


def test_a_source_key_makes_machine_drafts_idempotent(
    client, world, db, supplier, products
) -> None:  # type: ignore[no-untyped-def]
    key = f"reorder:{world.store_a}:{supplier}:2025-03-03"
    body = {"supplier_id": supplier, "source_key": key, "lines": [_line(products[0], 6_000, 100)]}
    first = client.post(_orders(world), json=body, headers=world.headers("owner"))
    assert first.status_code == 201
    audited = len(_actions(db))
    again = client.post(
        _orders(world),
        json={**body, "lines": [_line(products[1], 1, 1)]},
        headers=world.headers("owner"),
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(_actions(db)) == audited
    elsewhere = client.post(
        _orders(world, world.store_b), json=body, headers=world.headers("owner")
    )
    assert elsewhere.status_code == 409
    assert elsewhere.json()["detail"][0]["field"] == "source_key"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 1


def test_orders_are_per_store(client, world, supplier, products) -> None:  # type: ignore[no-untyped-def]
    order = _draft(client, world, supplier, [_line(products[0], 1_000, 100)])
    url = f"{_orders(world)}/{order['id']}"
    for who, status in [("manager_b", 403), ("cashier_a", 403), ("device_a", 403)]:
        assert client.get(url, headers=world.headers(who)).status_code == status
        assert _act(client, world, order["id"], "send", who=who).status_code == status
    # Through store B's path, store A's order does not exist
    foreign = f"{_orders(world, world.store_b)}/{order['id']}"
    assert client.get(foreign, headers=world.headers("owner")).status_code == 404
    moved = client.post(f"{foreign}/send", headers=world.headers("owner"))
    assert moved.status_code == 404
    assert moved.json()["detail"][0]["field"] == "purchase_order_id"
    assert client.get(url, headers=world.headers("owner")).json()["status"] == "draft"


def test_orders_are_listed_newest_first_by_status(client, world, supplier, products) -> None:  # type: ignore[no-untyped-def]
    ids = [
        _draft(client, world, supplier, [_line(products[0], 1_000, 100)])["id"] for _ in range(3)
    ]
    _act(client, world, ids[1], "send")
    headers = world.headers("manager_a")
    everything = client.get(_orders(world), headers=headers).json()
    assert [o["id"] for o in everything] == ids[::-1]
    drafts = client.get(_orders(world), params={"status": "draft"}, headers=headers).json()
    assert [o["id"] for o in drafts] == [ids[2], ids[0]]
    page = client.get(
        _orders(world), params={"before_id": ids[2], "limit": 1}, headers=headers
    ).json()
    assert [o["id"] for o in page] == [ids[1]]
    assert client.get(_orders(world), params={"status": "lost"}, headers=headers).status_code == 422
    assert client.get(_orders(world, world.store_b), headers=world.headers("owner")).json() == []


# --- goods receipts without an order ---------------------------------------------------------


def test_a_receipt_without_order_posts_cost_and_remembers_it(
    client, world, db, supplier, products
) -> None:  # type: ignore[no-untyped-def]
    milk, cheese, _ = products
    client.put(
        f"{SUPPLIERS}/{supplier}/products/{milk}",
        json={"last_cost_minor": 9_000},
        headers=world.headers("owner"),
    )
    body = {
        "supplier_id": supplier,
        "note": "без заказа",
        "lines": [
            {"product_id": milk, "qty_milli": 12_000, "unit_cost_minor": 9_500},
            {"product_id": cheese, "qty_milli": 750, "unit_cost_minor": 68_000},
        ],
    }
    response = client.post(
        f"/api/v1/stores/{world.store_a}/receipts", json=body, headers=world.headers("manager_a")
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert (doc["kind"], doc["supplier_id"], doc["purchase_order_id"], doc["note"]) == (
        "receipt",
        supplier,
        None,
        "без заказа",
    )
    assert _level(db, world.store_a, milk) == (12_000, 9_500)
    assert _level(db, world.store_a, cheese) == (750, 68_000)
    terms = client.get(f"{SUPPLIERS}/{supplier}/products", headers=world.headers("owner")).json()
    assert [(t["product_id"], t["last_cost_minor"]) for t in terms] == [
        (milk, 9_500)
    ]  # no terms for cheese: none made
    assert _actions(db)[-2:] == ["stock.receipt", "supplier_product.last_cost"]
    before = _rows(db)
    for bad, field in [
        ({**body, "supplier_id": 9999}, "supplier_id"),
        ({**body, "lines": [{"product_id": milk, "qty_milli": 1}]}, "lines.0.unit_cost_minor"),
        (
            {**body, "lines": [{"product_id": milk, "qty_milli": 1, "unit_cost_minor": 1.5}]},
            "lines.0.unit_cost_minor",
        ),
    ]:
        response = client.post(
            f"/api/v1/stores/{world.store_a}/receipts", json=bad, headers=world.headers("manager_a")
        )
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["field"] == field
    assert _rows(db) == before
