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
import hmac
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog.models import Product
from hub.db import LEDGER_SEQ, Database, next_change_seq, utcnow
from hub.principal import Principal
from hub.sales.models import (
    JournalIssue,
    QuarantinedSale,
    Sale,
    SaleLine,
    SalePayment,
    TillState,
)
from hub.staff.models import User
from hub.stock import ledger
from wire.canonical import GENESIS_HASH, canonical_json
from wire.v1 import ErrorV1, SaleResult, SalesBatch, SalesBatchResult, SaleV1, sale_digest
from wire.v1.sales import reconcile_sale, sale_hash

CLOCK_SKEW = dt.timedelta(hours=24)
FLAG_CLOCK_SKEW = "clock_skew"
FLAG_UNKNOWN_PRODUCT = "unknown_product"
FLAG_UNKNOWN_CASHIER = "unknown_cashier"
FLAG_RETURN_PENDING = "return_pending"  # its original sale has not reached the hub yet
FLAG_RETURN_EXCEEDS = "return_exceeds_sale"  # found when a late original arrived
FLAG_HASH_MISMATCH = "hash_mismatch"
FLAG_CHAIN_BREAK = "chain_break"
FLAG_SEQ_REUSE = "seq_reuse"


@dataclass
class Item:
    """One sale of a batch on its way in."""

    sale: SaleV1
    payload_hash: str
    errors: list[ErrorV1] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    status: str | None = None
    sale_id: int | None = None

    def payload(self) -> str:
        """The sale exactly as received, as canonical JSON (kept for the quarantine)."""
        return canonical_json(self.sale.model_dump(mode="json")).decode("utf-8")


def _skewed(sale: SaleV1, sent_at: dt.datetime | None, now: dt.datetime) -> bool:
    """The till's clock is off by more than 24 h: judged by the batch's `sent_at` when the till
    gives it (a sale made offline days ago is not a wrong clock), else by the sale's own time.
    A sale dated after the batch was sent is wrong either way."""
    if sent_at is None:
        return abs(sale.created_at - now) > CLOCK_SKEW
    return abs(sent_at - now) > CLOCK_SKEW or sale.created_at - sent_at > CLOCK_SKEW


def _prepare(sale: SaleV1, now: dt.datetime, sent_at: dt.datetime | None = None) -> Item:
    digest = sale_digest(sale)
    item = Item(sale, digest.payload_hash, reconcile_sale(sale))
    if _skewed(sale, sent_at, now):
        item.flags.add(FLAG_CLOCK_SKEW)
    if not hmac.compare_digest(digest.expected_hash, sale.hash):
        item.flags.add(FLAG_HASH_MISMATCH)
    return item


def ingest(db: Database, device: Principal, batch: SalesBatch) -> SalesBatchResult:
    assert device.store_id is not None
    now = utcnow()
    items = [_prepare(sale, now, batch.sent_at) for sale in batch.sales]
    try:
        with db.write() as s:
            _ingest(s, device, items, now)
    except IntegrityError:
        # Not expected while the counter is held; if it happens, isolate each item.
        items = [_prepare(sale, now, batch.sent_at) for sale in batch.sales]
        with db.write() as s:
            next_change_seq(s, 0, LEDGER_SEQ)
            for item in items:
                try:
                    with s.begin_nested():
                        _ingest(s, device, [item], now)
                except IntegrityError:
                    item.status = None
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


def _ingest(s: Session, device: Principal, items: Sequence[Item], now: dt.datetime) -> None:
    store_id = device.store_id
    assert store_id is not None
    next_change_seq(s, 0, LEDGER_SEQ)  # take the counter first: see the module docstring
    _classify_known(s, store_id, items)
    fresh = [i for i in items if i.status is None]
    _check_returns(s, store_id, fresh)
    accepted = [i for i in fresh if i.status is None]
    for item in accepted:
        item.status = "created"
    _quarantine(s, device, [i for i in items if i.status in ("rejected", "conflict")], now)
    if accepted:
        known_products = _known_products(s, accepted)
        _flag_cashiers(s, store_id, accepted)
        _journal_checks(s, device, accepted)
        _insert_sales(s, device, accepted, known_products, now)
        _link_returns(s, store_id, accepted)
        from hub.shifts import service as shifts

        shift_uuids = {i.sale.shift_uuid for i in accepted if i.sale.shift_uuid is not None}
        if shift_uuids:
            shifts.recompute(s, store_id, device.id, shift_uuids)
    _touch_till(s, device, items, now)


