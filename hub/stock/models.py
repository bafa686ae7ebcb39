"""The stock ledger: one row per movement, never updated or deleted, and a materialised level
per store x product kept in the same transaction as the movements that change it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow

MOVE_KINDS = (
    "sale",
    "return",
    "receipt",
    "transfer_out",
    "transfer_in",
    "count",
    "write_off",
    "adjustment",
)
DOC_KINDS = ("receipt", "count", "transfer", "write_off", "adjustment")


class StockDoc(Base):
    """A manual stock document: goods receipt (with or without a PO), count, transfer, write-off
    or adjustment. Its lines are the stock moves that reference it."""

    __tablename__ = "stock_doc"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('receipt','count','transfer','write_off','adjustment')", name="kind"
        ),
        Index("ix_stock_doc_store_at", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    to_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))  # transfers
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("supplier.id"))  # receipts
    purchase_order_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_order.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    change_seq: Mapped[int] = mapped_column(index=True)


class StockMove(Base):
    __tablename__ = "stock_move"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('sale','return','receipt','transfer_out','transfer_in','count',"
            "'write_off','adjustment')",
            name="kind",
        ),
        CheckConstraint("(sale_id IS NULL) <> (doc_id IS NULL)", name="one_source"),
        Index("ix_stock_move_store_product", "store_id", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    kind: Mapped[str] = mapped_column(String(16))
    qty_milli: Mapped[int]  # signed: + into the store, - out of it
    # Cost per unit (1000 milli) the move was valued at: the receipt's price for receipts and
    # transfers in, the moving average for everything else; NULL while no cost is known.
    unit_cost_minor: Mapped[int | None]
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id"), index=True)
    sale_line_no: Mapped[int | None]
    doc_id: Mapped[int | None] = mapped_column(ForeignKey("stock_doc.id"), index=True)
    counted_milli: Mapped[int | None]  # counts: what was counted; qty_milli is the delta
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    change_seq: Mapped[int] = mapped_column(index=True)


class StockLevel(Base):
    __tablename__ = "stock_level"
    __table_args__ = (Index("ix_stock_level_store_on_hand", "store_id", "on_hand_milli"),)

    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    on_hand_milli: Mapped[int] = mapped_column(default=0)
    avg_cost_minor: Mapped[int | None]  # moving average per unit; NULL until the first receipt
    last_move_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    change_seq: Mapped[int] = mapped_column(index=True)
