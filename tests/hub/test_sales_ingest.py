"""Sales ingest: exactly once, per-item results, quarantine, returns, journal integrity, stock
and cost (RELIABILITY.md F4-F8, F12, B2, B3, B5-B7, B11). Each test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.sales.models import QuarantinedSale, Sale, SaleLine, SalePayment
from hub.stock.models import StockLevel, StockMove
from kassa.till_sim import Item, SimTill
from tests.hub.sales_fixtures import (
    BATCH,
    body,
    mutate,
    new_till,
    post,
    receive,
    seed_shop,
    statuses,
)


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _level(db, store_id: int, product_id: int) -> StockLevel:  # type: ignore[no-untyped-def]
    with db.read() as s:
        level = s.get(StockLevel, (store_id, product_id))
        assert level is not None
        return level


def test_a_sale_is_created_with_stock_moves_and_cost_snapshot(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    items = shop.items()
    till = new_till(world)
    sale = till.sale([items["milk"], items["cheese"]], receipt_discount_minor=1000)
    response = post(client, world.headers("device_a"), [sale], store_id=world.store_a)
    assert statuses(response) == ["created"]
    assert response.json()["results"][0]["flags"] == []

    with db.read() as s:
        row = s.scalars(select(Sale)).one()
        assert (row.total_minor, row.kind, row.till_seq) == (sale.total_minor, "sale", 1)
        assert row.created_at == sale.created_at
        assert row.till_utc_offset_min == 180
        lines = s.scalars(select(SaleLine).order_by(SaleLine.line_no)).all()
        assert [line.unit_cost_minor for line in lines] == [6000, 61000]
        assert sum(line.amount_minor for line in lines) == sale.total_minor
        assert s.scalar(select(func.sum(SalePayment.amount_minor))) == 40000
    assert _level(db, world.store_a, shop.milk).on_hand_milli == 99_000
    assert _level(db, world.store_a, shop.cheese).on_hand_milli == 9_650


def test_resending_answers_duplicate_and_writes_nothing(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F4: the response was lost after the commit; the till sends the batch again."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sales = [till.sale([shop.items()["bread"]]) for _ in range(3)]
    assert statuses(post(client, world.headers("device_a"), sales)) == ["created"] * 3
    for _ in range(3):
        assert statuses(post(client, world.headers("device_a"), sales)) == ["duplicate"] * 3
    assert _count(db, Sale) == 3
    assert _count(db, StockMove) == 3 + 3  # three receipts from the seed, three sales
    assert _level(db, world.store_a, shop.bread).on_hand_milli == 50_000 - 3 * 2000


def test_ten_concurrent_copies_of_one_batch_store_each_sale_once(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F5."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sales = [till.sale([shop.items()["milk"], shop.items()["bread"]]) for _ in range(20)]
    headers = world.headers("device_a")
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: post(client, headers, sales), range(10)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429, 503}, codes
    ok = [statuses(r) for r in responses if r.status_code == 200]
    assert ok, "at least one copy must get through"
    for result in ok:
        assert set(result) <= {"created", "duplicate"}
    assert sum(r.count("created") for r in ok) == 20
    assert _count(db, Sale) == 20
    assert _level(db, world.store_a, shop.milk).on_hand_milli == 100_000 - 20 * 1000


def test_same_uuid_other_payload_is_a_conflict_and_the_original_stays(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F6."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sale = till.sale([shop.items()["milk"]])
    assert statuses(post(client, world.headers("device_a"), [sale])) == ["created"]
    altered = mutate(sale, cashier_id=world.ids["manager_a"])
    response = client.post(BATCH, json={"sales": [altered]}, headers=world.headers("device_a"))
    assert statuses(response) == ["conflict"]
    assert response.json()["results"][0]["errors"][0]["field"] == "sale_uuid"
    with db.read() as s:
        assert s.scalars(select(Sale.cashier_id)).one() == world.ids["cashier_a"]
        quarantined = s.scalars(select(QuarantinedSale)).one()
        assert quarantined.reason == "conflict"
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "sale.conflict")).one()
    listed = client.get(
        f"/api/v1/stores/{world.store_a}/sales-quarantine", headers=world.headers("manager_a")
    ).json()
    assert listed[0]["payload"]["cashier_id"] == world.ids["manager_a"]


def test_one_bad_sale_is_rejected_and_quarantined_the_others_go_in(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """B5 and 'one item never blocks another'."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    good1 = till.sale([shop.items()["milk"]])
    bad = till.sale([shop.items()["bread"]])
    good2 = till.sale([shop.items()["cheese"]])
    payload = body([good1, bad, good2])
    payload["sales"][1]["total_minor"] += 1
    payload["sales"][1]["payments"][0]["amount_minor"] += 1
    response = client.post(BATCH, json=payload, headers=world.headers("device_a"))
    assert statuses(response) == ["created", "rejected", "created"]
    errors = response.json()["results"][1]["errors"]
    assert errors == [
        {
            "field": "total_minor",
            "code": "total_mismatch",
            "message": "total is not the sum of line amounts",
            "expected": str(bad.total_minor),
            "actual": str(bad.total_minor + 1),
        }
    ]
    assert _count(db, Sale) == 2
    assert _level(db, world.store_a, shop.bread).on_hand_milli == 50_000
    # Sent again: still rejected, kept once.
    assert statuses(client.post(BATCH, json=payload, headers=world.headers("device_a"))) == [
        "duplicate",
        "rejected",
        "duplicate",
    ]
    listed = client.get(
        f"/api/v1/stores/{world.store_a}/sales-quarantine", headers=world.headers("manager_a")
    )
    assert listed.status_code == 200
    assert [(q["reason"], q["sale_uuid"]) for q in listed.json()] == [
        ("rejected", str(bad.sale_uuid))
    ]
    assert listed.json()[0]["errors"][0]["expected"] == str(bad.total_minor)


