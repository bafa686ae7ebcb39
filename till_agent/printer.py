"""Send a rendered receipt to the printer in one write, and ask the printer how it is.

Transports are chosen by config (`kind`): network (raw TCP, port 9100), file (a device such as
/dev/usb/lp0, or a plain file as a byte log), dummy (in memory, for tests and the demo).
"""

from __future__ import annotations

import enum
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

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
            printer_byte = self._ask(conn, 1)
            paper_byte = self._ask(conn, 4) if printer_byte is not None else None
        if printer_byte is None or paper_byte is None:
            return OFFLINE
        return parse_status(printer_byte, paper_byte, drawer_open_high=self.drawer_open_high)

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


@dataclass(frozen=True, slots=True)
class TransportSettings:
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
