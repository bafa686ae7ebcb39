from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class PairingCode(Base):
    __tablename__ = "pairing_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    device_name: Mapped[str] = mapped_column(String(200), default="")
    # Re-pairing a till: the device it replaces (same store); its journal carries on.
    replaces_device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class Device(Base):
    __tablename__ = "device"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    paired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]
    last_version: Mapped[str | None] = mapped_column(String(64))
    # A re-paired till continues the journal of the device it replaces: seq gaps, the hash
    # chain and forks are checked across the whole line of devices.
    replaces_device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"), unique=True)
    # How far the till's own journal went when it last said so (`X-Kassa-Journal` on every
    # request): the quality gate compares it with what the hub holds. Not extracted (contact
    # bumps no change_seq); the gate reads it from the hub.
    journal_sale_seq: Mapped[int | None]
    journal_shift_seq: Mapped[int | None]
    journal_reported_at: Mapped[dt.datetime | None]
    # Bumped on pairing and revocation (not on every contact): the warehouse's dim_till.
    change_seq: Mapped[int] = mapped_column(index=True)
