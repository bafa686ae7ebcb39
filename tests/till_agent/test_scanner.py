"""Scanner specs: serial framing, the reader thread over loop:// and a pty, keyboard wedges."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import serial

from till_agent.scanner import (
    FrameSplitter,
    KeyboardWedgeDetector,
    KeyKind,
    ScannerState,
    ScannerStatus,
    SerialScanner,
    latin_from_russian_layout,
    serial_opener,
)
from till_agent.sim.scanner import VirtualSerialScanner

WAIT_S = 5.0


def ean13(body: str) -> str:
    digits = [int(d) for d in body]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return body + str((10 - total % 10) % 10)


def sample_codes(n: int = 50) -> list[str]:
    """Half EAN-13, half Code128 with upper and lower case letters and punctuation."""
    codes = []
    for i in range(n):
        if i % 2:
            codes.append(f"AB-{i:04d}/x{chr(ord('a') + i % 26)}Q.{i}")
        else:
            codes.append(ean13(f"460{i:09d}"))
    return codes


def drain(q: queue.Queue[str], n: int) -> list[str]:
    return [q.get(timeout=WAIT_S) for _ in range(n)]


# --- FrameSplitter ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [b"\r", b"\n", b"\r\n", b"\t"])
def test_each_suffix_ends_a_frame_and_crlf_gives_no_empty_extra(suffix: bytes) -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"4601234567893" + suffix + b"ABC-1" + suffix, now=0.0) == [
        "4601234567893",
        "ABC-1",
    ]
    assert not splitter.pending


def test_crlf_split_across_feeds_is_one_frame() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"123\r", 0.0) == ["123"]
    assert splitter.feed(b"\n456\r", 0.001) == ["456"]
    assert splitter.feed(b"\n", 0.002) == []


def test_a_frame_split_across_feeds_is_joined() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"46012", 0.000) == []
    assert splitter.feed(b"34567", 0.010) == []
    assert splitter.feed(b"893\r", 0.020) == ["4601234567893"]


def test_tab_is_data_noise_when_not_a_terminator() -> None:
    splitter = FrameSplitter(tab_ends_frame=False)
    assert splitter.feed(b"12\t34\r", 0.0) == ["1234"]


def test_prefix_is_stripped_and_frames_without_it_are_dropped() -> None:
    splitter = FrameSplitter(prefix=b"\x02S")
    assert splitter.feed(b"\x02S123\r999\r\x02SABC\r", 0.0) == ["123", "ABC"]
    assert splitter.dropped == 1


def test_frames_without_prefix_pass_when_not_required() -> None:
    splitter = FrameSplitter(prefix=b"]E0", require_prefix=False)
    assert splitter.feed(b"]E04601234567893\r999\r", 0.0) == ["4601234567893", "999"]


def test_partial_frame_is_flushed_after_the_idle_gap() -> None:
    splitter = FrameSplitter(idle_flush_s=0.05)
    assert splitter.feed(b"4601234567893", now=10.000) == []
    assert splitter.poll(now=10.049) == []
    assert splitter.poll(now=10.050) == ["4601234567893"]
    assert splitter.poll(now=10.200) == []


def test_a_stale_partial_is_flushed_before_new_bytes() -> None:
    splitter = FrameSplitter(idle_flush_s=0.05)
    assert splitter.feed(b"111", now=1.0) == []
    assert splitter.feed(b"222", now=2.0) == ["111"]
    assert splitter.feed(b"\r", now=2.01) == ["222"]


def test_idle_flush_can_be_disabled() -> None:
    splitter = FrameSplitter(idle_flush_s=None)
    splitter.feed(b"111", now=1.0)
    assert splitter.poll(now=100.0) == []
    assert splitter.feed(b"\r", now=100.0) == ["111"]


def test_garbage_is_cleaned_and_empty_frames_ignored() -> None:
    splitter = FrameSplitter()
    data = b"\r\r\n\x00\x1b\x7f\r  12\x0034 \r\xe9A\r"
    assert splitter.feed(data, 0.0) == ["1234", "éA"]


def test_an_overlong_frame_is_dropped_up_to_its_end() -> None:
    splitter = FrameSplitter(max_frame=8)
    assert splitter.feed(b"0123456789ABCDEF\r42\r", 0.0) == ["42"]
    assert splitter.dropped == 1


def test_an_overlong_frame_without_suffix_is_dropped_on_idle() -> None:
    splitter = FrameSplitter(max_frame=4, idle_flush_s=0.05)
    splitter.feed(b"123456", 0.0)
    assert splitter.poll(1.0) == []
    assert splitter.feed(b"42\r", 1.1) == ["42"]


# --- SerialScanner ------------------------------------------------------------------------------


class LoopPort:
    """Opens loop:// and keeps the port so the test can play the scanner on it."""

    def __init__(self) -> None:
        self.port: serial.SerialBase | None = None

    def __call__(self) -> serial.SerialBase:
        self.port = serial.serial_for_url("loop://", timeout=0.02)
        return self.port

    def scan(self, code: str, suffix: bytes = b"\r", prefix: bytes = b"") -> None:
        assert self.port is not None
        self.port.write(prefix + code.encode("latin-1") + suffix)


