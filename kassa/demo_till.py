"""The demo's tills: the real till agent, headless, with a simulated printer and scanner.

Each paired till gets its own data directory (`<demo>/tills/<device>/`: token 0600, journal,
catalog cache), a decoding TCP ESC/POS printer on loopback and a virtual serial scanner on a
pty pair read by the agent's `SerialScanner` thread. Every code the demo "scans" travels through
the pty and the scanner's framing before the till looks it up; every receipt is rendered by
python-escpos, sent over TCP and decoded by the simulator. The clock is the simulated one, so
three weeks of shifts happen in seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from till_agent import pairing
from till_agent.basket import Line
from till_agent.core import Till
from till_agent.printer import NetworkTransport
from till_agent.receipt import PrinterLayout
from till_agent.runtime import Agent
from till_agent.scanner import SerialScanner
from till_agent.sim.printer_server import PrinterSim, PrintJob, printer_server
from till_agent.sim.scanner import VirtualSerialScanner
from wire.barcodes import ean_check_digit
from wire.v1 import ProductV1

SCAN_TIMEOUT = 5.0


@dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class DemoTill:
    """One running till agent and its simulated hardware."""

    device_id: int
    agent: Agent
    printer: PrinterSim
    scanner: VirtualSerialScanner
    reader: SerialScanner
    codes: queue.Queue[str] = field(default_factory=queue.Queue)
    scanned: int = 0

    @property
    def till(self) -> Till:
        return self.agent.till

    def scan(self, code: str) -> str:
        """Send a code through the pty and return what the till's scanner thread read."""
        self.scanner.scan(code)
        read = self.codes.get(timeout=SCAN_TIMEOUT)
        self.scanned += 1
        return read

    def ring(self, product: ProductV1, grams: int | None = None) -> Line:
        """Scan a product: its barcode, or for weighed goods a scale label with the weight."""
        if product.scale_code is not None and grams is not None:
            body = f"22{int(product.scale_code):05d}{grams:05d}"
            code = body + str(ean_check_digit(body))
        else:
            code = product.barcodes[0]
        return self.till.scan(self.scan(code))

    def receipts(self) -> list[PrintJob]:
        """Receipts and reports on paper (drawer-only pulses left out)."""
        return [j for j in self.printer.printed() if j.lines]


@contextlib.contextmanager
def demo_tills(
    root: Path, base_url: str, tills: list[tuple[int, int, str, str]], clock: Clock
) -> Iterator[dict[int, DemoTill]]:
    """Start one agent per (device_id, store_id, name, token), already paired with the hub."""
    with contextlib.ExitStack() as stack:
        running: dict[int, DemoTill] = {}
        for device_id, store_id, name, token in tills:
            data_dir = root / "tills" / str(device_id)
            pairing.save(
                data_dir,
                pairing.Pairing(base_url, device_id, store_id, name, token),
            )
            printer = stack.enter_context(printer_server())
            scanner = stack.enter_context(VirtualSerialScanner())
            agent = Agent(
                data_dir,
                NetworkTransport(printer.host, printer.port, timeout=5.0),
                layout=PrinterLayout(locale="ru", width=42),
                hub_url=base_url,
                timeout=60.0,
                clock=clock,
            )
            stack.callback(agent.close)
            demo = DemoTill(device_id, agent, printer, scanner, None)  # type: ignore[arg-type]
            demo.reader = SerialScanner(scanner.port_path, on_code=demo.codes.put)
            stack.enter_context(demo.reader)
            if not demo.reader.wait_connected(5.0):
                raise RuntimeError(f"the simulated scanner of {name} did not connect")
            pages = agent.refresh_catalog()
            if agent.catalog_error or not pages:
                raise RuntimeError(f"{name} could not load the catalog: {agent.catalog_error}")
            running[device_id] = demo
        yield running


__all__ = ["Clock", "DemoTill", "demo_tills"]
