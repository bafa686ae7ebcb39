"""Suppliers, their terms per product, and purchase orders."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow

PO_STATUSES = ("draft", "sent", "partially_received", "received", "cancelled")


class Supplier(Base):
    __tablename__ = "supplier"
    __table_args__ = (
        CheckConstraint("lead_time_days >= 0 AND review_period_days >= 1", name="days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact: Mapped[str] = mapped_column(Text, default="")
    lead_time_days: Mapped[int]
    review_period_days: Mapped[int] = mapped_column(default=7)
    active: Mapped[bool] = mapped_column(default=True)
    change_seq: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SupplierProduct(Base):
    """What a supplier sells us of a product: pack size and minimum order in thousandths."""

    __tablename__ = "supplier_product"
    __table_args__ = (
        UniqueConstraint("supplier_id", "product_id"),
        CheckConstraint("pack_size_milli >= 1 AND min_order_milli >= 0", name="qty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("supplier.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    supplier_sku: Mapped[str] = mapped_column(String(64), default="")
    pack_size_milli: Mapped[int] = mapped_column(default=1000)
    min_order_milli: Mapped[int] = mapped_column(default=0)
    last_cost_minor: Mapped[int | None]
    change_seq: Mapped[int] = mapped_column(index=True)


class PurchaseOrder(Base):
    __tablename__ = "purchase_order"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft','sent','partially_received','received','cancelled')",
            name="status",
        ),
        Index("ix_purchase_order_store_status", "store_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("supplier.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # Set for machine-made drafts (reorder): one draft per (store, supplier, date) however often
    # the flow re-runs.
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    expected_at: Mapped[dt.date | None]
    closed_at: Mapped[dt.datetime | None]  # received in full or cancelled
    change_seq: Mapped[int] = mapped_column(index=True)


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_line"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "product_id"),
        CheckConstraint(
            "qty_ordered_milli >= 1 AND qty_received_milli >= 0 AND unit_cost_minor >= 0",
            name="qty",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_order.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    qty_ordered_milli: Mapped[int]
    qty_received_milli: Mapped[int] = mapped_column(default=0)
    unit_cost_minor: Mapped[int]  # expected price per unit (1000 milli), VAT included
    reason: Mapped[str | None] = mapped_column(Text)  # JSON: the reorder inputs, for drafts
    change_seq: Mapped[int] = mapped_column(index=True)
