"""The sales upload protocol as a state machine (Hypothesis): a till sells (and returns), sends
batches of any of its journal entries in any order and with repeats, loses answers, replays
everything, and the hub restarts; the hub must end up holding exactly what was sent.

Model: every batch the in-process hub answers 200 is committed, so a sale is on the hub iff it
was ever sent, and each result is predictable: `duplicate` if the sale was sent before (or
earlier in the same batch, even when that answer was lost), else `created`. Never `conflict` or
`rejected`: the simulated till builds valid sales and never returns more than was sold.

Hypothesis state machines cannot take pytest fixtures, so a plain test owns the database
(SQLite and PostgreSQL through `db_url`) and runs the machine; each example gets a new till
(device) in store A, so examples never see each other's sales.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from hub.app import create_app
from hub.db import Database, next_change_seq
from hub.devices.models import Device
from hub.sales.journal import journal_gaps
from hub.sales.models import JournalIssue, QuarantinedSale, Sale, TillState
from hub.settings import Settings
from hub.staff import security
from kassa.till_sim import Item, SimTill
from tests.hub.live_hub import assert_hub_holds_exactly, stock_levels
from tests.hub.sales_fixtures import Shop, post, seed_shop, statuses
from wire.v1 import SaleV1

MAX_BATCH = 30


@dataclass
class Env:
    """What the pytest fixtures built: the hub's settings and database, store A, the shop."""

    settings: Settings
    store_id: int
    cashier_id: int
    shop: Shop
    examples: int = 0
    steps: Counter[str] | None = None


def _new_device(env: Env) -> tuple[int, dict[str, str]]:
    db = Database(env.settings.database_url)
    try:
        with db.write() as s:
            token, digest = security.new_token(security.DEVICE_PREFIX)
            device = Device(
                store_id=env.store_id,
                name=f"Касса протокола {env.examples}",
                token_hash=digest,
                change_seq=next_change_seq(s),
            )
            s.add(device)
            s.flush()
            return device.id, {"Authorization": f"Bearer {token}"}
    finally:
        db.dispose()


