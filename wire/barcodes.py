"""GTIN check digits and in-store scale labels with an embedded weight or price."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

_DIGITS_RE = re.compile(r"[0-9]+")
_GTIN_LENGTHS = frozenset({8, 12, 13, 14})
_PATTERN_LENGTH = 13
_PATTERN_RE = re.compile(r"(?P<prefix>2[0-9]*)(?:P+(?:W+|M+)|(?:W+|M+)P+)C")


def ean_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for `body` (all digits of the code except the check digit)."""
    if not 1 <= len(body) <= 17 or _DIGITS_RE.fullmatch(body) is None:
        raise ValueError(f"a GS1 code body is 1 to 17 digits, got {body!r}")
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid_gtin(code: str) -> bool:
    """True for an EAN-8, UPC-A, EAN-13 or GTIN-14 whose check digit is right."""
    if len(code) not in _GTIN_LENGTHS or _DIGITS_RE.fullmatch(code) is None:
        return False
    return ean_check_digit(code[:-1]) == int(code[-1])


def validate_pattern(pattern: str) -> None:
    """Raise ValueError saying what is wrong with a scale-label template such as '22PPPPPWWWWWC'.

    A template has 13 characters: a literal prefix of digits starting with 2, one run of P
    (product scale code), one run of either W (weight in grams) or M (price in minor units),
    and C (check digit) last.
    """
    hint = "e.g. '22PPPPPWWWWWC' (weight) or '2PPPPPPMMMMMC' (price)"
    if len(pattern) != _PATTERN_LENGTH:
        raise ValueError(
            f"template must have 13 characters, {pattern!r} has {len(pattern)}; {hint}"
        )
    unknown = sorted(set(pattern) - set("0123456789PWMC"))
    if unknown:
        raise ValueError(
            f"template {pattern!r} may only contain digits, P, W, M and C; "
            f"found {', '.join(map(repr, unknown))}"
        )
    if pattern[0] != "2":
        raise ValueError(f"template {pattern!r} must start with a literal prefix 2x; {hint}")
    if not pattern.endswith("C") or pattern.count("C") != 1:
        raise ValueError(f"template {pattern!r} must end with the check digit C, once; {hint}")
    if "P" not in pattern:
        raise ValueError(f"template {pattern!r} needs P digits for the product scale code")
    if ("W" in pattern) == ("M" in pattern):
        raise ValueError(
            f"template {pattern!r} needs exactly one of a W run (weight) or an M run (price)"
        )
    if _PATTERN_RE.fullmatch(pattern) is None:
        raise ValueError(
            f"template {pattern!r} must be prefix digits, then one P run and one W or M run "
            f"(each contiguous), then C; {hint}"
        )


@dataclass(frozen=True, slots=True)
class WeightTemplate:
    """A scale-label template, validated on construction."""

    id: int
    pattern: str

    def __post_init__(self) -> None:
        validate_pattern(self.pattern)

    @property
    def prefix(self) -> str:
        match = _PATTERN_RE.fullmatch(self.pattern)
        assert match is not None  # validated in __post_init__
        return match["prefix"]


@dataclass(frozen=True, slots=True)
class WeightedMatch:
    """What a scale label says: the product scale code and either a weight or a price.

    `scale_code` keeps the label's leading zeros ('00123'); compare it with a product's
    scale code as integers.
    """

    template_id: int
    scale_code: str
    qty_milli: int | None
    price_minor: int | None


def _field(code: str, pattern: str, letter: str) -> str:
    return "".join(digit for digit, slot in zip(code, pattern, strict=True) if slot == letter)


def decode_weighted(code: str, templates: Sequence[WeightTemplate]) -> WeightedMatch | None:
    """Decode a scale label with the template whose literal prefix matches (longest prefix first).

    Returns None when the code is not a 13-digit EAN with a correct check digit or when no
    template's prefix matches. Weight W is in grams, returned as qty_milli (1 g = 1 milli-kg).
    """
    if len(code) != _PATTERN_LENGTH or not is_valid_gtin(code):
        return None
    by_specificity = sorted(templates, key=lambda template: len(template.prefix), reverse=True)
    for template in by_specificity:
        if not code.startswith(template.prefix):
            continue
        weight = _field(code, template.pattern, "W")
        price = _field(code, template.pattern, "M")
        return WeightedMatch(
            template_id=template.id,
            scale_code=_field(code, template.pattern, "P"),
            qty_milli=int(weight) if weight else None,
            price_minor=int(price) if price else None,
        )
    return None
