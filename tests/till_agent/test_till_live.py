"""The till agent against a real hub process (uvicorn on loopback), under the faults of
RELIABILITY.md that concern a till: F1 (offline for days), F2 (hub down or refusing with 503 +
Retry-After), F9 (disk full: RLIMIT_FSIZE on the till process), F11 (SIGKILL between commit and
print, and during a send), F13 (printer offline mid-shift), F14 (token revoked while offline).

Each test ends with the promise: the till's journal and the hub's sales agree exactly (same
sale_uuids, same totals, every line), and so do its shift events.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hub.sales.models import Sale, SaleLine
from hub.shifts.models import ShiftEvent
from tests.conftest import PIN
from tests.hub.live_hub import LiveHub
from tests.hub.sales_fixtures import Shop
from tests.till_agent.fixtures import pairing_code
from till_agent import pairing
from till_agent.basket import Payment
from till_agent.core import Till
from till_agent.journal import Journal
from till_agent.printer import NetworkTransport
from till_agent.runtime import Agent
from till_agent.sim.printer_server import PrinterSim
from till_agent.sync import Backoff
from wire.canonical import GENESIS_HASH
from wire.v1 import sale_hash

ROOT = Path(__file__).resolve().parents[2]


def new_agent(data_dir: Path, base_url: str, sim: PrinterSim, **kwargs: Any) -> Agent:
    printer = NetworkTransport(sim.host, sim.port, timeout=2.0)
    return Agent(data_dir, printer, hub_url=base_url, timeout=3.0, **kwargs)


@pytest.fixture
def agent(tmp_path, live, world, sim) -> Iterator[Agent]:  # type: ignore[no-untyped-def]
    """A till paired through the real API, catalog loaded, shift open, cashier logged in."""
    pairing.pair(live.base_url, pairing_code(live.base_url, world), tmp_path / "till")
    a = new_agent(tmp_path / "till", live.base_url, sim)
    assert a.refresh_catalog() >= 1 and a.catalog_error is None
    cashier = world.ids["cashier_a"]
    a.till.login(cashier, PIN)
    a.till.open_shift(1000_00)
    yield a
    a.close()


def sell(till: Till, shop: Shop, count: int, *, tender: str = "cash") -> list[Any]:
    out = []
    for n in range(count):
        till.add_product(shop.milk)
        if n % 3 == 0:
            till.add_product(shop.cheese, qty_milli=250 + n % 500)
        total = till.basket.totals().total_minor
        payment = (
            Payment("cash", total + 1000) if tender == "cash" else Payment("card", total, "OK")
        )
        out.append(till.pay([payment]))
    return out


def drain(agent: Agent, *, attempts: int = 50) -> None:
    for _ in range(attempts):
        outcome = agent.sync_now()
        status = agent.journal.status()
        if outcome.ok and status.pending_sales == 0 and status.pending_events == 0:
            return
        time.sleep(min(outcome.retry_after or 0.1, 0.5))
    raise AssertionError(f"queue did not drain: {agent.journal.status()} {outcome}")


def assert_hub_equals_journal(db: Any, store_id: int, journal: Journal) -> None:
    """Same sale_uuids, totals, line counts and till_seqs; same shift events; nothing dead."""
    sales = journal.sales()
    with db.read() as s:
        hub = {
            row.sale_uuid: (row.till_seq, row.total_minor, row.kind)
            for row in s.execute(
                select(Sale.sale_uuid, Sale.till_seq, Sale.total_minor, Sale.kind).where(
                    Sale.store_id == store_id
                )
            )
        }
        lines = dict(
            s.execute(
                select(Sale.sale_uuid, func.count(SaleLine.id))
                .join(SaleLine, SaleLine.sale_id == Sale.id)
                .where(Sale.store_id == store_id)
                .group_by(Sale.sale_uuid)
            ).all()
        )
        events = set(
            s.scalars(select(ShiftEvent.event_uuid).where(ShiftEvent.store_id == store_id))
        )
    assert hub == {x.sale_uuid: (x.till_seq, x.total_minor, x.kind) for x in sales}
    assert lines == {x.sale_uuid: len(x.lines) for x in sales}
    with sqlite3.connect(journal.path) as raw:
        journaled = {r[0] for r in raw.execute("SELECT event_uuid FROM shift_event")}
    assert {str(e) for e in events} == journaled
    assert journal.dead_letters() == []
    assert journal.status().pending_sales == 0


def assert_chain_intact(journal: Journal) -> None:
    prev = GENESIS_HASH
    for seq, sale in enumerate(journal.sales(), start=1):
        assert sale.till_seq == seq and sale.prev_hash == prev and sale.hash == sale_hash(sale)
        prev = sale.hash
    with sqlite3.connect(journal.path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- F1, F2 ---------------------------------------------------------------------------------


def test_f1_f2_offline_for_days_then_drains_in_order(
    agent: Agent, live: LiveHub, shop: Shop, world: Any, db: Any, db_url: str
) -> None:
    """Selling never waits for the hub: hundreds of sales and a whole shift while it is down
    (connection refused), then 503 + Retry-After while its database is locked; on reconnect the
    outbox drains in till_seq order in batches of <= 200."""
    live.stop()  # the hub is gone: connections are refused
    started = time.monotonic()
    done = sell(agent.till, shop, 450)
    agent.till.cash_move("cash_out", 500_00, "инкассация")
    agent.till.close_shift(agent.till.report("X").figures.expected_minor or 0)
    agent.till.open_shift(1000_00)
    done += sell(agent.till, shop, 30, tender="card")
    selling = time.monotonic() - started
    assert all(d.printed for d in done)
    outcome = agent.sync_now()
    assert outcome.error and "unreachable" in outcome.error
    assert agent.journal.get("sync_state") == "offline"
    delays = [agent.sync.next_delay(outcome) for _ in range(12)]
    assert delays[-1] <= Backoff().cap and max(delays) > 60  # exponential, jittered, capped
    assert agent.status(ask_printer=False).queue.pending_sales == 480
    assert selling < 60, f"selling took {selling:.1f} s with the hub down"

    base = live.start()
    agent.sync.client = httpx.Client(base_url=base, timeout=30.0)
    if db_url.startswith("sqlite"):  # F2: the hub is up but its database is held
        path = db_url.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, timeout=0, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy = agent.sync_now()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert busy.retry_after is not None and busy.retry_after >= 1, busy
        assert agent.sync.next_delay(busy) >= busy.retry_after  # never sooner than asked
    sent: list[list[int]] = []
    original_send = agent.sync.client.post

    def spy(path: str, **kwargs: Any) -> httpx.Response:
        if path.endswith("/sales/batch"):
            sent.append([s["till_seq"] for s in json.loads(kwargs["content"])["sales"]])
        return original_send(path, **kwargs)

    agent.sync.client.post = spy  # type: ignore[method-assign]
    drain(agent)
    flat = [seq for batch in sent for seq in batch]
    assert flat == sorted(flat) and max(len(b) for b in sent) <= 200
    assert_hub_equals_journal(db, world.store_a, agent.journal)


# --- F13 ------------------------------------------------------------------------------------


def test_f13_printer_offline_keeps_the_sale_and_reprints(
    agent: Agent, sim: PrinterSim, shop: Shop, world: Any, db: Any
) -> None:
    sim.state.responding = False  # DLE EOT gets no answer: the printer is off
    [done] = sell(agent.till, shop, 1)
    assert not done.printed and done.printer_error is not None
    assert "Принтер не отвечает" in done.printer_error.message("ru")
    sim.state.responding = True
    sim.state.paper = "out"
    [out] = sell(agent.till, shop, 1)
    assert not out.printed and "бумаг" in out.printer_error.message("ru")
    assert [s.sale_uuid for s in agent.till.unprinted()] == [
        done.sale.sale_uuid,
        out.sale.sale_uuid,
    ]
    sim.state.paper = "ok"
    for sale in agent.till.unprinted():
        assert agent.till.reprint(sale).printed
    assert agent.till.unprinted() == []
    drain(agent)
    assert_hub_equals_journal(db, world.store_a, agent.journal)


# --- F14 ------------------------------------------------------------------------------------


def test_f14_token_revoked_while_offline_then_repaired(
    agent: Agent, live: LiveHub, sim: PrinterSim, shop: Shop, world: Any, db: Any, tmp_path: Path
) -> None:
    sell(agent.till, shop, 5)
    drain(agent)
    device_id = agent.pairing.device_id  # type: ignore[union-attr]
    response = httpx.post(
        f"{live.base_url}/api/v1/stores/{world.store_a}/devices/{device_id}/revoke",
        headers=world.headers("manager_a"),
    )
    assert response.status_code == 200, response.text
    sell(agent.till, shop, 7)  # still selling: the till does not know yet
    outcome = agent.sync_now()
    assert outcome.revoked
    assert agent.status(ask_printer=False).sync_state == "revoked"
    sell(agent.till, shop, 3)  # keeps selling, keeps everything
    assert agent.sync_now().revoked  # and stops sending until re-paired
    assert agent.journal.status().pending_sales == 10
    code = pairing_code(live.base_url, world, replaces=device_id)
    again = pairing.pair(live.base_url, code, agent.data_dir)  # while the agent runs
    assert again.device_id != device_id
    assert (agent.data_dir / "token").stat().st_mode & 0o777 == 0o600
    # The running agent picks up the new token by itself: no restart, the queue drains.
    assert agent.status(ask_printer=False).sync_state != "revoked"
    drain(agent)
    assert agent.status(ask_printer=False).sync_state == "ok"
    assert_hub_equals_journal(db, world.store_a, agent.journal)
    with db.read() as s:
        by_device = dict(
            s.execute(
                select(Sale.device_id, func.count())
                .where(Sale.store_id == world.store_a)
                .group_by(Sale.device_id)
            ).all()
        )
    assert by_device == {device_id: 5, again.device_id: 10}
    tills = httpx.get(
        f"{live.base_url}/api/v1/stores/{world.store_a}/tills",
        headers=world.headers("manager_a"),
    ).json()
    assert all(not t.get("missing") for t in tills), tills  # no gap across the re-pairing
    agent.close()
    restarted = new_agent(agent.data_dir, live.base_url, sim)  # and after a restart too
    try:
        assert restarted.status(ask_printer=False).sync_state == "ok"
        assert restarted.sync_now().ok
    finally:
        restarted.close()


# --- F9, F11: the till as a child process ------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys, time
    from pathlib import Path
    from till_agent.basket import Payment
    from till_agent.core import TillError
    from till_agent.printer import NetworkTransport
    from till_agent.runtime import Agent

    args = json.loads(sys.argv[1])
    mode = args["mode"]
    printer = NetworkTransport(args["host"], args["port"], timeout=2.0)
    agent = Agent(Path(args["data_dir"]), printer, hub_url=args["hub"], timeout=5.0)
    till = agent.till
    till.login(args["cashier"], args["pin"])
    if till.open_shift_state() is None:
        till.open_shift(100000)

    def ring():
        till.add_product(args["product"])
        return till.pay([Payment("cash", 10000)])

    def say(**kw):
        print(json.dumps(kw), flush=True)

    if mode == "kill_before_print":
        for _ in range(3):
            ring()
        def stall():
            say(event="committed")
            time.sleep(60)  # SIGKILLed here: committed, not yet printed
        till.on_commit = stall
        ring()
    elif mode == "disk_full":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill us
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        sold, refused = 0, 0
        for n in range(args["sales"]):
            if n == args["limit_at"]:
                size = max(p.stat().st_size for p in Path(args["data_dir"]).glob("journal.db*"))
                resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
            if n == args["lift_at"]:
                resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
            try:
                ring()
                sold += 1
            except TillError as exc:
                refused += 1
                assert exc.code == "not_recorded", exc.code
                till.clear()
                say(event="refused", n=n, text=exc.text("ru"))
        say(event="done", sold=sold, refused=refused)
    elif mode == "sell_then_send":
        for _ in range(args["sales"]):
            ring()
        say(event="ready")
        sys.stdin.readline()
        say(event="sending")
        agent.sync_now()
        say(event="sent")
    """
)


