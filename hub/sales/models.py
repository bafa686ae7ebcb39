"""Sales as accepted from the tills, their lines and payments, quarantined rejects and the
per-till journal state.

Amounts are the till's, unsigned: a return carries positive quantities and amounts and is told
apart by `kind`. Every table the warehouse reads carries `change_seq` from the `ledger` counter.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class Sale(Base):
    __tablename__ = "sale"
    __table_args__ = (
        UniqueConstraint("store_id", "sale_uuid"),
        CheckConstraint("kind IN ('sale','return')", name="kind"),
        CheckConstraint("total_minor >= 0 AND change_minor >= 0", name="amounts"),
        Index("ix_sale_device_seq", "device_id", "till_seq"),
        Index("ix_sale_store_original", "store_id", "original_sale_uuid"),
        Index("ix_sale_store_created", "store_id", "created_at"),
        Index("ix_sale_store_shift", "store_id", "shift_uuid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    sale_uuid: Mapped[uuid.UUID]
    till_seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    # A return names its sale; `original_sale_id` is set once that sale is on the hub.
    original_sale_uuid: Mapped[uuid.UUID | None]
    original_sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id"))
    cashier_id: Mapped[int]  # as the till sent it; flagged `unknown_cashier` when not ours
    shift_uuid: Mapped[uuid.UUID | None]
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int]
    vat_minor: Mapped[int]
    change_minor: Mapped[int]
    cash_minor: Mapped[int]  # cash tendered (for a return: cash refunded), before change
    # The till's clock (UTC) with the offset it reported; the hub's own clock in received_at.
    created_at: Mapped[dt.datetime]
    till_utc_offset_min: Mapped[int]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    payload_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical payload
    fn_number: Mapped[str | None] = mapped_column(String(16))
    fd_number: Mapped[int | None]
    fpd: Mapped[str | None] = mapped_column(String(10))
    flags: Mapped[str] = mapped_column(String(400), default="")  # comma-separated
    change_seq: Mapped[int] = mapped_column(index=True)


class SaleLine(Base):
    __tablename__ = "sale_line"
    __table_args__ = (
        UniqueConstraint("sale_id", "line_no"),
        CheckConstraint("qty_milli > 0 AND unit_price_minor > 0", name="positive"),
        Index("ix_sale_line_store_product", "store_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    line_no: Mapped[int]
    product_id: Mapped[int | None]  # as sent; no FK: a sale of an unknown product still happened
    unknown_product: Mapped[bool] = mapped_column(default=False)
    barcode: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    qty_milli: Mapped[int]
    unit_price_minor: Mapped[int]
    discount_minor: Mapped[int]
    amount_minor: Mapped[int]
    vat_rate_bp: Mapped[int | None]
    vat_minor: Mapped[int]
    # Moving-average cost of the store x product when the hub accepted the line; NULL if unknown.
    unit_cost_minor: Mapped[int | None]
    change_seq: Mapped[int] = mapped_column(index=True)


class SalePayment(Base):
    __tablename__ = "sale_payment"
    __table_args__ = (
        UniqueConstraint("sale_id", "payment_no"),
        CheckConstraint("tender IN ('cash','card','other')", name="tender"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    payment_no: Mapped[int]
    tender: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int]
    approval_code: Mapped[str | None] = mapped_column(String(12))
    change_seq: Mapped[int] = mapped_column(index=True)


class QuarantinedSale(Base):
    """A rejected sale or a conflicting re-send, kept verbatim for a manager to look at."""

    __tablename__ = "sale_quarantine"
    __table_args__ = (
        CheckConstraint("reason IN ('rejected','conflict')", name="reason"),
        Index("ix_sale_quarantine_store_received", "store_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    sale_uuid: Mapped[uuid.UUID]
    till_seq: Mapped[int]
    reason: Mapped[str] = mapped_column(String(16))
    errors: Mapped[str] = mapped_column(Text)  # JSON list of ErrorV1
    payload: Mapped[str] = mapped_column(Text)  # the item exactly as received (canonical JSON)
    payload_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TillState(Base):
    """What the hub knows of one till's journal: last contact and the highest seq it holds."""

    __tablename__ = "till_state"

    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    last_contact_at: Mapped[dt.datetime | None]
    last_sale_at: Mapped[dt.datetime | None]  # hub time of the last accepted sale
    max_sale_seq: Mapped[int] = mapped_column(default=0)
    max_shift_seq: Mapped[int] = mapped_column(default=0)
    sales_count: Mapped[int] = mapped_column(default=0)
    change_seq: Mapped[int] = mapped_column(index=True)


class JournalIssue(Base):
    """A break in a till's journal, recorded when found and never repaired silently.

    kinds: `chain_break` (prev_hash is not the hash of seq-1), `hash_mismatch` (hash is not the
    hash of the sale's own content), `seq_reuse` (two different sales with one seq: a fork, e.g. a
    till restored from an old backup). Gaps are not stored: they are computed from the sales.
    """

    __tablename__ = "till_journal_issue"
    __table_args__ = (
        CheckConstraint("kind IN ('chain_break','hash_mismatch','seq_reuse')", name="kind"),
        UniqueConstraint("device_id", "kind", "till_seq", "sale_uuid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    kind: Mapped[str] = mapped_column(String(16))
    till_seq: Mapped[int]
    sale_uuid: Mapped[uuid.UUID]
    detail: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    change_seq: Mapped[int] = mapped_column(index=True)
