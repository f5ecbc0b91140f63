"""conversation.handoff_staff_in: whether staff were in when the conversation was flagged

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("handoff_staff_in", sa.Boolean(), nullable=True))
    # A wait flagged before this column: staff are taken to have been in (the old reading of
    # an empty HANDOFF_HOURS), so it still ends after HANDOFF_WAIT_MINUTES.
    op.execute("UPDATE conversation SET handoff_staff_in = TRUE WHERE handoff = 'waiting'")


def downgrade() -> None:
    # In place (SQLite 3.35+, PostgreSQL): a batch would copy the table others refer to.
    op.execute("ALTER TABLE conversation DROP COLUMN handoff_staff_in")
