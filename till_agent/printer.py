"""Send a rendered receipt to the printer in one write, and ask the printer how it is.

Transports are chosen by config (`[printer] kind` in till.toml, see `till_agent.config`):
network (raw TCP, port 9100), usb (python-escpos `Usb`, pyusb + libusb), serial (python-escpos
`Serial`, pyserial), file (a device such as /dev/usb/lp0, or a plain file as a byte log), dummy
(in memory, for tests and the demo).

Every transport opens the device for one job and always closes it, and makes exactly one attempt:
a job that failed is never resent automatically (it may hold a drawer kick); the cashier reprints.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import importlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
_STATUS_MASK, _STATUS_FIXED = 0x93, 0x12  # bits 0, 1, 4, 7 of every DLE EOT reply: 0, 1, 1, 0

MESSAGES: dict[str, dict[str, str]] = {
    "unreachable": {
        "ru": "Принтер не отвечает: проверьте, что он включён и подключён к сети",
        "en": "The printer does not answer: check that it is switched on and connected",
    },
    "write_failed": {
        "ru": "Чек не допечатан: связь с принтером прервалась. Проверьте принтер, повторите печать",
        "en": "The receipt did not reach the printer: check the printer and reprint",
    },
    "device_missing": {
        "ru": "Принтер не найден: проверьте кабель и путь к устройству в настройках",
        "en": "Printer device not found: check the cable and the device path in the settings",
    },
    "no_permission": {
        "ru": "Нет доступа к принтеру: нужны права на устройство (группа lp)",
        "en": "No permission to use the printer device (add the till user to group lp)",
    },
    "paper_out": {
        "ru": "В принтере нет бумаги: вставьте новый рулон и повторите печать",
        "en": "The printer is out of paper: load a new roll and reprint",
    },
    "usb_unavailable": {
        "ru": "Печать по USB недоступна: на кассе нет библиотеки libusb (пакет libusb-1.0-0)",
        "en": "USB printing is unavailable: this till lacks libusb (package libusb-1.0-0)",
    },
}


class PrinterError(Exception):
    """A printing failure the cashier can act on; `message(locale)` says what to do."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{MESSAGES[code]['en']} ({detail})" if detail else MESSAGES[code]["en"])

    def message(self, locale: str = "ru") -> str:
        return MESSAGES[self.code].get(locale, MESSAGES[self.code]["en"])


