"""staffuser, reportevent and the conversation's handoff: the staff console (issue #20)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:20:00
"""

from alembic import op
import sqlalchemy as sa

import bot.timeutil

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("handoff", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("handoff_reason", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("handoff_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("handoff_by", sa.String(length=64), nullable=True))
    # Outside the batch: on SQLite an index in it would copy the table, which rows refer to.
    op.create_index("ix_conversation_handoff", "conversation", ["handoff"])
    op.create_table(
        "staffuser",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("last_signin_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staffuser_username", "staffuser", ["username"], unique=True)
    op.create_table(
        "reportevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reportevent_report_id", "reportevent", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_reportevent_report_id", table_name="reportevent")
    op.drop_table("reportevent")
    op.drop_index("ix_staffuser_username", table_name="staffuser")
    op.drop_table("staffuser")
    op.drop_index("ix_conversation_handoff", table_name="conversation")
    # Not a batch: on SQLite it would copy the table, which reports and messages refer to.
    # SQLite (3.35+) and PostgreSQL both drop a column in place.
    for column in ("handoff_by", "handoff_at", "handoff_reason", "handoff"):
        op.execute(f"ALTER TABLE conversation DROP COLUMN {column}")
