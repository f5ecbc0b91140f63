"""openrequest and follow: the city's open requests nearby, and the residents who follow one

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:00:00
"""

from alembic import op
import sqlalchemy as sa

import bot.timeutil

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "openrequest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_request_id", sa.String(length=128), nullable=False),
        sa.Column("service_code", sa.String(length=128), nullable=False),
        sa.Column("service_name", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("requested_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seen_at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ours", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_request_id"),
    )
    op.create_index("ix_openrequest_service_lat", "openrequest", ["service_code", "lat"])
    op.create_table(
        "follow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("service_request_id", sa.String(length=128), nullable=False),
        sa.Column("service_code", sa.String(length=128), nullable=False),
        sa.Column("service_name", sa.String(length=255), nullable=False),
        sa.Column("last_status", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "service_request_id", name="uq_follow_request"),
    )
    op.create_index("ix_follow_contact_id", "follow", ["contact_id"])
    op.create_index("ix_follow_service_request_id", "follow", ["service_request_id"])


def downgrade() -> None:
    op.drop_index("ix_follow_service_request_id", table_name="follow")
    op.drop_index("ix_follow_contact_id", table_name="follow")
    op.drop_table("follow")
    op.drop_index("ix_openrequest_service_lat", table_name="openrequest")
    op.drop_table("openrequest")
