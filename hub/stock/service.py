"""Manual stock documents: counts, transfers, write-offs and adjustments, and `post_doc`, which
every document (goods receipts included, see `hub.purchasing.receipts`) is written through.

A write use-case takes the ledger counter first (`hold_ledger`), so on PostgreSQL concurrent stock
writers queue instead of reading stale levels; it checks everything before writing anything, and
all of it happens in the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog.models import Product
from hub.db import LEDGER_SEQ, change_seqs, hold_ledger
from hub.errors import ApiError, not_found
from hub.principal import Principal
from hub.stock import ledger
from hub.stock.models import StockDoc, StockLevel, StockMove
from hub.stock.schemas import (
    AdjustmentIn,
    CountIn,
    CountLineOut,
    CountOut,
    StockDocOut,
    StockLevelOut,
    StockMoveOut,
    StockMovePage,
    StockPage,
    TransferIn,
    WriteOffIn,
)
from hub.stores.models import Store
from wire.money import round_half_up

# --- what every stock write shares -----------------------------------------------------------


def require_store(session: Session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise not_found("store", "store_id")
    return store


def check_lines(session: Session, product_ids: Sequence[int]) -> None:
    """422 naming `lines.N.product_id` for a product that does not exist or is on two lines."""
    first_line: dict[int, int] = {}
    for n, pid in enumerate(product_ids):
        if pid in first_line:
            raise ApiError(
                422,
                "duplicate_line",
                f"product {pid} is already on line {first_line[pid]}: "
                "put its whole quantity on one line",
                loc=["body", "lines", n, "product_id"],
            )
        first_line[pid] = n
    known = set(session.scalars(select(Product.id).where(Product.id.in_(list(first_line)))))
    for n, pid in enumerate(product_ids):
        if pid not in known:
            raise ApiError(
                422,
                "unknown_product",
                f"product {pid} does not exist",
                loc=["body", "lines", n, "product_id"],
            )


def post_doc(
    session: Session,
    *,
    actor: Principal | None,
    kind: str,
    store_id: int,
    moves: Sequence[ledger.Move],
    reason: str = "",
    note: str = "",
    to_store_id: int | None = None,
    supplier_id: int | None = None,
    purchase_order_id: int | None = None,
) -> tuple[StockDoc, list[ledger.Posted]]:
    """Create a stock document, post its moves in `store_id` and audit it. The moves' `doc_id`
    is filled in here; a transfer's incoming side is posted by the caller with `post_more`."""
    doc = StockDoc(
        kind=kind,
        store_id=store_id,
        to_store_id=to_store_id,
        supplier_id=supplier_id,
        purchase_order_id=purchase_order_id,
        reason=reason,
        note=note,
        created_by=actor.id if actor and actor.kind == "user" else None,
        change_seq=next(change_seqs(session, 1, LEDGER_SEQ)),
    )
    session.add(doc)
    session.flush()
    posted = post_more(session, doc, store_id, moves)
    audit.record(
        session,
        actor=actor,
        action=f"stock.{kind}",
        entity="stock_doc",
        entity_id=doc.id,
        store_id=store_id,
        after={**audit.snapshot(doc), "moves": _moves_snapshot(moves, posted)},
    )
    return doc, posted


def post_more(
    session: Session, doc: StockDoc, store_id: int, moves: Sequence[ledger.Move]
) -> list[ledger.Posted]:
    """Post `moves` of an existing document `doc` in `store_id`."""
    return ledger.post(
        session, store_id, [replace(m, doc_id=doc.id) for m in moves], at=doc.created_at
    )


def _moves_snapshot(
    moves: Sequence[ledger.Move], posted: Sequence[ledger.Posted]
) -> list[dict[str, Any]]:
    return [
        {
            "product_id": m.product_id,
            "kind": m.kind,
            "qty_milli": p.qty_milli,
            "unit_cost_minor": p.unit_cost_minor,
            "counted_milli": m.counted_milli,
            "on_hand_after_milli": p.on_hand_after,
        }
        for m, p in zip(moves, posted, strict=True)
    ]


def doc_out(session: Session, doc: StockDoc) -> StockDocOut:
    moves = session.scalars(
        select(StockMove).where(StockMove.doc_id == doc.id).order_by(StockMove.id)
    )
    return StockDocOut.model_validate(
        {**audit.snapshot(doc), "moves": [StockMoveOut.model_validate(m) for m in moves]}
    )


# --- documents -------------------------------------------------------------------------------


def count(session: Session, *, actor: Principal, store_id: int, data: CountIn) -> CountOut:
    """Record counted quantities; each move is the delta from what the ledger held."""
    hold_ledger(session)
    require_store(session, store_id)
    check_lines(session, [line.product_id for line in data.lines])
    moves = [
        ledger.Move(product_id=line.product_id, kind="count", counted_milli=line.counted_milli)
        for line in data.lines
    ]
    doc, posted = post_doc(
        session, actor=actor, kind="count", store_id=store_id, moves=moves, note=data.note
    )
    lines = [
        CountLineOut(
            product_id=line.product_id,
            on_hand_before_milli=line.counted_milli - p.qty_milli,
            counted_milli=line.counted_milli,
            delta_milli=p.qty_milli,
        )
        for line, p in zip(data.lines, posted, strict=True)
    ]
    return CountOut.model_validate({**doc_out(session, doc).model_dump(), "lines": lines})


