"""till_agent.receipt: receipts rendered to ESC/POS, sent over TCP, decoded by the printer peer."""

import atexit
import datetime as dt
import os
import shutil
import tempfile

# python-escpos pickles its capabilities on import: a disposable directory per test process.
_PICKLE_DIR = tempfile.mkdtemp(prefix="kassa-test-escpos-")
atexit.register(shutil.rmtree, _PICKLE_DIR, True)
os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", _PICKLE_DIR)

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from kassa.till_sim import Item, SimTill  # noqa: E402
from till_agent.printer import NetworkTransport  # noqa: E402
from till_agent.receipt import (  # noqa: E402
    Dummy,
    Encoder,
    PrinterLayout,
    ReceiptRenderer,
    StoreHeader,
    drawer_kick_bytes,
    format_amount,
    has_cash_tender,
)
from till_agent.sim import PrinterSim, PrintJob, printer_server  # noqa: E402

AT = dt.datetime(2025, 3, 14, 9, 5, tzinfo=dt.UTC)  # 12:05 in Moscow
STORE = StoreHeader(
    name="Магазин «Ромашка»",
    address="г. Тверь, ул. Советская, 5",
    header_text="ИНН 7700000000",
    footer_text="Спасибо за покупку!",
)
MILK = Item(1, "Молоко 3,2% 1 л", 2000, 8990, 1000)
CHEESE = Item(2, "Сыр Российский", 350, 89900, 2200)
BREAD = Item(3, "Хлеб бородинский", 1000, 4500, None)


@pytest.fixture
def printer() -> Iterator[PrinterSim]:
    with printer_server() as sim:
        yield sim


@pytest.fixture
def renderer() -> ReceiptRenderer:
    return ReceiptRenderer(STORE, PrinterLayout(profile="TM-T88V", width=42), till_name="Касса 2")


def cash_sale(till: SimTill | None = None):  # type: ignore[no-untyped-def]
    till = till or SimTill(cashier_id=1)
    return till.sale([MILK, CHEESE, BREAD], receipt_discount_minor=1000, at=AT)


def print_one(printer: PrinterSim, data: bytes) -> PrintJob:
    already = len(printer.jobs)
    NetworkTransport(printer.host, printer.port).send(data)
    return printer.wait_for_jobs(already + 1)[-1]


def test_a_cyrillic_cash_receipt_decodes_with_everything_on_it(
    printer: PrinterSim, renderer: ReceiptRenderer
) -> None:
    sale = cash_sale()
    assert has_cash_tender(sale)

    job = print_one(printer, renderer.render(sale, cashier_name="Иванова А.", kick_drawer=True))

    assert job.lines[:3] == ['Магазин "Ромашка"', "г. Тверь, ул. Советская, 5", "ИНН 7700000000"]
    assert "Чек № 1                   14.03.2025 12:05" in job.lines
    assert "Касса                              Касса 2" in job.lines
    assert "Кассир                          Иванова А." in job.lines
    assert "1. Молоко 3,2% 1 л" in job.lines
    assert "  2 x 89,90                        =179,80" in job.lines
    assert "2. Сыр Российский" in job.lines
    assert "  0,350 кг x 899,00                =314,65" in job.lines
    assert "3. Хлеб бородинский" in job.lines
    assert "  Скидка                             -5,83" in job.lines
    assert f"ИТОГО {'=' + format_amount(sale.total_minor, 'RUB') + ' руб.':>36}" in job.lines
    assert "в т.ч. НДС 10%                       16,04" in job.lines
    assert "в т.ч. НДС 22%                       55,69" in job.lines
    assert "без НДС                              44,16" in job.lines
    assert "Наличные                            600,00" in job.lines
    assert f"Сдача {format_amount(sale.change_minor, 'RUB'):>36}" in job.lines
    assert job.lines[-1] == "Спасибо за покупку!"
    assert job.qr_payloads == [str(sale.sale_uuid)]
    assert job.cuts == 1
    assert len(job.drawer_pulses) == 1
    assert job.code_pages == [17]
    assert job.unknown == []
    assert all(len(line) <= 42 for line in job.lines)
    assert not any("?" in line for line in job.lines)


def test_the_sale_under_test_adds_up() -> None:
    sale = cash_sale()
    assert sale.total_minor == 179_80 + 314_65 + 45_00 - 10_00
    assert sale.payments[0].amount_minor - sale.change_minor == sale.total_minor


def test_no_drawer_pulse_unless_asked(printer: PrinterSim, renderer: ReceiptRenderer) -> None:
    sale = SimTill(cashier_id=1).sale([MILK], tender="card", at=AT)
    assert not has_cash_tender(sale)

    job = print_one(printer, renderer.render(sale, cashier_name="Иванова А."))

    assert job.drawer_pulses == []
    assert "Карта                               179,80" in job.lines
    assert "Код авторизации                     A1B2C3" in job.lines
    assert not any(line.startswith("Сдача") for line in job.lines)


