"""contact.opted_out_at: when a resident stopped, for the console's list

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 08:45:00
"""

from alembic import op
import sqlalchemy as sa

import bot.timeutil

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.add_column(
            sa.Column("opted_out_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # In place (SQLite 3.35+, PostgreSQL): a batch would copy the table others refer to.
    op.execute("ALTER TABLE contact DROP COLUMN opted_out_at")
