from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base, utcnow

UNITS = ("piece", "kg", "l", "m")


def fold(text: str) -> str:
    """Case-folded text for case-insensitive search in every script (SQLite's lower() is ASCII)."""
    return text.casefold()


def _folded(column: str) -> Callable[[Any], str]:
    """Column default: the folded value of `column` from the same INSERT."""

    def default(context: Any) -> str:
        return fold(context.get_current_parameters()[column])

    return default


class TaxRate(Base):
    __tablename__ = "tax_rate"
    __table_args__ = (
        CheckConstraint("rate_bp IS NULL OR (rate_bp >= 0 AND rate_bp <= 10000)", name="rate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    rate_bp: Mapped[int | None]  # NULL = "без НДС" (no VAT), distinct from 0 %
    change_seq: Mapped[int] = mapped_column(index=True)


class Category(Base):
    __tablename__ = "category"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        # NULLs are distinct in the constraint above: top-level names need their own index.
        Index(
            "uq_category_top_level_name",
            "name",
            unique=True,
            sqlite_where=text("parent_id IS NULL"),
            postgresql_where=text("parent_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    change_seq: Mapped[int] = mapped_column(index=True)


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("unit IN ('piece','kg','l','m')", name="unit"),
        CheckConstraint("price_minor >= 0", name="price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    # fold(sku) / fold(name): searched with LIKE; casefold may lengthen text (ß -> ss), up to 3x.
    sku_folded: Mapped[str] = mapped_column(String(192), default=_folded("sku"))
    name_folded: Mapped[str] = mapped_column(String(600), default=_folded("name"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    unit: Mapped[str] = mapped_column(String(8))
    price_minor: Mapped[int]
    tax_rate_id: Mapped[int] = mapped_column(ForeignKey("tax_rate.id"))
    scale_code: Mapped[str | None] = mapped_column(String(7), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    change_seq: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    barcodes: Mapped[list[Barcode]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        order_by="Barcode.code",
        lazy="selectin",
    )


class Barcode(Base):
    """A product has several barcodes; a barcode belongs to exactly one product."""

    __tablename__ = "barcode"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    product: Mapped[Product] = relationship(back_populates="barcodes")


class WeightTemplate(Base):
    __tablename__ = "weight_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    pattern: Mapped[str] = mapped_column(String(13), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    change_seq: Mapped[int] = mapped_column(index=True)
