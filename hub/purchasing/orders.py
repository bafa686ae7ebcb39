"""Purchase orders of a store: draft -> sent -> partially_received -> received, or cancelled.

A draft's lines may be replaced; a sent order is received in one or more deliveries, each a goods
receipt (`hub.purchasing.receipts`) at the delivered cost, never more than is still outstanding.
Sending a sent order or cancelling a cancelled one changes nothing (a retry is safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog.models import Product
from hub.db import LEDGER_SEQ, change_seqs, hold_ledger, utcnow
from hub.errors import ApiError, not_found
from hub.principal import Principal
from hub.purchasing import receipts
from hub.purchasing.models import PurchaseOrder, PurchaseOrderLine, Supplier
from hub.purchasing.schemas import (
    OrderCreate,
    OrderLineIn,
    OrderLineOut,
    OrderLinesIn,
    OrderOut,
    ReceiveIn,
)
from hub.stock import service as stock
from hub.stock.models import StockDoc
from wire.money import line_amount_minor

RECEIVABLE = ("sent", "partially_received")
CANCELLABLE = ("draft", "sent", "partially_received")


def _order(session: Session, store_id: int, order_id: int) -> PurchaseOrder:
    order = session.get(PurchaseOrder, order_id)
    if order is None or order.store_id != store_id:
        raise not_found("purchase order", "purchase_order_id")
    return order


def _wrong_status(order: PurchaseOrder, rule: str) -> ApiError:
    return ApiError(
        409,
        "wrong_status",
        f"purchase order {order.id} is {order.status}: {rule}",
        loc=["path", "purchase_order_id"],
    )


def _lines(session: Session, order_id: int) -> list[PurchaseOrderLine]:
    return list(
        session.scalars(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == order_id)
            .order_by(PurchaseOrderLine.id)
        )
    )


def _snapshot(session: Session, order: PurchaseOrder) -> dict[str, Any]:
    return {
        **audit.snapshot(order),
        "lines": [audit.snapshot(line) for line in _lines(session, order.id)],
    }


def _audit(
    session: Session,
    actor: Principal,
    action: str,
    order: PurchaseOrder,
    before: dict[str, Any] | None,
    **extra: Any,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"purchase_order.{action}",
        entity="purchase_order",
        entity_id=order.id,
        store_id=order.store_id,
        before=before,
        after={**_snapshot(session, order), **extra},
    )


# --- reads -----------------------------------------------------------------------------------


def orders_out(session: Session, orders: Sequence[PurchaseOrder]) -> list[OrderOut]:
    """Orders with their lines, ordered vs received, and the supplier's name."""
    ids = [o.id for o in orders]
    lines: dict[int, list[OrderLineOut]] = {i: [] for i in ids}
    for line, product in session.execute(
        select(PurchaseOrderLine, Product)
        .join(Product, Product.id == PurchaseOrderLine.product_id)
        .where(PurchaseOrderLine.purchase_order_id.in_(ids))
        .order_by(PurchaseOrderLine.id)
    ):
        lines[line.purchase_order_id].append(
            OrderLineOut(
                id=line.id,
                product_id=line.product_id,
                sku=product.sku,
                name=product.name,
                unit=product.unit,
                qty_ordered_milli=line.qty_ordered_milli,
                qty_received_milli=line.qty_received_milli,
                qty_remaining_milli=max(0, line.qty_ordered_milli - line.qty_received_milli),
                unit_cost_minor=line.unit_cost_minor,
                amount_minor=line_amount_minor(line.qty_ordered_milli, line.unit_cost_minor),
                reason=line.reason,
            )
        )
    names = {
        row.id: row.name
        for row in session.execute(
            select(Supplier.id, Supplier.name).where(
                Supplier.id.in_(sorted({o.supplier_id for o in orders}))
            )
        )
    }
    return [
        OrderOut.model_validate(
            {
                **audit.snapshot(o),
                "supplier_name": names[o.supplier_id],
                "total_minor": sum(line.amount_minor for line in lines[o.id]),
                "lines": lines[o.id],
            }
        )
        for o in orders
    ]


def get_order(session: Session, *, store_id: int, order_id: int) -> OrderOut:
    return orders_out(session, [_order(session, store_id, order_id)])[0]


