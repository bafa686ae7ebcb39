"""wire.money: rounding, VAT, allocation, Money and decimal parsing."""

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT_MINOR,
    MAX_QTY_MILLI,
    Money,
    allocate,
    is_currency,
    line_amount_minor,
    parse_decimal_to_minor,
    round_half_up,
    vat_breakdown,
    vat_from_inclusive,
)

FAST = settings(deadline=None, max_examples=200)


def exact_half_up(value: Fraction) -> int:
    """Reference rounding on exact fractions: halves away from zero."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


# --- round_half_up -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (1, 2, 1),  # 0.5 -> 1
        (3, 2, 2),  # 1.5 -> 2
        (5, 2, 3),  # 2.5 -> 3 (not banker's 2)
        (-1, 2, -1),  # -0.5 -> -1
        (-5, 2, -3),  # -2.5 -> -3
        (2, 3, 1),  # 0.666.. -> 1
        (1, 3, 0),  # 0.333.. -> 0
        (-2, 3, -1),
        (0, 7, 0),
        (10, 5, 2),
        (1499, 1000, 1),
        (1500, 1000, 2),
    ],
)
def test_round_half_up_examples(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_up(numerator, denominator) == expected


@pytest.mark.parametrize("denominator", [0, -1, -1000])
def test_round_half_up_refuses_non_positive_denominator(denominator: int) -> None:
    with pytest.raises(ValueError, match="denominator must be positive"):
        round_half_up(1, denominator)


@FAST
@given(st.integers(-(10**30), 10**30), st.integers(1, 10**15))
def test_round_half_up_matches_exact_fraction(numerator: int, denominator: int) -> None:
    assert round_half_up(numerator, denominator) == exact_half_up(Fraction(numerator, denominator))


# --- line amounts ----------------------------------------------------------------------------


def test_line_amount_examples() -> None:
    assert line_amount_minor(1000, 12345) == 12345  # 1 piece
    assert line_amount_minor(250, 39990) == 9998  # 0.250 kg x 399.90 = 99.975 -> 99.98
    assert line_amount_minor(1500, 12345) == 18518  # 18517.5 -> 18518
    assert line_amount_minor(1, 1) == 0  # 0.001 -> 0


@FAST
@given(st.integers(1, MAX_QTY_MILLI), st.integers(0, MAX_AMOUNT_MINOR))
def test_line_amount_matches_exact_fraction(qty_milli: int, price_minor: int) -> None:
    expected = exact_half_up(Fraction(qty_milli * price_minor, 1000))
    assert line_amount_minor(qty_milli, price_minor) == expected


# --- VAT -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate_bp", "expected"),
    [
        (12200, 2200, 2200),  # 122.00 incl. 22 % -> 22.00
        (100, 1000, 9),  # 1.00 incl. 10 % = 9.09 -> 9
        (12000, 2000, 2000),
        (11, 1000, 1),  # 0.11 incl. 10 % = 1.0 kopeck exactly
        (5, 1000, 0),  # 0.4545 -> 0
        (61, 2200, 11),  # 10.9999.. -> 11
        (0, 2200, 0),
        (12345, 0, 0),
        (12345, None, 0),  # no VAT
    ],
)
def test_vat_from_inclusive_examples(amount: int, rate_bp: int | None, expected: int) -> None:
    assert vat_from_inclusive(amount, rate_bp) == expected


def test_vat_refuses_negative_rate() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        vat_from_inclusive(100, -1)


@FAST
@given(st.integers(0, MAX_AMOUNT_MINOR), st.integers(0, 10_000))
def test_vat_split_reconciles(gross: int, rate_bp: int) -> None:
    vat = vat_from_inclusive(gross, rate_bp)
    net = gross - vat
    assert 0 <= vat <= gross
    assert net + vat == gross
    assert vat == exact_half_up(Fraction(gross * rate_bp, 10_000 + rate_bp))


def test_vat_breakdown_sums_per_rate_and_taxes_the_sum_once() -> None:
    lines = [(2200, 61), (1000, 100), (2200, 61), (None, 500), (2200, 61)]
    # per-line VAT at 22 % would be 11 + 11 + 11 = 33; on the sum 183 it is 33.0 -> 33
    assert vat_breakdown(lines) == {2200: (183, 33), 1000: (100, 9), None: (500, 0)}
    assert list(vat_breakdown(lines)) == [2200, 1000, None]  # order of first appearance
    assert vat_breakdown([]) == {}


def test_vat_breakdown_rounds_the_sum_not_the_lines() -> None:
    # three lines of 0.05 at 10 %: each alone is 0.4545 -> 0, together 15 -> 1.36 -> 1
    assert vat_breakdown([(1000, 5)] * 3) == {1000: (15, 1)}


# --- allocation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [1000, 1000, 1000], [33, 33, 34]),  # the leftover unit goes to the later line
        (2, [1, 1, 1], [0, 1, 1]),
        (1, [1, 1], [0, 1]),
        (10, [5000, 3000, 2000], [5, 3, 2]),
        (7, [10, 0, 10], [3, 0, 4]),
        (500, [18518, 10000], [325, 175]),  # 324.63 -> 325, 175.37 -> 175
        (0, [100, 200], [0, 0]),
        (0, [0, 0, 0], [0, 0, 0]),
        (0, [], []),
        (30, [10, 10, 10], [10, 10, 10]),  # a discount may equal what it is spread over
        (3, [1, 2, 0], [1, 2, 0]),
    ],
)
def test_allocate_examples(total: int, weights: list[int], expected: list[int]) -> None:
    assert allocate(total, weights) == expected


@pytest.mark.parametrize(
    ("total", "weights", "message"),
    [
        (1, [], "across no lines"),
        (301, [100, 200], "worth only 300"),
        (1, [0, 0], "worth only 0"),
        (-1, [1], "negative total"),
        (1, [5, -1], "must not be negative"),
    ],
)
def test_allocate_refuses(total: int, weights: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        allocate(total, weights)


@st.composite
def allocations(draw: st.DrawFn) -> tuple[int, list[int]]:
    weights = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=30))
    total = draw(st.integers(0, sum(weights)))
    return total, weights


@FAST
@given(allocations())
def test_allocation_is_exact_and_within_one_unit(case: tuple[int, list[int]]) -> None:
    total, weights = case
    shares = allocate(total, weights)
    assert sum(shares) == total
    assert len(shares) == len(weights)
    weight_sum = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(total * weight, weight_sum) if weight_sum else Fraction(0)
        assert abs(share - exact) < 1
        assert 0 <= share <= weight


# --- Money -----------------------------------------------------------------------------------


def test_money_adds_and_subtracts_in_one_currency() -> None:
    assert Money(1050, "RUB") + Money(250, "RUB") == Money(1300, "RUB")
    assert Money(1050, "RUB") - Money(2050, "RUB") == Money(-1000, "RUB")
    assert -Money(5, "EUR") == Money(-5, "EUR")


def test_money_refuses_mixed_currencies() -> None:
    with pytest.raises(ValueError, match="cannot add USD and RUB"):
        Money(1, "RUB") + Money(1, "USD")
    with pytest.raises(ValueError, match="cannot subtract"):
        Money(1, "RUB") - Money(1, "EUR")


def test_money_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="unknown ISO 4217 currency code 'rub'"):
        Money(1, "rub")
    with pytest.raises(ValueError, match="unknown ISO 4217"):
        Money(1, "XXX")
    with pytest.raises(TypeError, match="must be an int"):
        Money(1.5, "RUB")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        Money(True, "RUB")


def test_money_is_frozen() -> None:
    money = Money(1, "RUB")
    with pytest.raises(AttributeError):
        money.amount_minor = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(123456, "RUB"), "1 234,56 RUB"),
        (Money(-123456, "RUB"), "-1 234,56 RUB"),
        (Money(5, "RUB"), "0,05 RUB"),
        (Money(0, "USD"), "0,00 USD"),
        (Money(100000000, "KZT"), "1 000 000,00 KZT"),
        (Money(1234, "JPY"), "1 234 JPY"),
        (Money(1234567, "KWD"), "1 234,567 KWD"),
        (Money(-7, "KWD"), "-0,007 KWD"),
    ],
)
def test_money_format(money: Money, text: str) -> None:
    assert money.format() == text


def test_currency_list() -> None:
    expected = {"RUB": 2, "USD": 2, "EUR": 2, "KZT": 2, "BYN": 2, "UZS": 2, "JPY": 0, "KWD": 3}
    for code, exponent in expected.items():
        assert CURRENCY_EXPONENTS[code] == exponent
    assert len(CURRENCY_EXPONENTS) > 150
    assert all(len(code) == 3 and code.isupper() for code in CURRENCY_EXPONENTS)
    assert is_currency("RUB")
    assert not is_currency("rub")
    assert not is_currency("RUR")  # withdrawn in 1998
    assert not is_currency("")


# --- parse_decimal_to_minor ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exponent", "expected"),
    [
        ("123.45", 2, 12345),
        ("123,45", 2, 12345),
        ("1 234.5", 2, 123450),
        ("1\u00a0234,50", 2, 123450),  # no-break space from a Russian-locale spreadsheet
        ("1 234 567", 2, 123456700),
        ("-0.5", 2, -50),
        ("+7", 2, 700),
        ("  42  ", 0, 42),
        ("0.250", 3, 250),  # 0.250 kg -> 250 milli
        ("1.5", 3, 1500),
        ("1.50", 1, 15),  # trailing zeros beyond the exponent are exact
        ("12.", 2, 1200),
        (".5", 2, 50),
        ("-0", 2, 0),
        ("007", 2, 700),
        ("999999999999", 0, 999_999_999_999),
    ],
)
def test_parse_decimal_examples(text: str, exponent: int, expected: int) -> None:
    assert parse_decimal_to_minor(text, exponent) == expected


@pytest.mark.parametrize(
    ("text", "exponent", "message"),
    [
        ("1.005", 2, "'1.005' has 3 decimal places; at most 2 allowed"),
        ("0.5", 0, "has 1 decimal places; at most 0 allowed"),
        ("", 2, "empty value"),
        ("   ", 2, "empty value"),
        ("abc", 2, "'abc' is not a number"),
        ("12a", 2, "is not a number"),
        ("1,234.50", 2, "at most one '.' or ','"),
        ("1.2.3", 2, "is not a number"),
        ("12 34", 2, "is not a number"),
        ("--1", 2, "is not a number"),
        ("-", 2, "is not a number"),
        (".", 2, "is not a number"),
        ("NaN", 2, "not a finite number"),
        ("-inf", 2, "not a finite number"),
        ("Infinity", 2, "not a finite number"),
        ("1e3", 2, "exponent notation"),
        ("1.5E-2", 2, "exponent notation"),
        ("\u0661\u0662", 2, "is not a number"),  # Arabic-Indic digits are not ASCII digits
        ("1" * 65, 0, "too long"),
    ],
)
def test_parse_decimal_refuses(text: str, exponent: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_decimal_to_minor(text, exponent)


def test_parse_decimal_refuses_negative_exponent() -> None:
    with pytest.raises(ValueError, match="exponent must not be negative"):
        parse_decimal_to_minor("1", -1)


@FAST
@given(st.integers(-(10**15), 10**15), st.integers(0, 4), st.sampled_from([".", ","]))
def test_parse_decimal_round_trips_formatted_units(units: int, exponent: int, sep: str) -> None:
    whole, fraction = divmod(abs(units), 10**exponent)
    text = ("-" if units < 0 else "") + str(whole)
    if exponent:
        text += sep + str(fraction).zfill(exponent)
    assert parse_decimal_to_minor(text, exponent) == units
