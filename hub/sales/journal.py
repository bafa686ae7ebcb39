"""Each till's journal as the hub holds it: the hash chain, forks, gaps and last contact.
Breaks are recorded when found and never repaired."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from hub.db import LEDGER_SEQ, change_seqs, next_change_seq
from hub.devices.models import Device
from hub.principal import Principal
from hub.sales.item import FLAG_CHAIN_BREAK, FLAG_HASH_MISMATCH, FLAG_SEQ_REUSE, Item
from hub.sales.models import JournalIssue, Sale, TillState
from wire.canonical import GENESIS_HASH
from wire.types import INT64_MAX
from wire.v1.sales import sale_hash


def check_chain(s: Session, device: Principal, items: Sequence[Item]) -> None:
    """Check each new sale's place in the till's hash chain; record breaks, never repair them.

    Neighbours (seq-1 and seq+1) may be on the hub already or earlier in this batch, sent by
    this device or by one it replaced at re-pairing. Gaps are not recorded: they are computed
    from the sales themselves (`journal_gaps`).
    """
    line = device_line(s, device.id)
    seqs = {i.sale.till_seq + d for i in items for d in (-1, 0, 1)} - {0, INT64_MAX + 1}
    by_seq: dict[int, list[tuple[uuid.UUID, str, str]]] = defaultdict(list)
    for row in s.execute(
        select(Sale.till_seq, Sale.sale_uuid, Sale.hash, Sale.prev_hash).where(
            Sale.device_id.in_(line), Sale.till_seq.in_(seqs)
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
                JournalIssue.device_id.in_(line),
                JournalIssue.till_seq.in_({k[1] for k in issues}),
            )
        )
    }
    new = {k: v for k, v in issues.items() if k not in existing}
    if not new:
        return
    seqs = change_seqs(s, len(new), LEDGER_SEQ)
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
                "change_seq": next(seqs),
            }
            for (kind, seq, sale_uuid), detail in new.items()
        ],
    )


def touch_till(
    s: Session,
    *,
    device_id: int,
    store_id: int,
    now: dt.datetime,
    sale_seq: int = 0,
    shift_seq: int = 0,
    sales_created: int = 0,
) -> None:
    """What the hub knows of a till after an upload: last contact, the highest sale and shift
    seq it holds (acknowledged) and how many sales it took. The caller holds the ledger."""
    seq = next_change_seq(s, 1, LEDGER_SEQ)
    state = s.get(TillState, device_id)
    if state is None:
        state = TillState(
            device_id=device_id, store_id=store_id, max_sale_seq=0, max_shift_seq=0, sales_count=0
        )
        s.add(state)
    state.last_contact_at = now
    if sales_created:
        state.last_sale_at = now
    state.max_sale_seq = max(state.max_sale_seq, sale_seq)
    state.max_shift_seq = max(state.max_shift_seq, shift_seq)
    state.sales_count += sales_created
    state.change_seq = seq
    s.flush()


# --- reads ---------------------------------------------------------------------------------


def device_line(s: Session, device_id: int) -> list[int]:
    """A till's line of devices: the ones it replaced at re-pairing and the ones that replaced
    it. Together they hold one journal (one till_seq sequence, one hash chain)."""
    line = [device_id]
    for column, other in (
        (Device.id, Device.replaces_device_id),  # back: whom did it replace
        (Device.replaces_device_id, Device.id),  # forward: who replaced it
    ):
        current = device_id
        while True:
            found = s.scalar(select(other).where(column == current))
            if found is None or found in line:
                break
            line.append(found)
            current = found
    return line


def journal_gaps(s: Session, device_ids: Sequence[int], limit: int = 100) -> list[tuple[int, int]]:
    """Missing till_seq ranges of a line of devices' sales, first to last, e.g. [(17, 19)]."""
    seqs = (
        select(
            Sale.till_seq.label("seq"),
            func.lag(Sale.till_seq).over(order_by=Sale.till_seq).label("prev"),
        )
        .where(Sale.device_id.in_(device_ids))
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
