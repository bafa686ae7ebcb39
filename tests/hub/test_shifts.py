"""Shifts on the hub (DOMAIN.md "Shifts and cash", RELIABILITY.md F4-F6, B7, B10, B11): the
till's shift-event upload, the figures derived from events and sales, X/Z reports, over/short."""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.db import LEDGER_SEQ, next_change_seq
from hub.sales.models import Sale, SaleLine, SalePayment, TillState
from hub.shifts import service, upload
from hub.shifts.models import Shift, ShiftEvent
from wire.shifts import EventTotals, SaleTotals, expected_cash, shift_figures

BATCH = "/api/v1/till/shifts/batch"
T0 = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))


def _event(
    kind: str,
    shift: uuid.UUID,
    seq: int,
    amount: int,
    *,
    at: dt.datetime = T0,
    cashier: int = 1,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "event_uuid": str(uuid.uuid4()),
        "shift_uuid": str(shift),
        "till_seq": seq,
        "kind": kind,
        "at": at.isoformat(),
        "cashier_id": cashier,
        "amount_minor": amount,
        "reason": reason,
    }


def _post(client, world, events: list[dict[str, Any]], **extra: Any):  # type: ignore[no-untyped-def]
    who = extra.pop("who", "device_a")
    return client.post(BATCH, json={"events": events, **extra}, headers=world.headers(who))


