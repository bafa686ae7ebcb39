"""Shifts and their cash events as synced from the tills, with the figures the hub derives."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class Shift(Base):
    """One cashier shift. Created by whichever arrives first (its open event, another of its
    events, or a sale naming it) and recomputed whenever more of it arrives."""

    __tablename__ = "shift"
    __table_args__ = (
        UniqueConstraint("store_id", "shift_uuid"),
        Index("ix_shift_store_opened", "store_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    shift_uuid: Mapped[uuid.UUID]
    cashier_id: Mapped[int | None]
    opened_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    float_minor: Mapped[int | None]  # counted at open
    cash_sales_minor: Mapped[int] = mapped_column(default=0)  # cash received net of change
    cash_refunds_minor: Mapped[int] = mapped_column(default=0)
    pay_ins_minor: Mapped[int] = mapped_column(default=0)
    pay_outs_minor: Mapped[int] = mapped_column(default=0)
    sales_count: Mapped[int] = mapped_column(default=0)
    returns_count: Mapped[int] = mapped_column(default=0)
    sales_total_minor: Mapped[int] = mapped_column(default=0)
    returns_total_minor: Mapped[int] = mapped_column(default=0)
    counted_minor: Mapped[int | None]  # blind count at close
    expected_minor: Mapped[int | None]  # float + cash sales - refunds + pay-ins - pay-outs
    over_short_minor: Mapped[int | None]  # counted - expected, once closed
    flags: Mapped[str] = mapped_column(String(200), default="")
    change_seq: Mapped[int] = mapped_column(index=True)


class ShiftEvent(Base):
    __tablename__ = "shift_event"
    __table_args__ = (
        UniqueConstraint("store_id", "event_uuid"),
        CheckConstraint("kind IN ('open','cash_in','cash_out','close')", name="kind"),
        Index("ix_shift_event_shift", "store_id", "shift_uuid"),
        Index("ix_shift_event_device_seq", "device_id", "till_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    event_uuid: Mapped[uuid.UUID]
    shift_uuid: Mapped[uuid.UUID]
    till_seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[dt.datetime]
    cashier_id: Mapped[int]
    amount_minor: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    change_seq: Mapped[int] = mapped_column(index=True)
