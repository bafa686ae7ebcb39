"""What each till last said its journal holds (`X-Kassa-Journal`), for the quality gate.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("journal_sale_seq", SEQ, nullable=True))
        batch_op.add_column(sa.Column("journal_shift_seq", SEQ, nullable=True))
        batch_op.add_column(
            sa.Column("journal_reported_at", hub.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("journal_reported_at")
        batch_op.drop_column("journal_shift_seq")
        batch_op.drop_column("journal_sale_seq")