def _statuses(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [r["status"] for r in response.json()["results"]]


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def _shift(db, shift: uuid.UUID) -> Shift:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return s.scalars(select(Shift).where(Shift.shift_uuid == shift)).one()


def _add_sale(  # type: ignore[no-untyped-def]
    db,
    world,
    shift: uuid.UUID,
    *,
    kind: str = "sale",
    total: int,
    cash: int = 0,
    change: int = 0,
    payments: tuple[tuple[str, int], ...] = (),
    lines: tuple[tuple[int | None, int, int], ...] = (),  # (vat_rate_bp, amount, vat)
    seq: int = 1,
    cashier: int = 1,
) -> None:
    """A sale as the sales ingest stores it, then the shift recomputed as the ingest does."""
    with db.write() as s:
        sale = Sale(
            store_id=world.store_a,
            device_id=world.ids["device_a"],
            sale_uuid=uuid.uuid4(),
            till_seq=seq,
            kind=kind,
            cashier_id=cashier,
            shift_uuid=shift,
            currency="RUB",
            total_minor=total,
            vat_minor=sum(v for _r, _a, v in lines),
            change_minor=change,
            cash_minor=cash,
            created_at=T0 + dt.timedelta(minutes=seq),
            till_utc_offset_min=180,
            prev_hash="0" * 64,
            hash="1" * 64,
            payload_hash="2" * 64,
            change_seq=next_change_seq(s, 1, LEDGER_SEQ),
        )
        s.add(sale)
        s.flush()
        for n, (tender, amount) in enumerate(payments, 1):
            s.add(
                SalePayment(
                    sale_id=sale.id,
                    store_id=world.store_a,
                    payment_no=n,
                    tender=tender,
                    amount_minor=amount,
                    change_seq=next_change_seq(s, 1, LEDGER_SEQ),
                )
            )
        for n, (rate, amount, vat) in enumerate(lines, 1):
            s.add(
                SaleLine(
                    sale_id=sale.id,
                    store_id=world.store_a,
                    line_no=n,
                    name=f"Товар {n}",
                    qty_milli=1000,
                    unit_price_minor=amount,
                    discount_minor=0,
                    amount_minor=amount,
                    vat_rate_bp=rate,
                    vat_minor=vat,
                    change_seq=next_change_seq(s, 1, LEDGER_SEQ),
                )
            )
        s.flush()
        service.recompute(s, world.store_a, world.ids["device_a"], [shift])


def _a_day_of_trade(client, world, db, shift: uuid.UUID) -> None:
    """Float 5,000.00; cash sale 1,234.50 paid 1,500.00 (change 265.50); card sale 999.00;
    cash return 200.00; pay-in 1,000.00; pay-out 300.00."""
    opened = _post(
        client,
        world,
        [
            _event("open", shift, 1, 500_000, cashier=world.ids["cashier_a"]),
            _event("cash_in", shift, 2, 100_000, at=T0 + dt.timedelta(hours=1), reason="размен"),
            _event(
                "cash_out", shift, 3, 30_000, at=T0 + dt.timedelta(hours=2), reason="инкассация"
            ),
        ],
    )
    assert _statuses(opened) == ["created"] * 3
    _add_sale(
        db,
        world,
        shift,
        total=123_450,
        cash=150_000,
        change=26_550,
        payments=(("cash", 150_000),),
        lines=((2200, 100_000, 18_033), (1000, 23_450, 2_132)),
        seq=1,
    )
    _add_sale(
        db,
        world,
        shift,
        total=99_900,
        payments=(("card", 99_900),),
        lines=((2200, 99_900, 18_015),),
        seq=2,
    )
    _add_sale(
        db,
        world,
        shift,
        kind="return",
        total=20_000,
        cash=20_000,
        payments=(("cash", 20_000),),
        lines=((2200, 20_000, 3_607),),
        seq=3,
    )


EXPECTED = 500_000 + (150_000 - 26_550) - 20_000 + 100_000 - 30_000  # 673,450 = 6,734.50


# --- figures (pure) --------------------------------------------------------------------------


def test_expected_cash_nets_change_refunds_and_drawer_moves() -> None:
    assert (
        expected_cash(
            float_minor=500_000,
            cash_sales_minor=123_450,
            cash_refunds_minor=20_000,
            pay_ins_minor=100_000,
            pay_outs_minor=30_000,
        )
        == 673_450
    )


def test_figures_without_an_open_have_no_expectation_and_are_flagged() -> None:
    figures = shift_figures(
        EventTotals(count=1, counted_minor=10_000, closed_at=T0),
        SaleTotals(sales_count=1, sales_total_minor=500, cash_sales_minor=500),
        first_cashier_id=7,
    )
    assert (figures.expected_minor, figures.over_short_minor) == (None, None)
    assert figures.cashier_id == 7
    assert figures.flags == "no_open_event"


def test_figures_of_a_shift_longer_than_24h_are_flagged() -> None:
    figures = shift_figures(
        EventTotals(
            count=2,
            float_minor=0,
            opened_at=T0,
            open_cashier_id=3,
            counted_minor=0,
            closed_at=T0 + dt.timedelta(hours=24, seconds=1),
        ),
        SaleTotals(),
    )
    assert figures.flags == "over_24h"
    assert (figures.expected_minor, figures.over_short_minor, figures.cashier_id) == (0, 0, 3)


# --- upload and figures ----------------------------------------------------------------------


def test_expected_cash_is_exact_and_the_x_report_shows_it(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    _a_day_of_trade(client, world, db, shift)
    response = client.get(
        f"/api/v1/stores/{world.store_a}/shifts/{shift}/z-report",
        headers=world.headers("manager_a"),
    )
    assert response.status_code == 200, response.text
    x = response.json()
    assert x["report"] == "X"
    assert {
        k: x[k]
        for k in (
            "float_minor",
            "cash_sales_minor",
            "cash_refunds_minor",
            "pay_ins_minor",
            "pay_outs_minor",
            "expected_minor",
            "counted_minor",
            "over_short_minor",
            "sales_count",
            "sales_total_minor",
            "returns_count",
            "returns_total_minor",
        )
    } == {
        "float_minor": 500_000,
        "cash_sales_minor": 123_450,
        "cash_refunds_minor": 20_000,
        "pay_ins_minor": 100_000,
        "pay_outs_minor": 30_000,
        "expected_minor": 673_450,
        "counted_minor": None,
        "over_short_minor": None,
        "sales_count": 2,
        "sales_total_minor": 223_350,
        "returns_count": 1,
        "returns_total_minor": 20_000,
    }
    assert x["expected_minor"] == EXPECTED
    assert x["cashier"] == {"id": world.ids["cashier_a"], "name": "Кассир А"}
    assert x["till"] == {"device_id": world.ids["device_a"], "name": "Касса device_a"}
    assert (x["store_name"], x["currency"]) == ("Магазин А", "RUB")
    assert x["tenders"] == [
        {"tender": "cash", "sales_minor": 123_450, "refunds_minor": 20_000, "net_minor": 103_450},
        {"tender": "card", "sales_minor": 99_900, "refunds_minor": 0, "net_minor": 99_900},
    ]
    assert x["vat"] == [
        {"vat_rate_bp": 2200, "amount_minor": 100_000 + 99_900 - 20_000, "vat_minor": 32_441},
        {"vat_rate_bp": 1000, "amount_minor": 23_450, "vat_minor": 2_132},
    ]
    assert [(e["kind"], e["amount_minor"], e["reason"]) for e in x["cash_events"]] == [
        ("open", 500_000, None),
        ("cash_in", 100_000, "размен"),
        ("cash_out", 30_000, "инкассация"),
    ]
    assert x["flags"] == ["open_over_24h"]  # opened in March 2025 and still open


@pytest.mark.parametrize(("counted", "over_short"), [(673_000, -450), (673_500, 50), (EXPECTED, 0)])
def test_blind_count_at_close_gives_over_short_with_the_right_sign(  # type: ignore[no-untyped-def]
    client, world, db, counted, over_short
) -> None:
    shift = uuid.uuid4()
    _a_day_of_trade(client, world, db, shift)
    closed = _post(
        client, world, [_event("close", shift, 4, counted, at=T0 + dt.timedelta(hours=9))]
    )
    assert _statuses(closed) == ["created"]
    z = client.get(
        f"/api/v1/stores/{world.store_a}/shifts/{shift}/z-report",
        headers=world.headers("manager_a"),
    ).json()
    assert z["report"] == "Z"
    assert (z["expected_minor"], z["counted_minor"], z["over_short_minor"]) == (
        EXPECTED,
        counted,
        over_short,
    )
    assert z["closed_at"] == "2025-03-03T14:00:00Z"
    report = client.get(
        f"/api/v1/stores/{world.store_a}/cash/over-short",
        params={"from": "2025-03-03T00:00:00+03:00", "to": "2025-03-04T00:00:00+03:00"},
        headers=world.headers("manager_a"),
    )
    assert report.status_code == 200, report.text
    (cashier,) = report.json()["cashiers"]
    assert cashier["cashier_id"] == world.ids["cashier_a"]
    assert cashier["cashier_name"] == "Кассир А"
    assert (cashier["shifts_closed"], cashier["over_short_minor"]) == (1, over_short)
    assert cashier["shifts"][0]["shift_uuid"] == str(shift)
    later = client.get(
        f"/api/v1/stores/{world.store_a}/cash/over-short",
        params={"from": "2025-03-04T00:00:00+03:00"},
        headers=world.headers("manager_a"),
    )
    assert later.json()["cashiers"] == []


def test_a_resend_is_a_duplicate_and_doubles_nothing(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    events = [_event("open", shift, 1, 500_000), _event("cash_in", shift, 2, 1_000)]
    assert _statuses(_post(client, world, events)) == ["created", "created"]
    before = _shift(db, shift)
    assert _statuses(_post(client, world, events)) == ["duplicate", "duplicate"]
    after = _shift(db, shift)
    assert _count(db, ShiftEvent) == 2
    assert (after.pay_ins_minor, after.expected_minor) == (1_000, 501_000)
    assert after.change_seq == before.change_seq  # nothing changed, nothing for the feed


def test_a_mutated_resend_is_a_conflict_audited_and_the_original_kept(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    original = _event("cash_out", shift, 2, 30_000)
    _post(client, world, [_event("open", shift, 1, 500_000), original])
    mutated = {**original, "amount_minor": 3_000}
    response = _post(client, world, [mutated])
    assert _statuses(response) == ["conflict"]
    (error,) = response.json()["results"][0]["errors"]
    assert (error["field"], error["code"]) == ("event_uuid", "payload_mismatch")
    assert error["expected"] != error["actual"]
    with db.read() as s:
        row = s.scalars(select(ShiftEvent).where(ShiftEvent.till_seq == 2)).one()
        assert row.amount_minor == 30_000
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "shift_event.conflict")
        ).one()
        assert (entry.actor_kind, entry.actor_id) == ("device", world.ids["device_a"])
        assert entry.entity_id == str(row.id)
        assert entry.after is not None and entry.after["payload"]["amount_minor"] == 3_000
    assert _shift(db, shift).pay_outs_minor == 30_000


def test_a_second_open_or_close_is_rejected_naming_the_field(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    _post(
        client,
        world,
        [
            _event("open", shift, 1, 500_000),
            _event("close", shift, 2, 500_000, at=T0 + dt.timedelta(hours=8)),
        ],
    )
    response = _post(
        client,
        world,
        [_event("open", shift, 3, 1), _event("close", shift, 4, 2, at=T0 + dt.timedelta(hours=9))],
    )
    assert _statuses(response) == ["rejected", "rejected"]
    first, second = (r["errors"][0] for r in response.json()["results"])
    assert (first["field"], first["code"]) == ("kind", "already_opened")
    assert (second["field"], second["code"]) == ("kind", "already_closed")
    assert _count(db, ShiftEvent) == 2
    assert (_shift(db, shift).float_minor, _shift(db, shift).counted_minor) == (500_000, 500_000)


def test_a_close_before_the_open_is_rejected_with_expected_and_actual(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    _post(client, world, [_event("open", shift, 1, 500_000)])
    early = T0 - dt.timedelta(minutes=1)
    response = _post(client, world, [_event("close", shift, 2, 500_000, at=early)])
    assert _statuses(response) == ["rejected"]
    (error,) = response.json()["results"][0]["errors"]
    assert (error["field"], error["code"]) == ("at", "close_before_open")
    assert error["expected"] == ">= 2025-03-03T05:00:00+00:00"
    assert error["actual"] == early.isoformat()


def test_one_bad_item_never_blocks_the_others(client, world, db) -> None:  # type: ignore[no-untyped-def]
    foreign = uuid.uuid4()
    with db.write() as s:  # a shift of the other till of store A
        s.add(
            ShiftEvent(
                store_id=world.store_a,
                device_id=world.ids["revoked_device_a"],
                event_uuid=uuid.uuid4(),
                shift_uuid=foreign,
                till_seq=1,
                kind="open",
                at=T0,
                cashier_id=1,
                amount_minor=0,
                payload_hash="0" * 64,
                change_seq=next_change_seq(s, 1, LEDGER_SEQ),
            )
        )
        service.recompute(s, world.store_a, world.ids["revoked_device_a"], [foreign])
    shift = uuid.uuid4()
    response = _post(
        client,
        world,
        [
            _event("open", shift, 1, 500_000),
            _event("cash_in", shift, 2, 0),
            _event("cash_out", shift, 3, 0),
            _event("cash_in", foreign, 4, 100),
            _event("cash_out", shift, 5, 700),
        ],
    )
    assert _statuses(response) == ["created", "rejected", "rejected", "rejected", "created"]
    results = response.json()["results"]
    assert results[1]["errors"] == [
        {
            "field": "amount_minor",
            "code": "zero_amount",
            "message": "a cash_in moves money: send the amount moved",
            "expected": ">= 1",
            "actual": "0",
        }
    ]
    assert results[3]["errors"][0]["field"] == "shift_uuid"
    assert results[3]["errors"][0]["code"] == "foreign_shift"
    assert results[3]["errors"][0]["actual"] == f"a shift of device {world.ids['revoked_device_a']}"
    assert _shift(db, shift).expected_minor == 500_000 - 700
    assert _shift(db, foreign).pay_ins_minor == 0
    with db.read() as s:
        state = s.get(TillState, world.ids["device_a"])
        assert state is not None and state.max_shift_seq == 5
        assert state.last_contact_at is not None


def test_ten_concurrent_copies_of_a_batch_store_each_event_once(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    events = [_event("open", shift, 1, 500_000)] + [
        _event("cash_in", shift, n, 100 * n, at=T0 + dt.timedelta(minutes=n)) for n in range(2, 12)
    ]
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: _post(client, world, events), range(10)))
    per_event = list(zip(*(_statuses(r) for r in responses), strict=True))
    assert all(sorted(statuses) == ["created"] + ["duplicate"] * 9 for statuses in per_event)
    assert _count(db, ShiftEvent) == len(events)
    assert _count(db, Shift) == 1
    assert _shift(db, shift).pay_ins_minor == sum(100 * n for n in range(2, 12))


def test_another_stores_id_is_403_audited_and_writes_nothing(client, world, db) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, world, [_event("open", uuid.uuid4(), 1, 0)], store_id=world.store_b)
    assert response.status_code == 403
    assert response.json()["detail"][0]["field"] == "store_id"
    assert (_count(db, ShiftEvent), _count(db, Shift), _count(db, TillState)) == (0, 0, 0)
    with db.read() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "device.foreign_store")
        ).one()
        assert entry.after == {"claimed_store_id": world.store_b}
    own = _post(client, world, [_event("open", uuid.uuid4(), 1, 0)], store_id=world.store_a)
    assert _statuses(own) == ["created"]