class IngestProtocol(RuleBasedStateMachine):
    def __init__(self, env: Env) -> None:
        super().__init__()
        env.examples += 1
        self.env = env
        self.device_id, self.headers = _new_device(env)
        self.till = SimTill(cashier_id=env.cashier_id)
        self.products = (env.shop.milk, env.shop.bread, env.shop.cheese)
        self.sent: set[Any] = set()  # every sale_uuid ever sent (= on the hub)
        self.acked: set[Any] = set()  # ... of which the till heard an answer
        self.batches: list[list[SaleV1]] = []  # every batch ever sent, in order
        self.left: dict[Any, dict[int, int]] = {}  # sale_uuid -> line_no -> qty not returned
        self.db: Database | None = None
        self.sent_since_restart = False
        self.client: TestClient | None = None
        self._open()
        self.initial = stock_levels(self.db, env.store_id, self.products)

    # --- the hub --------------------------------------------------------------------------

    def _open(self) -> None:
        self.db = Database(self.env.settings.database_url)
        self.client = TestClient(
            create_app(self.env.settings, self.db), base_url="https://testserver"
        )
        self.client.__enter__()

    def _close(self) -> None:
        if self.client is not None:
            self.client.__exit__(None, None, None)
            self.client = None
        if self.db is not None:
            self.db.dispose()
            self.db = None

    def _send(self, batch: list[SaleV1], *, read: bool = True, replay: bool = False) -> None:
        assert self.client is not None
        if not replay:
            self.batches.append(batch)
        expected, seen = [], set(self.sent)
        for sale in batch:
            expected.append("duplicate" if sale.sale_uuid in seen else "created")
            seen.add(sale.sale_uuid)
        response = post(self.client, self.headers, batch)
        self.sent_since_restart = True
        # The in-process hub always answers; "read=False" is the till losing that answer.
        assert response.status_code == 200, response.text
        self.sent |= seen
        if read:
            results = response.json()["results"]
            assert [r["sale_uuid"] for r in results] == [str(s.sale_uuid) for s in batch]
            assert statuses(response) == expected
            for result in results:
                if "return_pending" in result["flags"] and result["status"] == "created":
                    self._count("return before its sale")
                assert "return_exceeds_sale" not in result["flags"], result
                assert not {"chain_break", "hash_mismatch", "seq_reuse"} & set(result["flags"])
            self.acked |= {s.sale_uuid for s in batch}

    def _pick(self, data: st.DataObject) -> list[SaleV1]:
        journal = self.till.journal
        unsent = [s for s in journal if s.sale_uuid not in self.sent]
        if unsent and data.draw(st.booleans(), label="unsent first"):
            if data.draw(st.booleans(), label="newest first"):  # returns before their sales
                unsent.reverse()
            batch = unsent[: data.draw(st.integers(1, MAX_BATCH), label="how many")]
        else:
            batch = data.draw(
                st.lists(st.sampled_from(journal), min_size=1, max_size=MAX_BATCH), label="any"
            )
        if data.draw(st.booleans(), label="reorder"):
            batch = list(data.draw(st.permutations(batch), label="order"))
        if data.draw(st.booleans(), label="repeat one"):
            batch.insert(
                data.draw(st.integers(0, len(batch)), label="at"),
                data.draw(st.sampled_from(batch), label="repeated"),
            )
        return batch

    def _count(self, name: str) -> None:
        assert self.env.steps is not None
        self.env.steps[name] += 1

    # --- rules ----------------------------------------------------------------------------

    @rule(data=st.data())
    def sell(self, data: st.DataObject) -> None:
        """1-3 new sales, and maybe a return of part of an earlier one."""
        self._count("sell")
        items = self.env.shop.items()
        for _ in range(data.draw(st.integers(1, 3), label="sales")):
            names = data.draw(
                st.lists(st.sampled_from(sorted(items)), min_size=1, max_size=3), label="basket"
            )
            basket = []
            for name in names:
                item = items[name]
                qty = (
                    data.draw(st.integers(1, 2000), label="grams")
                    if name == "cheese"
                    else 1000 * data.draw(st.integers(1, 3), label="pieces")
                )
                basket.append(
                    Item(item.product_id, item.name, qty, item.unit_price_minor, item.vat_rate_bp)
                )
            tender = data.draw(st.sampled_from(["cash", "card"]), label="tender")
            sale = self.till.sale(basket, tender=tender)
            self.left[sale.sale_uuid] = {line.line_no: line.qty_milli for line in sale.lines}
        returnable = sorted(u for u, left in self.left.items() if any(left.values()))
        if returnable and data.draw(st.booleans(), label="a return"):
            original_uuid = data.draw(st.sampled_from(returnable), label="returned sale")
            original = next(s for s in self.till.journal if s.sale_uuid == original_uuid)
            left = self.left[original_uuid]
            lines = [n for n, q in left.items() if q > 0]
            chosen = data.draw(
                st.lists(st.sampled_from(lines), min_size=1, unique=True), label="lines"
            )
            returned = [(n, data.draw(st.integers(1, left[n]), label="qty")) for n in chosen]
            self.till.refund(original, returned)
            self._count("return")
            for n, qty in returned:
                left[n] -= qty

    @precondition(lambda self: self.till.journal)
    @rule(data=st.data())
    def send(self, data: st.DataObject) -> None:
        self._count("send")
        self._send(self._pick(data))

    @precondition(lambda self: self.till.journal)
    @rule(data=st.data())
    def send_and_lose_the_answer(self, data: st.DataObject) -> None:
        self._count("lose")
        self._send(self._pick(data), read=False)

    @precondition(lambda self: self.batches)
    @rule()
    def replay_everything(self) -> None:
        """The till resends every batch it ever sent: all answers `duplicate`."""
        self._count("replay")
        for batch in self.batches:
            self._send(batch, replay=True)

    @precondition(lambda self: self.sent_since_restart)
    @rule()
    def restart_the_hub(self) -> None:
        self._count("restart")
        self._close()
        self._open()
        self.sent_since_restart = False

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def the_hub_holds_exactly_what_was_sent(self) -> None:
        assert self.db is not None
        sent = [s for s in self.till.journal if s.sale_uuid in self.sent]
        assert_hub_holds_exactly(self.db, self.env.store_id, self.device_id, sent, self.initial)
        with self.db.read() as s:
            for model in (JournalIssue, QuarantinedSale):
                count = s.scalar(
                    select(func.count()).select_from(model).where(model.device_id == self.device_id)  # type: ignore[attr-defined]
                )
                assert count == 0, model.__tablename__

    def teardown(self) -> None:
        """A final replay of everything sent, then the whole journal: the hub holds the journal,
        every return is linked to its sale, no gap in the till's sequence, nothing flagged."""
        try:
            if self.client is None:
                return
            for batch in self.batches:
                self._send(batch, replay=True)
            journal = self.till.journal
            for start in range(0, len(journal), 200):
                self._send(journal[start : start + 200], replay=True)
            assert self.db is not None
            assert_hub_holds_exactly(
                self.db, self.env.store_id, self.device_id, journal, self.initial
            )
            with self.db.read() as s:
                rows = s.execute(
                    select(Sale.kind, Sale.original_sale_id, Sale.flags).where(
                        Sale.device_id == self.device_id
                    )
                ).all()
                assert all(r.original_sale_id is not None for r in rows if r.kind == "return")
                assert all(r.flags == "" for r in rows), Counter(r.flags for r in rows)
                assert journal_gaps(s, [self.device_id]) == []
                state = s.get(TillState, self.device_id)
                if journal:
                    assert state is not None
                    assert (state.sales_count, state.max_sale_seq) == (len(journal), len(journal))
        finally:
            self._close()


def test_the_upload_protocol_loses_and_doubles_nothing(db_url, world, db) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    env = Env(
        settings=Settings(env="test", database_url=db_url, cookie_secure=True),
        store_id=world.store_a,
        cashier_id=world.ids["cashier_a"],
        shop=shop,
        steps=Counter(),
    )
    run_state_machine_as_test(
        lambda: IngestProtocol(env),
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    print(f"{env.examples} examples, steps: {dict(env.steps or {})}")
    assert env.steps
    for step in ("send", "lose", "replay", "restart", "return"):
        assert env.steps[step], f"no {step!r} step was ever taken"