def run_child(args: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def child_args(
    agent: Agent, sim: PrinterSim, shop: Shop, world: Any, **extra: Any
) -> dict[str, Any]:
    return {
        "data_dir": str(agent.data_dir),
        "hub": agent.hub_url,
        "host": sim.host,
        "port": sim.port,
        "cashier": world.ids["cashier_a"],
        "pin": PIN,
        "product": shop.milk,
        **extra,
    }


def test_f11_killed_between_commit_and_print_offers_reprint(
    agent: Agent, sim: PrinterSim, shop: Shop, world: Any, db: Any
) -> None:
    child = run_child(child_args(agent, sim, shop, world, mode="kill_before_print"))
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert json.loads(line) == {"event": "committed"}, (
            line,
            child.stderr.read() if child.stderr else "",
        )
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
    assert len(sim.printed(3)) == 3
    agent.close()
    restarted = new_agent(agent.data_dir, agent.hub_url, sim)
    try:
        [unprinted] = restarted.till.unprinted()  # offered for reprint on restart
        assert unprinted.till_seq == 4
        assert restarted.till.reprint(unprinted).printed
        assert restarted.till.unprinted() == []
        last = sim.printed(4)[-1]
        assert f"Чек № {unprinted.till_seq}" in last.text and "КОПИЯ" not in last.text
        assert_chain_intact(restarted.journal)
        drain(restarted)
        assert_hub_equals_journal(db, world.store_a, restarted.journal)
    finally:
        restarted.close()


def test_f11_killed_during_a_send_resends_without_doubles(
    agent: Agent, live: LiveHub, sim: PrinterSim, shop: Shop, world: Any, db: Any
) -> None:
    child = run_child(child_args(agent, sim, shop, world, mode="sell_then_send", sales=900))
    try:
        assert child.stdout is not None and child.stdin is not None
        assert json.loads(child.stdout.readline())["event"] == "ready"
        child.stdin.write("go\n")
        child.stdin.flush()
        assert json.loads(child.stdout.readline())["event"] == "sending"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # kill once the hub holds some but not all
            with db.read() as s:
                held = s.scalar(select(func.count()).select_from(Sale)) or 0
            if held:
                break
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
    agent.close()
    restarted = new_agent(agent.data_dir, live.base_url, sim)
    try:
        assert restarted.journal.status().pending_sales > 0  # not everything was acknowledged
        drain(restarted)
        assert_hub_equals_journal(db, world.store_a, restarted.journal)
        assert len(restarted.journal.sales()) == 900
    finally:
        restarted.close()


def test_f9_disk_full_refuses_the_sale_prints_nothing_and_recovers(
    agent: Agent, sim: PrinterSim, shop: Shop, world: Any, db: Any
) -> None:
    child = run_child(
        child_args(agent, sim, shop, world, mode="disk_full", sales=40, limit_at=10, lift_at=25)
    )
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in out.splitlines()]
    done = events[-1]
    refused = [e for e in events if e["event"] == "refused"]
    assert done["refused"] >= 1 and done["sold"] + done["refused"] == 40
    assert all(10 <= e["n"] < 25 for e in refused)  # refused only while the disk was full
    assert "НЕ записана" in refused[0]["text"]
    journal = Journal(agent.data_dir / "journal.db")
    try:
        assert len(journal.sales()) == done["sold"]  # nothing half-written, nothing invented
        assert_chain_intact(journal)
        assert len(sim.printed(done["sold"])) == done["sold"]  # a refused sale printed nothing
    finally:
        journal.close()
    agent.close()
    restarted = new_agent(agent.data_dir, agent.hub_url, sim)
    try:
        drain(restarted)
        assert_hub_equals_journal(db, world.store_a, restarted.journal)
    finally:
        restarted.close()


