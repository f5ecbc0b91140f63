"""photo: residents' photos through the media pipeline (fetched, cleaned, kept, served)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:00:00
"""

from alembic import op
import sqlalchemy as sa

import bot.timeutil

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=2048), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stored_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "reference", name="uq_photo_reference"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_photo_contact_id", "photo", ["contact_id"])
    op.create_index("ix_photo_message_id", "photo", ["message_id"])
    op.create_index("ix_photo_report_id", "photo", ["report_id"])
    op.create_index("ix_photo_state", "photo", ["state"])


def downgrade() -> None:
    for name in ("state", "report_id", "message_id", "contact_id"):
        op.drop_index(f"ix_photo_{name}", table_name="photo")
    op.drop_table("photo")
