from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow

ROLES = ("owner", "manager", "cashier", "service")


class User(Base):
    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint("role IN ('owner','manager','cashier','service')", name="role"),
        CheckConstraint(
            "role IN ('owner','service') OR store_id IS NOT NULL", name="store_for_staff"
        ),
        # A service account (a machine such as the reorder flow) is chain-wide and never signs
        # in by password or PIN: it holds API tokens only.
        CheckConstraint(
            "role <> 'service' OR "
            "(store_id IS NULL AND password_hash IS NULL AND pin_hash IS NULL)",
            name="service_no_sign_in",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; NULL for cashiers who only ever log in at the till by PIN, and for
    # service accounts.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    max_discount_bp: Mapped[int] = mapped_column(default=0)
    # The catalog is chain-wide: an owner may let a manager edit it (prices, products, import).
    can_edit_catalog: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    change_seq: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AccessToken(Base):
    """Bearer credentials for people: web sessions, OAuth2 bearer tokens and personal API tokens.

    Only the SHA-256 of the token is stored; the token itself (>= 256 bits) is shown once.
    """

    __tablename__ = "access_token"
    __table_args__ = (
        CheckConstraint("kind IN ('session','bearer','api')", name="kind"),
        Index("ix_access_token_user_kind", "user_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class LoginFailure(Base):
    """One row per failed attempt; throttling counts them in a sliding window across workers."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
