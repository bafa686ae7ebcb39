"""A simulated network ESC/POS printer: a real TCP peer that decodes what it is sent.

Text is decoded with the code page selected at that moment (`ESC t n`; `ESC @` resets it to 0,
as real printers do), so a receipt whose code page selection went missing decodes garbled here
too. It records cuts, drawer pulses and QR payloads, and answers `DLE EOT n` from a settable state.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
DLE_EOT = bytes([DLE, 0x04])  # DLE EOT n: real-time status
DEFAULT_CODE_PAGES: dict[int, str] = {
    0: "cp437",
    2: "cp850",
    17: "cp866",
    46: "cp1251",
    59: "cp866",
}

# Commands with a fixed number of argument bytes after ESC x / GS x (those this parser ignores).
_ESC_ARGS = {
    0x20: 1, 0x21: 1, 0x25: 1, 0x2D: 1, 0x32: 0, 0x33: 1, 0x3C: 0, 0x3D: 1, 0x3F: 1, 0x45: 1,
    0x47: 1, 0x4A: 1, 0x4B: 1, 0x4D: 1, 0x52: 1, 0x53: 0, 0x54: 1, 0x55: 1, 0x56: 1, 0x61: 1,
    0x63: 2, 0x64: 1, 0x65: 1, 0x72: 1, 0x74: 1, 0x75: 1, 0x76: 0, 0x7B: 1,
}  # fmt: skip
_GS_ARGS = {
    0x21: 1, 0x42: 1, 0x48: 1, 0x49: 1, 0x4C: 2, 0x50: 2, 0x57: 2, 0x62: 1, 0x66: 1, 0x68: 1,
    0x72: 1, 0x77: 1,
}  # fmt: skip

PaperState = Literal["ok", "near_end", "out"]


@dataclass
class DrawerPulse:
    pin: int  # 2 or 5
    on_ms: int
    off_ms: int


@dataclass
class PrintJob:
    """Everything one connection sent, decoded."""

    lines: list[str] = field(default_factory=list)
    cuts: int = 0
    drawer_pulses: list[DrawerPulse] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    code_pages: list[int] = field(default_factory=list)  # every ESC t n, in order
    status_queries: list[int] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)
    raw: bytes = b""
    connection: int = 0  # accept order, from 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class PrinterState:
    paper: PaperState = "ok"
    drawer_open: bool = False
    responding: bool = True  # False: offline, DLE EOT gets no answer at all
    # Paper runs out while printing: after this many more jobs with text the roll is empty
    # (the job that empties it is cut short: its last lines never reach paper).
    paper_left_jobs: int | None = None


def status_byte(state: PrinterState, n: int) -> int:
    value = 0x12  # fixed bits 1 and 4
    if n == 1:
        if state.drawer_open:
            value |= 0x04
        if state.paper == "out":
            value |= 0x08  # a printer with no paper goes offline
    elif n == 2 and state.paper == "out":
        value |= 0x20 | 0x40  # paper end stop; error occurred
    elif n == 4:
        if state.paper == "near_end":
            value |= 0x0C
        elif state.paper == "out":
            value |= 0x0C | 0x60
    return value


class EscPosDecoder:
    """Incremental ESC/POS parser: `feed` bytes as they come, returns the bytes to reply."""

    def __init__(self, code_pages: dict[int, str], state: PrinterState) -> None:
        self.code_pages = code_pages
        self.state = state
        self.job = PrintJob()
        self.code_page = 0
        self._buffer = bytearray()
        self._raw = bytearray()
        self._parts: list[str] = []
        self._text = bytearray()

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        self._raw += data
        replies = bytearray()
        while self._buffer:
            used, reply = self._step(self._buffer)
            if used == 0:
                break  # an incomplete command: wait for more bytes
            del self._buffer[:used]
            replies += reply
        return bytes(replies)

    def finish(self) -> PrintJob:
        if self._buffer:
            self.job.unknown.append(bytes(self._buffer))
        self._end_line(force=False)
        self.job.raw = bytes(self._raw)
        return self.job

    def _flush_text(self) -> None:
        if self._text:
            codec = self.code_pages.get(self.code_page, "cp437")
            self._parts.append(self._text.decode(codec, errors="replace"))
            self._text.clear()

    def _end_line(self, *, force: bool = True) -> None:
        self._flush_text()
        if self._parts or force:
            self.job.lines.append("".join(self._parts))
        self._parts = []

    def _step(self, buf: bytearray) -> tuple[int, bytes]:
        byte = buf[0]
        if byte == 0x0A:
            self._end_line()
            return 1, b""
        if byte == 0x0D:
            return 1, b""
        if byte == DLE:
            return self._dle(buf)
        if byte == ESC:
            return self._esc(buf), b""
        if byte == GS:
            return self._gs(buf), b""
        if byte == FS:
            if len(buf) < 2:
                return 0, b""
            self.job.unknown.append(bytes(buf[:2]))
            return 2, b""
        self._text.append(byte)
        return 1, b""

    def _dle(self, buf: bytearray) -> tuple[int, bytes]:
        if len(buf) < 3:
            return 0, b""
        if buf[1] == 0x04:
            n = buf[2]
            self.job.status_queries.append(n)
            if not self.state.responding:
                return 3, b""
            return 3, bytes([status_byte(self.state, n)])
        if buf[1] == 0x14:  # DLE DC4 fn m t: real-time drawer pulse
            if len(buf) < 5:
                return 0, b""
            if buf[2] == 1:
                self.job.drawer_pulses.append(DrawerPulse(2 if buf[3] == 0 else 5, buf[4] * 100, 0))
            return 5, b""
        self.job.unknown.append(bytes(buf[:2]))
        return 2, b""

    def _esc(self, buf: bytearray) -> int:
        if len(buf) < 2:
            return 0
        cmd = buf[1]
        if cmd == 0x40:  # ESC @: initialise, the code page goes back to 0
            self._flush_text()
            self.code_page = 0
            return 2
        if cmd == 0x70:  # ESC p m t1 t2
            if len(buf) < 5:
                return 0
            pin = 2 if buf[2] in (0, 48) else 5
            self.job.drawer_pulses.append(DrawerPulse(pin, buf[3] * 2, buf[4] * 2))
            return 5
        if cmd == 0x74:  # ESC t n
            if len(buf) < 3:
                return 0
            self._flush_text()
            self.code_page = buf[2]
            self.job.code_pages.append(buf[2])
            return 3
        if cmd == 0x64:  # ESC d n: print and feed
            if len(buf) < 3:
                return 0
            if self._parts or self._text:
                self._end_line()
            return 3
        if cmd == 0x2A:  # ESC * m nL nH d1..dk: bit image
            if len(buf) < 5:
                return 0
            width = buf[3] + 256 * buf[4]
            size = 5 + width * (3 if buf[2] in (32, 33) else 1)
            return size if len(buf) >= size else 0
        args = _ESC_ARGS.get(cmd)
        if args is None:
            self.job.unknown.append(bytes(buf[:2]))
            return 2
        return 2 + args if len(buf) >= 2 + args else 0

    def _gs(self, buf: bytearray) -> int:
        if len(buf) < 2:
            return 0
        cmd = buf[1]
        if cmd == 0x56:  # GS V m [n]: cut
            if len(buf) < 3:
                return 0
            size = 3 if buf[2] in (0, 1, 48, 49) else 4
            if len(buf) < size:
                return 0
            if self._parts or self._text:
                self._end_line()
            self.job.cuts += 1
            return size
        if cmd == 0x28:  # GS ( x pL pH data: 2D codes (k), graphics (L) and friends
            if len(buf) < 5:
                return 0
            size = 5 + buf[3] + 256 * buf[4]
            if len(buf) < size:
                return 0
            # GS ( k pL pH cn=49 fn=80 m=48 data: store QR data
            if buf[2] == 0x6B and size >= 8 and buf[5] == 49 and buf[6] == 80:
                self.job.qr_payloads.append(bytes(buf[8:size]).decode("utf-8", "replace"))
            return size
        if cmd == 0x76:  # GS v 0 m xL xH yL yH data: raster image
            if len(buf) < 8:
                return 0
            size = 8 + (buf[4] + 256 * buf[5]) * (buf[6] + 256 * buf[7])
            return size if len(buf) >= size else 0
        if cmd == 0x38:  # GS 8 L p1..p4 data: large graphics
            if len(buf) < 7:
                return 0
            size = 7 + int.from_bytes(buf[3:7], "little")
            return size if len(buf) >= size else 0
        args = _GS_ARGS.get(cmd)
        if args is None:
            self.job.unknown.append(bytes(buf[:2]))
            return 2
        return 2 + args if len(buf) >= 2 + args else 0


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        decoder = EscPosDecoder(self.server.code_pages, self.server.state)
        decoder.job.connection = number = self.server.accepted[self.client_address]
        first = True
        try:
            while chunk := self.request.recv(65536):
                if first and chunk[:2] == DLE_EOT:  # a status query: answered after earlier jobs
                    self.server.wait_for_earlier(number)
                first = False
                reply = decoder.feed(chunk)
                if reply:
                    self.request.sendall(reply)
        except OSError:
            pass  # the client went away; keep what arrived
        finally:
            job = decoder.finish()
            state = self.server.state
            if job.lines and state.paper_left_jobs is not None:
                state.paper_left_jobs -= 1
                if state.paper_left_jobs <= 0:
                    state.paper, state.paper_left_jobs = "out", None
                    job.lines = job.lines[: len(job.lines) // 2]  # the rest never printed
            self.server.add_job(job)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, code_pages: dict[int, str], state: PrinterState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.code_pages = code_pages
        self.state = state
        self.jobs: list[PrintJob] = []
        self.changed = threading.Condition()
        self.accepted: dict[object, int] = {}

    def process_request(self, request: object, client_address: object) -> None:
        self.accepted[client_address] = len(self.accepted) + 1  # the accepting thread: in order
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def wait_for_earlier(self, number: int, timeout: float = 2.0) -> None:
        """A printer works through its input in order: a status query is answered only after
        the connections accepted before it are done (a receipt that ran out of paper reports
        paper out to the query that follows it, however the threads are scheduled)."""
        with self.changed:
            self.changed.wait_for(
                lambda: sum(1 for j in self.jobs if j.connection < number) >= number - 1, timeout
            )

    def add_job(self, job: PrintJob) -> None:
        with self.changed:
            self.jobs.append(job)
            self.jobs.sort(key=lambda j: j.connection)
            self.changed.notify_all()


class PrinterSim:
    """A running simulated printer; `jobs` holds one decoded `PrintJob` per closed connection."""

    def __init__(self, server: _Server) -> None:
        self._server = server

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def state(self) -> PrinterState:
        return self._server.state

    @property
    def jobs(self) -> list[PrintJob]:
        with self._server.changed:
            return list(self._server.jobs)

    def printed(self, count: int = 0, timeout: float = 5.0) -> list[PrintJob]:
        """The jobs that put something on paper or pulsed the drawer (status polls left out),
        waiting up to `timeout` until at least `count` of them are decoded."""
        with self._server.changed:
            self._server.changed.wait_for(lambda: len(self._printed()) >= count, timeout)
            return self._printed()

    def _printed(self) -> list[PrintJob]:
        return [j for j in self._server.jobs if j.lines or j.cuts or j.drawer_pulses]

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[PrintJob]:
        """Block until at least `count` connections have finished; raises TimeoutError."""
        with self._server.changed:
            if not self._server.changed.wait_for(lambda: len(self._server.jobs) >= count, timeout):
                raise TimeoutError(f"expected {count} print jobs, got {len(self._server.jobs)}")
            return list(self._server.jobs)


@contextmanager
def printer_server(
    code_pages: dict[int, str] | None = None, state: PrinterState | None = None
) -> Iterator[PrinterSim]:
    """Start a simulated printer on 127.0.0.1 (a free port); stop it on exit."""
    server = _Server({**DEFAULT_CODE_PAGES, **(code_pages or {})}, state or PrinterState())
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="printer-sim", daemon=True
    )
    thread.start()
    try:
        yield PrinterSim(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
