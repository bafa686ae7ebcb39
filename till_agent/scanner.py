"""Barcode scanners: serial frames, the serial reader thread, keyboard-wedge detection.

`FrameSplitter` and `KeyboardWedgeDetector` are pure and take the clock as an argument, so their
timing is tested with a fake clock. `SerialScanner` is the only part that touches a port.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import serial

log = logging.getLogger(__name__)

DEFAULT_IDLE_FLUSH_S = 0.05
DEFAULT_MAX_FRAME = 256


# --- framing ------------------------------------------------------------------------------------


def clean_code(raw: bytes) -> str:
    """Decode a frame as latin-1 (never fails), drop control characters and outer spaces."""
    text = raw.decode("latin-1")
    return "".join(ch for ch in text if ch.isprintable()).strip()


@dataclass
class FrameSplitter:
    """Turns a serial byte stream into codes.

    A frame ends at CR, LF or CRLF (one frame, never an extra empty one), at Tab when
    `tab_ends_frame`, or when no byte came for `idle_flush_s` (scanners with no suffix).
    With a `prefix`, frames that start with it lose it; frames without it are dropped when
    `require_prefix`, else passed as they are. A frame longer than `max_frame` is noise: it is
    dropped up to its end.
    """

    prefix: bytes = b""
    require_prefix: bool = True
    tab_ends_frame: bool = True
    idle_flush_s: float | None = DEFAULT_IDLE_FLUSH_S
    max_frame: int = DEFAULT_MAX_FRAME
    dropped: int = 0
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _last_byte_at: float = field(default=0.0, repr=False)
    _overflow: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        ends = b"\r\n\t" if self.tab_ends_frame else b"\r\n"
        self._ends = frozenset(ends)

    @property
    def pending(self) -> bool:
        return bool(self._buf) or self._overflow

    def feed(self, data: bytes, now: float) -> list[str]:
        """Codes completed by `data`, which arrived at `now` (a stale partial is flushed first)."""
        codes = self.poll(now)
        for byte in data:
            if byte in self._ends:
                codes.extend(self._end_frame())
            elif self._overflow:
                continue
            elif len(self._buf) >= self.max_frame:
                self._buf.clear()
                self._overflow = True
                self.dropped += 1
            else:
                self._buf.append(byte)
        if data:
            self._last_byte_at = now
        return codes

    def poll(self, now: float) -> list[str]:
        """Codes completed by silence: the partial frame once `idle_flush_s` has passed."""
        if self.idle_flush_s is None or not self.pending:
            return []
        if now - self._last_byte_at < self.idle_flush_s:
            return []
        return self._end_frame()

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened)."""
        self._buf.clear()
        self._overflow = False

    def _end_frame(self) -> list[str]:
        raw = bytes(self._buf)
        overflow = self._overflow
        self.reset()
        if overflow or not raw:
            return []
        if self.prefix:
            if raw.startswith(self.prefix):
                raw = raw[len(self.prefix) :]
            elif self.require_prefix:
                self.dropped += 1
                return []
        code = clean_code(raw)
        return [code] if code else []


# --- serial reader thread -----------------------------------------------------------------------


class ScannerState(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    ERROR = "error"


@dataclass(frozen=True)
class ScannerStatus:
    state: ScannerState
    message: str = ""


class SerialPort(Protocol):
    """The part of a pyserial port the reader uses."""

    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = 1) -> bytes: ...
    def close(self) -> None: ...


PortOpener = Callable[[], SerialPort]


def serial_opener(url: str, *, baudrate: int = 9600, read_timeout: float = 0.02) -> PortOpener:
    """Opens `url` (a device path, `loop://`, `socket://host:port`, ...) as 8N1."""

    def open_port() -> SerialPort:
        port: SerialPort = serial.serial_for_url(
            url,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=read_timeout,
        )
        return port

    return open_port


