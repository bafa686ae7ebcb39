"""Report request and response bodies: recipients, and the quality verdicts the flows write.

The verdict schema (`QualityVerdict`) is a contract with the flows: `quality.json` in a published
report directory and `<date>.withheld.json` beside it share it. Fields the hub does not know are
kept and passed on, so the flows may add some without a hub release.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

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

from hub.text import Name, check_line
from wire.types import Flag

Scope = Literal["daily", "weekly"]
Language = Literal["ru", "en"]
Status = Literal["published", "withheld", "unreadable"]

# A dot-atom mailbox at a domain name with a dot (ASCII: international domains in xn-- form).
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_MAILBOX = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]+)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _mailbox(value: str) -> str:
    local = value.partition("@")[0]
    if len(local) > 64 or not _MAILBOX.fullmatch(value):
        raise PydanticCustomError(
            "email",
            "not an e-mail address: write it as name@example.com "
            "(an international domain in its xn-- form)",
        )
    return value


def _iso_date_text(value: Any) -> Any:
    """Only 'YYYY-MM-DD': lax parsing would also take numbers as unix timestamps."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_iso_required", "Expected a date as YYYY-MM-DD, e.g. 2026-11-27")


RecipientEmail = Annotated[
    str,
    StringConstraints(min_length=3, max_length=254, strip_whitespace=True, to_lower=True),
    AfterValidator(check_line),
    AfterValidator(_mailbox),
]
Date = Annotated[dt.date, BeforeValidator(_iso_date_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- recipients ------------------------------------------------------------------------------


class RecipientCreate(_In):
    email: RecipientEmail = Field(description="Stored lower-cased; unique")
    name: Name
    language: Language = Field(default="ru", description="The e-mail's language")
    daily: Flag = Field(default=True, description="Gets the daily report (yesterday)")
    weekly: Flag = Field(
        default=True,
        description="Gets the weekly report (the previous ISO week, Monday to Sunday; "
        "sent with Monday's daily close)",
    )
    active: Flag = True


class RecipientUpdate(_In):
    email: RecipientEmail | None = None
    name: Name | None = None
    language: Language | None = None
    daily: Flag | None = None
    weekly: Flag | None = None
    active: Flag | None = None


class RecipientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    language: Language
    daily: bool
    weekly: bool
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


# --- quality verdicts (written by the flows) -------------------------------------------------


class Localized(BaseModel):
    ru: str
    en: str


class LocalizedList(BaseModel):
    ru: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)


class QualityCheck(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(description="e.g. completeness.till_synced")
    suite: str
    severity: Literal["blocking", "warning"]
    passed: bool
    explanation: Localized
    reasons: LocalizedList = Field(default_factory=LocalizedList)
    numbers: dict[str, Any] = Field(default_factory=dict)


class QualityVerdict(BaseModel):
    """`quality.json` of a published report, or `<date>.withheld.json` of a withheld one."""

    model_config = ConfigDict(extra="allow")

    scope: Scope
    period_start: dt.date
    period_end: dt.date
    verdict: Literal["published", "withheld"]
    checked_at: AwareDatetime
    summary: Localized
    checks: list[QualityCheck]


class ReportPeriodOut(BaseModel):
    """One report period as the back office lists it."""

    scope: Scope
    date: dt.date = Field(description="The period's last day")
    status: Status = Field(
        description="published (its directory exists), withheld (only a withheld verdict), "
        "unreadable (its verdict file is missing, corrupt or contradicts its place: see problem)"
    )
    period_start: dt.date | None
    period_end: dt.date | None
    checked_at: dt.datetime | None
    summary: Localized | None
    reasons: LocalizedList = Field(
        description="Withheld: the reasons of the failed blocking checks, in ru and en"
    )
    failed_checks: list[str] = Field(description="Withheld: the failed blocking checks' ids")
    warnings: list[str] = Field(description="The failed warning checks' ids")
    problem: str | None = Field(description="Unreadable: what is wrong with which file")
    index_url: str | None = Field(description="The report's index.html when it is published")
