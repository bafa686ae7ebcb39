"""Post stock movements: append them and update the store x product levels and moving-average
cost in the caller's transaction. The one place that writes `stock_move` and `stock_level`.

Cost rule (DOMAIN.md "Stock"): a receipt or a transfer in at unit cost c changes the average to
round_half_up((on_hand * avg + qty * c) / (on_hand + qty)); when nothing (or less than nothing) was
on hand, or no average was known, the average becomes c. Every other move is valued at the
average it found and leaves it unchanged. Counts record the delta to the counted quantity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.db import LEDGER_SEQ, change_seqs, utcnow
from hub.stock.models import StockLevel, StockMove
from wire.money import round_half_up

INCOMING_AT_COST = ("receipt", "transfer_in")
_LEVELS = StockLevel.__table__
_LEVEL_VALUES = ("on_hand_milli", "avg_cost_minor", "last_move_at", "change_seq")


def _upsert_levels(session: Session, rows: list[dict[str, object]]) -> None:
    """Write levels in one INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL alike): new
    store x product rows are inserted, existing ones take the new values."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(_LEVELS)
    statement = statement.on_conflict_do_update(
        index_elements=[_LEVELS.c.store_id, _LEVELS.c.product_id],
        set_={name: statement.excluded[name] for name in _LEVEL_VALUES},
    )
    session.execute(statement, rows)


@dataclass(frozen=True, slots=True)
class Move:
    product_id: int
    kind: str
    qty_milli: int = 0  # signed: + in, - out; ignored for counts (the delta is computed)
    unit_cost_minor: int | None = None  # receipts and transfers in: what one unit cost
    counted_milli: int | None = None  # counts only
    sale_id: int | None = None
    sale_line_no: int | None = None
    doc_id: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Posted:
    """What a move did: its quantity (the delta for counts) and the unit cost it was valued at
    (the average before it for outgoing moves, so a sale line can snapshot it)."""

    qty_milli: int
    unit_cost_minor: int | None
    on_hand_after: int


@dataclass(slots=True)
class _Level:
    on_hand: int
    avg: int | None
    new: bool


def new_average(on_hand: int, avg: int | None, qty: int, unit_cost: int) -> int:
    if avg is None or on_hand <= 0 or qty <= 0:
        return unit_cost
    return round_half_up(on_hand * avg + qty * unit_cost, on_hand + qty)


def current_levels(
    session: Session, store_id: int, product_ids: Sequence[int]
) -> dict[int, tuple[int, int | None]]:
    """(on_hand_milli, avg_cost_minor) of the given products in a store; missing = never moved."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(StockLevel.product_id, StockLevel.on_hand_milli, StockLevel.avg_cost_minor).where(
            StockLevel.store_id == store_id, StockLevel.product_id.in_(set(product_ids))
        )
    )
    return {r.product_id: (r.on_hand_milli, r.avg_cost_minor) for r in rows}


def post(
    session: Session, store_id: int, moves: Sequence[Move], *, at: dt.datetime | None = None
) -> list[Posted]:
    """Append `moves` (in order) for one store and update its levels; returns one `Posted` each.

    Products must exist. Callers hold the ledger counter (taken here if not yet), so on PostgreSQL
    concurrent posters queue rather than read stale levels.
    """
    if not moves:
        return []
    at = at or utcnow()
    levels = {
        pid: _Level(on_hand, avg, False)
        for pid, (on_hand, avg) in current_levels(
            session, store_id, [m.product_id for m in moves]
        ).items()
    }
    posted: list[Posted] = []
    rows: list[dict[str, object]] = []
    for move in moves:
        level = levels.get(move.product_id)
        if level is None:
            level = levels[move.product_id] = _Level(0, None, True)
        if move.kind == "count":
            if move.counted_milli is None:
                raise ValueError("a count move needs counted_milli")
            qty = move.counted_milli - level.on_hand
        else:
            qty = move.qty_milli
        if move.kind in INCOMING_AT_COST and move.unit_cost_minor is not None:
            cost: int | None = move.unit_cost_minor
            level.avg = new_average(level.on_hand, level.avg, qty, move.unit_cost_minor)
        else:
            cost = level.avg
        level.on_hand += qty
        posted.append(Posted(qty, cost, level.on_hand))
        rows.append(
            {
                "store_id": store_id,
                "product_id": move.product_id,
                "kind": move.kind,
                "qty_milli": qty,
                "unit_cost_minor": cost,
                "sale_id": move.sale_id,
                "sale_line_no": move.sale_line_no,
                "doc_id": move.doc_id,
                "counted_milli": move.counted_milli,
                "reason": move.reason,
                "at": at,
            }
        )
    seqs = change_seqs(session, len(rows) + len(levels), LEDGER_SEQ)
    for row in rows:
        row["change_seq"] = next(seqs)
    session.execute(insert(StockMove.__table__), rows)
    level_rows: list[dict[str, object]] = []
    for pid, level in sorted(levels.items()):  # one order for every writer: no deadlocks
        level_rows.append(
            {
                "store_id": store_id,
                "product_id": pid,
                "on_hand_milli": level.on_hand,
                "avg_cost_minor": level.avg,
                "last_move_at": at,
                "change_seq": next(seqs),
            }
        )
    _upsert_levels(session, level_rows)
    return posted