def _classify_known(s: Session, store_id: int, items: Sequence[Item]) -> None:
    """duplicate / conflict against the hub and against earlier items of the same batch."""
    uuids = {i.sale.sale_uuid for i in items}
    known = {
        row.sale_uuid: row.payload_hash
        for row in s.execute(
            select(Sale.sale_uuid, Sale.payload_hash).where(
                Sale.store_id == store_id, Sale.sale_uuid.in_(uuids)
            )
        )
    }
    for item in items:
        if item.status is not None:
            continue
        previous = known.get(item.sale.sale_uuid)
        if previous is None:
            if item.errors:
                item.status = "rejected"
            else:
                known[item.sale.sale_uuid] = item.payload_hash
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


def _line_key(product_id: int | None, name: str) -> str:
    return f"p{product_id}" if product_id is not None else f"n{name}"


def _check_returns(s: Session, store_id: int, items: Sequence[Item]) -> None:
    """A return never exceeds what its sale sold, per product, counting earlier returns."""
    returns = [i for i in items if i.sale.kind == "return"]
    if not returns:
        return
    originals = {i.sale.original_sale_uuid for i in returns}
    sold: dict[uuid.UUID, dict[str, int]] = {}
    rows = s.execute(
        select(Sale.sale_uuid, SaleLine.product_id, SaleLine.name, SaleLine.qty_milli)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .where(Sale.store_id == store_id, Sale.kind == "sale", Sale.sale_uuid.in_(originals))
    )
    for row in rows:
        per = sold.setdefault(row.sale_uuid, defaultdict(int))
        per[_line_key(row.product_id, row.name)] += row.qty_milli
    for item in items:  # originals earlier in this same batch count too
        if item.sale.kind == "sale" and item.sale.sale_uuid in originals and not item.errors:
            per = sold.setdefault(item.sale.sale_uuid, defaultdict(int))
            for line in item.sale.lines:
                per[_line_key(line.product_id, line.name)] += line.qty_milli
    returned: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = s.execute(
        select(Sale.original_sale_uuid, SaleLine.product_id, SaleLine.name, SaleLine.qty_milli)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .where(
            Sale.store_id == store_id,
            Sale.kind == "return",
            Sale.original_sale_uuid.in_(originals),
        )
    )
    for row in rows:
        assert row.original_sale_uuid is not None
        returned[row.original_sale_uuid][_line_key(row.product_id, row.name)] += row.qty_milli
    for item in returns:
        original = item.sale.original_sale_uuid
        assert original is not None
        if original not in sold:
            item.flags.add(FLAG_RETURN_PENDING)
            continue
        this: dict[str, int] = defaultdict(int)
        errors = []
        for index, line in enumerate(item.sale.lines):
            key = _line_key(line.product_id, line.name)
            this[key] += line.qty_milli
            left = sold[original].get(key, 0) - returned[original][key]
            if this[key] > left:
                errors.append(
                    ErrorV1(
                        field=f"lines.{index}.qty_milli",
                        code="return_exceeds_sale",
                        message="a return cannot exceed what the original sale sold "
                        "(less what was already returned)",
                        expected=f"<= {max(left - (this[key] - line.qty_milli), 0)}",
                        actual=str(line.qty_milli),
                    )
                )
        if errors:
            item.errors = errors
            item.status = "rejected"
        else:
            for key, qty in this.items():
                returned[original][key] += qty


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


