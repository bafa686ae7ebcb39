"""Goods in: a receipt posts stock at what it cost (the moving average follows) and remembers the
supplier's last price. Used alone (goods without an order) and by purchase-order deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy.orm import Session

from hub.db import hold_ledger
from hub.errors import ApiError
from hub.principal import Principal
from hub.purchasing import service
from hub.purchasing.models import Supplier
from hub.purchasing.schemas import ReceiptIn
from hub.stock import ledger
from hub.stock import service as stock
from hub.stock.models import StockDoc


class Delivered(NamedTuple):
    product_id: int
    qty_milli: int
    unit_cost_minor: int


def post_receipt(
    session: Session,
    *,
    actor: Principal | None,
    store_id: int,
    supplier_id: int | None,
    lines: Sequence[Delivered],
    note: str = "",
    purchase_order_id: int | None = None,
) -> StockDoc:
    """Write a goods receipt of checked lines (the caller holds the ledger counter)."""
    moves = [
        ledger.Move(
            product_id=line.product_id,
            kind="receipt",
            qty_milli=line.qty_milli,
            unit_cost_minor=line.unit_cost_minor,
        )
        for line in lines
    ]
    doc, _ = stock.post_doc(
        session,
        actor=actor,
        kind="receipt",
        store_id=store_id,
        moves=moves,
        note=note,
        supplier_id=supplier_id,
        purchase_order_id=purchase_order_id,
    )
    if supplier_id is not None:
        service.remember_costs(
            session,
            actor=actor,
            supplier_id=supplier_id,
            costs={line.product_id: line.unit_cost_minor for line in lines},
        )
    return doc


def receive_goods(
    session: Session, *, actor: Principal, store_id: int, data: ReceiptIn
) -> StockDoc:
    """Goods that arrived without a purchase order, from a known supplier or none."""
    hold_ledger(session)
    stock.require_store(session, store_id)
    if data.supplier_id is not None and session.get(Supplier, data.supplier_id) is None:
        raise ApiError(
            422,
            "unknown_supplier",
            f"supplier {data.supplier_id} does not exist",
            loc=["body", "supplier_id"],
        )
    stock.check_lines(session, [line.product_id for line in data.lines])
    return post_receipt(
        session,
        actor=actor,
        store_id=store_id,
        supplier_id=data.supplier_id,
        lines=[Delivered(x.product_id, x.qty_milli, x.unit_cost_minor) for x in data.lines],
        note=data.note,
    )