@pytest.fixture
def pty_scanner() -> Iterator[VirtualSerialScanner]:
    with VirtualSerialScanner() as sim:
        yield sim


def started(scanner: SerialScanner) -> SerialScanner:
    scanner.start()
    assert scanner.wait_connected(WAIT_S), scanner.status
    return scanner


SUFFIXES = [b"\r", b"\n", b"\r\n", b"\t"]


@pytest.mark.parametrize("suffix", SUFFIXES, ids=["CR", "LF", "CRLF", "TAB"])
def test_loop_port_delivers_50_codes_in_order(suffix: bytes) -> None:
    loop = LoopPort()
    scanner = started(SerialScanner(opener=loop))
    try:
        codes = sample_codes()
        for code in codes:
            loop.scan(code, suffix)
        assert drain(scanner.codes, len(codes)) == codes
        assert scanner.codes.empty()
    finally:
        scanner.stop()


@pytest.mark.parametrize("suffix", SUFFIXES, ids=["CR", "LF", "CRLF", "TAB"])
def test_pty_scanner_delivers_50_codes_in_order(
    pty_scanner: VirtualSerialScanner, suffix: bytes
) -> None:
    scanner = started(SerialScanner(pty_scanner.port_path, baudrate=115200))
    try:
        codes = sample_codes()
        for code in codes:
            pty_scanner.scan(code, suffix=suffix)
        assert drain(scanner.codes, len(codes)) == codes
        assert scanner.codes.empty()
    finally:
        scanner.stop()


def test_pty_scanner_with_prefix_and_slow_keys(pty_scanner: VirtualSerialScanner) -> None:
    scanner = started(SerialScanner(pty_scanner.port_path, splitter=FrameSplitter(prefix=b"]C1")))
    try:
        pty_scanner.scan("AB-12cd", prefix=b"]C1", per_char_delay=0.005)
        pty_scanner.scan("no-prefix")
        pty_scanner.scan("4601234567893", prefix=b"]C1")
        assert drain(scanner.codes, 2) == ["AB-12cd", "4601234567893"]
    finally:
        scanner.stop()


def scan_without_suffix(send: Callable[[str], None], scanner: SerialScanner) -> list[str]:
    received = []
    for code in sample_codes():
        send(code)
        received.append(scanner.codes.get(timeout=WAIT_S))
    return received


def test_loop_port_without_suffix_flushes_on_idle() -> None:
    loop = LoopPort()
    scanner = started(SerialScanner(opener=loop, splitter=FrameSplitter(idle_flush_s=0.03)))
    try:
        received = scan_without_suffix(lambda code: loop.scan(code, b""), scanner)
        assert received == sample_codes()
    finally:
        scanner.stop()


def test_pty_scanner_without_suffix_flushes_on_idle(pty_scanner: VirtualSerialScanner) -> None:
    scanner = started(
        SerialScanner(pty_scanner.port_path, splitter=FrameSplitter(idle_flush_s=0.03))
    )
    try:
        received = scan_without_suffix(lambda code: pty_scanner.scan(code, suffix=b""), scanner)
        assert received == sample_codes()
    finally:
        scanner.stop()


@pytest.mark.parametrize("transport", ["loop", "pty"])
def test_stop_returns_within_a_second_even_with_a_long_read_timeout(transport: str) -> None:
    with VirtualSerialScanner() as sim:
        if transport == "loop":
            opener = lambda: serial.serial_for_url("loop://", timeout=30)  # noqa: E731
        else:
            opener = serial_opener(sim.port_path, read_timeout=30)
        scanner = started(SerialScanner(opener=opener))
        began = time.monotonic()
        scanner.stop()
        assert time.monotonic() - began < 1.0
        assert scanner.status == ScannerStatus(ScannerState.STOPPED)


def test_callback_receives_codes_and_its_errors_do_not_kill_the_thread() -> None:
    loop = LoopPort()
    got: list[str] = []
    done = threading.Event()

    def on_code(code: str) -> None:
        if code == "boom":
            raise RuntimeError("handler bug")
        got.append(code)
        if code == "last":
            done.set()

    scanner = started(SerialScanner(opener=loop, on_code=on_code))
    try:
        for code in ("first", "boom", "last"):
            loop.scan(code)
        assert done.wait(WAIT_S)
        assert got == ["first", "last"]
        assert scanner.status.state is ScannerState.CONNECTED
    finally:
        scanner.stop()


class StatusLog:
    def __init__(self) -> None:
        self.states: list[ScannerStatus] = []
        self._cond = threading.Condition()

    def __call__(self, status: ScannerStatus) -> None:
        with self._cond:
            self.states.append(status)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[ScannerStatus]], bool]) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.states), WAIT_S), self.states