def _journal_checks(s: Session, device: Principal, items: Sequence[Item]) -> None:
    """Check each new sale's place in the till's hash chain; record breaks, never repair them.

    Neighbours (seq-1 and seq+1) may be on the hub already or earlier in this batch. Gaps are
    not recorded: they are computed from the sales themselves (`journal_gaps`).
    """
    seqs = {i.sale.till_seq + d for i in items for d in (-1, 0, 1)}
    by_seq: dict[int, list[tuple[uuid.UUID, str, str]]] = defaultdict(list)
    for row in s.execute(
        select(Sale.till_seq, Sale.sale_uuid, Sale.hash, Sale.prev_hash).where(
            Sale.device_id == device.id, Sale.till_seq.in_(seqs)
        )
    ):
        by_seq[row.till_seq].append((row.sale_uuid, row.hash, row.prev_hash))
    issues: dict[tuple[str, int, uuid.UUID], str] = {}
    for item in items:
        sale = item.sale
        if FLAG_HASH_MISMATCH in item.flags:
            issues[("hash_mismatch", sale.till_seq, sale.sale_uuid)] = (
                f"hash {sale.hash} is not the hash of the sale's content; expected "
                f"{sale_hash(sale)}"
            )
        same = [u for u, _h, _p in by_seq[sale.till_seq] if u != sale.sale_uuid]
        if same:
            item.flags.add(FLAG_SEQ_REUSE)
            issues[("seq_reuse", sale.till_seq, sale.sale_uuid)] = (
                f"till_seq {sale.till_seq} already used by sale {same[0]}: the journal forked "
                "(a till restored from an old backup?)"
            )
        if sale.till_seq == 1:
            predecessors = [("genesis", GENESIS_HASH)]
        else:
            predecessors = [(str(u), h) for u, h, _p in by_seq[sale.till_seq - 1]]
        if predecessors and all(h != sale.prev_hash for _u, h in predecessors):
            item.flags.add(FLAG_CHAIN_BREAK)
            issues[("chain_break", sale.till_seq, sale.sale_uuid)] = (
                f"prev_hash {sale.prev_hash} is not the hash of seq {sale.till_seq - 1} "
                f"({', '.join(f'{u}: {h}' for u, h in predecessors)})"
            )
        for successor, _h, prev in by_seq[sale.till_seq + 1]:
            if prev != sale.hash:
                issues[("chain_break", sale.till_seq + 1, successor)] = (
                    f"prev_hash {prev} of seq {sale.till_seq + 1} is not the hash {sale.hash} "
                    f"of sale {sale.sale_uuid} at seq {sale.till_seq}"
                )
        by_seq[sale.till_seq].append((sale.sale_uuid, sale.hash, sale.prev_hash))
    if not issues:
        return
    existing = {
        (row.kind, row.till_seq, row.sale_uuid)
        for row in s.execute(
            select(JournalIssue.kind, JournalIssue.till_seq, JournalIssue.sale_uuid).where(
                JournalIssue.device_id == device.id,
                JournalIssue.till_seq.in_({k[1] for k in issues}),
            )
        )
    }
    new = {k: v for k, v in issues.items() if k not in existing}
    if not new:
        return
    last = next_change_seq(s, len(new), LEDGER_SEQ)
    s.execute(
        insert(JournalIssue.__table__),
        [
            {
                "store_id": device.store_id,
                "device_id": device.id,
                "kind": kind,
                "till_seq": seq,
                "sale_uuid": sale_uuid,
                "detail": detail,
                "change_seq": last - len(new) + n + 1,
            }
            for n, ((kind, seq, sale_uuid), detail) in enumerate(new.items())
        ],
    )


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
    last = next_change_seq(s, len(items), LEDGER_SEQ)
    rows = []
    for n, item in enumerate(items):
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
                "change_seq": last - len(items) + n + 1,
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
    seq = next_change_seq(s, n_lines + n_payments, LEDGER_SEQ) - n_lines - n_payments
    line_rows, payment_rows = [], []
    for item in items:
        for line in item.sale.lines:
            seq += 1
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
                    "change_seq": seq,
                }
            )
        for number, payment in enumerate(item.sale.payments, start=1):
            seq += 1
            payment_rows.append(
                {
                    "sale_id": item.sale_id,
                    "store_id": store_id,
                    "payment_no": number,
                    "tender": payment.tender,
                    "amount_minor": payment.amount_minor,
                    "approval_code": payment.approval_code,
                    "change_seq": seq,
                }
            )
    s.execute(insert(SaleLine.__table__), line_rows)
    s.execute(insert(SalePayment.__table__), payment_rows)


