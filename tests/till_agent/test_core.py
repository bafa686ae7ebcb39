"""The till's selling logic, headless, against the decoding TCP printer simulator: login by PIN,
shifts, scanning (pieces, weighed goods, scale labels), discounts, parking, mixed tenders, the
receipt on paper, returns by the original tenders, X and Z reports, printer faults."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.till_agent.shop import BREAD, CHEESE, MILK, PINS, TEA, Clock, make_till, scale_label
from till_agent.basket import Payment
from till_agent.core import Till, TillError
from till_agent.printer import NetworkTransport
from till_agent.receipt import PrinterLayout
from till_agent.sim.printer_server import PrinterSim
from wire.v1 import reconcile_sale


@pytest.fixture
def till(tmp_path, sim: PrinterSim, clock: Clock) -> Iterator[Till]:  # type: ignore[no-untyped-def]
    transport = NetworkTransport(sim.host, sim.port, timeout=2.0)
    t = make_till(tmp_path, transport, layout=PrinterLayout(width=42), clock=clock)
    yield t
    t.journal.close()


def opened(till: Till, float_minor: int = 500_00) -> Till:
    till.login(1, PINS[1])
    till.open_shift(float_minor)
    return till


def test_login_by_pin_offline_and_one_answer_for_every_failure(till: Till) -> None:
    with pytest.raises(TillError) as wrong:
        till.login(1, "0000")
    with pytest.raises(TillError) as unknown:
        till.login(99, PINS[1])
    assert wrong.value.text("ru") == unknown.value.text("ru") == "Неверный кассир или PIN"
    assert till.login(2, PINS[2]).name == "Петров Олег"
    with pytest.raises(TillError, match="No shift"):
        till.scan(MILK)


def test_sale_with_weight_discount_and_mixed_tenders_prints_the_receipt(
    till: Till, sim: PrinterSim
) -> None:
    opened(till)
    till.scan(MILK)
    till.scan(MILK)  # same product: one line, quantity 2
    with pytest.raises(TillError) as weight:
        till.scan(CHEESE)  # weighed goods by plain barcode need the weight
    assert "вес" in weight.value.text("ru")
    till.scan(CHEESE, qty_milli=350)
    till.scan(scale_label("77", 1234))  # apples, 1.234 kg from the label
    assert [(line.name[:5], line.qty_milli) for line in till.basket.lines] == [
        ("Молок", 2000),
        ("Сыр Р", 350),
        ("Яблок", 1234),
    ]
    with pytest.raises(TillError, match="limit"):
        till.discount_line(1, 5000)  # 10 % of 314.65 is 31.47
    till.discount_line(1, 3000)
    total = till.basket.totals().total_minor
    assert total == 2 * 8990 + (31465 - 3000) + 19732
    done = till.pay([Payment("card", 20000, "A1B2C3"), Payment("cash", 50000)])
    assert done.printed
    sale = done.sale
    assert reconcile_sale(sale) == []
    assert sale.change_minor == 20000 + 50000 - total
    assert till.basket.lines == []
    [job] = sim.printed(1)
    text = job.text
    for expected in (
        "Магазин «У дома»".replace("«", '"').replace("»", '"'),
        "Кассир",
        "Иванова Мария",
        f"Чек № {sale.till_seq}",
        "Молоко",
        "0,350 кг x 899,00",
        "Скидка",
        "ИТОГО",
        "в т.ч. НДС 10%",
        "Карта",
        "A1B2C3",
        "Наличные",
        "Сдача",
        "Спасибо за покупку!",
    ):
        assert expected in text, expected
    assert job.qr_payloads == [str(sale.sale_uuid)]
    assert job.cuts == 1
    assert len(job.drawer_pulses) == 1  # cash was taken
    assert till.unprinted() == []


def test_card_only_sale_does_not_open_the_drawer(till: Till, sim: PrinterSim) -> None:
    opened(till)
    till.scan(TEA)
    till.pay([Payment("card", 24900, "777")])
    [job] = sim.printed(1)
    assert job.drawer_pulses == [] and job.cuts == 1


def test_park_and_resume_survive_a_restart(till: Till, tmp_path, sim: PrinterSim) -> None:  # type: ignore[no-untyped-def]
    opened(till)
    till.scan(BREAD)
    till.discount_receipt(500)
    parked = till.park()
    assert till.basket.lines == []
    till.scan(MILK)
    till.pay([Payment("cash", 8990)])
    again = make_till(tmp_path, till.printer, clock=till.clock)  # a new agent, same files
    again.login(1, PINS[1])
    [shown] = again.parked()
    assert (shown.id, shown.lines, shown.total_minor) == (parked, 1, 5450 - 500)
    again.resume(parked)
    assert again.basket.totals().total_minor == 4950
    assert again.parked() == []
    with pytest.raises(TillError):
        again.resume(parked)


def test_partial_return_by_qr_refunds_by_the_original_tenders(till: Till, sim: PrinterSim) -> None:
    opened(till)
    till.scan(MILK)
    till.scan(MILK)
    till.scan(TEA)
    till.discount_receipt(1000)
    sale = till.pay([Payment("card", 20000, "C1"), Payment("cash", 30000)]).sale
    assert sale.total_minor == 2 * 8990 + 24900 - 1000
    found = till.find_sale(str(sale.sale_uuid))  # what the QR on the receipt holds
    assert found == till.find_sale(str(sale.till_seq))  # or the receipt number
    assert till.returnable(found) == {1: 2000, 2: 1000}
    with pytest.raises(TillError, match="approval"):
        till.refund(found, {1: 1000})
    first = till.refund(found, {1: 1000}, approval_code="R1").sale
    assert reconcile_sale(first) == []
    assert first.kind == "return" and first.original_sale_uuid == sale.sale_uuid
    assert first.change_minor == 0
    paid = {p.tender: p.amount_minor for p in first.payments}
    assert sum(paid.values()) == first.total_minor
    assert set(paid) == {"card", "cash"}  # both original tenders, in proportion
    assert till.returnable(found) == {1: 1000, 2: 1000}
    with pytest.raises(TillError) as too_much:
        till.refund(found, {1: 2000}, approval_code="R2")
    assert "не более" in too_much.value.text("ru")
    rest = till.refund(found, {1: 1000, 2: 1000}, approval_code="R3").sale
    assert first.total_minor + rest.total_minor == sale.total_minor  # discounts come back exactly
    assert till.returnable(found) == {1: 0, 2: 0}
    with pytest.raises(TillError):
        till.find_sale(str(first.sale_uuid))  # a refund is not returnable
    jobs = sim.printed(3)
    assert "ВОЗВРАТ" in jobs[-1].text and "Выплачено" in jobs[-1].text


def test_shift_x_and_z_reports_with_blind_count(till: Till, sim: PrinterSim) -> None:
    opened(till, 100_00)
    till.scan(BREAD)
    till.pay([Payment("cash", 10000)])  # 54.50 cash net of change
    till.scan(TEA)
    till.pay([Payment("card", 24900, "X")])
    till.cash_move("cash_in", 20_00, "размен")
    till.cash_move("cash_out", 30_00, "инкассация")
    with pytest.raises(TillError):
        till.cash_move("cash_out", 1_000_000_00)  # more than the drawer holds
    x, error = till.x_report()
    assert error is None
    assert x.figures.expected_minor == 100_00 + 5450 + 20_00 - 30_00
    assert x.tenders == {"cash": (5450, 0), "card": (24900, 0)}
    z, error = till.close_shift(145_00)
    assert error is None
    assert z.figures.counted_minor == 145_00
    assert z.figures.over_short_minor == 145_00 - (100_00 + 5450 + 20_00 - 30_00)
    assert till.open_shift_state() is None
    jobs = sim.printed(6)  # 2 receipts, 2 drawer pulses (pay-in, pay-out), X, Z
    assert [len(j.drawer_pulses) for j in jobs] == [1, 0, 1, 1, 0, 0]
    assert "X-ОТЧЁТ" in jobs[4].text
    text = jobs[5].text
    assert "Z-ОТЧЁТ" in text and "Излишек / недостача" in text and "Пересчитано" in text
    with pytest.raises(TillError, match="No shift"):
        till.scan(MILK)


def test_a_shift_over_24_hours_must_be_closed_before_selling(till: Till, clock: Clock) -> None:
    opened(till)
    clock.now += dt.timedelta(hours=24, minutes=1)
    with pytest.raises(TillError) as refused:
        till.scan(MILK)
    assert "24" in refused.value.text("ru")
    till.close_shift(500_00)  # closing is allowed
    till.open_shift(500_00)
    till.scan(MILK)


def test_paper_out_keeps_the_sale_and_reprint_works_once_fixed(till: Till, sim: PrinterSim) -> None:
    opened(till)
    sim.state.paper = "out"
    till.scan(MILK)
    done = till.pay([Payment("cash", 10000)])
    assert not done.printed and done.printer_error is not None
    assert "бумаг" in done.printer_error.message("ru")
    assert [s.sale_uuid for s in till.unprinted()] == [done.sale.sale_uuid]
    assert till.journal.sale(done.sale.sale_uuid) == done.sale  # recorded, will sync
    sim.state.paper = "ok"
    again = till.reprint(done.sale)
    assert again.printed and till.unprinted() == []
    job = sim.printed(1)[-1]
    assert "КОПИЯ" not in job.text  # its first print
    assert job.drawer_pulses == []  # never kicks on a reprint
    till.reprint(done.sale)
    assert "КОПИЯ" in sim.printed(2)[-1].text


def test_hundred_receipts_in_a_row_decode_cyrillic(till: Till, sim: PrinterSim) -> None:
    opened(till)
    for n in range(100):
        till.scan(MILK if n % 2 else BREAD)
        till.pay([Payment("card", 8990 if n % 2 else 5450, str(n))])
    jobs = sim.printed(100)
    assert len(jobs) == 100
    for job in (jobs[0], jobs[1], jobs[99], *jobs):
        assert "Магазин" in job.text and "Кассир Иванова Мария" in " ".join(job.text.split())
        assert ("Молоко" in job.text) or ("Хлеб Бородинский" in job.text)


def test_paper_running_out_mid_receipt_leaves_the_sale_for_reprint(
    till: Till, sim: PrinterSim
) -> None:
    opened(till)
    sim.state.paper_left_jobs = 1  # the roll ends during the next receipt
    till.scan(MILK)
    done = till.pay([Payment("cash", 10000)])
    assert not done.printed and "бумаг" in done.printer_error.message("ru")  # type: ignore[union-attr]
    assert [s.till_seq for s in till.unprinted()] == [done.sale.till_seq]
    # The customer still needs change: the cashier opens the drawer once, by hand.
    assert till.open_drawer() is None
    pulses = [j for j in sim.printed(2) if j.drawer_pulses and not j.lines]
    assert len(pulses) == 1
    sim.state.paper = "ok"
    assert till.reprint(done.sale).printed and till.unprinted() == []


def test_change_above_the_largest_banknote_is_a_slip(till: Till) -> None:
    opened(till)
    till.scan(MILK)
    with pytest.raises(TillError) as slip:
        till.pay([Payment("cash", 4_600_000_000_17)])  # a barcode typed into "cash"
    assert "Сдача больше" in slip.value.text("ru")
    assert till.basket.lines and till.journal.sales() == []


def test_two_lines_of_one_product_are_returned_line_by_line(till: Till) -> None:
    """The same milk twice, one line discounted: each line gives back what it cost, never
    more, and each tender never gets back more than it paid."""
    opened(till)
    till.scan(MILK)
    till.discount_line(0, 899)
    till.scan(MILK)  # a discounted line does not merge: a second line
    till.scan(TEA)
    sale = till.pay([Payment("card", 20000, "C"), Payment("cash", 30000)]).sale
    assert [line.amount_minor for line in sale.lines] == [8091, 8990, 24900]
    plan = till.plan_refund(sale, {2: 1000})
    assert (plan.total_minor, sum(a for _, a in plan.tenders)) == (8990, 8990)
    till.refund(sale, {2: 1000}, approval_code="R1")
    assert till.returnable(sale) == {1: 1000, 2: 0, 3: 1000}
    with pytest.raises(TillError):
        till.refund(sale, {2: 1000}, approval_code="R2")  # line 2 is back already
    till.refund(sale, {1: 1000}, approval_code="R3")
    till.refund(sale, {3: 1000}, approval_code="R4")
    refunds = till.journal.returns_of(sale.sale_uuid)
    assert sum(r.total_minor for r in refunds) == sale.total_minor
    back = {"card": 0, "cash": 0}
    for refund in refunds:
        for payment in refund.payments:
            back[payment.tender] += payment.amount_minor
    assert back == {"card": 20000, "cash": sale.total_minor - 20000}


def test_receipts_speak_the_stores_language_whatever_the_screens(
    tmp_path, sim: PrinterSim, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    """An English-speaking cashier's till in a Russian store prints Russian receipts and
    reports (the store's language comes from the hub's feed), and says its errors in English."""
    transport = NetworkTransport(sim.host, sim.port, timeout=2.0)
    till = make_till(tmp_path, transport, layout=PrinterLayout(locale="en"), clock=clock)
    try:
        opened(till)
        with pytest.raises(TillError) as empty:
            till.pay([Payment("cash", 100)])
        assert empty.value.text(till.locale) == "The basket is empty"
        till.scan(BREAD)
        till.pay([Payment("cash", 10000)])
        till.x_report()
        receipt, report = sim.printed(2)
        assert (
            "Кассир" in receipt.text and "ИТОГО" in receipt.text and "Cashier" not in receipt.text
        )
        assert "X-ОТЧЁТ" in report.text
    finally:
        till.journal.close()