def list_orders(
    session: Session, *, store_id: int, status: str | None, before_id: int | None, limit: int
) -> list[OrderOut]:
    """A store's orders, newest first (keyset: `before_id`)."""
    stock.require_store(session, store_id)
    query = (
        select(PurchaseOrder)
        .where(PurchaseOrder.store_id == store_id)
        .order_by(PurchaseOrder.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(PurchaseOrder.status == status)
    if before_id is not None:
        query = query.where(PurchaseOrder.id < before_id)
    return orders_out(session, list(session.scalars(query)))


# --- drafts ----------------------------------------------------------------------------------


def create_order(
    session: Session, *, actor: Principal, store_id: int, data: OrderCreate
) -> tuple[PurchaseOrder, bool]:
    """A draft order; True when created, False when the `source_key` already had one."""
    hold_ledger(session)
    stock.require_store(session, store_id)
    if data.source_key is not None:
        existing = session.scalars(
            select(PurchaseOrder).where(PurchaseOrder.source_key == data.source_key)
        ).one_or_none()
        if existing is not None and existing.store_id == store_id:
            return existing, False
        if existing is not None:
            raise ApiError(
                409,
                "duplicate",
                "another store's purchase order has this source_key",
                loc=["body", "source_key"],
            )
    supplier = session.get(Supplier, data.supplier_id)
    if supplier is None or not supplier.active:
        problem = "does not exist" if supplier is None else "is inactive: reactivate it first"
        raise ApiError(
            422,
            "bad_supplier",
            f"supplier {data.supplier_id} {problem}",
            loc=["body", "supplier_id"],
        )
    stock.check_lines(session, [line.product_id for line in data.lines])
    seqs = change_seqs(session, 1 + len(data.lines), LEDGER_SEQ)
    order = PurchaseOrder(
        store_id=store_id,
        supplier_id=data.supplier_id,
        status="draft",
        source_key=data.source_key,
        note=data.note,
        expected_at=data.expected_at,
        created_by=actor.id if actor.kind == "user" else None,
        change_seq=next(seqs),
    )
    session.add(order)
    session.flush()
    session.add_all(
        PurchaseOrderLine(purchase_order_id=order.id, **line.model_dump(), change_seq=next(seqs))
        for line in data.lines
    )
    session.flush()
    _audit(session, actor, "create", order, None)
    return order, True


def _differs(row: PurchaseOrderLine, line: OrderLineIn) -> bool:
    return (row.qty_ordered_milli, row.unit_cost_minor, row.reason) != (
        line.qty_ordered_milli,
        line.unit_cost_minor,
        line.reason,
    )


def replace_lines(
    session: Session, *, actor: Principal, store_id: int, order_id: int, data: OrderLinesIn
) -> PurchaseOrder:
    """Replace a draft's lines; lines of products kept keep their id."""
    hold_ledger(session)
    order = _order(session, store_id, order_id)
    if order.status != "draft":
        raise _wrong_status(order, "only a draft's lines can be changed")
    stock.check_lines(session, [line.product_id for line in data.lines])
    before = _snapshot(session, order)
    current = {row.product_id: row for row in _lines(session, order.id)}
    wanted = {line.product_id for line in data.lines}
    for product_id, row in current.items():
        if product_id not in wanted:
            session.delete(row)
    changed = [
        line
        for line in data.lines
        if line.product_id not in current or _differs(current[line.product_id], line)
    ]
    seqs = change_seqs(session, 1 + len(changed), LEDGER_SEQ)
    for line in changed:
        kept = current.get(line.product_id)
        if kept is None:
            session.add(
                PurchaseOrderLine(
                    purchase_order_id=order.id, **line.model_dump(), change_seq=next(seqs)
                )
            )
        else:
            kept.qty_ordered_milli = line.qty_ordered_milli
            kept.unit_cost_minor = line.unit_cost_minor
            kept.reason = line.reason
            kept.change_seq = next(seqs)
    # The order's own number moves too: a reader of deltas re-reads its lines (some may be gone).
    order.change_seq = next(seqs)
    session.flush()
    _audit(session, actor, "update_lines", order, before)
    return order


# --- transitions -----------------------------------------------------------------------------


def send(session: Session, *, actor: Principal, store_id: int, order_id: int) -> PurchaseOrder:
    """draft -> sent."""
    hold_ledger(session)
    order = _order(session, store_id, order_id)
    if order.status == "sent":
        return order
    if order.status != "draft":
        raise _wrong_status(order, "only a draft can be sent")
    before = _snapshot(session, order)
    order.status = "sent"
    order.sent_at = utcnow()
    order.change_seq = next(change_seqs(session, 1, LEDGER_SEQ))
    session.flush()
    _audit(session, actor, "send", order, before)
    return order


def cancel(session: Session, *, actor: Principal, store_id: int, order_id: int) -> PurchaseOrder:
    """draft, sent or partially_received -> cancelled (what was received stays in stock)."""
    hold_ledger(session)
    order = _order(session, store_id, order_id)
    if order.status == "cancelled":
        return order
    if order.status not in CANCELLABLE:
        raise _wrong_status(order, "a received order cannot be cancelled")
    before = _snapshot(session, order)
    order.status = "cancelled"
    order.closed_at = utcnow()
    order.change_seq = next(change_seqs(session, 1, LEDGER_SEQ))
    session.flush()
    _audit(session, actor, "cancel", order, before)
    return order


def receive(
    session: Session, *, actor: Principal, store_id: int, order_id: int, data: ReceiveIn
) -> tuple[PurchaseOrder, StockDoc]:
    """A delivery against a sent order: posts a goods receipt and counts it against the lines;
    the order is received once every line is complete."""
    hold_ledger(session)
    order = _order(session, store_id, order_id)
    if order.status not in RECEIVABLE:
        hint = "send it first" if order.status == "draft" else "it is closed"
        raise _wrong_status(order, f"only a sent order can be received; {hint}")
    rows = {row.product_id: row for row in _lines(session, order.id)}
    delivered = _check_delivery(order, rows, data)
    before = _snapshot(session, order)
    doc = receipts.post_receipt(
        session,
        actor=actor,
        store_id=store_id,
        supplier_id=order.supplier_id,
        lines=delivered,
        note=data.note,
        purchase_order_id=order.id,
    )
    seqs = change_seqs(session, len(delivered) + 1, LEDGER_SEQ)
    for item in delivered:
        row = rows[item.product_id]
        row.qty_received_milli += item.qty_milli
        row.change_seq = next(seqs)
    if all(row.qty_received_milli >= row.qty_ordered_milli for row in rows.values()):
        order.status = "received"
        order.closed_at = utcnow()
    else:
        order.status = "partially_received"
    order.change_seq = next(seqs)
    session.flush()
    _audit(session, actor, "receive", order, before, doc_id=doc.id)
    return order, doc


def _check_delivery(
    order: PurchaseOrder, rows: dict[int, PurchaseOrderLine], data: ReceiveIn
) -> list[receipts.Delivered]:
    """422 naming the line of a product not on the order, on two lines, or over what remains."""
    delivered: list[receipts.Delivered] = []
    first_line: dict[int, int] = {}
    for n, item in enumerate(data.lines):
        row = rows.get(item.product_id)
        if item.product_id in first_line:
            raise ApiError(
                422,
                "duplicate_line",
                f"product {item.product_id} is already on line {first_line[item.product_id]}",
                loc=["body", "lines", n, "product_id"],
            )
        first_line[item.product_id] = n
        if row is None:
            raise ApiError(
                422,
                "not_on_order",
                f"product {item.product_id} is not on purchase order {order.id}",
                loc=["body", "lines", n, "product_id"],
            )
        remaining = row.qty_ordered_milli - row.qty_received_milli
        if item.qty_milli > remaining:
            raise ApiError(
                422,
                "over_receipt",
                f"expected at most {remaining} milli of product {item.product_id} "
                f"(ordered {row.qty_ordered_milli}, received {row.qty_received_milli}), "
                f"got {item.qty_milli}",
                loc=["body", "lines", n, "qty_milli"],
            )
        cost = row.unit_cost_minor if item.unit_cost_minor is None else item.unit_cost_minor
        delivered.append(receipts.Delivered(item.product_id, item.qty_milli, cost))
    return delivered
