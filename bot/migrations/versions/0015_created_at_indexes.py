"""indexes on message.created_at and report.created_at: the day's figures read one day

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:30:00
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_message_created_at", "message", ["created_at"])
    op.create_index("ix_report_created_at", "report", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_report_created_at", table_name="report")
    op.drop_index("ix_message_created_at", table_name="message")