def test_unplugged_pty_is_reported_and_retried() -> None:
    log = StatusLog()
    sim = VirtualSerialScanner()
    scanner = started(SerialScanner(sim.port_path, on_status=log, backoff_initial_s=0.01))
    try:
        sim.close()
        log.wait_for(lambda s: sum(x.state is ScannerState.DISCONNECTED for x in s) >= 1)
        log.wait_for(lambda s: sum(x.state is ScannerState.CONNECTING for x in s) >= 2)
        disconnected = [x for x in log.states if x.state is ScannerState.DISCONNECTED]
        assert sim.port_path in disconnected[0].message
    finally:
        scanner.stop()
    assert log.states[-1] == ScannerStatus(ScannerState.STOPPED)


def test_port_that_fails_to_open_is_retried_until_it_appears() -> None:
    log = StatusLog()
    loop = LoopPort()
    attempts = 0

    def flaky_opener() -> serial.SerialBase:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise serial.SerialException("could not open port /dev/ttyACM0: No such file")
        return loop()

    scanner = SerialScanner(
        "/dev/ttyACM0", opener=flaky_opener, on_status=log, backoff_initial_s=0.01
    )
    scanner = started(scanner)
    try:
        loop.scan("4601234567893")
        assert scanner.codes.get(timeout=WAIT_S) == "4601234567893"
        states = [x.state for x in log.states]
        assert states == [
            ScannerState.CONNECTING,
            ScannerState.DISCONNECTED,
            ScannerState.CONNECTING,
            ScannerState.DISCONNECTED,
            ScannerState.CONNECTING,
            ScannerState.CONNECTED,
        ]
        assert "No such file" in log.states[1].message
    finally:
        scanner.stop()


def test_unexpected_open_error_is_reported_as_error_and_retried() -> None:
    log = StatusLog()
    loop = LoopPort()
    attempts = 0

    def buggy_opener() -> serial.SerialBase:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise KeyError("driver bug")
        return loop()

    scanner = started(
        SerialScanner("x", opener=buggy_opener, on_status=log, backoff_initial_s=0.01)
    )
    scanner.stop()
    error = next(x for x in log.states if x.state is ScannerState.ERROR)
    assert "driver bug" in error.message


# --- keyboard wedge -----------------------------------------------------------------------------


def type_keys(
    detector: KeyboardWedgeDetector, text: str, start: float, gap: float
) -> tuple[float, object]:
    now = start
    for ch in text:
        assert detector.key(ch, now) is None
        now += gap
    return now, detector.key("enter", now)


def test_fast_burst_is_a_scan() -> None:
    detector = KeyboardWedgeDetector()
    _, burst = type_keys(detector, "4601234567893", start=5.0, gap=0.004)
    assert burst is not None
    assert (burst.kind, burst.code) == (KeyKind.SCAN, "4601234567893")


def test_slow_typing_is_human() -> None:
    detector = KeyboardWedgeDetector()
    _, burst = type_keys(detector, "4601234567893", start=5.0, gap=0.120)
    assert burst is not None
    assert (burst.kind, burst.typed, burst.code) == (KeyKind.HUMAN, "4601234567893", "")


def test_fast_typist_at_50_ms_is_still_human() -> None:
    detector = KeyboardWedgeDetector()
    _, burst = type_keys(detector, "молоко", start=0.0, gap=0.050)
    assert burst is not None and burst.kind is KeyKind.HUMAN


def test_short_fast_burst_is_human() -> None:
    detector = KeyboardWedgeDetector()
    _, burst = type_keys(detector, "12", start=0.0, gap=0.002)
    assert burst is not None and burst.kind is KeyKind.HUMAN


def test_scan_after_human_text_yields_only_the_scanned_part() -> None:
    detector = KeyboardWedgeDetector()
    now = 0.0
    for ch in "хлеб ":
        detector.key(ch, now)
        now += 0.2
    _, burst = type_keys(detector, "4601234567893", start=now, gap=0.005)
    assert burst is not None
    assert burst.kind is KeyKind.SCAN
    assert burst.code == "4601234567893"
    assert burst.typed == "хлеб 4601234567893"


def test_cyrillic_layout_letters_are_mapped_back_to_latin() -> None:
    detector = KeyboardWedgeDetector()
    # "AB-12cd/x" typed by a wedge while the Russian layout is active.
    _, burst = type_keys(detector, "ФИ-12св.ч", start=0.0, gap=0.003)
    assert burst is not None
    assert (burst.kind, burst.code) == (KeyKind.SCAN, "AB-12cd/x")


def test_layout_mapping() -> None:
    assert latin_from_russian_layout("ЙЦУКЕН йцукен") == "QWERTY qwerty"
    assert latin_from_russian_layout('ФЫВА.1,2"3№4;5:6?7') == "ASDF/1?2@3#4$5^6&7"
    assert latin_from_russian_layout("хъжэбюё ХЪЖЭБЮЁ") == "[];',.` {}:\"<>~"
    assert latin_from_russian_layout("4601234567893") == "4601234567893"
    assert latin_from_russian_layout("AB-1.2/3") == "AB-1.2/3"