def test_a_revoked_till_is_told_to_re_pair(client, world, db) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, world, [_event("open", uuid.uuid4(), 1, 0)], who="revoked_device_a")
    assert response.status_code == 401
    assert response.json()["detail"][0]["type"] == "device_revoked"
    assert _count(db, ShiftEvent) == 0


def test_reports_are_for_the_stores_manager_and_404_name_the_shift(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    _post(client, world, [_event("open", shift, 1, 500_000)])
    url = f"/api/v1/stores/{world.store_a}/shifts/{shift}/z-report"
    assert client.get(url, headers=world.headers("manager_b")).status_code == 403
    assert client.get(url, headers=world.headers("cashier_a")).status_code == 403
    assert client.get(url, headers=world.headers("owner")).status_code == 200
    through_b = client.get(
        f"/api/v1/stores/{world.store_b}/shifts/{shift}/z-report", headers=world.headers("owner")
    )
    assert through_b.status_code == 404
    unknown = uuid.uuid4()
    missing = client.get(
        f"/api/v1/stores/{world.store_a}/shifts/{unknown}/z-report",
        headers=world.headers("manager_a"),
    )
    assert missing.status_code == 404
    detail = missing.json()["detail"][0]
    assert detail["field"] == "shift_uuid"
    assert str(unknown) in detail["msg"]


def test_long_shifts_are_flagged_closed_or_still_open(client, world, db) -> None:  # type: ignore[no-untyped-def]
    closed, still_open, fresh = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    _post(
        client,
        world,
        [
            _event("open", closed, 1, 0, at=T0),
            _event("close", closed, 2, 0, at=T0 + dt.timedelta(hours=25)),
            _event("open", still_open, 3, 0, at=now - dt.timedelta(hours=25)),
            _event("open", fresh, 4, 0, at=now - dt.timedelta(hours=1)),
        ],
    )
    listed = client.get(
        f"/api/v1/stores/{world.store_a}/shifts", headers=world.headers("manager_a")
    ).json()
    assert [(s["shift_uuid"], s["status"], s["flags"]) for s in listed] == [
        (str(fresh), "open", []),
        (str(still_open), "open", ["open_over_24h"]),
        (str(closed), "closed", ["over_24h"]),
    ]
    only_closed = client.get(
        f"/api/v1/stores/{world.store_a}/shifts",
        params={"status": "closed"},
        headers=world.headers("manager_a"),
    ).json()
    assert [s["shift_uuid"] for s in only_closed] == [str(closed)]
    recent = client.get(
        f"/api/v1/stores/{world.store_a}/shifts",
        params={"from": (now - dt.timedelta(hours=2)).isoformat(), "limit": 5},
        headers=world.headers("manager_a"),
    ).json()
    assert [s["shift_uuid"] for s in recent] == [str(fresh)]


def test_a_sale_before_its_open_event_is_counted_once_the_open_arrives(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    _add_sale(db, world, shift, total=10_000, cash=10_000, payments=(("cash", 10_000),), cashier=9)
    early = _shift(db, shift)
    assert (early.cash_sales_minor, early.expected_minor, early.cashier_id) == (10_000, None, 9)
    assert early.flags == "no_open_event"
    assert _statuses(_post(client, world, [_event("open", shift, 1, 500_000, cashier=3)])) == [
        "created"
    ]
    later = _shift(db, shift)
    assert (later.cash_sales_minor, later.expected_minor, later.cashier_id) == (10_000, 510_000, 3)
    assert later.flags == ""
    assert later.change_seq > early.change_seq
    with db.write() as s:  # recompute is idempotent: nothing changes, nothing is re-sent
        service.recompute(s, world.store_a, world.ids["device_a"], [shift, shift])
    assert _shift(db, shift).change_seq == later.change_seq
    assert _count(db, Shift) == 1


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.update(amount_minor=500_000.0), "events.0.amount_minor"),
        (lambda e: e.update(amount_minor=-1), "events.0.amount_minor"),
        (lambda e: e.update(at="2025-03-03T08:00:00"), "events.0.at"),
        (lambda e: e.update(at=1741000000), "events.0.at"),
        (lambda e: e.update(card_number="4111111111111111"), "events.0.card_number"),
        (lambda e: e.update(kind="drawer_kick"), "events.0.kind"),
        (lambda e: e.update(reason="a\u0000b"), "events.0.reason"),
    ],
)
def test_bad_events_are_422_naming_the_field_and_write_nothing(  # type: ignore[no-untyped-def]
    client, world, db, mutate, field
) -> None:
    event = _event("open", uuid.uuid4(), 1, 500_000)
    mutate(event)
    response = _post(client, world, [event])
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field
    assert (_count(db, ShiftEvent), _count(db, TillState)) == (0, 0)


