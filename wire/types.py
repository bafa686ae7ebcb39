"""Pydantic field types shared by the wire schemas, and the `WireModel` base they all extend.

Integers are strict: JSON floats (even 1.0), NaN, Infinity, booleans and numeric strings are
refused rather than coerced. Text is taken verbatim (nothing stripped) but may not carry NUL or
lone UTF-16 surrogates, which no database or printer downstream can store.
"""

import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from wire.currencies import is_currency
from wire.money import MAX_AMOUNT_MINOR, MAX_QTY_MILLI

INT64_MAX = 2**63 - 1
LONG_TEXT_MAX = 2000

AmountMinor = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT_MINOR)]
PositiveAmountMinor = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT_MINOR)]
QtyMilli = Annotated[int, Field(strict=True, ge=1, le=MAX_QTY_MILLI)]
SignedQtyMilli = Annotated[int, Field(strict=True, ge=-MAX_QTY_MILLI, le=MAX_QTY_MILLI)]
SignedAmountMinor = Annotated[int, Field(strict=True, ge=-MAX_AMOUNT_MINOR, le=MAX_AMOUNT_MINOR)]
RateBp = Annotated[int, Field(strict=True, ge=0, le=10_000)]
Id = Annotated[int, Field(strict=True, ge=1, le=INT64_MAX)]
Seq = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
TillSeq = Annotated[int, Field(strict=True, ge=1, le=INT64_MAX)]
Flag = Annotated[bool, Field(strict=True)]

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _check_text(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "Text must not contain the NUL character (\\u0000)")
    if _SURROGATE_RE.search(value):
        raise PydanticCustomError(
            "text_surrogate",
            "Text must not contain lone surrogates (U+D800..U+DFFF); send valid Unicode",
        )
    return value


_TextChecks = AfterValidator(_check_text)

ShortText = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=200), _TextChecks
]
LongText = Annotated[
    str, StringConstraints(strict=True, min_length=0, max_length=LONG_TEXT_MAX), _TextChecks
]
Sku = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64), _TextChecks]
CodeText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=32), _TextChecks]


def _check_currency(value: str) -> str:
    if not is_currency(value):
        raise PydanticCustomError(
            "currency_unknown",
            "Unknown currency {code}: expected an active ISO 4217 code such as RUB",
            {"code": repr(value)},
        )
    return value


Currency = Annotated[str, Field(strict=True), AfterValidator(_check_currency)]
Hash64 = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{64}$")]
Barcode = Annotated[str, StringConstraints(strict=True, pattern=r"^[!-~]{1,64}$")]

_TZ_NAME_RE = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")


def _check_timezone(value: str) -> str:
    if len(value) <= 64 and _TZ_NAME_RE.fullmatch(value):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return value
    raise PydanticCustomError(
        "timezone_unknown",
        "Unknown time zone {name}: expected an IANA name such as Europe/Moscow",
        {"name": repr(value)},
    )


TimeZoneName = Annotated[str, Field(strict=True), AfterValidator(_check_timezone)]

_ISO_DATETIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _datetime_as_iso_text(value: Any) -> Any:
    """Refuse unix timestamps (numbers or digit strings) that lax datetime parsing would take."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME_RE.match(value):
        return value
    raise PydanticCustomError(
        "datetime_iso_required",
        "Expected an ISO 8601 date-time with a UTC offset, e.g. 2025-01-31T12:00:00+03:00",
    )


AwareTime = Annotated[AwareDatetime, BeforeValidator(_datetime_as_iso_text)]


def at_most_items(limit: int) -> BeforeValidator:
    """Refuse an over-long array before validating its items (cheap, and one clear error)."""

    def check(value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) > limit:
            raise PydanticCustomError(
                "too_long",
                "At most {max_length} items allowed, got {actual_length}",
                {"max_length": limit, "actual_length": len(value)},
            )
        return value

    return BeforeValidator(check)


class WireModel(BaseModel):
    """Base of every wire schema: immutable, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        str_max_length=LONG_TEXT_MAX,
        validate_default=True,
    )
