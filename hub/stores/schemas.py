from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.text import Currency, LongText, Name, TimeZoneName


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreCreate(_In):
    name: Name
    address: LongText = ""
    timezone: TimeZoneName
    currency: Currency = "RUB"
    language: Literal["ru", "en"] = "ru"
    receipt_header: LongText = ""
    receipt_footer: LongText = ""


class StoreUpdate(_In):
    name: Name | None = None
    address: LongText | None = None
    timezone: TimeZoneName | None = None
    language: Literal["ru", "en"] | None = None
    receipt_header: LongText | None = None
    receipt_footer: LongText | None = None
    active: bool | None = Field(default=None, description="Owners only: close or reopen a store")


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