def test_more_than_200_events_or_none_is_422(client, world, db) -> None:  # type: ignore[no-untyped-def]
    shift = uuid.uuid4()
    too_many = [_event("cash_in", shift, n, 1) for n in range(1, 202)]
    response = _post(client, world, too_many)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "events"
    assert _post(client, world, []).status_code == 422
    assert _count(db, ShiftEvent) == 0


def test_an_event_time_that_cannot_be_stored_is_rejected(client, world, db) -> None:  # type: ignore[no-untyped-def]
    event = _event("open", uuid.uuid4(), 1, 0)
    event["at"] = "0001-01-01T00:00:00+05:00"
    response = _post(client, world, [event])
    assert _statuses(response) == ["rejected"]
    assert response.json()["results"][0]["errors"][0]["field"] == "at"
    bad_query = client.get(
        f"/api/v1/stores/{world.store_a}/shifts",
        params={"from": "0001-01-01T00:00:00+05:00"},
        headers=world.headers("manager_a"),
    )
    assert bad_query.status_code == 422
    assert bad_query.json()["detail"][0]["field"] == "from"
    naive = client.get(
        f"/api/v1/stores/{world.store_a}/cash/over-short",
        params={"to": "2025-03-03T00:00:00"},
        headers=world.headers("manager_a"),
    )
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["field"] == "to"


def test_a_unique_constraint_race_is_answered_like_a_resend(client, world, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """F5: when a concurrent writer stored the event between our look-up and our insert, the
    UNIQUE(store_id, event_uuid) violation rolls back that item's SAVEPOINT only."""
    shift = uuid.uuid4()
    opened, moved = _event("open", shift, 1, 500_000), _event("cash_in", shift, 2, 1_000)
    assert _statuses(_post(client, world, [opened, moved])) == ["created", "created"]
    monkeypatch.setattr(upload, "_load_known", lambda *_args: upload._Known())  # blind look-up
    response = _post(
        client,
        world,
        [opened, {**moved, "amount_minor": 2_000}, _event("cash_out", shift, 3, 300)],
    )
    assert _statuses(response) == ["duplicate", "conflict", "created"]
    assert _count(db, ShiftEvent) == 3
    assert _shift(db, shift).expected_minor == 500_000 + 1_000 - 300
