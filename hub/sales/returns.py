"""Returns against their sales: never more than was sold, linked when the sale is here."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hub.db import LEDGER_SEQ, change_seqs
from hub.sales.item import FLAG_RETURN_EXCEEDS, FLAG_RETURN_PENDING, Item
from hub.sales.models import Sale, SaleLine
from wire.v1 import ErrorV1


def _line_key(product_id: int | None, name: str) -> str:
    return f"p{product_id}" if product_id is not None else f"n{name}"


def check(s: Session, store_id: int, items: Sequence[Item]) -> None:
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


def link(s: Session, store_id: int, items: Sequence[Item]) -> None:
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
    over: set[tuple[uuid.UUID, str]] = set()  # (original, product key) returned beyond sold
    keys_of: dict[int, set[str]] = defaultdict(set)  # return id -> its product keys
    if late:
        balance: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
        for row in s.execute(
            select(Sale.id, Sale.sale_uuid, Sale.original_sale_uuid, Sale.kind, SaleLine.product_id)
            .add_columns(SaleLine.name, SaleLine.qty_milli)
            .join(SaleLine, SaleLine.sale_id == Sale.id)
            .where(
                Sale.store_id == store_id,
                or_(Sale.sale_uuid.in_(late), Sale.original_sale_uuid.in_(late)),
            )
        ):
            original = row.sale_uuid if row.kind == "sale" else row.original_sale_uuid
            sign = 1 if row.kind == "sale" else -1
            key = _line_key(row.product_id, row.name)
            balance[(original, key)] += sign * row.qty_milli
            if row.kind == "return":
                keys_of[row.id].add(key)
        over = {pair for pair, qty in balance.items() if qty < 0}
    seqs = change_seqs(s, len(unlinked), LEDGER_SEQ)
    updates = []
    for row in unlinked:
        flags = set(filter(None, row.flags.split(","))) - {FLAG_RETURN_PENDING}
        if any((row.original_sale_uuid, key) in over for key in keys_of[row.id]):
            flags.add(FLAG_RETURN_EXCEEDS)  # only the returns that hold the over-returned goods
        updates.append(
            {
                "id": row.id,
                "original_sale_id": originals[row.original_sale_uuid],
                "flags": ",".join(sorted(flags)),
                "change_seq": next(seqs),
            }
        )
    s.execute(update(Sale), updates)
