"""The warehouse extracts every hub table by `change_seq > :cursor`. These tests hold the hub to
that contract: every table it will read carries an indexed, NOT NULL change_seq, and a reader
polling by cursor while tills write concurrently never misses a row (docs/architecture.md,
"Change sequences")."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import hub.models  # noqa: F401 - registers every table
from hub.db import Base
from hub.principal import Principal
from hub.sales import service as sales
from hub.sales.models import Sale, SaleLine
from kassa.till_sim import SimTill
from tests.hub.sales_fixtures import seed_shop
from wire.v1 import SalesBatch

EXTRACTED = {
    "store",
    "device",
    "staff_user",
    "tax_rate",
    "category",
    "product",
    "sale",
    "sale_line",
    "sale_payment",
    "till_state",
    "till_journal_issue",
    "stock_doc",
    "stock_move",
    "stock_level",
    "shift",
    "shift_event",
    "supplier",
    "supplier_product",
    "purchase_order",
    "purchase_order_line",
}


def test_every_extracted_table_has_an_indexed_change_seq() -> None:
    tables = Base.metadata.tables
    assert set(tables) >= EXTRACTED, EXTRACTED - set(tables)
    for name in sorted(EXTRACTED):
        column = tables[name].c.get("change_seq")
        assert column is not None, name
        assert not column.nullable, name
        assert any(
            next(iter(index.columns)).name == "change_seq" for index in tables[name].indexes
        ), f"{name}.change_seq is not indexed"


def test_a_cursor_reader_misses_nothing_while_tills_write(world, db) -> None:  # type: ignore[no-untyped-def]
    """Four tills ingest concurrently; a reader polls `change_seq > cursor` the whole time and
    must end with every sale and sale line exactly once."""
    shop = seed_shop(db, world.store_a)
    item = shop.items()["bread"]
    device = Principal("device", world.ids["device_a"], None, world.store_a, "Касса", "device")
    errors: list[BaseException] = []

    def till(cashier: int) -> None:
        sim = SimTill(cashier_id=cashier)
        try:
            for _ in range(10):
                batch = SalesBatch(sales=tuple(sim.sale([item, item]) for _ in range(5)))
                for attempt in range(50):  # as a till does on 503: the lock may be busy
                    try:
                        sales.ingest(db, device, batch)
                        break
                    except OperationalError:
                        if attempt == 49:
                            raise
                        time.sleep(0.05)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    seen: dict[str, dict[int, int]] = {"sale": {}, "sale_line": {}}
    cursors = {"sale": 0, "sale_line": 0}

    def poll() -> None:
        with db.read() as s:
            for name, model in (("sale", Sale), ("sale_line", SaleLine)):
                rows = s.execute(
                    select(model.id, model.change_seq)
                    .where(model.change_seq > cursors[name])
                    .order_by(model.change_seq)
                ).all()
                for row in rows:
                    assert row.id not in seen[name], f"{name} {row.id} seen twice"
                    seen[name][row.id] = row.change_seq
                if rows:
                    cursors[name] = rows[-1].change_seq

    writers = [threading.Thread(target=till, args=(world.ids["cashier_a"],)) for _ in range(4)]
    for thread in writers:
        thread.start()
    while any(t.is_alive() for t in writers):
        poll()
        time.sleep(0.002)  # poll often, but let the writers have the GIL
    poll()
    assert errors == []
    with db.read() as s:
        assert set(seen["sale"]) == set(s.scalars(select(Sale.id)))
        assert set(seen["sale_line"]) == set(s.scalars(select(SaleLine.id)))
    assert len(seen["sale"]) == 4 * 10 * 5


def test_ledger_numbers_come_in_blocks_and_never_repeat_after_a_rolled_back_savepoint(db) -> None:  # type: ignore[no-untyped-def]
    from hub.db import LEDGER_SEQ, current_change_seq, next_change_seq

    handed: list[int] = []
    with db.write() as s:
        handed.append(next_change_seq(s, 1, LEDGER_SEQ))
        handed.append(next_change_seq(s, 3, LEDGER_SEQ))  # from the block: no round trip
        assert handed == [1, 4]
        try:
            with s.begin_nested():
                next_change_seq(s, 5, LEDGER_SEQ)  # reserved inside the savepoint ...
                raise RuntimeError
        except RuntimeError:
            pass  # ... which rolls back, taking that reservation with it
        handed.append(next_change_seq(s, 1, LEDGER_SEQ))
    with db.write() as s:
        handed.append(next_change_seq(s, 1, LEDGER_SEQ))
    with db.read() as s:
        top = current_change_seq(s, LEDGER_SEQ)
    assert handed == sorted(set(handed)), handed  # strictly increasing, never reused
    assert handed[-1] <= top
