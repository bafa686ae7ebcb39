"""SerialTransport against a real pty pair (the decoding printer peer on the master side), and
what can honestly be checked of UsbTransport without a USB printer."""

import atexit
import os
import shutil
import tempfile

# python-escpos pickles its capabilities on import: a disposable directory per test process.
_PICKLE_DIR = tempfile.mkdtemp(prefix="kassa-test-escpos-")
atexit.register(shutil.rmtree, _PICKLE_DIR, True)
os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", _PICKLE_DIR)

import datetime as dt  # noqa: E402
import select  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import tty  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from kassa.till_sim import Item, SimTill  # noqa: E402
from till_agent.printer import (  # noqa: E402
    DLE_EOT,
    OFFLINE,
    PaperState,
    PrinterError,
    PrinterStatus,
    SerialTransport,
    UsbTransport,
)
from till_agent.receipt import PrinterLayout, ReceiptRenderer, StoreHeader  # noqa: E402
from till_agent.sim import EscPosDecoder, PrinterState, PrintJob  # noqa: E402
from till_agent.sim.printer_server import DEFAULT_CODE_PAGES  # noqa: E402

AT = dt.datetime(2025, 3, 14, 9, 5, tzinfo=dt.UTC)
STORE = StoreHeader(name="Магазин «Ромашка»", footer_text="Спасибо за покупку!")
MILK = Item(1, "Молоко 3,2% 1 л", 2000, 8990, 1000)
WAIT_S = 5.0


class PtyPrinter:
    """The printer end of a pty pair: decodes what the till writes to `path`, answers DLE EOT.

    The test keeps the slave open itself (raw mode), so the master never sees a hang-up between
    jobs, and the till's own open/close of `path` can be counted in /proc/self/fd.
    """

    def __init__(self, state: PrinterState | None = None) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.state = state or PrinterState()
        self.garbage: bytes | None = None  # when set, sent instead of every status reply
        self._lock = threading.Condition()
        self._decoder = self._new_decoder()
        self._received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-printer", daemon=True)
        self._thread.start()

    def _new_decoder(self) -> EscPosDecoder:
        return EscPosDecoder(DEFAULT_CODE_PAGES, self.state)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            with self._lock:
                reply = self._decoder.feed(chunk)
                self._received += len(chunk)
                self._lock.notify_all()
            if reply:
                os.write(self.master, reply if self.garbage is None else self.garbage)

    def take_job(self, size: int) -> PrintJob:
        """Wait until `size` bytes arrived since the last job, decode them, start a new job."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._received >= size, WAIT_S):
                raise TimeoutError(f"expected {size} bytes, got {self._received}")
            job = self._decoder.finish()
            self._decoder = self._new_decoder()
            self._received = 0
            return job

    def open_count(self) -> int:
        """How many descriptors of this process have the slave open, the test's own included."""
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == self.path:
                    count += 1
            except OSError:
                continue
        return count

    def close(self) -> None:
        self._stop.set()
        self._thread.join(WAIT_S)
        for fd in (self.master, self.slave):
            os.close(fd)


@pytest.fixture
def pty_printer() -> Iterator[PtyPrinter]:
    printer = PtyPrinter()
    yield printer
    printer.close()


def serial_to(printer: PtyPrinter, **kwargs: object) -> SerialTransport:
    return SerialTransport(printer.path, baudrate=115200, timeout=2, **kwargs)  # type: ignore[arg-type]


def receipt(layout: PrinterLayout | None = None, *, kick: bool = True) -> bytes:
    renderer = ReceiptRenderer(STORE, layout or PrinterLayout(), till_name="Касса 2")
    sale = SimTill(cashier_id=1).sale([MILK], at=AT)
    return renderer.render(sale, cashier_name="Иванова А.", kick_drawer=kick)


def test_a_receipt_sent_over_serial_decodes_in_cyrillic_with_cut_and_drawer_pulse(
    pty_printer: PtyPrinter,
) -> None:
    data = receipt()

    serial_to(pty_printer).send(data)
    job = pty_printer.take_job(len(data))

    assert job.raw == data
    assert job.lines[0] == 'Магазин "Ромашка"'
    assert "1. Молоко 3,2% 1 л" in job.lines
    assert job.lines[-1] == "Спасибо за покупку!"
    assert job.code_pages == [17]
    assert job.cuts == 1
    assert [(p.pin, p.on_ms, p.off_ms) for p in job.drawer_pulses] == [(2, 100, 200)]
    assert job.unknown == []


