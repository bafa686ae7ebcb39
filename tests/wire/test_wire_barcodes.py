"""wire.barcodes: GTIN check digits and scale labels with embedded weight or price."""

import pytest

from wire.barcodes import (
    WeightedMatch,
    WeightTemplate,
    decode_weighted,
    ean_check_digit,
    is_valid_gtin,
    validate_pattern,
)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("400638133393", 1),  # EAN-13 4006381333931
        ("590123412345", 7),  # EAN-13 5901234123457
        ("9638507", 4),  # EAN-8 96385074
        ("03600029145", 2),  # UPC-A 036000291452
        ("0001234560001", 2),  # GTIN-14 00012345600012
        ("220012301250", 0),
    ],
)
def test_ean_check_digit(body: str, check: int) -> None:
    assert ean_check_digit(body) == check


@pytest.mark.parametrize("body", ["", "12a4", "1" * 18, "١٢٣"])
def test_ean_check_digit_refuses_bad_bodies(body: str) -> None:
    with pytest.raises(ValueError, match="1 to 17 digits"):
        ean_check_digit(body)


@pytest.mark.parametrize(
    "code", ["4006381333931", "5901234123457", "96385074", "036000291452", "00012345600012"]
)
def test_valid_gtins(code: str) -> None:
    assert is_valid_gtin(code)


@pytest.mark.parametrize(
    "code",
    [
        "4006381333932",  # wrong check digit
        "5901234123450",
        "96385075",
        "036000291453",
        "400638133393",  # 12 digits: a UPC-A whose check digit is wrong
        "1234567",  # no GTIN has 7 digits
        "40063813339310",  # 14 digits, wrong check
        "",
        "400638133393a",
        " 4006381333931",
    ],
)
def test_invalid_gtins(code: str) -> None:
    assert not is_valid_gtin(code)


# --- templates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern", ["22PPPPPWWWWWC", "2PPPPPPMMMMMC", "21PPPPWWWWWWC", "2WWWWWPPPPPPC", "2999PWWWWWWWC"]
)
def test_valid_patterns(pattern: str) -> None:
    validate_pattern(pattern)
    assert WeightTemplate(id=1, pattern=pattern).pattern == pattern


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("2PPPPPWWWWWC", "must have 13 characters, '2PPPPPWWWWWC' has 12"),
        ("22PPPPPWWWWWCC", "has 14"),
        ("22PPPPPwwwwwC", "may only contain digits, P, W, M and C; found 'w'"),
        ("22PPPPPWWWW-C", "found '-'"),
        ("12PPPPPWWWWWC", "must start with a literal prefix 2x"),
        ("PPPPPPPWWWWWC", "must start with a literal prefix 2x"),
        ("22PPPPPWWWWW1", "must end with the check digit C"),
        ("22PPPPCWWWWWC", "must end with the check digit C, once"),
        ("22WWWWWWWWWWC", "needs P digits"),
        ("22PPPPPPPPPPC", "exactly one of a W run"),
        ("22PPPPWWWMMMC", "exactly one of a W run"),
        ("22PPWWPPWWWWC", "each contiguous"),
        ("22PPPPP1WWWWC", "each contiguous"),
    ],
)
def test_invalid_patterns(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_pattern(pattern)
    with pytest.raises(ValueError, match=message):
        WeightTemplate(id=1, pattern=pattern)


# "22" + scale code "00123" + 1250 g "01250": body digits from the right weighted 3,1,3,...
# 0*3 + 5 + 2*3 + 1 + 0*3 + 3 + 2*3 + 1 + 0*3 + 0 + 2*3 + 2 = 30 -> check digit 0
WEIGHT_LABEL = "2200123012500"
# "2" + scale code "000045" + price 19.99 "01999": sum 83 -> check digit 7
PRICE_LABEL = "2000045019997"

WEIGHT = WeightTemplate(id=1, pattern="22PPPPPWWWWWC")
PRICE = WeightTemplate(id=2, pattern="2PPPPPPMMMMMC")


def test_decode_weight_label() -> None:
    assert decode_weighted(WEIGHT_LABEL, [PRICE, WEIGHT]) == WeightedMatch(
        template_id=1, scale_code="00123", qty_milli=1250, price_minor=None
    )


def test_decode_price_label() -> None:
    assert decode_weighted(PRICE_LABEL, [WEIGHT, PRICE]) == WeightedMatch(
        template_id=2, scale_code="000045", qty_milli=None, price_minor=1999
    )


def test_longest_prefix_wins_over_order() -> None:
    general = WeightTemplate(id=9, pattern="2PPPPPPMMMMMC")
    match = decode_weighted(WEIGHT_LABEL, [general, WEIGHT])
    assert match is not None
    assert match.template_id == 1


def test_decode_returns_none_when_no_prefix_matches() -> None:
    assert decode_weighted(WEIGHT_LABEL, [WeightTemplate(id=3, pattern="23PPPPPWWWWWC")]) is None
    assert decode_weighted("4006381333931", [WEIGHT, PRICE]) is None
    assert decode_weighted(WEIGHT_LABEL, []) is None


@pytest.mark.parametrize(
    "code",
    [
        "2200123012501",  # wrong check digit
        "220012301250",  # 12 digits
        "22001230125000",  # 14 digits
        "22001230125O0",  # letter O
    ],
)
def test_decode_returns_none_for_bad_codes(code: str) -> None:
    assert decode_weighted(code, [WEIGHT, PRICE]) is None
