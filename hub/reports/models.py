"""Who receives the owner report e-mails, and which ones (the flows send them)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow

LANGUAGES = ("ru", "en")


class ReportRecipient(Base):
    """One e-mail address; `daily` gets yesterday's report, `weekly` the previous ISO week's
    (Monday to Sunday, sent with Monday's daily close). No `change_seq`: the warehouse does not
    extract it; the flows read it through the API."""

    __tablename__ = "report_recipient"
    __table_args__ = (CheckConstraint("language IN ('ru','en')", name="language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="ru")
    daily: Mapped[bool] = mapped_column(default=True)
    weekly: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