def test_the_drawer_pulse_uses_the_configured_pin_and_length(printer: PrinterSim) -> None:
    layout = PrinterLayout(drawer_pin=5, drawer_pulse_ms=120, drawer_off_ms=240)
    renderer = ReceiptRenderer(STORE, layout)
    assert drawer_kick_bytes(layout) == b"\x1bp\x01\x3c\x78"

    job = print_one(printer, renderer.render(cash_sale(), cashier_name="К", kick_drawer=True))

    assert [(p.pin, p.on_ms, p.off_ms) for p in job.drawer_pulses] == [(5, 120, 240)]


def test_100_receipts_through_one_transport_all_decode_in_cyrillic(
    printer: PrinterSim, renderer: ReceiptRenderer
) -> None:
    till = SimTill(cashier_id=1)
    transport = NetworkTransport(printer.host, printer.port)
    sales = [cash_sale(till) for _ in range(100)]

    for sale in sales:
        transport.send(renderer.render(sale, cashier_name="Иванова А.", kick_drawer=True))
    jobs = printer.wait_for_jobs(100)

    for number in (1, 2, 100):
        job = jobs[number - 1]
        assert job.lines[0] == 'Магазин "Ромашка"', number
        assert "3. Хлеб бородинский" in job.lines, number
        assert any(line.startswith(f"Чек № {number} ") for line in job.lines), number
        assert job.qr_payloads == [str(sales[number - 1].sale_uuid)]
    assert all("2. Сыр Российский" in job.lines for job in jobs)


def test_the_simulator_catches_the_library_encoder_bug_after_init(printer: PrinterSim) -> None:
    """One long-lived Dummy: after ESC @ python-escpos skips ESC t, the 2nd receipt is garbled."""
    dummy = Dummy(profile="TM-T88V", magic_encode_args={"encoder": Encoder({"CP866": 17})})
    for _ in range(2):
        dummy.hw("INIT")
        dummy.textln("Молоко")

    job = print_one(printer, dummy.output)

    assert job.lines[0] == "Молоко"
    assert job.lines[1] != "Молоко"


def test_a_return_is_marked_and_shows_the_refund(
    printer: PrinterSim, renderer: ReceiptRenderer
) -> None:
    till = SimTill(cashier_id=1)
    original = cash_sale(till)
    refund = till.refund(original, [(1, 1000)], at=AT)

    job = print_one(printer, renderer.render(refund, cashier_name="Иванова А."))

    assert "ВОЗВРАТ" in job.lines
    assert "Возврат по чеку" in job.lines
    assert str(original.sale_uuid) in job.lines
    assert "Наличные                             88,24" in job.lines
    assert "Выплачено                            88,24" in job.lines
    assert job.drawer_pulses == []


def test_english_labels_on_narrow_paper(printer: PrinterSim) -> None:
    renderer = ReceiptRenderer(
        StoreHeader(name="Corner Shop"), PrinterLayout(width=32, locale="en"), till_name="T1"
    )
    sale = cash_sale()

    job = print_one(printer, renderer.render(sale, cashier_name="Ann"))

    assert all(len(line) <= 32 for line in job.lines)
    assert "  0,350 kg x 899,00      =314,65" in job.lines
    assert f"TOTAL {'=' + format_amount(sale.total_minor, 'RUB') + ' RUB':>26}" in job.lines
    assert "no VAT                     44,16" in job.lines
    assert "Cash                      600,00" in job.lines


def test_a_printer_without_a_cutter_gets_no_cut_command(printer: PrinterSim) -> None:
    renderer = ReceiptRenderer(STORE, PrinterLayout(profile="POS-5890", width=32))

    job = print_one(printer, renderer.render(cash_sale(), cashier_name="Иванова А."))

    assert job.cuts == 0
    assert job.code_pages == [59]
    assert job.lines[0] == 'Магазин "Ромашка"'


def test_a_profile_without_cp866_needs_the_code_page_number() -> None:
    with pytest.raises(ValueError, match="code page number"):
        ReceiptRenderer(STORE, PrinterLayout(profile="simple"))
    assert ReceiptRenderer(STORE, PrinterLayout(profile="simple", code_page=17)).code_page == 17


@pytest.mark.parametrize(
    ("amount", "text"),
    [(0, "0,00"), (5, "0,05"), (123450, "1 234,50"), (100000000, "1 000 000,00"), (-250, "-2,50")],
)
def test_money_is_space_grouped_with_a_decimal_comma(amount: int, text: str) -> None:
    assert format_amount(amount, "RUB") == text
