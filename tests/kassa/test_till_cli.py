"""`kassa till pair|status|doctor` as a shop technician runs them: the real console script in a
child process, a real hub under uvicorn, the decoding TCP printer and a pty serial scanner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import PIN
from tests.hub.live_hub import LiveHub
from tests.hub.sales_fixtures import Shop
from tests.till_agent.fixtures import pairing_code
from till_agent.basket import Payment
from till_agent.printer import NetworkTransport
from till_agent.runtime import Agent
from till_agent.sim.printer_server import PrinterSim
from till_agent.sim.scanner import VirtualSerialScanner

ROOT = Path(__file__).resolve().parents[2]
KASSA = "from kassa.cli import main; main()"


def kassa(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", KASSA, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pair(live: LiveHub, world: Any, config: Path) -> subprocess.CompletedProcess[str]:
    """`kassa till pair` with a fresh code from store A's manager."""
    code = pairing_code(live.base_url, world, device_name="Касса у входа")
    return kassa("till", "pair", "--hub", live.base_url, "--code", code, "-c", str(config))


def write_config(tmp_path: Path, sim: PrinterSim, scanner_port: str | None = None) -> Path:
    scanner = (
        f'[scanner]\nkind = "serial"\nport = "{scanner_port}"\n'
        if scanner_port
        else '[scanner]\nkind = "keyboard"\n'
    )
    path = tmp_path / "till.toml"
    path.write_text(
        f'[till]\ndata_dir = "till"\nlocale = "ru"\n\n'
        f'[printer]\nkind = "network"\nhost = "{sim.host}"\nport = {sim.port}\n'
        f'profile = "TM-T88V"\n\n{scanner}',
        encoding="utf-8",
    )
    return path


def test_pair_keeps_the_token_private_and_loads_the_catalog(
    tmp_path: Path, live: LiveHub, world: Any, sim: PrinterSim
) -> None:
    config = write_config(tmp_path, sim)
    bad = kassa("till", "pair", "--hub", live.base_url, "--code", "NOPE-NOPE", "-c", str(config))
    assert bad.returncode == 1
    assert "refused the pairing code" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "till" / "token").exists()

    done = pair(live, world, config)
    assert done.returncode == 0, done.stderr
    assert "Касса у входа" in done.stdout and "Catalog: 3 products" in done.stdout
    token = tmp_path / "till" / "token"
    assert token.stat().st_mode & 0o777 == 0o600
    device = json.loads((tmp_path / "till" / "device.json").read_text())
    assert device["store_id"] == world.store_a and device["hub_url"] == live.base_url
    assert "token" not in device
    # The token works: the hub knows this till.
    me = httpx.get(
        f"{live.base_url}/api/v1/till/device",
        headers={"Authorization": f"Bearer {token.read_text().strip()}"},
    )
    assert me.status_code == 200 and me.json()["id"] == device["device_id"]


def test_status_shows_the_queue_the_hub_contact_and_the_printer(
    tmp_path: Path, live: LiveHub, world: Any, sim: PrinterSim, shop: Shop
) -> None:
    config = write_config(tmp_path, sim)
    paired = pair(live, world, config)
    assert paired.returncode == 0, paired.stderr
    agent = Agent(tmp_path / "till", NetworkTransport(sim.host, sim.port), hub_url=live.base_url)
    try:
        agent.till.login(world.ids["cashier_a"], PIN)
        agent.till.open_shift(100_00)
        for _ in range(3):
            agent.till.add_product(shop.milk)
            agent.till.pay([Payment("cash", 10_000)])
    finally:
        agent.close()
    out = kassa("till", "status", "--json", "-c", str(config))
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["queue"]["sales"] == 3 and status["queue"]["shift_events"] == 1
    assert status["queue"]["oldest_unsent_at"] is not None
    assert status["sync_state"] == "ok" and status["dead_letters"] == 0  # pair synced once
    assert status["printer"] == {"online": True, "paper": "ok", "drawer_open": False}
    sim.state.paper = "out"
    text = kassa("till", "status", "-c", str(config))
    assert "Queue" in text.stdout and "3 sales, 1 shift events" in text.stdout
    assert "PAPER OUT" in text.stdout


def test_doctor_prints_a_test_page_pulses_the_drawer_and_reads_a_scan(
    tmp_path: Path, live: LiveHub, world: Any, sim: PrinterSim
) -> None:
    with VirtualSerialScanner() as scanner:
        config = write_config(tmp_path, sim, scanner.port_path)
        paired = pair(live, world, config)
        assert paired.returncode == 0, paired.stderr

        def scan_later() -> None:
            time.sleep(2.0)
            scanner.scan("4600000000017")

        threading.Thread(target=scan_later, daemon=True).start()
        ok = kassa("till", "doctor", "-c", str(config), "--scan-timeout", "20")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for check in ("journal", "hub", "printer", "drawer", "scanner"):
        assert f"OK   {check}" in ok.stdout, ok.stdout
    assert "4600000000017" in ok.stdout
    time.sleep(0.2)
    pages = [j for j in sim.jobs if j.lines]
    page = " ".join(pages[-1].text.split())  # wrapped to the paper's width
    assert "Съешь же ещё этих мягких французских булок, да выпей чаю." in page
    assert "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ" in page
    assert any(j.drawer_pulses for j in sim.jobs)

    sim.state.responding = False  # the printer is off: doctor says so and fails
    bad = kassa("till", "doctor", "-c", str(config), "--scan-timeout", "0")
    assert bad.returncode == 1
    assert "FAIL printer" in bad.stdout and "Traceback" not in bad.stderr


def test_a_broken_till_toml_is_named_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "till.toml"
    path.write_text('[printer]\nkind = "network"\nport = 70000\n', encoding="utf-8")
    out = kassa("till", "status", "-c", str(path))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "printer.port" in out.stderr and "65535" in out.stderr
    unpaired = tmp_path / "ok.toml"
    unpaired.write_text(f'[till]\ndata_dir = "{tmp_path / "none"}"\n', encoding="utf-8")
    out = kassa("till", "status", "-c", str(unpaired))
    assert out.returncode == 1 and "not paired" in out.stderr and "kassa till pair" in out.stderr
    # Selling needs a till.toml: never a silent in-memory printer.
    empty = tmp_path / "empty"
    empty.mkdir()
    bare = subprocess.run(
        [sys.executable, "-c", KASSA, "till", "run"],
        cwd=empty,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "KASSA_TILL_CONFIG"},
    )
    assert bare.returncode == 1 and "no till.toml" in bare.stderr
    assert "Traceback" not in bare.stderr
