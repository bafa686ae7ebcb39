from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator

from hub.text import LongText, Name
from wire.money import is_currency


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone, e.g. Europe/Moscow") from exc
    return value


def _check_currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code, e.g. RUB")
    return value


class StoreCreate(_In):
    name: Name
    address: LongText = ""
    timezone: str
    currency: str = "RUB"
    language: Literal["ru", "en"] = "ru"
    receipt_header: LongText = ""
    receipt_footer: LongText = ""

    _tz = field_validator("timezone")(_check_timezone)
    _cur = field_validator("currency")(_check_currency)


class StoreUpdate(_In):
    name: Name | None = None
    address: LongText | None = None
    timezone: str | None = None
    language: Literal["ru", "en"] | None = None
    receipt_header: LongText | None = None
    receipt_footer: LongText | None = None
    active: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class StoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    address: str
    timezone: str
    currency: str
    language: str
    receipt_header: str
    receipt_footer: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
