"""Report recipients; service accounts (role `service`) in staff_user.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 20:54:28.187514
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db  # custom column types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ROLE_BEFORE = "role IN ('owner','manager','cashier')"
STORE_BEFORE = "role = 'owner' OR store_id IS NOT NULL"
ROLE_AFTER = "role IN ('owner','manager','cashier','service')"
STORE_AFTER = "role IN ('owner','service') OR store_id IS NOT NULL"
SERVICE_NO_SIGN_IN = (
    "role <> 'service' OR (store_id IS NULL AND password_hash IS NULL AND pin_hash IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "report_recipient",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("daily", sa.Boolean(), nullable=False),
        sa.Column("weekly", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("language IN ('ru','en')", name=op.f("ck_report_recipient_language")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_recipient")),
        sa.UniqueConstraint("email", name=op.f("uq_report_recipient_email")),
    )
    # SQLite rebuilds staff_user for this (the env turns foreign keys off for the rebuild).
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_staff_user_role"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_staff_user_store_for_staff"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_staff_user_role"), ROLE_AFTER)
        batch_op.create_check_constraint(batch_op.f("ck_staff_user_store_for_staff"), STORE_AFTER)
        batch_op.create_check_constraint(
            batch_op.f("ck_staff_user_service_no_sign_in"), SERVICE_NO_SIGN_IN
        )


def downgrade() -> None:
    services = op.get_bind().execute(
        sa.text("SELECT count(*) FROM staff_user WHERE role = 'service'")
    )
    if services.scalar():
        raise RuntimeError(
            "service accounts exist, and the schema before 0005 cannot hold them: delete them "
            "(and their tokens, and the orders they drafted) or stay at 0005"
        )
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_staff_user_service_no_sign_in"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_staff_user_store_for_staff"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_staff_user_role"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_staff_user_role"), ROLE_BEFORE)
        batch_op.create_check_constraint(batch_op.f("ck_staff_user_store_for_staff"), STORE_BEFORE)
    op.drop_table("report_recipient")
