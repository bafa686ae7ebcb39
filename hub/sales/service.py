"""Exactly-once ingest of the tills' sales.

A batch is checked in pure Python first (arithmetic, hash, clock), then written in ONE
transaction that starts by taking the `ledger` change counter. Holding it orders every ledger
writer (SQLite serialises writers anyway; on PostgreSQL concurrent batches queue on the counter
row), so after it is taken every read below sees all earlier commits: a sale_uuid is either on
the hub or not, and a return's "already returned" figure is exact. `UNIQUE(store_id, sale_uuid)`
stays the last word: if an insert still trips it, the batch is redone item by item, each in its
own savepoint, so one item never blocks another and a unique race reads as `duplicate`.

Per item: same sale_uuid and payload hash -> `duplicate`; same sale_uuid, other payload ->
`conflict` (original kept, attempt audited and quarantined); arithmetic or return quantities
wrong -> `rejected`, quarantined verbatim; otherwise `created`, with its stock moves, the unit
cost snapshot of every line and the till's journal checks, all in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog.models import Product
from hub.db import LEDGER_SEQ, Database, change_seqs, hold_ledger, next_change_seq, utcnow
from hub.errors import ApiError
from hub.principal import Principal
from hub.sales import journal, returns
from hub.sales.item import (
    FLAG_FOREIGN_SHIFT,
    FLAG_UNKNOWN_CASHIER,
    FLAG_UNKNOWN_PRODUCT,
    Item,
    in_utc_range,
    prepare,
)
from hub.sales.models import QuarantinedSale, Sale, SaleLine, SalePayment
from hub.staff.models import User
from hub.stock import ledger
from wire.v1 import ErrorV1, SaleResult, SalesBatch, SalesBatchResult

__all__ = ["ingest", "prepare"]

HELD = ("created", "duplicate")  # the hub holds these: acknowledged


def ingest(db: Database, device: Principal, batch: SalesBatch) -> SalesBatchResult:
    assert device.store_id is not None
    now = utcnow()
    sent_at = batch.sent_at
    if sent_at is not None and not in_utc_range(sent_at):
        raise ApiError(
            422, "out_of_range", "sent_at cannot be represented in UTC", loc=["body", "sent_at"]
        )
    items = [prepare(sale, now, sent_at) for sale in batch.sales]
    try:
        with db.write() as s:
            for round_ in _rounds(items):
                _ingest(s, device, round_, now)
    except IntegrityError:
        # Not expected while the counter is held; if it happens, isolate each item.
        items = [prepare(sale, now, sent_at) for sale in batch.sales]
        with db.write() as s:
            next_change_seq(s, 1, LEDGER_SEQ)  # the lock and a block, outside the savepoints
            for n, item in enumerate(items):
                try:
                    with s.begin_nested():
                        _ingest(s, device, [item], now)
                except IntegrityError:
                    items[n] = item = prepare(item.sale, now, sent_at)  # no stale flags
                    _ingest(s, device, [item], now)  # re-read: now a duplicate or conflict
    return SalesBatchResult(
        results=tuple(
            SaleResult(
                sale_uuid=item.sale.sale_uuid,
                status=item.status,  # type: ignore[arg-type]
                errors=tuple(item.errors) if item.status in ("rejected", "conflict") else (),
                flags=tuple(sorted(item.flags)),
            )
            for item in items
        )
    )


def _rounds(items: Sequence[Item]) -> list[list[Item]]:
    """Split a batch so that no round holds a sale_uuid twice. A repeat inside one batch is then
    judged against what its first copy became (stored -> duplicate or conflict; rejected ->
    judged again on its own), never against an undecided first copy."""
    rounds: list[tuple[set[object], list[Item]]] = []
    for item in items:
        for seen, members in rounds:
            if item.sale.sale_uuid not in seen:
                seen.add(item.sale.sale_uuid)
                members.append(item)
                break
        else:
            rounds.append(({item.sale.sale_uuid}, [item]))
    return [members for _seen, members in rounds]


def _ingest(s: Session, device: Principal, items: Sequence[Item], now: dt.datetime) -> None:
    store_id = device.store_id
    assert store_id is not None
    hold_ledger(s)  # take the counter first: see the module docstring
    _classify_known(s, store_id, items)
    fresh = [i for i in items if i.status is None]
    returns.check(s, store_id, fresh)
    accepted = [i for i in fresh if i.status is None]
    for item in accepted:
        item.status = "created"
    _quarantine(s, device, [i for i in items if i.status in ("rejected", "conflict")], now)
    if accepted:
        from hub.shifts import service as shifts

        known_products = _known_products(s, accepted)
        _flag_cashiers(s, store_id, accepted)
        shift_uuids = {i.sale.shift_uuid for i in accepted if i.sale.shift_uuid is not None}
        owners = shifts.event_owners(s, store_id, shift_uuids) if shift_uuids else {}
        for item in accepted:
            if owners.get(item.sale.shift_uuid, device.id) != device.id:  # type: ignore[arg-type]
                item.flags.add(FLAG_FOREIGN_SHIFT)  # kept, not counted in that till's shift
        journal.check_chain(s, device, accepted)
        _insert_sales(s, device, accepted, known_products, now)
        returns.link(s, store_id, accepted)
        if shift_uuids:
            shifts.recompute(s, store_id, device.id, shift_uuids)
    assert device.store_id is not None
    journal.touch_till(
        s,
        device_id=device.id,
        store_id=device.store_id,
        now=now,
        sale_seq=max((i.sale.till_seq for i in items if i.status in HELD), default=0),
        sales_created=sum(1 for i in items if i.status == "created"),
    )


def _classify_known(s: Session, store_id: int, items: Sequence[Item]) -> None:
    """duplicate / conflict against the hub (a round holds each sale_uuid once); a new sale
    whose arithmetic is wrong is rejected."""
    known = {
        row.sale_uuid: row.payload_hash
        for row in s.execute(
            select(Sale.sale_uuid, Sale.payload_hash).where(
                Sale.store_id == store_id, Sale.sale_uuid.in_({i.sale.sale_uuid for i in items})
            )
        )
    }
    for item in items:
        previous = known.get(item.sale.sale_uuid)
        if previous is None:
            if item.errors:
                item.status = "rejected"
        elif previous == item.payload_hash:
            item.status = "duplicate"
        else:
            item.status = "conflict"
            item.errors = [
                ErrorV1(
                    field="sale_uuid",
                    code="conflict",
                    message="a different sale with this sale_uuid is already on the hub; "
                    "the original is kept",
                    expected=previous,
                    actual=item.payload_hash,
                )
            ]


def _quarantine(s: Session, device: Principal, items: Sequence[Item], now: dt.datetime) -> None:
    if not items:
        return
    have = {
        (row.sale_uuid, row.payload_hash)
        for row in s.execute(
            select(QuarantinedSale.sale_uuid, QuarantinedSale.payload_hash).where(
                QuarantinedSale.store_id == device.store_id,
                QuarantinedSale.sale_uuid.in_({i.sale.sale_uuid for i in items}),
            )
        )
    }
    rows = []
    for item in items:
        key = (item.sale.sale_uuid, item.payload_hash)
        if key in have:
            continue  # the same rejected payload sent again: keep one copy
        have.add(key)
        rows.append(
            {
                "store_id": device.store_id,
                "device_id": device.id,
                "sale_uuid": item.sale.sale_uuid,
                "till_seq": item.sale.till_seq,
                "reason": item.status,
                "errors": json.dumps(
                    [e.model_dump(mode="json") for e in item.errors], ensure_ascii=False
                ),
                "payload": item.payload(),
                "payload_hash": item.payload_hash,
                "received_at": now,
            }
        )
        if item.status == "conflict":
            audit.record(
                s,
                actor=device,
                action="sale.conflict",
                entity="sale",
                entity_id=item.sale.sale_uuid,
                store_id=device.store_id,
                before={"payload_hash": item.errors[0].expected},
                after={"payload_hash": item.payload_hash, "till_seq": item.sale.till_seq},
            )
    if rows:
        s.execute(insert(QuarantinedSale.__table__), rows)


def _known_products(s: Session, items: Sequence[Item]) -> set[int]:
    ids = {line.product_id for i in items for line in i.sale.lines if line.product_id is not None}
    if not ids:
        return set()
    return set(s.scalars(select(Product.id).where(Product.id.in_(ids))))


def _flag_cashiers(s: Session, store_id: int, items: Sequence[Item]) -> None:
    ids = {i.sale.cashier_id for i in items}
    ours = set(
        s.scalars(
            select(User.id).where(
                User.id.in_(ids), or_(User.store_id == store_id, User.role == "owner")
            )
        )
    )
    for item in items:
        if item.sale.cashier_id not in ours:
            item.flags.add(FLAG_UNKNOWN_CASHIER)


def _insert_sales(
    s: Session,
    device: Principal,
    items: Sequence[Item],
    known_products: set[int],
    now: dt.datetime,
) -> None:
    store_id = device.store_id
    assert store_id is not None
    for item in items:
        if any(
            line.product_id is None or line.product_id not in known_products
            for line in item.sale.lines
        ):
            item.flags.add(FLAG_UNKNOWN_PRODUCT)
    seqs = change_seqs(s, len(items), LEDGER_SEQ)
    rows = []
    for item in items:
        sale = item.sale
        offset = sale.created_at.utcoffset() or dt.timedelta(0)
        rows.append(
            {
                "store_id": store_id,
                "device_id": device.id,
                "sale_uuid": sale.sale_uuid,
                "till_seq": sale.till_seq,
                "kind": sale.kind,
                "original_sale_uuid": sale.original_sale_uuid,
                "cashier_id": sale.cashier_id,
                "shift_uuid": sale.shift_uuid,
                "currency": sale.currency,
                "total_minor": sale.total_minor,
                "vat_minor": sum(line.vat_minor for line in sale.lines),
                "change_minor": sale.change_minor,
                "cash_minor": sum(p.amount_minor for p in sale.payments if p.tender == "cash"),
                "created_at": sale.created_at,
                "till_utc_offset_min": int(offset.total_seconds() // 60),
                "received_at": now,
                "prev_hash": sale.prev_hash,
                "hash": sale.hash,
                "payload_hash": item.payload_hash,
                "fn_number": sale.fn_number,
                "fd_number": sale.fd_number,
                "fpd": sale.fpd,
                "flags": ",".join(sorted(item.flags)),
                "change_seq": next(seqs),
            }
        )
    table = Sale.__table__
    returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = s.execute(returning, rows).scalars().all()
    for item, sale_id in zip(items, ids, strict=True):
        item.sale_id = sale_id

    moves: list[ledger.Move] = []
    move_of: dict[tuple[int, int], int] = {}
    for item in items:
        assert item.sale_id is not None
        sign = -1 if item.sale.kind == "sale" else 1
        for line in item.sale.lines:
            if line.product_id is not None and line.product_id in known_products:
                move_of[(item.sale_id, line.line_no)] = len(moves)
                moves.append(
                    ledger.Move(
                        product_id=line.product_id,
                        kind=item.sale.kind,
                        qty_milli=sign * line.qty_milli,
                        sale_id=item.sale_id,
                        sale_line_no=line.line_no,
                    )
                )
    posted = ledger.post(s, store_id, moves, at=now)

    n_lines = sum(len(i.sale.lines) for i in items)
    n_payments = sum(len(i.sale.payments) for i in items)
    seqs = change_seqs(s, n_lines + n_payments, LEDGER_SEQ)
    line_rows, payment_rows = [], []
    for item in items:
        for line in item.sale.lines:
            at = move_of.get((item.sale_id, line.line_no))  # type: ignore[arg-type]
            line_rows.append(
                {
                    "sale_id": item.sale_id,
                    "store_id": store_id,
                    "line_no": line.line_no,
                    "product_id": line.product_id,
                    "unknown_product": at is None,
                    "barcode": line.barcode,
                    "name": line.name,
                    "qty_milli": line.qty_milli,
                    "unit_price_minor": line.unit_price_minor,
                    "discount_minor": line.discount_minor,
                    "amount_minor": line.amount_minor,
                    "vat_rate_bp": line.vat_rate_bp,
                    "vat_minor": line.vat_minor,
                    "unit_cost_minor": None if at is None else posted[at].unit_cost_minor,
                    "change_seq": next(seqs),
                }
            )
        for number, payment in enumerate(item.sale.payments, start=1):
            payment_rows.append(
                {
                    "sale_id": item.sale_id,
                    "store_id": store_id,
                    "payment_no": number,
                    "tender": payment.tender,
                    "amount_minor": payment.amount_minor,
                    "approval_code": payment.approval_code,
                    "change_seq": next(seqs),
                }
            )
    s.execute(insert(SaleLine.__table__), line_rows)
    s.execute(insert(SalePayment.__table__), payment_rows)