# --- the journal head, for the hub's quality gate --------------------------------------------


def test_every_request_tells_the_hub_how_far_the_journal_goes(
    agent: Agent, shop: Shop, world: Any, db: Any
) -> None:
    """`X-Kassa-Journal` on uploads and catalog polls alike: after a sync the hub holds what the
    till says it has; sales made since (not sent yet) show as a head beyond what the hub holds."""
    from hub.devices.models import Device
    from hub.sales.models import TillState

    def hub_view() -> tuple[int | None, int | None, int]:
        with db.read() as s:
            device = s.scalars(
                select(Device)
                .where(Device.store_id == world.store_a, Device.revoked_at.is_(None))
                .order_by(Device.id.desc())
            ).first()
            assert device is not None and device.journal_reported_at is not None
            state = s.get(TillState, device.id)
            held = state.max_sale_seq if state is not None else 0
            return device.journal_sale_seq, device.journal_shift_seq, held

    sell(agent.till, shop, 3)
    drain(agent)
    assert agent.journal.head() == (3, 1)  # three sales, one shift event (the open)
    assert hub_view() == (3, 1, 3)

    sell(agent.till, shop, 2)  # not sent: only the catalog poll talks to the hub
    agent.refresh_catalog()
    assert hub_view() == (5, 1, 3)
    drain(agent)
    assert hub_view() == (5, 1, 5)
