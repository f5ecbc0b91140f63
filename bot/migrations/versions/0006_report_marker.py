"""report marker, first POST time, the check before posting again, staff retries

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 08:10:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

import bot.timeutil

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("marker", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("first_posted_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("check_before_post", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("retried_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_report_marker"), ["marker"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_marker"))
        batch_op.drop_column("retried_at")
        batch_op.drop_column("check_before_post")
        batch_op.drop_column("first_posted_at")
        batch_op.drop_column("marker")
