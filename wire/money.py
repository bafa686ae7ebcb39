"""Money arithmetic on integers of minor units: the one rounding helper, VAT, allocation, parsing.

Amounts are integers of minor units (kopecks), quantities integers of thousandths (`qty_milli`),
VAT rates integers of basis points (2200 = 22 %). Nothing here ever touches a float.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wire.currencies import CURRENCY_EXPONENTS, is_currency

__all__ = [
    "CURRENCY_EXPONENTS",
    "MAX_AMOUNT_MINOR",
    "MAX_QTY_MILLI",
    "Money",
    "allocate",
    "is_currency",
    "line_amount_minor",
    "parse_decimal_to_minor",
    "round_half_up",
    "vat_breakdown",
    "vat_from_inclusive",
]

MAX_AMOUNT_MINOR = 999_999_999_999
MAX_QTY_MILLI = 99_999_999

_BP_SCALE = 10_000
_MILLI = 1000


def round_half_up(numerator: int, denominator: int) -> int:
    """Exact numerator / denominator rounded to an integer, halves away from zero (-2.5 -> -3)."""
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def line_amount_minor(qty_milli: int, unit_price_minor: int) -> int:
    """Gross line amount: quantity in thousandths times the unit price, rounded half up."""
    return round_half_up(qty_milli * unit_price_minor, _MILLI)


def vat_from_inclusive(amount_minor: int, rate_bp: int | None) -> int:
    """VAT contained in a VAT-inclusive amount at `rate_bp` basis points; None means no VAT."""
    if rate_bp is None:
        return 0
    if rate_bp < 0:
        raise ValueError(f"VAT rate must not be negative, got {rate_bp} bp")
    return round_half_up(amount_minor * rate_bp, _BP_SCALE + rate_bp)


def allocate(total_minor: int, weights: Sequence[int]) -> list[int]:
    """Split `total_minor` across lines in proportion to `weights` by the largest remainder.

    Every line gets the floor of its exact share; the units left over go one each to the lines
    with the largest remainders, ties to the later line. The result sums exactly to the total.
    The total may not exceed the sum of the weights (a discount cannot exceed what it is spread
    over); with all-zero weights a zero total lands, trivially, on the last line.
    """
    if total_minor < 0:
        raise ValueError(f"cannot allocate a negative total ({total_minor})")
    if any(weight < 0 for weight in weights):
        raise ValueError("allocation weights must not be negative")
    if not weights:
        if total_minor:
            raise ValueError(f"cannot allocate {total_minor} across no lines")
        return []
    weight_sum = sum(weights)
    if total_minor > weight_sum:
        raise ValueError(
            f"cannot allocate {total_minor} across lines worth only {weight_sum} in total"
        )
    if weight_sum == 0:
        return [0] * len(weights)
    shares: list[int] = []
    remainders: list[int] = []
    for weight in weights:
        share, remainder = divmod(total_minor * weight, weight_sum)
        shares.append(share)
        remainders.append(remainder)
    leftover = total_minor - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (remainders[i], i), reverse=True)
    for index in by_remainder[:leftover]:
        shares[index] += 1
    return shares


def vat_breakdown(lines: Iterable[tuple[int | None, int]]) -> dict[int | None, tuple[int, int]]:
    """Per VAT rate (in order of first appearance): (gross sum, VAT computed once on that sum)."""
    gross_by_rate: dict[int | None, int] = {}
    for rate_bp, amount_minor in lines:
        gross_by_rate[rate_bp] = gross_by_rate.get(rate_bp, 0) + amount_minor
    return {
        rate_bp: (gross, vat_from_inclusive(gross, rate_bp))
        for rate_bp, gross in gross_by_rate.items()
    }


@dataclass(frozen=True, slots=True)
class Money:
    """An integer amount of minor units in one ISO 4217 currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError(f"amount_minor must be an int, got {type(self.amount_minor).__name__}")
        if not is_currency(self.currency):
            raise ValueError(f"unknown ISO 4217 currency code {self.currency!r}")

    def __add__(self, other: "Money") -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "add")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "subtract")
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount_minor, self.currency)

    def _require_same_currency(self, other: "Money", verb: str) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot {verb} {other.currency} and {self.currency}")

    def format(self) -> str:
        """Human form with space-grouped thousands and a decimal comma: '-1 234,56 RUB'."""
        exponent = CURRENCY_EXPONENTS[self.currency]
        scale: int = 10**exponent
        whole, fraction = divmod(abs(self.amount_minor), scale)
        grouped = f"{whole:,}".replace(",", " ")
        sign = "-" if self.amount_minor < 0 else ""
        number = f"{grouped},{fraction:0{exponent}d}" if exponent else grouped
        return f"{sign}{number} {self.currency}"


_GROUP_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space (Excel, ru locale)
_DECIMAL_RE = re.compile(
    r"(?P<sign>[+-]?)"
    r"(?P<int>[0-9]+(?:[" + _GROUP_SPACES + r"][0-9]{3})*)?"
    r"(?:[.,](?P<frac>[0-9]*))?"
)
_MAX_DECIMAL_TEXT = 64


def parse_decimal_to_minor(text: str, exponent: int) -> int:
    """Exact integer of 10**-exponent units from a human decimal such as '1 234,5' or '-0.250'.

    Accepts a sign, '.' or ',' as the decimal separator, and spaces grouping thousands. Trailing
    zeros beyond `exponent` are fine ('1.50' with exponent 1); any other extra digit is an error,
    never rounded. Exponent notation, NaN and infinity are refused.
    """
    if exponent < 0:
        raise ValueError(f"exponent must not be negative, got {exponent}")
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty value: expected a number such as 123.45")
    if len(stripped) > _MAX_DECIMAL_TEXT:
        raise ValueError(f"{stripped[:20]!r}... is too long to be a number")
    if stripped.lstrip("+-").lower() in {"nan", "inf", "infinity"}:
        raise ValueError(f"{stripped!r} is not a finite number; expected something like 123.45")
    match = _DECIMAL_RE.fullmatch(stripped)
    if match is None or (match["int"] is None and not match["frac"]):
        if any(ch in stripped for ch in "eE") and any(ch.isdigit() for ch in stripped):
            raise ValueError(
                f"{stripped!r} uses exponent notation; write the plain number, e.g. 1000"
            )
        raise ValueError(
            f"{stripped!r} is not a number; expected digits with at most one '.' or ',' "
            "decimal separator, e.g. 1234.56"
        )
    whole_digits = "".join(ch for ch in match["int"] or "0" if ch not in _GROUP_SPACES)
    fraction_digits = match["frac"] or ""
    significant = fraction_digits.rstrip("0")
    if len(significant) > exponent:
        raise ValueError(
            f"{stripped!r} has {len(significant)} decimal places; at most {exponent} allowed"
        )
    scale: int = 10**exponent
    units = int(whole_digits) * scale + int(significant.ljust(exponent, "0") or "0")
    return -units if match["sign"] == "-" else units