def test_every_serial_job_opens_and_closes_the_port(pty_printer: PtyPrinter) -> None:
    transport = serial_to(pty_printer)
    data = receipt(kick=False)
    assert pty_printer.open_count() == 1  # the test's own descriptor

    for _ in range(3):
        transport.send(data)
        job = pty_printer.take_job(len(data))
        assert "1. Молоко 3,2% 1 л" in job.lines  # the second receipt is not garbled either
        assert pty_printer.open_count() == 1

    transport.status()
    assert pty_printer.open_count() == 1


def test_serial_status_asks_dle_eot_1_and_4_and_reads_the_replies(
    pty_printer: PtyPrinter,
) -> None:
    status = serial_to(pty_printer).status()

    assert status == PrinterStatus(online=True, paper=PaperState.OK, drawer_open=False)
    job = pty_printer.take_job(2 * len(DLE_EOT + b"\x01"))
    assert job.status_queries == [1, 4]


@pytest.mark.parametrize(
    ("state", "open_high", "expected"),
    [
        (PrinterState(paper="near_end"), True, PrinterStatus(True, PaperState.NEAR_END, False)),
        (PrinterState(paper="out"), True, PrinterStatus(False, PaperState.OUT, False)),
        (PrinterState(drawer_open=True), True, PrinterStatus(True, PaperState.OK, True)),
        (PrinterState(drawer_open=True), False, PrinterStatus(True, PaperState.OK, False)),
        (PrinterState(drawer_open=False), False, PrinterStatus(True, PaperState.OK, True)),
    ],
    ids=["near-end", "paper-out", "drawer-open", "sensor-low-closed", "sensor-low-open"],
)
def test_serial_status_reports_the_printer_state(
    state: PrinterState, open_high: bool, expected: PrinterStatus
) -> None:
    printer = PtyPrinter(state)
    try:
        assert serial_to(printer, drawer_open_high=open_high).status() == expected
    finally:
        printer.close()


def test_a_serial_printer_that_does_not_answer_is_offline_never_paper_ok() -> None:
    printer = PtyPrinter(PrinterState(responding=False))
    try:
        started = time.monotonic()
        status = serial_to(printer, status_timeout=0.2).status()
        elapsed = time.monotonic() - started
    finally:
        printer.close()

    assert status == OFFLINE
    assert elapsed < 1.5


@pytest.mark.parametrize("garbage", [b"\xff", b"\x00"], ids=["all-ones", "all-zeros"])
def test_a_malformed_serial_status_reply_is_offline(
    pty_printer: PtyPrinter, garbage: bytes
) -> None:
    pty_printer.garbage = garbage

    assert serial_to(pty_printer, status_timeout=0.2).status() == OFFLINE


def test_a_missing_serial_device_is_a_printer_error_the_cashier_can_read(tmp_path: Path) -> None:
    transport = SerialTransport(str(tmp_path / "ttyUSB9"))

    with pytest.raises(PrinterError) as caught:
        transport.send(b"\x1b@")

    assert caught.value.code == "device_missing"
    assert "ttyUSB9" in caught.value.detail
    assert "кабель" in caught.value.message("ru")
    assert transport.status() == OFFLINE


def _usb_backend_present() -> bool:
    import usb.core  # type: ignore[import-untyped]

    try:
        usb.core.find()
    except usb.core.NoBackendError:
        return False
    return True


def test_a_missing_usb_printer_is_a_printer_error_not_a_traceback() -> None:
    """No USB printer is attached here: with libusb the device is not found; without libusb
    (this machine has no libusb-1.0-0) the till says USB printing is unavailable."""
    expected = "device_missing" if _usb_backend_present() else "usb_unavailable"
    transport = UsbTransport(0x04B8, 0x0202, timeout=1)

    with pytest.raises(PrinterError) as caught:
        transport.send(b"\x1b@")

    assert caught.value.code == expected
    assert "04b8:0202" in caught.value.detail
    assert caught.value.message("ru").startswith(("Принтер не найден", "Печать по USB"))
    assert transport.status() == OFFLINE