def test_zero_or_negative_quantity_is_rejected_naming_the_field(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """B3."""
    shop = seed_shop(db, world.store_a)
    sale = new_till(world).sale([shop.items()["milk"]])
    data = body([sale])
    data["sales"][0]["lines"][0]["qty_milli"] = -1000
    response = client.post(BATCH, json=data, headers=world.headers("device_a"))
    assert statuses(response) == ["rejected"]
    assert response.json()["results"][0]["errors"][0]["field"] == "lines.0.qty_milli"
    assert _count(db, Sale) == 0


def test_unknown_product_is_accepted_and_flagged(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """B6: the sale happened; the line is flagged and moves no stock."""
    shop = seed_shop(db, world.store_a)
    mystery = Item(999_999, "Товар без карточки", 1000, 15000, 2200)
    sale = new_till(world).sale([shop.items()["milk"], mystery, Item(None, "Пакет", 1000, 500)])
    response = post(client, world.headers("device_a"), [sale])
    assert statuses(response) == ["created"]
    assert "unknown_product" in response.json()["results"][0]["flags"]
    with db.read() as s:
        flags = s.scalars(select(SaleLine.unknown_product).order_by(SaleLine.line_no)).all()
        assert flags == [False, True, True]
        assert (
            s.scalar(select(func.count()).select_from(StockMove).where(StockMove.kind == "sale"))
            == 1
        )


def test_another_stores_id_is_refused_and_audited(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """B7."""
    shop = seed_shop(db, world.store_a)
    sale = new_till(world).sale([shop.items()["milk"]])
    response = post(client, world.headers("device_a"), [sale], store_id=world.store_b)
    assert response.status_code == 403
    assert response.json()["detail"][0]["field"] == "store_id"
    assert _count(db, Sale) == 0
    with db.read() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "device.foreign_store")
        ).one()
        assert entry.after == {"claimed_store_id": world.store_b}


def test_return_before_its_sale_is_pending_then_linked(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F7: two tills; the return reaches the hub before the sale it returns."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sale = till.sale([shop.items()["milk"], shop.items()["bread"]])
    refund = till.refund(sale, [(1, 1000)])
    first = post(client, world.headers("device_a"), [refund])
    assert statuses(first) == ["created"]
    assert first.json()["results"][0]["flags"] == ["return_pending"]
    gaps = client.get(f"/api/v1/stores/{world.store_a}/tills", headers=world.headers("owner"))
    mine = next(t for t in gaps.json() if t["device_id"] == world.ids["device_a"])
    assert mine["missing"] == ["1"]
    assert statuses(post(client, world.headers("device_a"), [sale])) == ["created"]
    with db.read() as s:
        linked = s.scalars(select(Sale).where(Sale.kind == "return")).one()
        original = s.scalars(select(Sale).where(Sale.kind == "sale")).one()
        assert linked.original_sale_id == original.id
        assert linked.flags == ""
    gaps = client.get(f"/api/v1/stores/{world.store_a}/tills", headers=world.headers("owner"))
    mine = next(t for t in gaps.json() if t["device_id"] == world.ids["device_a"])
    assert (mine["missing"], mine["issues"], mine["max_sale_seq"]) == ([], [], 2)
    assert _level(db, world.store_a, shop.milk).on_hand_milli == 100_000


def test_a_return_never_exceeds_what_was_sold(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sale = till.sale([Item(shop.cheese, "Сыр", 500, 89900)])
    first = till.refund(sale, [(1, 300)])
    second = till.refund(sale, [(1, 300)])  # only 200 g are left to return
    response = post(client, world.headers("device_a"), [sale, first, second])
    assert statuses(response) == ["created", "created", "rejected"]
    error = response.json()["results"][2]["errors"][0]
    assert (error["field"], error["code"], error["expected"], error["actual"]) == (
        "lines.0.qty_milli",
        "return_exceeds_sale",
        "<= 200",
        "300",
    )


def test_a_late_original_flags_returns_that_exceed_it(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sale = till.sale([Item(shop.milk, "Молоко", 1000, 8990)])
    greedy = till.refund(sale, [(1, 1000)])
    greedy2 = till.refund(sale, [(1, 1000)])
    assert statuses(post(client, world.headers("device_a"), [greedy, greedy2])) == ["created"] * 2
    assert statuses(post(client, world.headers("device_a"), [sale])) == ["created"]
    with db.read() as s:
        flags = s.scalars(select(Sale.flags).where(Sale.kind == "return")).all()
    assert flags == ["return_exceeds_sale", "return_exceeds_sale"]


def test_gaps_are_listed_until_filled(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sales = [till.sale([shop.items()["bread"]]) for _ in range(7)]
    assert (
        statuses(post(client, world.headers("device_a"), [sales[0], sales[4], sales[6]]))
        == ["created"] * 3
    )

    def journal():  # type: ignore[no-untyped-def]
        listed = client.get(
            f"/api/v1/stores/{world.store_a}/tills", headers=world.headers("manager_a")
        )
        return next(t for t in listed.json() if t["device_id"] == world.ids["device_a"])

    assert journal()["missing"] == ["2-4", "6"]
    assert journal()["issues"] == []
    assert (
        statuses(post(client, world.headers("device_a"), [*sales[1:4], sales[5]]))
        == ["created"] * 4
    )
    state = journal()
    assert (state["missing"], state["issues"], state["max_sale_seq"], state["sales_count"]) == (
        [],
        [],
        7,
        7,
    )
    assert state["last_contact_at"] is not None


def test_skewed_till_clock_is_flagged_and_kept(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F8: ordering and dedupe use till_seq and sale_uuid, never the till's clock."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    past = dt.datetime(2020, 1, 1, 9, 0, tzinfo=dt.UTC)
    skewed = till.sale([shop.items()["milk"]], at=past)
    fine = till.sale([shop.items()["milk"]])
    response = post(client, world.headers("device_a"), [fine, skewed])
    assert response.json()["results"][1]["flags"] == ["clock_skew"]
    assert response.json()["results"][0]["flags"] == []
    with db.read() as s:
        row = s.scalars(select(Sale).where(Sale.sale_uuid == skewed.sale_uuid)).one()
        assert row.created_at == past
        assert row.received_at > past + dt.timedelta(days=365)
    assert statuses(post(client, world.headers("device_a"), [skewed])) == ["duplicate"]


def test_restored_old_backup_is_duplicate_then_fork_flagged(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F12: the till's journal is restored from a backup taken after sale 2; it resends 1-2
    (duplicates) and then sells new sales 3-4 although the hub already has 3-4."""
    import copy

    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sales = [till.sale([shop.items()["bread"]]) for _ in range(2)]
    backup = copy.deepcopy(till)
    sales += [till.sale([shop.items()["bread"]]) for _ in range(2)]
    assert statuses(post(client, world.headers("device_a"), sales)) == ["created"] * 4

    assert statuses(post(client, world.headers("device_a"), sales[:2])) == ["duplicate"] * 2
    forked = [backup.sale([shop.items()["milk"]]) for _ in range(2)]
    response = post(client, world.headers("device_a"), forked)
    assert statuses(response) == ["created", "created"]
    assert "seq_reuse" in response.json()["results"][0]["flags"]
    listed = client.get(f"/api/v1/stores/{world.store_a}/tills", headers=world.headers("owner"))
    mine = next(t for t in listed.json() if t["device_id"] == world.ids["device_a"])
    kinds = sorted((i["kind"], i["till_seq"]) for i in mine["issues"])
    assert ("seq_reuse", 3) in kinds and ("seq_reuse", 4) in kinds
    assert mine["max_sale_seq"] == 4


def test_broken_chain_and_altered_hash_are_recorded(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    first, second, third = (till.sale([shop.items()["bread"]]) for _ in range(3))
    tampered = mutate(second, prev_hash="ab" * 32)  # prev_hash no longer links to `first`
    wrong_hash = mutate(third, hash="cd" * 32)
    response = client.post(
        BATCH,
        json={"sales": [body([first])["sales"][0], tampered, wrong_hash]},
        headers=world.headers("device_a"),
    )
    assert statuses(response) == ["created"] * 3
    flags = [r["flags"] for r in response.json()["results"]]
    assert "chain_break" in flags[1] and "hash_mismatch" in flags[1]
    assert "hash_mismatch" in flags[2] and "chain_break" not in flags[2]
    listed = client.get(f"/api/v1/stores/{world.store_a}/tills", headers=world.headers("owner"))
    mine = next(t for t in listed.json() if t["device_id"] == world.ids["device_a"])
    kinds = sorted((i["kind"], i["till_seq"]) for i in mine["issues"])
    # Sale 3 still links to the hash sale 2 claims; its own hash is what is wrong.
    assert kinds == [("chain_break", 2), ("hash_mismatch", 2), ("hash_mismatch", 3)]


def test_past_margins_never_change_when_cost_moves(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    assert statuses(
        post(client, world.headers("device_a"), [till.sale([shop.items()["milk"]])])
    ) == ["created"]
    with db.write() as s:
        receive(s, world.store_a, [(shop.milk, 99_000, 8000)])
    assert _level(db, world.store_a, shop.milk).avg_cost_minor == 7000  # (99*6000 + 99*8000)/198
    assert statuses(
        post(client, world.headers("device_a"), [till.sale([shop.items()["milk"]])])
    ) == ["created"]
    with db.read() as s:
        costs = s.scalars(select(SaleLine.unit_cost_minor).order_by(SaleLine.id)).all()
    assert costs == [6000, 7000]


def test_batch_limits(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """B2: > 200 sales or > 500 lines is a 422 naming the field; > 1 MiB is a 413."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sale = till.sale([shop.items()["bread"]])
    one = body([sale])["sales"][0]
    response = client.post(BATCH, json={"sales": [one] * 201}, headers=world.headers("device_a"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "sales"
    many_lines = dict(one, lines=[dict(one["lines"][0], line_no=n) for n in range(1, 502)])
    response = client.post(BATCH, json={"sales": [many_lines]}, headers=world.headers("device_a"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "sales.0.lines"
    huge = b'{"sales": [' + b" " * (1024 * 1024 + 10) + b"]}"
    response = client.post(
        BATCH,
        content=huge,
        headers={**world.headers("device_a"), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert _count(db, Sale) == 0


def test_naive_timestamp_is_422_and_nothing_is_written(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """B11."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    good = body([till.sale([shop.items()["bread"]])])["sales"][0]
    naive = dict(
        body([till.sale([shop.items()["bread"]])])["sales"][0], created_at="2025-01-31T12:00:00"
    )
    response = client.post(BATCH, json={"sales": [good, naive]}, headers=world.headers("device_a"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "sales.1.created_at"
    assert _count(db, Sale) == 0


def test_sales_made_offline_days_ago_are_not_a_skewed_clock(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F1/F8: with the batch's `sent_at` the hub tells an offline till (old sales, right clock)
    from a wrong clock (sent_at itself days off)."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    now = dt.datetime.now(dt.UTC)
    old = till.sale([shop.items()["milk"]], at=now - dt.timedelta(days=5))
    right = post(client, world.headers("device_a"), [old], sent_at=now.isoformat())
    assert right.json()["results"][0]["flags"] == []
    later = till.sale([shop.items()["milk"]], at=now + dt.timedelta(days=3))
    wrong = post(
        client,
        world.headers("device_a"),
        [later],
        sent_at=(now + dt.timedelta(days=3)).isoformat(),
    )
    assert wrong.json()["results"][0]["flags"] == ["clock_skew"]


def test_sql_ish_and_wildcard_text_is_stored_verbatim(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """B8: names are data, never SQL or patterns."""
    shop = seed_shop(db, world.store_a)
    odd = 'Сок 100% «Яблоко»_1\'; DROP TABLE sale; -- \\ "x"'
    sale = new_till(world).sale([Item(shop.milk, odd, 1000, 8990, 1000)])
    assert statuses(post(client, world.headers("device_a"), [sale])) == ["created"]
    detail = client.get(
        f"/api/v1/stores/{world.store_a}/sales/{sale.sale_uuid}", headers=world.headers("owner")
    ).json()
    assert detail["lines"][0]["name"] == odd
    assert _count(db, Sale) == 1


def test_a_saturated_hub_answers_429_with_retry_after(client, world, db, app) -> None:  # type: ignore[no-untyped-def]
    """RELIABILITY.md "Load": when KASSA_INGEST_CONCURRENCY batches are already being written,
    another waits briefly and then gets 429 + Retry-After instead of piling onto the lock."""
    from starlette.requests import Request

    from hub.sales.router import _ingest_slot

    shop = seed_shop(db, world.store_a)
    sale = new_till(world).sale([shop.items()["milk"]])
    slot = _ingest_slot(Request({"type": "http", "app": app}))
    held = 0
    while slot.acquire(blocking=False):  # every slot busy
        held += 1
    try:
        response = post(client, world.headers("device_a"), [sale])
    finally:
        for _ in range(held):
            slot.release()
    assert held == app.state.settings.ingest_concurrency
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert _count(db, Sale) == 0
    assert statuses(post(client, world.headers("device_a"), [sale])) == ["created"]


def test_a_unique_race_reads_as_duplicate_never_a_500(client, world, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """If the bulk insert ever trips UNIQUE(store_id, sale_uuid) (a race the counter lock should
    prevent), the batch is redone item by item in savepoints: the others still go in and the
    raced sale reads as `duplicate`."""
    from hub.sales import service

    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    first = till.sale([shop.items()["milk"]])
    assert statuses(post(client, world.headers("device_a"), [first])) == ["created"]
    second = till.sale([shop.items()["bread"]])

    real = service._classify_known
    calls = {"n": 0}

    def blind_once(s, store_id, items):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            return None  # miss the row that is already there, as a racing reader would
        return real(s, store_id, items)

    monkeypatch.setattr(service, "_classify_known", blind_once)
    response = post(client, world.headers("device_a"), [first, second])
    assert statuses(response) == ["duplicate", "created"]
    assert calls["n"] >= 2, "the item-by-item path ran"
    assert _count(db, Sale) == 2
    assert _level(db, world.store_a, shop.milk).on_hand_milli == 99_000


def test_a_repeat_inside_one_batch_follows_its_first_copy(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """A sale sent twice in one batch: stored once. An over-limit return sent twice: rejected
    twice, never acknowledged as a duplicate of something the hub does not hold."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sale = till.sale([Item(shop.milk, "Молоко", 1000, 8990, 1000)])
    greedy = till.refund(sale, [(1, 1000)]).model_copy()
    response = post(client, world.headers("device_a"), [sale, sale])
    assert statuses(response) == ["created", "duplicate"]
    first = till.refund(sale, [(1, 1000)])
    assert statuses(post(client, world.headers("device_a"), [first])) == ["created"]
    response = post(client, world.headers("device_a"), [greedy, greedy])
    assert statuses(response) == ["rejected", "rejected"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Sale).where(Sale.kind == "return")) == 1


def test_times_and_numbers_at_the_edges_never_500(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    ancient = body([till.sale([shop.items()["milk"]])])["sales"][0]
    ancient["created_at"] = "0001-01-01T00:00:00+03:00"
    normal = body([till.sale([shop.items()["milk"]])])["sales"][0]
    response = client.post(
        BATCH, json={"sales": [ancient, normal]}, headers=world.headers("device_a")
    )
    assert statuses(response) == ["rejected", "created"]
    assert response.json()["results"][0]["errors"][0]["field"] == "created_at"
    response = client.post(
        BATCH,
        json={"sales": [normal], "sent_at": "0001-01-01T00:00:00+03:00"},
        headers=world.headers("device_a"),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "sent_at"
    last = SimTill(cashier_id=world.ids["cashier_a"], seq=2**63 - 2)
    assert statuses(
        post(client, world.headers("device_a"), [last.sale([shop.items()["milk"]])])
    ) == ["created"]
    base = f"/api/v1/stores/{world.store_a}/sales"
    for query in (
        {"since": "0001-01-01T00:00:00+03:00"},
        {"after_id": 2**63},
        {"device_id": 2**63},
    ):
        answer = client.get(base, params=query, headers=world.headers("owner"))
        assert answer.status_code == 422, (query, answer.text)
    answer = client.get(
        f"/api/v1/stores/{world.store_a}/sales-quarantine",
        params={"before_id": 2**63},
        headers=world.headers("owner"),
    )
    assert answer.status_code == 422


def test_only_the_returns_holding_over_returned_goods_are_flagged(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    sale = till.sale(
        [Item(shop.milk, "Молоко", 1000, 8990, 1000), Item(shop.bread, "Хлеб", 1000, 5450, 1000)]
    )
    milk_twice = [till.refund(sale, [(1, 1000)]), till.refund(sale, [(1, 1000)])]
    bread_once = till.refund(sale, [(2, 1000)])
    assert (
        statuses(post(client, world.headers("device_a"), [*milk_twice, bread_once]))
        == ["created"] * 3
    )
    assert statuses(post(client, world.headers("device_a"), [sale])) == ["created"]
    with db.read() as s:
        flags = dict(
            s.execute(select(Sale.sale_uuid, Sale.flags).where(Sale.kind == "return")).all()
        )
    assert flags[milk_twice[0].sale_uuid] == "return_exceeds_sale"
    assert flags[milk_twice[1].sale_uuid] == "return_exceeds_sale"
    assert flags[bread_once.sale_uuid] == ""


def test_a_sale_naming_another_tills_shift_is_kept_but_not_counted_in_it(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """Till B's sale names till A's shift before A's open arrives: A's events still own the
    shift and B's cash stays out of A's expected cash."""
    from hub.db import next_change_seq
    from hub.devices.models import Device
    from hub.shifts.models import Shift
    from hub.staff import security

    shop = seed_shop(db, world.store_a)
    token, digest = security.new_token(security.DEVICE_PREFIX)
    with db.write() as s:
        s.add(
            Device(
                store_id=world.store_a,
                name="Касса 2",
                token_hash=digest,
                change_seq=next_change_seq(s),
            )
        )
    till_b = {"Authorization": f"Bearer {token}"}
    till_a = new_till(world)
    opened = till_a.shift_event("open", 500_000)
    sim_b = SimTill(cashier_id=world.ids["cashier_a"], shift_uuid=till_a.shift_uuid)
    stray = sim_b.sale([shop.items()["milk"]], cash_given_minor=10_000)
    assert statuses(post(client, till_b, [stray])) == ["created"]
    events = {"events": [opened.model_dump(mode="json")]}
    answer = client.post(
        "/api/v1/till/shifts/batch", json=events, headers=world.headers("device_a")
    )
    assert [r["status"] for r in answer.json()["results"]] == ["created"]
    own = till_a.sale([shop.items()["bread"]], cash_given_minor=10_000)
    assert statuses(post(client, world.headers("device_a"), [own])) == ["created"]
    response = post(client, till_b, [sim_b.sale([shop.items()["milk"]])])
    assert response.json()["results"][0]["flags"] == ["foreign_shift"]
    with db.read() as s:
        shift = s.scalars(select(Shift)).one()
        assert shift.device_id == world.ids["device_a"]
        assert shift.cash_sales_minor == own.total_minor
        assert shift.expected_minor == 500_000 + own.total_minor


def test_a_re_paired_till_continues_its_journal(client, world, db) -> None:  # type: ignore[no-untyped-def]
    """F14: the till's token is revoked, it is re-paired with a code naming the device it was,
    and carries on at seq 4: no seq is reported missing, the chain holds across the devices."""
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    before = [till.sale([shop.items()["bread"]]) for _ in range(3)]
    assert statuses(post(client, world.headers("device_a"), before)) == ["created"] * 3
    code = client.post(
        f"/api/v1/stores/{world.store_a}/pairing-codes",
        json={"device_name": "Касса 1 (новый диск)", "replaces_device_id": world.ids["device_a"]},
        headers=world.headers("manager_a"),
    )
    assert code.status_code == 201, code.text
    paired = client.post("/api/v1/devices/pair", json={"code": code.json()["code"]})
    assert paired.status_code == 201, paired.text
    new_headers = {"Authorization": f"Bearer {paired.json()['token']}"}
    # The old token stops working at once; the new one sends the rest of the journal.
    assert post(client, world.headers("device_a"), before[:1]).status_code == 401
    after = [till.sale([shop.items()["bread"]]) for _ in range(2)]
    response = post(client, new_headers, [before[2], *after])
    assert statuses(response) == ["duplicate", "created", "created"]
    assert all(r["flags"] == [] for r in response.json()["results"])
    tills = client.get(f"/api/v1/stores/{world.store_a}/tills", headers=world.headers("owner"))
    new = next(t for t in tills.json() if t["device_id"] == paired.json()["device_id"])
    assert (new["missing"], new["issues"], new["replaces_device_id"]) == (
        [],
        [],
        world.ids["device_a"],
    )
    # A till can be replaced once; the next re-pair names the newest device.
    again = client.post(
        f"/api/v1/stores/{world.store_a}/pairing-codes",
        json={"replaces_device_id": world.ids["device_a"]},
        headers=world.headers("manager_a"),
    )
    assert again.status_code == 422
    assert again.json()["detail"][0]["field"] == "replaces_device_id"
