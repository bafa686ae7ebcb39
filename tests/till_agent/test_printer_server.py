"""till_agent.printer transports and status, against the simulated TCP ESC/POS printer."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from till_agent.printer import (
    OFFLINE,
    DummyTransport,
    FileTransport,
    NetworkTransport,
    PaperState,
    PrinterError,
    PrinterStatus,
    TransportSettings,
    make_transport,
)
from till_agent.sim import EscPosDecoder, PrinterSim, PrinterState, printer_server

HELLO = "Привет, мир".encode("cp866")


@pytest.fixture
def printer() -> Iterator[PrinterSim]:
    with printer_server() as sim:
        yield sim


def transport_to(printer: PrinterSim) -> NetworkTransport:
    return NetworkTransport(printer.host, printer.port, timeout=2, status_timeout=0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_ready_printer_reports_paper_ok_and_drawer_closed(printer: PrinterSim) -> None:
    assert transport_to(printer).status() == PrinterStatus(
        online=True, paper=PaperState.OK, drawer_open=False
    )
    assert printer.wait_for_jobs(1)[0].status_queries == [1, 4]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (PrinterState(paper="near_end"), PrinterStatus(True, PaperState.NEAR_END, False)),
        (PrinterState(paper="out"), PrinterStatus(False, PaperState.OUT, False)),
        (PrinterState(drawer_open=True), PrinterStatus(True, PaperState.OK, True)),
        (PrinterState(responding=False), OFFLINE),
    ],
    ids=["near-end", "paper-out", "drawer-open", "offline"],
)
def test_status_reports_the_printer_state(state: PrinterState, expected: PrinterStatus) -> None:
    with printer_server(state=state) as printer:
        status = transport_to(printer).status()

    assert status == expected
    assert status.ready == (
        expected.paper in (PaperState.OK, PaperState.NEAR_END) and status.online
    )


def test_a_printer_that_does_not_answer_is_offline_never_paper_ok(printer: PrinterSim) -> None:
    printer.state.responding = False

    status = transport_to(printer).status()

    assert status.online is False
    assert status.paper is PaperState.UNKNOWN
    assert not status.ready


def test_status_of_an_unreachable_printer_is_offline() -> None:
    assert NetworkTransport("127.0.0.1", free_port(), status_timeout=0.2).status() == OFFLINE


def test_sending_to_a_refused_port_is_a_printer_error_the_cashier_can_read() -> None:
    transport = NetworkTransport("127.0.0.1", free_port(), timeout=1)

    with pytest.raises(PrinterError) as caught:
        transport.send(b"\x1b@hello\n")

    assert caught.value.code == "unreachable"
    assert caught.value.message("ru").startswith("Принтер не отвечает")
    assert caught.value.message("en").startswith("The printer does not answer")


def test_one_send_is_one_job(printer: PrinterSim) -> None:
    transport_to(printer).send(b"\x1b@\x1bt\x11" + HELLO + b"\n\x1dVA\x03")

    (job,) = printer.wait_for_jobs(1)

    assert job.lines == ["Привет, мир"]
    assert job.cuts == 1
    assert job.raw.endswith(b"\x1dVA\x03")


def test_init_resets_the_code_page_to_zero_like_a_real_printer() -> None:
    decoder = EscPosDecoder({0: "cp437", 17: "cp866"}, PrinterState())

    decoder.feed(b"\x1b@\x1bt\x11" + HELLO + b"\n\x1b@" + HELLO + b"\n")
    job = decoder.finish()

    assert job.lines == ["Привет, мир", HELLO.decode("cp437")]


def test_a_code_page_switch_mid_line_decodes_each_part_with_its_own_page() -> None:
    decoder = EscPosDecoder({0: "cp437", 17: "cp866"}, PrinterState())

    decoder.feed(
        b"\x1bt\x11" + "Цена ".encode("cp866") + b"\x1bt\x00" + "«1»".encode("cp437") + b"\n"
    )

    assert decoder.finish().lines == ["Цена «1»"]


def test_the_decoder_copes_with_commands_split_across_reads() -> None:
    stream = (
        b"\x1b@\x1bt\x11"
        + HELLO
        + b"\n\x1bp\x00\x32\x64"
        + b"\x1d(k\x07\x001P0abcd"
        + b"\x1dVA\x03"
        + b"\x10\x04\x04"
    )
    decoder = EscPosDecoder({0: "cp437", 17: "cp866"}, PrinterState(paper="out"))

    replies = b"".join(decoder.feed(stream[i : i + 1]) for i in range(len(stream)))
    job = decoder.finish()

    assert job.lines == ["Привет, мир"]
    assert [(p.pin, p.on_ms, p.off_ms) for p in job.drawer_pulses] == [(2, 100, 200)]
    assert job.qr_payloads == ["abcd"]
    assert job.cuts == 1
    assert replies == bytes([0x12 | 0x0C | 0x60])


def test_a_configured_code_page_mapping_is_used() -> None:
    decoder = EscPosDecoder({0: "cp437", 46: "cp1251"}, PrinterState())

    decoder.feed(b"\x1bt\x2e" + "Сыр".encode("cp1251") + b"\n")

    assert decoder.finish().lines == ["Сыр"]


def test_the_file_transport_appends_each_job_in_one_write(tmp_path: Path) -> None:
    path = tmp_path / "lp0"
    transport = make_transport(TransportSettings(kind="file", path=str(path)))

    transport.send(b"one")
    transport.send(b"two")

    assert path.read_bytes() == b"onetwo"
    assert transport.status().paper is PaperState.UNKNOWN


def test_a_missing_device_is_a_printer_error(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "no-such-dir" / "lp0")

    with pytest.raises(PrinterError) as caught:
        transport.send(b"x")

    assert caught.value.code == "device_missing"
    assert "кабель" in caught.value.message("ru")


def test_the_dummy_transport_keeps_jobs_in_memory() -> None:
    transport = make_transport(TransportSettings(kind="dummy"))
    assert isinstance(transport, DummyTransport)

    transport.send(b"\x1b@")

    assert transport.jobs == [b"\x1b@"]
    assert transport.status().ready


def test_an_unknown_transport_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown printer kind"):
        make_transport(TransportSettings(kind="usb"))  # type: ignore[arg-type]