class PaperState(enum.Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"  # the transport cannot ask (file, device without a back channel)


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    online: bool
    paper: PaperState
    drawer_open: bool | None = None

    @property
    def ready(self) -> bool:
        return self.online and self.paper in (PaperState.OK, PaperState.NEAR_END)


OFFLINE = PrinterStatus(online=False, paper=PaperState.UNKNOWN)


def parse_status(printer_byte: int, paper_byte: int, *, drawer_open_high: bool) -> PrinterStatus:
    """Decode `DLE EOT 1` (bit 2 drawer sensor, bit 3 offline) and `DLE EOT 4` replies
    (bits 2-3 roll near end, bits 5-6 roll end)."""
    if paper_byte & 0x60:
        paper = PaperState.OUT
    elif paper_byte & 0x0C:
        paper = PaperState.NEAR_END
    else:
        paper = PaperState.OK
    sensor_high = bool(printer_byte & 0x04)
    return PrinterStatus(
        online=not printer_byte & 0x08,
        paper=paper,
        drawer_open=sensor_high == drawer_open_high,
    )


def query_status(ask: Callable[[int], int | None], *, drawer_open_high: bool) -> PrinterStatus:
    """Ask `DLE EOT 1` then `DLE EOT 4` through `ask` (None: no valid reply); a printer that
    does not answer both is offline, never "paper OK"."""
    printer_byte = ask(1)
    paper_byte = ask(4) if printer_byte is not None else None
    if printer_byte is None or paper_byte is None:
        return OFFLINE
    return parse_status(printer_byte, paper_byte, drawer_open_high=drawer_open_high)


class PrinterTransport(Protocol):
    def send(self, data: bytes) -> None: ...

    def status(self) -> PrinterStatus: ...


@dataclass
class NetworkTransport:
    """Raw TCP (port 9100): connect, one `sendall`, close. The port serves one client at a time."""

    host: str
    port: int = 9100
    timeout: float = 3.0
    status_timeout: float = 1.0
    drawer_open_high: bool = True

    def _connect(self, timeout: float) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as exc:
            raise PrinterError("unreachable", f"{self.host}:{self.port}: {exc}") from exc

    def send(self, data: bytes) -> None:
        with self._connect(self.timeout) as conn:
            try:
                conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
            except OSError as exc:
                raise PrinterError("write_failed", f"{self.host}:{self.port}: {exc}") from exc

    def status(self) -> PrinterStatus:
        """Ask `DLE EOT 1` and `DLE EOT 4`; no (valid) answer means offline, never "paper OK"."""
        try:
            conn = self._connect(self.status_timeout)
        except PrinterError:
            return OFFLINE
        with conn:
            return query_status(partial(self._ask, conn), drawer_open_high=self.drawer_open_high)

    @staticmethod
    def _ask(conn: socket.socket, n: int) -> int | None:
        try:
            conn.sendall(DLE_EOT + bytes([n]))
            reply = conn.recv(1)
        except OSError:  # timeout, reset
            return None
        if len(reply) != 1 or reply[0] & _STATUS_MASK != _STATUS_FIXED:
            return None
        return reply[0]


@dataclass
class FileTransport:
    """A printer device node (/dev/usb/lp0) or a file: appended to, one write per job."""

    path: Path

    def send(self, data: bytes) -> None:
        try:
            with open(self.path, "ab", buffering=0) as device:
                device.write(data)
        except FileNotFoundError as exc:
            raise PrinterError("device_missing", str(self.path)) from exc
        except PermissionError as exc:
            raise PrinterError("no_permission", str(self.path)) from exc
        except OSError as exc:
            raise PrinterError("write_failed", f"{self.path}: {exc}") from exc

    def status(self) -> PrinterStatus:
        online = self.path.exists()
        return PrinterStatus(online=online, paper=PaperState.UNKNOWN)


@dataclass
class DummyTransport:
    """Keeps every job in memory; `state` is what `status()` reports."""

    jobs: list[bytes] = field(default_factory=list)
    state: PrinterStatus = field(
        default_factory=lambda: PrinterStatus(online=True, paper=PaperState.OK, drawer_open=False)
    )

    def send(self, data: bytes) -> None:
        self.jobs.append(bytes(data))

    def status(self) -> PrinterStatus:
        return self.state


def _status_reply(reply: bytes | bytearray | Any) -> int | None:
    """The one status byte of a `DLE EOT n` reply, or None when it is missing or malformed."""
    data = bytes(reply or b"")
    if len(data) != 1 or data[0] & _STATUS_MASK != _STATUS_FIXED:
        return None
    return data[0]


def _escpos() -> Any:
    """The `escpos.printer` module, imported the way `till_agent.receipt` imports python-escpos
    (no root log handler, no stray temp dir); loaded on first use, not when this module is."""
    importlib.import_module("till_agent.receipt")  # its guarded import loads escpos.printer
    return importlib.import_module("escpos.printer")


def _close_quietly(printer: Any, label: str) -> None:
    """Close an escpos printer object; a failing close never hides the job's own outcome."""
    try:
        printer.close()
    except Exception:
        log.warning("closing printer %s failed", label, exc_info=True)
        device = getattr(printer, "_device", None)
        close = getattr(device, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.debug("closing printer %s device failed", label, exc_info=True)
    printer._device = False  # escpos' __del__ must not try again


def _open_error(exc: BaseException, label: str) -> PrinterError:
    """Map a failed open (escpos wraps the OS error in DeviceNotFoundError) to a PrinterError."""
    cause = exc.__cause__ or exc.__context__
    code = getattr(cause, "errno", None) or getattr(exc, "errno", None)
    detail = f"{label}: {cause or exc}".replace("\n", " ")
    if code in (errno.EACCES, errno.EPERM):
        return PrinterError("no_permission", detail)
    return PrinterError("device_missing", detail)


@dataclass
class SerialTransport:
    """A serial (RS-232 or USB-serial) printer through python-escpos `Serial`, 8N1.

    `device` is a path such as /dev/ttyUSB0. The port is opened per job and always closed.
    Status is asked with `DLE EOT 1` and `DLE EOT 4` like `NetworkTransport`.
    """

    device: str
    baudrate: int = 19200
    timeout: float = 3.0
    status_timeout: float = 1.0
    drawer_open_high: bool = True

    def _open(self, read_timeout: float) -> Any:
        printer = _escpos().Serial(
            devfile=self.device, baudrate=self.baudrate, timeout=read_timeout
        )
        try:
            printer.open()
        except Exception as exc:  # DeviceNotFoundError wrapping the OS error
            printer._device = False
            raise _open_error(exc, self.device) from exc
        return printer

    def send(self, data: bytes) -> None:
        """One write of the whole job; the write may take as long as the bytes need on the wire."""
        import serial

        printer = self._open(self.timeout)
        try:
            port = printer.device
            port.write_timeout = self.timeout + len(data) * 10 / self.baudrate
            try:
                printer._raw(bytes(data))
                port.flush()
            except (serial.SerialException, OSError) as exc:
                with contextlib.suppress(OSError):  # SerialException is an OSError
                    port.reset_output_buffer()  # drop what is queued: close would wait for it
                raise PrinterError("write_failed", f"{self.device}: {exc}") from exc
        finally:
            _close_quietly(printer, self.device)

    def status(self) -> PrinterStatus:
        """`DLE EOT 1` and `DLE EOT 4`; no (valid) answer within `status_timeout` is offline."""
        try:
            printer = self._open(self.status_timeout)
        except PrinterError:
            return OFFLINE
        try:
            port = printer.device
            port.write_timeout = self.status_timeout
            port.reset_input_buffer()  # a late reply to an earlier query must not be taken

            def ask(n: int) -> int | None:
                try:
                    port.write(DLE_EOT + bytes([n]))
                    return _status_reply(port.read(1))
                except (OSError, ValueError) as exc:  # SerialException is an OSError
                    log.debug("status query on %s failed: %s", self.device, exc)
                    return None

            status = query_status(ask, drawer_open_high=self.drawer_open_high)
        finally:
            _close_quietly(printer, self.device)
        return status


@dataclass
class UsbTransport:
    """A USB printer through python-escpos `Usb` (pyusb; needs Debian's libusb-1.0-0).

    Found by vendor and product id (`lsusb` shows them as 04b8:0202), written on bulk endpoint
    `out_ep`, status read on `in_ep`. The device is claimed per job and always released.
    python-escpos detaches the kernel printer driver (usblp) from interface 0; for another
    `interface` this transport detaches it from that one too.
    """

    vendor_id: int
    product_id: int
    interface: int = 0
    in_ep: int = 0x82
    out_ep: int = 0x01
    timeout: float = 3.0
    status_timeout: float = 1.0
    drawer_open_high: bool = True

    @property
    def label(self) -> str:
        return f"USB {self.vendor_id:04x}:{self.product_id:04x}"

    def _open(self) -> Any:
        printer = _escpos().Usb(
            idVendor=self.vendor_id,
            idProduct=self.product_id,
            timeout=max(1, round(self.timeout * 1000)),  # pyusb: milliseconds, 0 = forever
            in_ep=self.in_ep,
            out_ep=self.out_ep,
        )
        try:
            import usb.core  # type: ignore[import-untyped]
        except ImportError as exc:
            raise PrinterError("usb_unavailable", f"{self.label}: pyusb is not installed") from exc
        try:
            printer.open()
        except usb.core.NoBackendError as exc:
            printer._device = False
            raise PrinterError("usb_unavailable", f"{self.label}: {exc}") from exc
        except Exception as exc:  # DeviceNotFoundError: not plugged in, or no access
            printer._device = False
            raise _open_error(exc, self.label) from exc
        if not printer._device:  # python -O skips escpos' own "not found" assert
            raise PrinterError("device_missing", f"{self.label}: not found")
        if self.interface != 0:
            self._detach_kernel_driver(printer.device, usb.core.USBError)
        return printer

    def _detach_kernel_driver(self, device: Any, usb_error: type[Exception]) -> None:
        try:
            if device.is_kernel_driver_active(self.interface):
                device.detach_kernel_driver(self.interface)
        except (NotImplementedError, usb_error) as exc:
            log.warning("%s: cannot detach the kernel driver: %s", self.label, exc)

    def _usb_error(self, exc: Exception) -> PrinterError:
        code = getattr(exc, "errno", None)
        if code in (errno.EACCES, errno.EPERM):
            return PrinterError("no_permission", f"{self.label}: {exc}")
        if code in (errno.ENODEV, errno.ENOENT):
            return PrinterError("device_missing", f"{self.label}: {exc}")
        return PrinterError("write_failed", f"{self.label}: {exc}")

    def send(self, data: bytes) -> None:
        import usb.core

        printer = self._open()
        try:
            try:
                printer._raw(bytes(data))
            except (usb.core.USBError, OSError) as exc:
                raise self._usb_error(exc) from exc
        finally:
            _close_quietly(printer, self.label)

    def status(self) -> PrinterStatus:
        """`DLE EOT 1` and `DLE EOT 4` over the bulk endpoints; no answer is offline."""
        import usb.core

        try:
            printer = self._open()
        except PrinterError:
            return OFFLINE
        timeout_ms = max(1, round(self.status_timeout * 1000))
        try:
            device = printer.device

            def ask(n: int) -> int | None:
                try:
                    device.write(self.out_ep, DLE_EOT + bytes([n]), timeout_ms)
                    reply = bytes(device.read(self.in_ep, 16, timeout_ms))
                    return _status_reply(reply[-1:])  # a stale byte may precede the answer
                except (usb.core.USBError, OSError) as exc:
                    log.debug("status query on %s failed: %s", self.label, exc)
                    return None

            status = query_status(ask, drawer_open_high=self.drawer_open_high)
        finally:
            _close_quietly(printer, self.label)
        return status


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """The network, file and dummy kinds without a config file (tests, the demo).

    The till builds its transport from till.toml with `till_agent.config.make_printer`, which
    covers every kind, usb and serial included.
    """

    kind: Literal["network", "file", "dummy"]
    host: str = ""
    port: int = 9100
    timeout: float = 3.0
    path: str = ""
    drawer_open_high: bool = True


def make_transport(settings: TransportSettings) -> PrinterTransport:
    if settings.kind == "network":
        if not settings.host:
            raise ValueError("printer kind 'network' needs a host")
        return NetworkTransport(
            settings.host,
            settings.port,
            settings.timeout,
            drawer_open_high=settings.drawer_open_high,
        )
    if settings.kind == "file":
        if not settings.path:
            raise ValueError("printer kind 'file' needs a path")
        return FileTransport(Path(settings.path))
    if settings.kind == "dummy":
        return DummyTransport()
    raise ValueError(f"unknown printer kind {settings.kind!r}: expected network, file or dummy")