def _link_returns(s: Session, store_id: int, items: Sequence[Item]) -> None:
    """Link returns to their sales: new returns whose sale is here, and returns that came
    before their sale (flag `return_pending`), which are checked against it now."""
    wanted = {i.sale.sale_uuid for i in items if i.sale.kind == "sale"} | {
        i.sale.original_sale_uuid for i in items if i.sale.kind == "return"
    }
    originals = {
        row.sale_uuid: row.id
        for row in s.execute(
            select(Sale.sale_uuid, Sale.id).where(
                Sale.store_id == store_id, Sale.kind == "sale", Sale.sale_uuid.in_(wanted)
            )
        )
    }
    if not originals:
        return
    unlinked = s.execute(
        select(Sale.id, Sale.original_sale_uuid, Sale.flags).where(
            Sale.store_id == store_id,
            Sale.kind == "return",
            Sale.original_sale_id.is_(None),
            Sale.original_sale_uuid.in_(originals),
        )
    ).all()
    if not unlinked:
        return
    late = {r.original_sale_uuid for r in unlinked if FLAG_RETURN_PENDING in r.flags}
    over: set[uuid.UUID] = set()
    if late:
        balance: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
        for row in s.execute(
            select(Sale.sale_uuid, Sale.original_sale_uuid, Sale.kind, SaleLine.product_id)
            .add_columns(SaleLine.name, SaleLine.qty_milli)
            .join(SaleLine, SaleLine.sale_id == Sale.id)
            .where(
                Sale.store_id == store_id,
                or_(Sale.sale_uuid.in_(late), Sale.original_sale_uuid.in_(late)),
            )
        ):
            original = row.sale_uuid if row.kind == "sale" else row.original_sale_uuid
            sign = 1 if row.kind == "sale" else -1
            balance[(original, _line_key(row.product_id, row.name))] += sign * row.qty_milli
        over = {original for (original, _key), qty in balance.items() if qty < 0}
    last = next_change_seq(s, len(unlinked), LEDGER_SEQ)
    updates = []
    for n, row in enumerate(unlinked):
        flags = set(filter(None, row.flags.split(","))) - {FLAG_RETURN_PENDING}
        if row.original_sale_uuid in over:
            flags.add(FLAG_RETURN_EXCEEDS)
        updates.append(
            {
                "id": row.id,
                "original_sale_id": originals[row.original_sale_uuid],
                "flags": ",".join(sorted(flags)),
                "change_seq": last - len(unlinked) + n + 1,
            }
        )
    s.execute(update(Sale), updates)


def _touch_till(s: Session, device: Principal, items: Sequence[Item], now: dt.datetime) -> None:
    """Last contact, the highest seq the hub holds (acknowledged) and the count of sales."""
    held = [i.sale.till_seq for i in items if i.status in ("created", "duplicate")]
    created = sum(1 for i in items if i.status == "created")
    seq = next_change_seq(s, 1, LEDGER_SEQ)
    state = s.get(TillState, device.id)
    if state is None:
        s.add(
            TillState(
                device_id=device.id,
                store_id=device.store_id,
                last_contact_at=now,
                last_sale_at=now if created else None,
                max_sale_seq=max(held, default=0),
                sales_count=created,
                change_seq=seq,
            )
        )
        return
    state.last_contact_at = now
    if created:
        state.last_sale_at = now
    state.max_sale_seq = max([state.max_sale_seq, *held])
    state.sales_count += created
    state.change_seq = seq


# --- reads ---------------------------------------------------------------------------------


def journal_gaps(s: Session, device_id: int, limit: int = 100) -> list[tuple[int, int]]:
    """Missing till_seq ranges of a till's sales, first to last, e.g. [(17, 19)]."""
    seqs = (
        select(
            Sale.till_seq.label("seq"),
            func.lag(Sale.till_seq).over(order_by=Sale.till_seq).label("prev"),
        )
        .where(Sale.device_id == device_id)
        .subquery()
    )
    rows = s.execute(
        select(seqs.c.prev, seqs.c.seq)
        .where(seqs.c.seq - func.coalesce(seqs.c.prev, 0) > 1)
        .order_by(seqs.c.seq)
        .limit(limit)
    )
    return [((row.prev or 0) + 1, row.seq - 1) for row in rows]


def format_ranges(ranges: Iterable[tuple[int, int]]) -> list[str]:
    return [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges]