class SerialScanner:
    """Reads a serial scanner on a thread; each code goes to `on_code` or to `codes` (a queue).

    The port is reopened with exponential backoff when it fails or disappears; `status` tells
    the UI what is going on and `on_status` is called on every change. Exceptions never end
    the thread silently: they are logged and reported as the `error` state.
    """

    def __init__(
        self,
        url: str = "",
        *,
        baudrate: int = 9600,
        splitter: FrameSplitter | None = None,
        on_code: Callable[[str], None] | None = None,
        on_status: Callable[[ScannerStatus], None] | None = None,
        opener: PortOpener | None = None,
        read_timeout: float = 0.02,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if opener is None and not url:
            raise ValueError("SerialScanner needs a port url or an opener")
        self.url = url
        self.splitter = splitter or FrameSplitter()
        self.codes: queue.Queue[str] = queue.Queue()
        self._on_code = on_code
        self._on_status = on_status
        self._open = opener or serial_opener(url, baudrate=baudrate, read_timeout=read_timeout)
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: SerialPort | None = None
        self._status = ScannerStatus(ScannerState.STOPPED)
        self._connected = threading.Event()

    @property
    def status(self) -> ScannerStatus:
        return self._status

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="serial-scanner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop reading and close the port; returns within about `timeout` seconds."""
        self._stop.set()
        port = self._port
        cancel = getattr(port, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()
            except Exception:  # the port may be closing under us; the timeout still ends read()
                log.debug("cancel_read failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("scanner thread did not stop within %.1f s", timeout)
            self._thread = None

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def __enter__(self) -> SerialScanner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_status(self, state: ScannerState, message: str = "") -> None:
        status = ScannerStatus(state, message)
        if status == self._status:
            return
        self._status = status
        if state is ScannerState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:
                log.exception("scanner status callback failed")

    def _emit(self, codes: Iterable[str]) -> None:
        for code in codes:
            if self._on_code is None:
                self.codes.put(code)
                continue
            try:
                self._on_code(code)
            except Exception:
                log.exception("scanner callback failed for code %r", code)

    def _run(self) -> None:
        delay = self._backoff_initial
        while not self._stop.is_set():
            self._set_status(ScannerState.CONNECTING, self.url)
            try:
                self._port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                self._set_status(ScannerState.DISCONNECTED, f"cannot open {self.url}: {exc}")
            except Exception as exc:
                log.exception("opening scanner port %s failed", self.url)
                self._set_status(ScannerState.ERROR, f"cannot open {self.url}: {exc!r}")
            else:
                delay = self._backoff_initial
                self._set_status(ScannerState.CONNECTED, self.url)
                self._read_until_failure(self._port)
                self._close_port()
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._backoff_max)
        self._close_port()
        self._set_status(ScannerState.STOPPED)

    def _read_until_failure(self, port: SerialPort) -> None:
        self.splitter.reset()
        while not self._stop.is_set():
            try:
                data = port.read(1)
                if data and port.in_waiting:
                    data += port.read(port.in_waiting)
            except (serial.SerialException, OSError) as exc:
                self._set_status(ScannerState.DISCONNECTED, f"{self.url}: {exc}")
                return
            except Exception as exc:
                log.exception("reading scanner port %s failed", self.url)
                self._set_status(ScannerState.ERROR, f"{self.url}: {exc!r}")
                return
            now = self._clock()
            self._emit(self.splitter.feed(data, now) if data else self.splitter.poll(now))

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        try:
            port.close()
        except Exception:
            log.debug("closing scanner port failed", exc_info=True)


# --- keyboard wedge -----------------------------------------------------------------------------

_RU_LETTERS = "йцукенгшщзхъфывапролджэячсмитьбюё"
_EN_LETTERS = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_RU_SHIFTED = "ЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮЁ"
_EN_SHIFTED = 'QWERTYUIOP{}ASDFGHJKL:"ZXCVBNM<>~'
# Keys whose character differs between the layouts besides letters (Russian -> US key).
_RU_PUNCT = {'"': "@", "№": "#", ";": "$", ":": "^", "?": "&", ".": "/", ",": "?", "/": "|"}
RU_TO_LATIN: dict[int, str] = str.maketrans(
    {**dict(zip(_RU_LETTERS + _RU_SHIFTED, _EN_LETTERS + _EN_SHIFTED, strict=True)), **_RU_PUNCT}
)
RU_TO_LATIN_KEYS = frozenset(_RU_LETTERS + _RU_SHIFTED)


def latin_from_russian_layout(text: str) -> str:
    """What the keys would have typed on a US layout, if `text` was typed on ЙЦУКЕН.

    Only applied when the text holds Cyrillic (the sign that the Russian layout was active);
    otherwise punctuation such as '.' is taken as it is. Digits are the same on both layouts.
    """
    if not any(ch in RU_TO_LATIN_KEYS for ch in text):
        return text
    return text.translate(RU_TO_LATIN)


ENTER_KEYS = frozenset({"\r", "\n", "enter"})


class KeyKind(StrEnum):
    SCAN = "scan"
    HUMAN = "human"


@dataclass(frozen=True)
class KeyBurst:
    """What was typed up to an Enter: `code` is the scanned part (Latin), `typed` is everything."""

    kind: KeyKind
    typed: str
    code: str


@dataclass
class KeyboardWedgeDetector:
    """Tells a keyboard-wedge scanner (1-10 ms a key, then Enter) from a person (50+ ms a key).

    Feed every printable key and Enter with its time. On Enter the trailing run of keys whose
    gaps are at most `max_gap_s` is a scan when it has `min_length` keys and an average gap
    (Enter included) of at most `max_avg_gap_s`. Call `reset()` when the field is edited
    otherwise (backspace, paste, focus change).
    """

    max_avg_gap_s: float = 0.030
    max_gap_s: float = 0.080
    min_length: int = 4
    _keys: list[tuple[str, float]] = field(default_factory=list, repr=False)

    def reset(self) -> None:
        self._keys.clear()

    def key(self, char: str, now: float) -> KeyBurst | None:
        """Record a key; on Enter return what the burst was, otherwise None."""
        if char not in ENTER_KEYS:
            self._keys.append((char, now))
            return None
        keys, self._keys = self._keys, []
        typed = "".join(ch for ch, _ in keys)
        start = len(keys)
        prev = now
        while start > 0 and prev - keys[start - 1][1] <= self.max_gap_s:
            start -= 1
            prev = keys[start][1]
        run = keys[start:]
        if len(run) >= self.min_length:
            avg_gap = (now - run[0][1]) / len(run)
            if avg_gap <= self.max_avg_gap_s:
                code = latin_from_russian_layout("".join(ch for ch, _ in run))
                return KeyBurst(KeyKind.SCAN, typed, code)
        return KeyBurst(KeyKind.HUMAN, typed, "")
