"""report: the city's status of the request named city_status (apart from our own state)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            new_column_name="city_status",
            existing_type=sa.String(length=32),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.alter_column(
            "city_status",
            new_column_name="status",
            existing_type=sa.String(length=32),
            existing_nullable=True,
        )
