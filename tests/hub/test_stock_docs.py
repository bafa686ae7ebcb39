"""Manual stock documents and stock reads (DOMAIN.md "Stock"): receipts at cost and the moving
average, counts, transfers, write-offs, adjustments; levels, moves, documents; access and bad
input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.stock.models import StockDoc, StockLevel, StockMove
from hub.stores.models import Store


def _post(client, world, path: str, body: Any, who: str = "manager_a", store: int | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/stores/{store or world.store_a}/{path}", json=body, headers=world.headers(who)
    )


def _receive(client, world, product: int, qty: int, cost: int, store: int | None = None) -> None:  # type: ignore[no-untyped-def]
    body = {"lines": [{"product_id": product, "qty_milli": qty, "unit_cost_minor": cost}]}
    response = _post(client, world, "receipts", body, "owner", store)
    assert response.status_code == 201, response.text


def _level(client, world, product: int, store: int | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    page = client.get(
        f"/api/v1/stores/{store or world.store_a}/stock", headers=world.headers("owner")
    ).json()
    (level,) = [x for x in page["items"] if x["product_id"] == product]
    return level  # type: ignore[no-any-return]


def _rows(db) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(m)))
            for m in (StockDoc, StockMove, StockLevel, AuditEntry)
        )


def test_receipts_move_the_average_and_outgoing_moves_do_not(client, world, products) -> None:  # type: ignore[no-untyped-def]
    milk = products[0]
    # Given 10 pieces at 100.00, then 30 pieces at 120.00
    _receive(client, world, milk, 10_000, 10_000)
    _receive(client, world, milk, 30_000, 12_000)
    # Then the average is (10 x 100 + 30 x 120) / 40 = 115.00
    level = _level(client, world, milk)
    assert (level["on_hand_milli"], level["avg_cost_minor"]) == (40_000, 11_500)
    assert level["value_minor"] == 460_000
    assert (level["sku"], level["name"], level["unit"]) == ("MILK", "Молоко 1 л", "piece")
    # When 5 pieces go out (a write-off, valued like a sale)
    out = _post(client, world, "write-offs", {"reason": "Бой", "lines": [_q(milk, 5_000)]})
    assert out.status_code == 201, out.text
    (move,) = out.json()["moves"]
    assert (move["kind"], move["qty_milli"], move["unit_cost_minor"]) == (
        "write_off",
        -5_000,
        11_500,
    )
    assert move["reason"] == "Бой"
    # Then the average stays and the value follows the quantity
    level = _level(client, world, milk)
    assert (level["on_hand_milli"], level["avg_cost_minor"], level["value_minor"]) == (
        35_000,
        11_500,
        402_500,
    )


def _q(product: int, qty: int) -> dict[str, int]:
    return {"product_id": product, "qty_milli": qty}


def test_value_is_rounded_half_up_for_weighed_goods(client, world, products) -> None:  # type: ignore[no-untyped-def]
    cheese = products[1]
    _receive(client, world, cheese, 1_255, 79_901)  # 1.255 kg at 799.01 = 1002.7575
    assert _level(client, world, cheese)["value_minor"] == 100_276


def test_count_records_the_delta_to_the_counted_quantity(client, world, db, products) -> None:  # type: ignore[no-untyped-def]
    milk, cheese, bread = products
    _receive(client, world, milk, 40_000, 10_000)
    _post(client, world, "write-offs", {"reason": "Просрочка", "lines": [_q(cheese, 500)]})
    body = {
        "note": "Инвентаризация",
        "lines": [
            {"product_id": milk, "counted_milli": 37_500},
            {"product_id": cheese, "counted_milli": 0},
            {"product_id": bread, "counted_milli": 12_000},
        ],
    }
    response = _post(client, world, "counts", body)
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["kind"] == "count"
    assert doc["note"] == "Инвентаризация"
    assert doc["lines"] == [
        {
            "product_id": milk,
            "on_hand_before_milli": 40_000,
            "counted_milli": 37_500,
            "delta_milli": -2_500,
        },
        {
            "product_id": cheese,
            "on_hand_before_milli": -500,
            "counted_milli": 0,
            "delta_milli": 500,
        },
        {
            "product_id": bread,
            "on_hand_before_milli": 0,
            "counted_milli": 12_000,
            "delta_milli": 12_000,
        },
    ]
    assert [(m["kind"], m["qty_milli"], m["counted_milli"]) for m in doc["moves"]] == [
        ("count", -2_500, 37_500),
        ("count", 500, 0),
        ("count", 12_000, 12_000),
    ]
    assert doc["moves"][0]["unit_cost_minor"] == 10_000  # valued at the average
    assert _level(client, world, milk)["on_hand_milli"] == 37_500
    assert _level(client, world, bread)["avg_cost_minor"] is None  # counted, never costed
    with db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "stock.count")).one()
        assert entry.store_id == world.store_a
        assert entry.actor_id == world.ids["manager_a"]
        assert entry.entity_id == str(doc["id"])
        assert [m["qty_milli"] for m in entry.after["moves"]] == [-2_500, 500, 12_000]


def test_transfer_moves_stock_and_carries_the_cost(client, world, db, products) -> None:  # type: ignore[no-untyped-def]
    milk = products[0]
    # Given A holds 10 at 100.00 and B holds 10 at 200.00
    _receive(client, world, milk, 10_000, 10_000)
    _receive(client, world, milk, 10_000, 20_000, store=world.store_b)
    # When A sends 5 to B
    body = {"to_store_id": world.store_b, "note": "в Б", "lines": [_q(milk, 5_000)]}
    response = _post(client, world, "transfers", body)
    assert response.status_code == 201, response.text
    doc = response.json()
    assert (doc["kind"], doc["store_id"], doc["to_store_id"]) == (
        "transfer",
        world.store_a,
        world.store_b,
    )
    assert [
        (m["store_id"], m["kind"], m["qty_milli"], m["unit_cost_minor"]) for m in doc["moves"]
    ] == [
        (world.store_a, "transfer_out", -5_000, 10_000),
        (world.store_b, "transfer_in", 5_000, 10_000),
    ]
    # Then A keeps its average, B's moves: (10 x 200 + 5 x 100) / 15 = 166.666... -> 166.67
    a, b = _level(client, world, milk), _level(client, world, milk, world.store_b)
    assert (a["on_hand_milli"], a["avg_cost_minor"]) == (5_000, 10_000)
    assert (b["on_hand_milli"], b["avg_cost_minor"]) == (15_000, 16_667)
    # The document shows in both stores, and both stores' audit logs have it
    for store in (world.store_a, world.store_b):
        got = client.get(
            f"/api/v1/stores/{store}/stock-docs/{doc['id']}", headers=world.headers("owner")
        )
        assert got.status_code == 200
        assert got.json()["moves"] == doc["moves"]
    with db.read() as s:
        actions = {
            (row.action, row.store_id)
            for row in s.execute(
                select(AuditEntry.action, AuditEntry.store_id).where(
                    AuditEntry.entity == "stock_doc", AuditEntry.entity_id == str(doc["id"])
                )
            )
        }
    assert actions == {("stock.transfer", world.store_a), ("stock.transfer_in", world.store_b)}


def test_stock_may_go_negative_and_is_listed(client, world, products) -> None:  # type: ignore[no-untyped-def]
    milk, _, bread = products
    _receive(client, world, bread, 3_000, 4_000)
    # A transfer and a write-off of more than is on hand are never refused
    body = {"to_store_id": world.store_b, "lines": [_q(milk, 2_000)]}
    assert _post(client, world, "transfers", body).status_code == 201
    assert (
        _post(
            client, world, "write-offs", {"reason": "Кража", "lines": [_q(bread, 5_000)]}
        ).status_code
        == 201
    )
    negative = client.get(
        f"/api/v1/stores/{world.store_a}/stock",
        params={"negative_only": "true"},
        headers=world.headers("manager_a"),
    ).json()
    assert [(x["product_id"], x["on_hand_milli"]) for x in negative["items"]] == [
        (milk, -2_000),
        (bread, -2_000),
    ]
    assert negative["items"][0]["avg_cost_minor"] is None  # never costed
    assert negative["items"][1]["value_minor"] == -8_000
    # B received goods without a known cost
    b = _level(client, world, milk, world.store_b)
    assert (b["on_hand_milli"], b["avg_cost_minor"]) == (2_000, None)


def test_adjustments_are_signed_and_need_a_reason(client, world, db, products) -> None:  # type: ignore[no-untyped-def]
    milk, cheese, _ = products
    _receive(client, world, milk, 10_000, 9_000)
    body = {
        "reason": "Пересорт",
        "lines": [
            {"product_id": milk, "qty_milli": -1_000},
            {"product_id": cheese, "qty_milli": 1_000},
        ],
    }
    response = _post(client, world, "adjustments", body)
    assert response.status_code == 201, response.text
    assert response.json()["reason"] == "Пересорт"
    assert [(m["kind"], m["qty_milli"], m["reason"]) for m in response.json()["moves"]] == [
        ("adjustment", -1_000, "Пересорт"),
        ("adjustment", 1_000, "Пересорт"),
    ]
    assert _level(client, world, milk)["on_hand_milli"] == 9_000
    before = _rows(db)
    for bad, field in [
        ({**body, "reason": ""}, "reason"),
        ({**body, "reason": "   "}, "reason"),
        ({"lines": body["lines"]}, "reason"),
        ({**body, "lines": [{"product_id": milk, "qty_milli": 0}]}, "lines.0.qty_milli"),
    ]:
        response = _post(client, world, "adjustments", bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"][0]["field"] == field
    assert _rows(db) == before


def test_write_off_reason_is_required(client, world, db, products) -> None:  # type: ignore[no-untyped-def]
    before = _rows(db)
    for body in (
        {"lines": [_q(products[0], 1_000)]},
        {"reason": " ", "lines": [_q(products[0], 1_000)]},
    ):
        response = _post(client, world, "write-offs", body)
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "reason"
    assert _rows(db) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "counts",
            {"lines": [{"product_id": "{p}", "counted_milli": 1.5}]},
            "lines.0.counted_milli",
        ),
        (
            "counts",
            {"lines": [{"product_id": "{p}", "counted_milli": 1000.0}]},
            "lines.0.counted_milli",
        ),
        (
            "counts",
            {"lines": [{"product_id": "{p}", "counted_milli": -1}]},
            "lines.0.counted_milli",
        ),
        (
            "counts",
            {"lines": [{"product_id": "{p}", "counted_milli": "5"}]},
            "lines.0.counted_milli",
        ),
        ("counts", {"lines": []}, "lines"),
        ("counts", {"lines": [{"product_id": "{p}", "counted_milli": 1, "x": 1}]}, "lines.0.x"),
        (
            "counts",
            {"note": "a\u0000b", "lines": [{"product_id": "{p}", "counted_milli": 1}]},
            "note",
        ),
        (
            "write-offs",
            {"reason": "Бой\u001b", "lines": [{"product_id": "{p}", "qty_milli": 1}]},
            "reason",
        ),
        (
            "write-offs",
            {"reason": "Бой", "lines": [{"product_id": "{p}", "qty_milli": 0}]},
            "lines.0.qty_milli",
        ),
        (
            "write-offs",
            {"reason": "Бой", "lines": [{"product_id": "{p}", "qty_milli": True}]},
            "lines.0.qty_milli",
        ),
        (
            "transfers",
            {"to_store_id": "2", "lines": [{"product_id": "{p}", "qty_milli": 1}]},
            "to_store_id",
        ),
        (
            "transfers",
            {"to_store_id": "{a}", "lines": [{"product_id": "{p}", "qty_milli": 1}]},
            "to_store_id",
        ),
        (
            "transfers",
            {"to_store_id": 9999, "lines": [{"product_id": "{p}", "qty_milli": 1}]},
            "to_store_id",
        ),
        (
            "transfers",
            {"to_store_id": "{b}", "lines": [{"product_id": 9999, "qty_milli": 1}]},
            "lines.0.product_id",
        ),
        (
            "adjustments",
            {
                "reason": "x",
                "lines": [
                    {"product_id": "{p}", "qty_milli": 1},
                    {"product_id": "{p}", "qty_milli": 2},
                ],
            },
            "lines.1.product_id",
        ),
        (
            "counts",
            {"lines": [{"product_id": "{p}", "counted_milli": 1}], "store_id": 2},
            "store_id",
        ),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(  # type: ignore[no-untyped-def]
    client, world, db, products, path, body, field
) -> None:
    _receive(client, world, products[0], 1_000, 100)
    ids = {'"{p}"': products[0], '"{a}"': world.store_a, '"{b}"': world.store_b}
    raw = json.dumps(body)
    for placeholder, value in ids.items():
        raw = raw.replace(placeholder, str(value))
    before = _rows(db)
    response = client.post(
        f"/api/v1/stores/{world.store_a}/{path}",
        content=raw,
        headers={**world.headers("manager_a"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field
    assert _rows(db) == before


def test_a_closed_destination_is_refused(client, world, db, products) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        s.get(Store, world.store_b).active = False
    body = {"to_store_id": world.store_b, "lines": [_q(products[0], 1_000)]}
    response = _post(client, world, "transfers", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "to_store_id"
    assert "closed" in response.json()["detail"][0]["msg"]


def test_access_is_per_store(client, world, products) -> None:  # type: ignore[no-untyped-def]
    body = {"lines": [{"product_id": products[0], "counted_milli": 1_000}]}
    for who, status in [
        ("manager_b", 403),
        ("cashier_a", 403),
        ("device_a", 403),
        ("anonymous", 401),
    ]:
        assert _post(client, world, "counts", body, who).status_code == status, who
        read = client.get(f"/api/v1/stores/{world.store_a}/stock", headers=world.headers(who))
        assert read.status_code == status, who
    # B's manager may send goods from B, not pull them from A
    pull = {"to_store_id": world.store_b, "lines": [_q(products[0], 1_000)]}
    assert _post(client, world, "transfers", pull, "manager_b").status_code == 403
    push = {"to_store_id": world.store_a, "lines": [_q(products[0], 1_000)]}
    assert _post(client, world, "transfers", push, "manager_b", world.store_b).status_code == 201


def test_a_document_of_another_store_is_not_found(client, world, products) -> None:  # type: ignore[no-untyped-def]
    doc = _post(
        client, world, "write-offs", {"reason": "Бой", "lines": [_q(products[0], 1)]}
    ).json()
    other = client.get(
        f"/api/v1/stores/{world.store_b}/stock-docs/{doc['id']}", headers=world.headers("owner")
    )
    assert other.status_code == 404
    assert other.json()["detail"][0]["field"] == "doc_id"
    missing = client.get("/api/v1/stores/999/stock", headers=world.headers("owner"))
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["field"] == "store_id"


def test_moves_are_listed_newest_first_in_pages(client, world, products) -> None:  # type: ignore[no-untyped-def]
    milk, cheese, _ = products
    _receive(client, world, milk, 1_000, 100)
    _receive(client, world, cheese, 2_000, 200)
    _receive(client, world, milk, 3_000, 300)
    url = f"/api/v1/stores/{world.store_a}/stock/moves"
    headers = world.headers("manager_a")
    first = client.get(url, params={"limit": 2}, headers=headers).json()
    assert [m["qty_milli"] for m in first["items"]] == [3_000, 2_000]
    second = client.get(
        url, params={"limit": 2, "before_id": first["next_before_id"]}, headers=headers
    ).json()
    assert [m["qty_milli"] for m in second["items"]] == [1_000]
    assert second["next_before_id"] is None
    only_milk = client.get(url, params={"product_id": milk}, headers=headers).json()
    assert [m["qty_milli"] for m in only_milk["items"]] == [3_000, 1_000]
    assert client.get(url, params={"limit": 1001}, headers=headers).status_code == 422
    assert client.get(url, params={"before_id": 1.5}, headers=headers).status_code == 422


def test_levels_are_paged_by_product(client, world, products) -> None:  # type: ignore[no-untyped-def]
    for product in products:
        _receive(client, world, product, 1_000, 100)
    url = f"/api/v1/stores/{world.store_a}/stock"
    headers = world.headers("manager_a")
    first = client.get(url, params={"limit": 2}, headers=headers).json()
    assert [x["product_id"] for x in first["items"]] == products[:2]
    assert first["next_after"] == products[1]
    rest = client.get(
        url, params={"limit": 2, "after": first["next_after"]}, headers=headers
    ).json()
    assert [x["product_id"] for x in rest["items"]] == products[2:]
    assert rest["next_after"] is None
    assert client.get(url, params={"limit": 1001}, headers=headers).status_code == 422


def test_every_document_is_audited_with_its_moves(client, world, db, products) -> None:  # type: ignore[no-untyped-def]
    milk = products[0]
    _receive(client, world, milk, 2_000, 5_000)
    _post(client, world, "write-offs", {"reason": "Бой", "lines": [_q(milk, 500)]})
    _post(client, world, "adjustments", {"reason": "Пересорт", "lines": [_q(milk, -250)]})
    with db.read() as s:
        entries = list(
            s.scalars(
                select(AuditEntry).where(AuditEntry.entity == "stock_doc").order_by(AuditEntry.id)
            )
        )
    assert [(e.action, e.store_id) for e in entries] == [
        ("stock.receipt", world.store_a),
        ("stock.write_off", world.store_a),
        ("stock.adjustment", world.store_a),
    ]
    assert entries[1].actor_id == world.ids["manager_a"]
    assert entries[1].after["reason"] == "Бой"
    assert entries[1].after["moves"] == [
        {
            "product_id": milk,
            "kind": "write_off",
            "qty_milli": -500,
            "unit_cost_minor": 5_000,
            "counted_milli": None,
            "on_hand_after_milli": 1_500,
        }
    ]


def test_concurrent_writers_queue_and_lose_nothing(db, world, products) -> None:  # type: ignore[no-untyped-def]
    """Writers take the ledger counter first, so the level always equals the sum of its moves
    and every row gets its own change number (on PostgreSQL as on SQLite)."""
    from concurrent.futures import ThreadPoolExecutor

    from hub.stock import service
    from hub.stock.schemas import AdjustmentIn

    milk = products[0]
    actor = world.actor("manager_a")

    def write(n: int) -> None:
        qty = 1_000 if n % 2 == 0 else -250
        for _ in range(10):
            body = {"reason": f"поток {n}", "lines": [{"product_id": milk, "qty_milli": qty}]}
            with db.write() as s:
                service.adjust(
                    s, actor=actor, store_id=world.store_a, data=AdjustmentIn.model_validate(body)
                )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    with db.read() as s:
        level = s.get(StockLevel, (world.store_a, milk))
        moved = s.scalar(select(func.sum(StockMove.qty_milli)).where(StockMove.product_id == milk))
        seqs = list(s.scalars(select(StockMove.change_seq).order_by(StockMove.id)))
    assert level is not None
    assert level.on_hand_milli == moved == 2 * 10 * 1_000 - 2 * 10 * 250
    assert len(seqs) == 40
    assert seqs == sorted(set(seqs))  # unique, and in the order the moves were written
