"""The till's journal and its sync against the real hub app (in-process, SQLite and
PostgreSQL): commit before print, the hash chain, exactly-once upload through lost answers,
dead letters, back-off with Retry-After, a revoked token, an unreachable hub."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.sales.models import Sale
from kassa.till_sim import Item, SimTill
from tests.hub.sales_fixtures import seed_shop
from till_agent.journal import Journal, JournalError
from till_agent.sync import Backoff, Sync
from wire.canonical import GENESIS_HASH
from wire.v1 import verify_hash


def _draft(sim: SimTill, items: list[Item], **kwargs: Any) -> dict[str, Any]:
    """A sale as the basket hands it to the journal: no till_seq, prev_hash or hash yet."""
    data = json.loads(sim.sale(items, **kwargs).model_dump_json())
    for key in ("till_seq", "prev_hash", "hash"):
        data.pop(key)
    return data


@pytest.fixture
def journal(tmp_path) -> Journal:  # type: ignore[no-untyped-def]
    j = Journal(tmp_path / "till.db")
    yield j
    j.close()


def test_sales_are_chained_and_wait_to_be_printed(journal, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sim = SimTill(cashier_id=1)
    first = journal.commit_sale(_draft(sim, [Item(1, "Молоко", 1000, 8990, 1000)]))
    second = journal.commit_sale(_draft(sim, [Item(2, "Хлеб", 2000, 5450, 1000)]))
    assert (first.till_seq, second.till_seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert verify_hash(first) and verify_hash(second)
    assert [s.sale_uuid for s in journal.unprinted()] == [first.sale_uuid, second.sale_uuid]
    journal.mark_printed(first.till_seq)
    assert [s.sale_uuid for s in journal.unprinted()] == [second.sale_uuid]
    # The file survives a restart with everything in it.
    journal.close()
    again = Journal(tmp_path / "till.db")
    assert [s.hash for s in again.sales()] == [first.hash, second.hash]
    assert again.status().pending_sales == 2
    again.close()


def test_a_malformed_sale_is_refused_and_not_recorded(journal) -> None:  # type: ignore[no-untyped-def]
    draft = _draft(SimTill(cashier_id=1), [Item(1, "Молоко", 1000, 8990, 1000)])
    draft["lines"][0]["qty_milli"] = 1.5  # not an integer: never reaches the journal
    with pytest.raises(JournalError):
        journal.commit_sale(draft)
    assert journal.sales() == [] and journal.status().pending_sales == 0


def test_sync_uploads_exactly_once_through_lost_answers(client, world, db, journal) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    sim = SimTill(cashier_id=world.ids["cashier_a"])
    sales = [journal.commit_sale(_draft(sim, [shop.items()["milk"]])) for _ in range(250)]
    sync = Sync(journal, client, world.tokens["device_a"], store_id=world.store_a)
    outcome = sync.sync_once()
    assert (outcome.ok, outcome.sent, outcome.dead) == (True, 250, 0)
    assert journal.status().pending_sales == 0
    # The answers were lost: the till sends everything again; the hub says duplicate.
    with journal._write() as j:
        j.execute("UPDATE outbox SET state = 'pending'")
    assert sync.sync_once().sent == 250
    with db.read() as s:
        hub = dict(s.execute(select(Sale.sale_uuid, Sale.total_minor)).all())
    assert hub == {s.sale_uuid: s.total_minor for s in sales}
    assert journal.status().last_contact_at is not None


def test_a_rejected_sale_becomes_a_visible_dead_letter(client, world, db, journal) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    sim = SimTill(cashier_id=world.ids["cashier_a"])
    journal.commit_sale(_draft(sim, [shop.items()["milk"]]))
    refund = json.loads(sim.refund(sim.journal[0], [(1, 5000)]).model_dump_json())  # > sold
    for key in ("till_seq", "prev_hash", "hash"):
        refund.pop(key)
    journal.commit_sale(refund)
    journal.commit_sale(_draft(sim, [shop.items()["bread"]]))
    outcome = Sync(journal, client, world.tokens["device_a"]).sync_once()
    assert (outcome.sent, outcome.dead) == (3, 1)
    (dead,) = journal.dead_letters()
    assert (dead.till_seq, dead.result) == (2, "rejected")
    assert dead.errors[0]["field"] == "lines.0.qty_milli"
    assert journal.status().dead_letters == 1 and journal.status().pending_sales == 0


def test_a_revoked_till_keeps_everything_and_asks_to_re_pair(client, world, db, journal) -> None:  # type: ignore[no-untyped-def]
    shop = seed_shop(db, world.store_a)
    sim = SimTill(cashier_id=world.ids["cashier_a"])
    journal.commit_sale(_draft(sim, [shop.items()["milk"]]))
    outcome = Sync(journal, client, world.tokens["revoked_device_a"]).sync_once()
    assert outcome.revoked
    assert journal.get("sync_state") == "revoked"
    assert journal.status().pending_sales == 1


def test_an_unreachable_hub_loses_nothing(world, db, journal) -> None:  # type: ignore[no-untyped-def]
    sim = SimTill(cashier_id=1)
    journal.commit_sale(_draft(sim, [Item(None, "Пакет", 1000, 500)]))
    dead_end = httpx.Client(base_url="http://127.0.0.1:9", timeout=1)
    sync = Sync(journal, dead_end, "kd_x")
    outcome = sync.sync_once()
    assert outcome.error and "unreachable" in outcome.error
    assert journal.get("sync_state") == "offline"
    assert journal.status().pending_sales == 1
    delays = [sync.next_delay(outcome) for _ in range(12)]
    assert delays[0] <= 1.0 and max(delays) <= 300.0
    assert delays[-1] >= 150.0  # grew to the cap (with jitter in [cap/2, cap])


def test_backoff_honours_retry_after_and_the_cap() -> None:
    rng = random.Random(1)
    backoff = Backoff(base=1.0, cap=60.0)
    assert backoff.delay(0, 30.0, rng) == 30.0
    assert all(0.5 <= backoff.delay(0, None, rng) <= 1.0 for _ in range(50))
    assert all(30.0 <= backoff.delay(20, None, rng) <= 60.0 for _ in range(50))


@pytest.mark.parametrize("trust_the_budget", [True, False], ids=["byte-budget", "413"])
def test_big_receipts_never_make_a_batch_the_hub_refuses(  # type: ignore[no-untyped-def]
    client, world, db, journal, monkeypatch, trust_the_budget
) -> None:
    """200 wholesale receipts with long Cyrillic names come to several MiB: the till sends
    them in batches under the hub's 1 MiB limit (or halves after a 413) and drains."""
    shop = seed_shop(db, world.store_a)
    sim = SimTill(cashier_id=world.ids["cashier_a"])
    name = "Сыр «Российский» весовой, фасованный, производитель ООО Молочный комбинат № 1 " * 2
    items = [Item(shop.milk, name[:200], 1000, 8990, 1000) for _ in range(40)]
    for _ in range(200):
        journal.commit_sale(_draft(sim, items))
    assert len(json.dumps([s.model_dump(mode="json") for s in journal.pending("sale", 200)])) > (
        3 * 2**20
    )
    if not trust_the_budget:  # as if the till misjudged the size: the hub's 413 must not stall it
        monkeypatch.setattr("till_agent.sync.MAX_BODY_BYTES", 10**9)
    sync = Sync(journal, client, world.tokens["device_a"], store_id=world.store_a)
    outcome = sync.sync_once()
    assert outcome.ok and outcome.sent == 200, outcome
    assert journal.status().pending_sales == 0
    if not trust_the_budget:
        assert sync.batch_cap < 200
    with db.read() as s:
        assert len(s.execute(select(Sale.id)).all()) == 200