def transfer(session: Session, *, actor: Principal, store_id: int, data: TransferIn) -> StockDoc:
    """Move goods to another store: out of this one at its average cost, into the other at that
    same cost (so the destination's average moves). Stock may go negative."""
    hold_ledger(session)
    require_store(session, store_id)
    _check_destination(session, store_id, data.to_store_id)
    check_lines(session, [line.product_id for line in data.lines])
    outgoing = [
        ledger.Move(product_id=line.product_id, kind="transfer_out", qty_milli=-line.qty_milli)
        for line in data.lines
    ]
    doc, posted = post_doc(
        session,
        actor=actor,
        kind="transfer",
        store_id=store_id,
        moves=outgoing,
        note=data.note,
        to_store_id=data.to_store_id,
    )
    incoming = [
        ledger.Move(
            product_id=line.product_id,
            kind="transfer_in",
            qty_milli=line.qty_milli,
            unit_cost_minor=p.unit_cost_minor,
        )
        for line, p in zip(data.lines, posted, strict=True)
    ]
    arrived = post_more(session, doc, data.to_store_id, incoming)
    audit.record(
        session,
        actor=actor,
        action="stock.transfer_in",
        entity="stock_doc",
        entity_id=doc.id,
        store_id=data.to_store_id,
        after={**audit.snapshot(doc), "moves": _moves_snapshot(incoming, arrived)},
    )
    return doc


def _check_destination(session: Session, store_id: int, to_store_id: int) -> None:
    destination = session.get(Store, to_store_id)
    if to_store_id == store_id:
        problem = "is this store: a transfer goes to another store"
    elif destination is None:
        problem = "does not exist"
    elif not destination.active:
        problem = "is closed: reopen it first"
    else:
        return
    raise ApiError(
        422, "bad_destination", f"store {to_store_id} {problem}", loc=["body", "to_store_id"]
    )


def write_off(session: Session, *, actor: Principal, store_id: int, data: WriteOffIn) -> StockDoc:
    """Take damaged, expired or lost goods out of stock, valued at the average cost."""
    lines = [(line.product_id, -line.qty_milli) for line in data.lines]
    return _post_with_reason(session, actor, store_id, "write_off", lines, data.reason, data.note)


def adjust(session: Session, *, actor: Principal, store_id: int, data: AdjustmentIn) -> StockDoc:
    """Correct stock by signed quantities (e.g. a mix-up between two products)."""
    lines = [(line.product_id, line.qty_milli) for line in data.lines]
    return _post_with_reason(session, actor, store_id, "adjustment", lines, data.reason, data.note)


def _post_with_reason(
    session: Session,
    actor: Principal,
    store_id: int,
    kind: str,
    lines: list[tuple[int, int]],
    reason: str,
    note: str,
) -> StockDoc:
    """A document whose moves change stock by signed quantities, all with one reason."""
    hold_ledger(session)
    require_store(session, store_id)
    check_lines(session, [product_id for product_id, _qty in lines])
    moves = [
        ledger.Move(product_id=product_id, kind=kind, qty_milli=qty, reason=reason)
        for product_id, qty in lines
    ]
    doc, _ = post_doc(
        session, actor=actor, kind=kind, store_id=store_id, moves=moves, reason=reason, note=note
    )
    return doc


# --- reads -----------------------------------------------------------------------------------


def levels_page(
    session: Session, *, store_id: int, negative_only: bool, after: int | None, limit: int
) -> StockPage:
    """On-hand and value per product of a store, by product id (keyset: `after`)."""
    require_store(session, store_id)
    query = (
        select(StockLevel, Product.sku, Product.name, Product.unit)
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.store_id == store_id)
        .order_by(StockLevel.product_id)
        .limit(limit + 1)
    )
    if negative_only:
        query = query.where(StockLevel.on_hand_milli < 0)
    if after is not None:
        query = query.where(StockLevel.product_id > after)
    rows = session.execute(query).all()
    items = [
        StockLevelOut(
            product_id=level.product_id,
            sku=sku,
            name=name,
            unit=unit,
            on_hand_milli=level.on_hand_milli,
            avg_cost_minor=level.avg_cost_minor,
            value_minor=None
            if level.avg_cost_minor is None
            else round_half_up(level.on_hand_milli * level.avg_cost_minor, 1000),
            last_move_at=level.last_move_at,
        )
        for level, sku, name, unit in rows[:limit]
    ]
    more = len(rows) > limit
    return StockPage(items=items, next_after=items[-1].product_id if more else None)


def moves_page(
    session: Session,
    *,
    store_id: int,
    product_id: int | None,
    before_id: int | None,
    limit: int,
) -> StockMovePage:
    """A store's moves, newest first (keyset: `before_id`)."""
    require_store(session, store_id)
    query = (
        select(StockMove)
        .where(StockMove.store_id == store_id)
        .order_by(StockMove.id.desc())
        .limit(limit + 1)
    )
    if product_id is not None:
        query = query.where(StockMove.product_id == product_id)
    if before_id is not None:
        query = query.where(StockMove.id < before_id)
    moves = list(session.scalars(query))
    items = [StockMoveOut.model_validate(m) for m in moves[:limit]]
    more = len(moves) > limit
    return StockMovePage(items=items, next_before_id=items[-1].id if more else None)


def get_doc(session: Session, *, store_id: int, doc_id: int) -> StockDocOut:
    """A document of this store (a transfer also shows in its destination) with its moves."""
    doc = session.get(StockDoc, doc_id)
    if doc is None or store_id not in (doc.store_id, doc.to_store_id):
        raise not_found("stock document", "doc_id")
    return doc_out(session, doc)
