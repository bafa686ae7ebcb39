"""The till screen, driven by keys (and a serial scanner on a pty) against the decoding TCP
printer simulator: login, shifts, scanning, weighed goods, discounts, payments, parking,
returns, reports, printer faults and the status bar. Assertions are on the journal, the
decoded paper and what the screen shows."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from textual.widgets import Input

from tests.till_agent.shop import BREAD, CHEESE, MILK, PINS, TEA, Clock, make_till, scale_label
from tests.till_agent.ui_helpers import KeyClock, screen_text, shown, until
from till_agent.basket import Payment
from till_agent.core import Till
from till_agent.journal import QueueStatus
from till_agent.messages import TillError, money
from till_agent.messages import text as message_text
from till_agent.printer import NetworkTransport
from till_agent.receipt import PrinterLayout
from till_agent.runtime import AgentStatus
from till_agent.scanner import SerialScanner
from till_agent.sim.printer_server import PrinterSim
from till_agent.sim.scanner import VirtualSerialScanner
from till_agent.ui import TillApp
from till_agent.ui.app import till_status
from till_agent.ui.dialogs import AskScreen, PickScreen, PrintProblemScreen, ReportScreen
from till_agent.ui.entry import format_qty, parse_money, parse_qty
from till_agent.ui.login import LoginScreen
from till_agent.ui.payment import PaymentScreen
from till_agent.ui.returns import ReturnScreen
from till_agent.ui.selling import SellingScreen
from till_agent.ui.widgets import BasketTable, ScanInput
from wire.v1 import reconcile_sale

SIZE = (150, 48)


def new_till(tmp_path, sim: PrinterSim, clock: Clock, locale: str = "ru") -> Till:  # type: ignore[no-untyped-def]
    # Generous: under a loaded CI a slow answer must not read as "printer offline".
    transport = NetworkTransport(sim.host, sim.port, timeout=5.0, status_timeout=3.0)
    return make_till(
        tmp_path, transport, layout=PrinterLayout(width=42, locale=locale), clock=clock
    )  # type: ignore[arg-type]


@pytest.fixture
def till(tmp_path, sim: PrinterSim, clock: Clock) -> Iterator[Till]:  # type: ignore[no-untyped-def]
    t = new_till(tmp_path, sim, clock)
    yield t
    t.journal.close()


def opened(till: Till, float_minor: int = 500_00) -> Till:
    """Given: cashier 1 has opened a shift (through the core, before the screen starts)."""
    till.login(1, PINS[1])
    till.open_shift(float_minor)
    till.logout()
    return till


async def enter(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    """Put `text` in the focused field and press Enter (typing is tested where it matters).
    A dialog that has just appeared may not have focused its field yet: wait for it."""
    await until(pilot, lambda: isinstance(pilot.app.focused, Input), "a focused field")
    field = pilot.app.focused
    assert isinstance(field, Input), field
    field.value = text
    await pilot.press("enter")


async def log_in(pilot, pin: str = PINS[1]) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("enter")  # the first cashier is highlighted: go to the PIN
    await enter(pilot, pin)
    await until(pilot, lambda: not isinstance(pilot.app.screen, LoginScreen), "logged in")


async def pay(pilot, *, cash: str = "", card: str = "", approval: str = "") -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f10")
    await until(pilot, lambda: isinstance(pilot.app.screen, PaymentScreen), "the payment dialog")
    screen = pilot.app.screen
    screen.query_one("#cash", Input).value = cash
    screen.query_one("#card", Input).value = card
    screen.query_one("#approval", Input).value = approval
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, PaymentScreen), "the payment")
    await until(pilot, lambda: not pilot.app.busy, "printing")


def app_for(till: Till, **kwargs) -> TillApp:  # type: ignore[no-untyped-def]
    return TillApp(till, key_clock=KeyClock(), **kwargs)


# --- cashier input ------------------------------------------------------------------------------


def test_amounts_and_quantities_are_read_as_integers_and_bad_input_names_the_field() -> None:
    assert parse_money("12,50", "Наличные", "ru") == 1250
    assert parse_money("12.5", "Cash", "en") == 1250
    assert parse_money(" 1 234 ", "Cash", "en") == 123400
    assert parse_money("0,07", "Cash", "ru") == 7
    assert parse_qty("0,350", "Вес", "ru", weighed=True) == 350
    assert parse_qty("2", "Вес", "ru", weighed=True) == 2000
    assert parse_qty("3", "Количество", "ru", weighed=False) == 3000
    for bad in ("12,505", "-1", "abc", "1,2,3", ""):
        with pytest.raises(TillError) as refused:
            parse_money(bad, "Наличные", "ru")
        assert refused.value.text("ru") == "Наличные: введите число, например 12,50"
    with pytest.raises(TillError, match="Quantity"):
        parse_qty("1,5", "Quantity", "en", weighed=False)
    with pytest.raises(TillError, match=r"0\.350"):
        parse_qty("0,3505", "Weight", "en", weighed=True)
    assert format_qty(350, "ru", weighed=True) == "0,350"
    assert format_qty(1000, "en", weighed=True) == "1.000"
    assert format_qty(2000, "ru", weighed=False) == "2"


# --- login and shift ----------------------------------------------------------------------------


def test_login_refuses_a_wrong_pin_then_opens_the_shift(till: Till) -> None:
    async def scenario() -> None:
        app = app_for(till)
        async with app.run_test(size=SIZE) as pilot:
            text = screen_text(app.screen)
            assert "Иванова Мария" in text and "Петров Олег" in text
            await pilot.press("enter")
            await pilot.press(*"0000", "enter")  # typed like a person
            assert shown(app, "#message") == "Неверный кассир или PIN"
            assert shown(app, "#pin") == ""
            await pilot.press(*PINS[1], "enter")
            await until(pilot, lambda: isinstance(app.screen, SellingScreen))
            assert shown(app, "#banner") == message_text("no_shift", "ru")
            await pilot.press(*MILK, "enter")
            assert "Смена не открыта" in shown(app, "#message")

            await pilot.press("f8")
            assert isinstance(app.screen, PickScreen)
            assert "Открыть смену" in screen_text(app.screen)
            await pilot.press("enter")
            await enter(pilot, "500,00")
            await until(pilot, lambda: isinstance(app.screen, SellingScreen))
            assert shown(app, "#message") == "Смена открыта"
            assert not app.screen.query_one("#banner").display
            await until(pilot, lambda: "Кассир: Иванова Мария" in shown(app, "#status"))
            assert "Смена с" in shown(app, "#status")
            assert "принтер готов" in shown(app, "#status")

    asyncio.run(scenario())
    state = till.open_shift_state()
    assert state is not None and state.cashier_id == 1
    [event] = till.journal.shift_events(state.shift_uuid)
    assert (event.kind, event.amount_minor) == ("open", 500_00)


# --- selling ------------------------------------------------------------------------------------


def test_keyboard_and_serial_scans_weighed_goods_discount_and_mixed_payment(
    till: Till, sim: PrinterSim
) -> None:
    opened(till)
    with VirtualSerialScanner() as port:
        scanner = SerialScanner(port.port_path)

        async def scenario() -> None:
            app = app_for(till, scanner=scanner)
            async with app.run_test(size=SIZE) as pilot:
                await log_in(pilot)
                assert await asyncio.to_thread(scanner.wait_connected, 5)

                # A keyboard-wedge (or a cashier) types the digits and Enter.
                await pilot.press(*MILK, "enter")
                assert shown(app, "#message").startswith("Добавлено: Молоко")
                # The serial scanner on the pty.
                port.scan(BREAD)
                await until(pilot, lambda: len(till.basket.lines) == 2, "the serial scan")
                # A weighed product by its plain barcode asks for the weight.
                port.scan(CHEESE)
                await until(pilot, lambda: isinstance(app.screen, AskScreen), "the weight")
                assert "введите вес в кг" in screen_text(app.screen)
                await enter(pilot, "0,35")
                assert isinstance(app.screen, SellingScreen)
                # A scale label carries its weight.
                port.scan(scale_label("77", 1234))
                await until(pilot, lambda: len(till.basket.lines) == 4, "the scale label")

                rows = app.screen.query_one("#basket", BasketTable).rows_text()
                assert [(r[1][:5], r[2]) for r in rows] == [
                    ("Молок", "1"),
                    ("Хлеб ", "1"),
                    ("Сыр Р", "0,350 кг"),
                    ("Яблок", "1,234 кг"),
                ]
                # A line discount over the cashier's 10 % limit is refused in the dialog.
                await pilot.press("up")  # the cheese line
                await pilot.press("f3")
                await enter(pilot, "40")
                assert isinstance(app.screen, AskScreen)
                assert "Скидка больше вашего лимита" in shown(app, "#message")
                await enter(pilot, "30")
                assert isinstance(app.screen, SellingScreen)
                assert till.basket.lines[2].discount_minor == 30_00

                total = till.basket.totals().total_minor
                assert total == 8990 + 5450 + (31465 - 3000) + 19732
                assert shown(app, "#total-text") == f"ИТОГО: {money(total)}"

                # Card and cash together; change comes from the cash.
                await pay(pilot, card="200", approval="A1B2C3", cash="500")
                change = 200_00 + 500_00 - total
                assert shown(app, "#message") == f"Чек № 1 оплачен. Сдача: {money(change)}"
                assert shown(app, "#total-note") == f"Сдача: {money(change)}"
                assert app.screen.query_one("#basket").row_count == 0

        try:
            asyncio.run(scenario())
        finally:
            scanner.stop()

    [sale] = till.journal.sales()
    assert reconcile_sale(sale) == []
    assert [(p.tender, p.amount_minor, p.approval_code) for p in sale.payments] == [
        ("card", 200_00, "A1B2C3"),
        ("cash", 500_00, None),
    ]
    assert sale.change_minor == 200_00 + 500_00 - sale.total_minor
    assert [line.qty_milli for line in sale.lines] == [1000, 1000, 350, 1234]
    [job] = sim.printed()
    for expected in (
        "Молоко",
        "0,350 кг x 899,00",
        "Скидка",
        "ИТОГО",
        "в т.ч. НДС 10%",
        "Карта",
        "A1B2C3",
        "Наличные",
        "Сдача",
    ):
        assert expected in job.text, expected
    assert job.qr_payloads == [str(sale.sale_uuid)]
    assert job.cuts == 1
    assert len(job.drawer_pulses) == 1  # cash was taken


def test_wedge_scanner_bursts_in_the_russian_layout_and_typed_search(till: Till) -> None:
    opened(till)
    keys = KeyClock(step=0.004)  # a wedge scanner: 4 ms a key

    async def scenario() -> None:
        app = TillApp(till, key_clock=keys)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot)
            # Code128 "AB-12cd" typed by the wedge while the Russian layout is on.
            await pilot.press(*"ФИ-12св", "enter")
            assert shown(app, "#message") == "Товар не найден: AB-12cd"
            # A person types a name (200 ms a key): a search, picked from a list.
            keys.step = 0.2
            await pilot.press(*"хлеб", "enter")
            assert isinstance(app.screen, PickScreen)
            assert "Хлеб Бородинский" in screen_text(app.screen)
            await pilot.press("enter")
            assert [line.name for line in till.basket.lines] == ["Хлеб Бородинский"]
            # A weighed product picked by name asks for its weight.
            await pilot.press(*"сыр", "enter")
            await pilot.press("enter")
            assert isinstance(app.screen, AskScreen)
            await enter(pilot, "1,5")
            assert till.basket.lines[1].qty_milli == 1500
            # F2 changes the quantity, Del voids the selected line.
            await pilot.press("up", "f2")
            await enter(pilot, "3")
            assert till.basket.lines[0].qty_milli == 3000
            await pilot.press("delete")
            assert [line.name for line in till.basket.lines] == ["Сыр Российский весовой"]
            assert shown(app, "#message") == "Сторно: Хлеб Бородинский"
            await pilot.press(*"ананас", "enter")
            assert shown(app, "#message") == "Ничего не найдено: ананас"

    asyncio.run(scenario())


def test_park_resume_and_a_card_only_sale_without_drawer_pulse(till: Till, sim: PrinterSim) -> None:
    opened(till)

    async def scenario() -> None:
        app = app_for(till)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot)
            await enter(pilot, BREAD)
            await pilot.press("f4")
            await enter(pilot, "5")
            assert shown(app, "#total-text") == f"ИТОГО: {money(5450 - 500)}"
            await pilot.click("#do-park")  # the side button, by mouse or touch
            assert shown(app, "#message") == "Чек отложен (№1)"
            assert isinstance(app.focused, ScanInput)
            assert till.basket.lines == []

            await enter(pilot, TEA)
            await pilot.press("f10")
            await pilot.press("f3")  # the rest by card; the focus goes to the approval code
            await pilot.press(*"777", "enter")
            await until(pilot, lambda: isinstance(app.screen, SellingScreen) and not app.busy)
            assert shown(app, "#message").startswith("Чек № 1 оплачен")

            await pilot.press("f7")
            assert isinstance(app.screen, PickScreen)
            assert "№1" in screen_text(app.screen) and money(4950) in screen_text(app.screen)
            await pilot.press("enter")
            assert [line.name for line in till.basket.lines] == ["Хлеб Бородинский"]
            assert shown(app, "#total-text") == f"ИТОГО: {money(4950)}"
            assert till.parked() == []

    asyncio.run(scenario())
    [sale] = till.journal.sales()
    assert [(p.tender, p.amount_minor, p.approval_code) for p in sale.payments] == [
        ("card", 24900, "777")
    ]
    [job] = sim.printed()
    assert job.drawer_pulses == [] and job.cuts == 1
    assert job.qr_payloads == [str(sale.sale_uuid)]


# --- returns ------------------------------------------------------------------------------------


def test_return_by_receipt_number_with_a_partial_quantity(till: Till, sim: PrinterSim) -> None:
    opened(till)
    till.login(1, PINS[1])
    till.scan(MILK)
    till.scan(MILK)
    till.scan(TEA)
    sale = till.pay([Payment("card", 20000, "C1"), Payment("cash", 30000)]).sale
    till.logout()

    async def scenario() -> None:
        app = app_for(till)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot)
            await pilot.press("f9")
            assert "QR-код" in screen_text(app.screen)
            await enter(pilot, "99")
            assert "Чек не найден" in shown(app, "#message")
            await enter(pilot, str(sale.till_seq))
            assert isinstance(app.screen, ReturnScreen)
            assert "Молоко" in screen_text(app.screen) and "Чай" in screen_text(app.screen)
            await pilot.press("enter")  # the milk line: how many?
            await enter(pilot, "3")
            assert "не более 2" in shown(app, "#message")
            await enter(pilot, "1")
            assert isinstance(app.screen, ReturnScreen)
            plan = till.plan_refund(sale, {1: 1000})
            # Before anything is recorded the cashier sees what goes back, and the card part.
            assert shown(app, "#message") == (
                f"К возврату {money(plan.total_minor)}: наличными {money(plan.cash_minor)}, "
                f"на карту {money(plan.card_minor)} (сумму на карту проведите на терминале)"
            )
            await pilot.press("f10")
            await until(pilot, lambda: not app.busy)
            assert shown(app, "#message") == message_text("approval_needed", "ru")
            await pilot.press("tab")  # from the lines to the approval code
            await enter(pilot, "R1")
            await until(pilot, lambda: isinstance(app.screen, SellingScreen) and not app.busy)
            assert shown(app, "#message") == (
                f"Возврат оформлен (чек № {sale.till_seq + 1}): наличными выдать "
                f"{money(plan.cash_minor)}, на карту {money(plan.card_minor)}"
            )

    asyncio.run(scenario())
    [refund] = till.journal.returns_of(sale.sale_uuid)
    assert refund.kind == "return" and reconcile_sale(refund) == []
    assert [(line.name[:6], line.qty_milli) for line in refund.lines] == [("Молоко", 1000)]
    assert {p.tender for p in refund.payments} == {"card", "cash"}
    assert till.returnable(sale) == {1: 1000, 2: 1000}
    assert "ВОЗВРАТ" in sim.printed()[-1].text


# --- shift close and reports --------------------------------------------------------------------


def test_cash_in_x_report_and_close_with_a_blind_count_print_the_z_report(
    till: Till, sim: PrinterSim
) -> None:
    opened(till, 100_00)
    till.login(1, PINS[1])
    till.scan(BREAD)
    till.pay([Payment("cash", 10000)])
    till.logout()

    async def scenario() -> None:
        app = app_for(till)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot)
            await pilot.press("f8", "enter")  # cash in
            await enter(pilot, "20")
            await enter(pilot, "размен")
            await until(pilot, lambda: not app.busy)
            assert shown(app, "#message") == f"Внесение наличных: {money(20_00)}"

            await pilot.press("f8", "down", "down", "enter")  # X report
            await until(pilot, lambda: isinstance(app.screen, ReportScreen))
            assert "X-ОТЧЁТ" in screen_text(app.screen)
            assert "174,50" in screen_text(app.screen)  # expected in the drawer
            await pilot.press("escape")

            await pilot.press("f8", "down", "down", "down", "enter")  # close
            assert isinstance(app.screen, AskScreen)
            asked = screen_text(app.screen)
            assert "Пересчитайте наличные" in asked
            assert "174,50" not in asked  # blind: nothing hints at the expected cash
            await enter(pilot, "170")
            await until(pilot, lambda: isinstance(app.screen, ReportScreen))
            report = " ".join(screen_text(app.screen).split())
            assert "Z-ОТЧЁТ" in report
            assert "Ожидается в кассе 174,50" in report
            assert "Пересчитано 170,00" in report
            assert "Излишек / недостача -4,50" in report
            await pilot.press("escape")
            assert shown(app, "#banner") == message_text("no_shift", "ru")

    asyncio.run(scenario())
    assert till.open_shift_state() is None
    jobs = sim.printed()
    assert [len(j.drawer_pulses) for j in jobs] == [1, 1, 0, 0]  # sale, pay-in, X, Z
    assert "X-ОТЧЁТ" in jobs[2].text
    assert "Z-ОТЧЁТ" in jobs[3].text and "Пересчитано" in jobs[3].text


# --- printer faults -----------------------------------------------------------------------------


def test_paper_out_keeps_the_sale_and_reprint_works_once_fixed(till: Till, sim: PrinterSim) -> None:
    opened(till)
    sim.state.paper = "out"

    async def scenario() -> None:
        app = app_for(till, status_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot)
            await until(pilot, lambda: "нет бумаги" in shown(app, "#status"), "paper out")
            await enter(pilot, MILK)
            await pay(pilot, cash="100")
            assert isinstance(app.screen, PrintProblemScreen)
            assert "нет бумаги" in shown(app, "#problem").lower()
            await pilot.press("escape")  # later
            assert shown(app, "#message").startswith("Чек № 1 оплачен")

            # A new login offers the receipts that never printed.
            await pilot.press("f12")
            await log_in(pilot)
            assert isinstance(app.screen, PickScreen)
            assert "Ненапечатанные чеки" in screen_text(app.screen)
            await pilot.press("enter")
            await until(pilot, lambda: not app.busy)
            assert isinstance(app.screen, PrintProblemScreen)  # still no paper

            sim.state.paper = "ok"
            await pilot.press("f11")
            await until(pilot, lambda: isinstance(app.screen, SellingScreen) and not app.busy)
            assert shown(app, "#message") == "Чек № 1 напечатан"
            await until(pilot, lambda: "принтер готов" in shown(app, "#status"), "paper back")

    asyncio.run(scenario())
    assert till.unprinted() == []
    [job] = sim.printed()
    assert "КОПИЯ" not in job.text and "Молоко" in job.text  # its first print
    assert job.drawer_pulses == []  # a reprint never opens the drawer


# --- status bar ---------------------------------------------------------------------------------


def test_status_bar_shows_the_queue_and_a_revoked_till_must_be_paired_again(
    till: Till, clock: Clock
) -> None:
    opened(till)
    clock.now += dt.timedelta(hours=25)
    states = iter(["ok", "revoked"])

    def status(ask_printer: bool) -> AgentStatus:
        base = till_status(till, ask_printer)
        queue = QueueStatus(3, 1, "2026-11-27T08:00:00+00:00", 0, "2026-11-28T10:15:00+00:00", 0)
        return dataclasses.replace(base, sync_state=next(states, "revoked"), queue=queue)

    async def scenario() -> None:
        app = TillApp(till, status=status, status_interval=0.2, key_clock=KeyClock())
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot)
            bar = shown(app, "#status")
            assert "к отправке 4" in bar and "связь" in bar
            assert message_text("shift_too_long", "ru") in shown(app, "#message")
            await until(pilot, lambda: "отключена" in shown(app, "#status"), "revoked")
            assert shown(app, "#banner") == message_text("revoked", "ru")

    asyncio.run(scenario())


def test_english_labels(tmp_path, sim: PrinterSim, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    till = new_till(tmp_path, sim, clock, locale="en")
    opened(till)

    async def scenario() -> None:
        app = app_for(till)
        async with app.run_test(size=SIZE) as pilot:
            assert "Cashier login" in screen_text(app.screen)
            await log_in(pilot)
            await enter(pilot, MILK)
            assert shown(app, "#total-text") == "TOTAL: 89.90 RUB"
            footer = {b.binding.description for b in app.screen.active_bindings.values()}
            assert {"Pay", "Void", "Shift", "Return", "Reprint"} <= footer

    try:
        asyncio.run(scenario())
    finally:
        till.journal.close()


def test_a_hundred_receipts_in_a_row_from_the_screen_decode_in_cyrillic(
    till: Till, sim: PrinterSim
) -> None:
    """One running app, 100 sales scanned on the pty scanner and paid from the payment dialog:
    the 1st, 2nd and 100th receipt (and every other) decode with correct Cyrillic."""
    opened(till)
    with VirtualSerialScanner() as port:
        scanner = SerialScanner(port.port_path)

        async def scenario() -> None:
            app = app_for(till, scanner=scanner)
            async with app.run_test(size=SIZE) as pilot:
                await log_in(pilot)
                assert await asyncio.to_thread(scanner.wait_connected, 5)
                for n in range(100):
                    port.scan(MILK if n % 2 else BREAD)
                    await until(pilot, lambda: len(till.basket.lines) == 1, "the scan")
                    await pay(
                        pilot, card=money(till.basket.totals().total_minor)[:-5], approval=str(n)
                    )

        asyncio.run(scenario())
    sales = till.journal.sales()
    assert len(sales) == 100 and till.unprinted() == []
    jobs = [j for j in sim.printed() if j.lines]
    assert len(jobs) == 100
    for n, job in enumerate(jobs):
        text = " ".join(job.text.split())
        assert "Магазин" in text and "Кассир Иванова Мария" in text, n
        assert ("Молоко" if n % 2 else "Хлеб Бородинский") in text, n
        assert job.qr_payloads == [str(sales[n].sale_uuid)]
