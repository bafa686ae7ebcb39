"""Annotated string types for hub request bodies: one rule for every text a person types.

Refused with 422 naming the field: NUL (PostgreSQL cannot store it: a 500 if it got that far),
lone surrogates (not encodable as UTF-8) and control characters (ESC/GS would be printer commands
on a receipt). Multi-line texts (`LongText`, e.g. receipt header and footer) may contain "\\n".
Currencies and time zones use the `wire` contract's own checks, so hub and till agree.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

from wire.types import Currency, TimeZoneName

__all__ = [
    "Code",
    "Currency",
    "Email",
    "LongText",
    "Name",
    "Secret",
    "TimeZoneName",
    "check_line",
    "check_multiline",
]

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _check(value: str, control: re.Pattern[str], what: str) -> str:
    if _SURROGATES.search(value):
        raise PydanticCustomError("text_surrogate", "must not contain unpaired surrogates")
    if control.search(value):
        raise PydanticCustomError("text_control", "must not contain {what}", {"what": what})
    return value


def check_line(value: str) -> str:
    """One line of text: no control characters at all (tab and newline included)."""
    return _check(value, _CONTROL, "control characters (NUL, tab, newline, ESC...)")


def check_multiline(value: str) -> str:
    """Several lines: newline allowed, every other control character refused."""
    return _check(value, _CONTROL_BUT_NEWLINE, "control characters other than newline")


Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(check_line)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_line)]
LongText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(check_multiline)]
# Passwords may be any printable text; only what cannot be stored or compared safely is refused.
Secret = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(check_line)]
Email = Annotated[
    str,
    StringConstraints(
        min_length=3,
        max_length=254,
        strip_whitespace=True,
        to_lower=True,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
    AfterValidator(check_line),
]
