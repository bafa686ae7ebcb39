"""Basket maths: every basket the cashier can build reconciles exactly as the hub checks it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from till_agent.basket import Basket, BasketError, Line, Payment
from till_agent.catalog import price_label_line
from wire.money import line_amount_minor
from wire.v1 import SaleV1, reconcile_sale

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))


def _sale(basket: Basket, payments: list[Payment]) -> SaleV1:
    draft = basket.draft(payments, cashier_id=1, shift_uuid=None, currency="RUB", created_at=NOW)
    return SaleV1.model_validate(
        {
            "sale_uuid": "0192f0c1-7a3b-7c2d-8e4f-0123456789ab",
            "till_seq": 1,
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
            **draft,
        }
    )


def test_weighed_cheese_and_milk_with_a_receipt_discount() -> None:
    basket = Basket(max_discount_bp=1000)
    basket.add(Line(1, "Сыр Российский", 350, 89900, 2200))  # 314.65
    basket.add(Line(2, "Молоко", 1000, 8990, 1000))
    basket.add(Line(2, "Молоко", 1000, 8990, 1000))  # merges: 2 x 89.90
    basket.discount_receipt(1000)
    totals = basket.totals()
    assert [line.qty_milli for line in basket.lines] == [350, 2000]
    assert totals.total_minor == 31465 + 17980 - 1000
    assert sum(totals.discounts) == 1000
    sale = _sale(basket, [Payment("card", 20000, "A1"), Payment("cash", 30000)])
    assert reconcile_sale(sale) == []
    assert sale.change_minor == 50000 - sale.total_minor


def test_limits_and_mistakes_are_refused_with_a_message() -> None:
    basket = Basket(max_discount_bp=500)
    basket.add(Line(1, "Хлеб", 1000, 5450, 1000))
    with pytest.raises(BasketError, match="limit"):
        basket.discount_line(0, 1000)  # 5 % of 54.50 is 2.73
    basket.discount_line(0, 272)
    with pytest.raises(BasketError, match="still to pay"):
        basket.draft(
            [Payment("card", 100)], cashier_id=1, shift_uuid=None, currency="RUB", created_at=NOW
        )
    with pytest.raises(BasketError, match=r"[Cc]hange"):
        basket.draft(
            [Payment("card", 10000)], cashier_id=1, shift_uuid=None, currency="RUB", created_at=NOW
        )
    with pytest.raises(BasketError):
        basket.add(Line(2, "Пакет", 0, 500, None))
    assert basket.void(0).name == "Хлеб" and basket.lines == []


lines = st.lists(
    st.tuples(
        st.integers(1, 50_000),  # qty_milli
        st.integers(1, 5_000_000),  # price
        st.sampled_from([None, 0, 1000, 2200]),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(lines=lines, discount_pct=st.integers(0, 100), extra_cash=st.integers(0, 500_000))
def test_every_basket_reconciles(
    lines: list[tuple[int, int, int | None]], discount_pct: int, extra_cash: int
) -> None:
    basket = Basket(max_discount_bp=10_000)
    for n, (qty, price, rate) in enumerate(lines):
        basket.add(Line(n + 1, f"Товар {n}", qty, price, rate))
    gross = sum(line.gross_minor for line in basket.lines)
    basket.discount_receipt(gross * discount_pct // 100)
    total = basket.totals().total_minor
    if not total:
        return  # a 100 % discount: nothing to pay (the wire wants a payment of at least 1)
    sale = _sale(basket, [Payment("cash", total + extra_cash)])
    assert reconcile_sale(sale) == []
    assert sum(line.amount_minor for line in sale.lines) == sale.total_minor


def test_changing_the_basket_never_stretches_a_discount_past_the_limit() -> None:
    """A receipt discount given on 10 items does not survive a change to 1 item (it would be
    100 %), nor a voided line, and line discounts count together with the receipt's."""
    basket = Basket(max_discount_bp=1000)  # 10 %
    basket.add(Line(1, "Молоко", 10_000, 8990, 1000))
    basket.discount_receipt(8990)  # exactly 10 % of 899.00
    basket.set_qty(0, 1000)
    assert basket.receipt_discount_minor == 0
    assert basket.totals().total_minor == 8990
    basket.add(Line(2, "Хлеб", 1000, 5450, 1000))
    basket.discount_receipt(1444)  # 10 % of 144.40
    basket.void(1)
    assert basket.receipt_discount_minor == 0 and basket.totals().total_minor == 8990
    basket.add(Line(2, "Хлеб", 1000, 5450, 1000))
    basket.discount_receipt(1000)
    with pytest.raises(BasketError, match="limit"):
        basket.discount_line(0, 899)  # 8.99 + 10.00 > 14.44 for the receipt
    basket.discount_line(0, 444)
    assert basket.totals().total_minor == 8990 + 5450 - 1444


@given(
    price_per_kg=st.integers(1000, 300_000),
    grams=st.integers(20, 5000),
    noise=st.integers(-3, 3),
)
def test_a_price_label_rings_up_exactly_the_label_price(
    price_per_kg: int, grams: int, noise: int
) -> None:
    """A price-embedded scale label is the price the customer was shown: the line costs exactly
    that, at a weight and price per kg close to the catalog's."""
    label = max(price_per_kg * grams // 1000 + noise, 1)
    qty, unit = price_label_line(label, price_per_kg)
    assert line_amount_minor(qty, unit) == label
    if (qty, unit) != (1000, label):  # the rare fallback: one unit at the label's price
        assert abs(qty * price_per_kg - label * 1000) <= 10 * price_per_kg  # within 10 g
