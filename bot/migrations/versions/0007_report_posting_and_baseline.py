"""report: last POST time, a note for staff, the city's first look-up (baseline)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:10:00
"""

from alembic import op
import sqlalchemy as sa

import bot.timeutil

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_posted_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("staff_note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("last_checked_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
    # Reports filed before this revision have had their first look-up: no baseline to take.
    op.execute("UPDATE report SET last_checked_at = updated_at WHERE state = 'submitted'")


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("last_checked_at")
        batch_op.drop_column("staff_note")
        batch_op.drop_column("last_posted_at")
