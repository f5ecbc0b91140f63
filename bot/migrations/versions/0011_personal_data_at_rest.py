"""residents' data at rest: contact addresses encrypted and found by a keyed hash, report phone
and email encrypted, raw payloads stripped, erasure and forget columns

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 18:30:00

Encrypts the rows already stored with the keys configured now (ENCRYPTION_KEYS, LOOKUP_KEY:
set them before migrating). The downgrade decrypts them again; stripped payloads stay
stripped, and an address already erased comes back as "erased:<id>".
"""

from alembic import op
import sqlalchemy as sa

import bot.timeutil
from bot import personal_data

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The raw payload keys kept on messages stored before 0011: provider ids and counts, never a
# number, a name or the words (bot.payloads.strip_raw keeps the same for new ones).
KEPT_RAW = ("MessageSid", "SmsMessageSid", "NumMedia", "NumSegments", "SmsStatus", "update_id")

report = sa.table(
    "report", sa.column("id", sa.Integer), sa.column("phone", sa.Text), sa.column("email", sa.Text)
)
message = sa.table("message", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _rename(table: str, old: str, new: str) -> None:
    # Native on both databases (SQLite 3.25+): no table copy, which SQLite's foreign keys
    # (contact is referenced by every conversation, message and report) would refuse.
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("contact", sa.Column("address_key", sa.String(length=64), nullable=True))
    op.add_column("contact", sa.Column("address_secret", sa.Text(), nullable=True))
    rows = bind.execute(sa.text("SELECT id, address FROM contact")).all()
    for contact_id, address in rows:
        bind.execute(
            sa.text(
                "UPDATE contact SET address_key = :key, address_secret = :secret WHERE id = :id"
            ),
            {
                "key": personal_data.address_key(address),
                "secret": personal_data.encrypt(address),
                "id": contact_id,
            },
        )
    op.drop_index("ix_contact_address", table_name="contact")
    op.drop_column("contact", "address")
    _rename("contact", "address_secret", "address")
    op.create_index("ix_contact_address_key", "contact", ["address_key"], unique=True)

    if _postgresql():
        op.alter_column("report", "phone", type_=sa.Text(), existing_nullable=True)
        op.alter_column("report", "email", type_=sa.Text(), existing_nullable=True)
    _recode_report_contacts(personal_data.encrypt)
    op.add_column(
        "report",
        sa.Column("erased_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "conversation",
        sa.Column("forget_asked_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True),
    )
    _strip_payloads()


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_column("conversation", "forget_asked_at")
    op.drop_column("report", "erased_at")
    _recode_report_contacts(personal_data.decrypt)
    if _postgresql():
        op.alter_column("report", "phone", type_=sa.String(length=64), existing_nullable=True)
        op.alter_column("report", "email", type_=sa.String(length=255), existing_nullable=True)

    op.add_column("contact", sa.Column("address_clear", sa.String(length=255), nullable=True))
    for contact_id, secret in bind.execute(sa.text("SELECT id, address FROM contact")).all():
        clear = personal_data.decrypt(secret) if secret else f"erased:{contact_id}"
        bind.execute(
            sa.text("UPDATE contact SET address_clear = :clear WHERE id = :id"),
            {"clear": clear, "id": contact_id},
        )
    op.drop_index("ix_contact_address_key", table_name="contact")
    op.drop_column("contact", "address_key")
    op.drop_column("contact", "address")
    _rename("contact", "address_clear", "address")
    if _postgresql():
        op.alter_column("contact", "address", existing_type=sa.String(length=255), nullable=False)
    op.create_index("ix_contact_address", "contact", ["address"], unique=True)


def _recode_report_contacts(code) -> None:
    """Pass every stored phone and email through `code` (encrypt or decrypt)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(report.c.id, report.c.phone, report.c.email).where(
            sa.or_(report.c.phone.is_not(None), report.c.email.is_not(None))
        )
    ).all()
    for report_id, phone, email in rows:
        bind.execute(
            report.update()
            .where(report.c.id == report_id)
            .values(
                phone=code(phone) if phone is not None else None,
                email=code(email) if email is not None else None,
            )
        )


def _strip_payloads() -> None:
    """Keep only provider ids and counts of the raw payloads stored so far."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(message.c.id, message.c.payload)).all()
    for message_id, payload in rows:
        if not isinstance(payload, dict) or not isinstance(payload.get("raw"), dict):
            continue
        raw = payload["raw"]
        kept = {key: raw[key] for key in KEPT_RAW if key in raw}
        if kept != raw:
            bind.execute(
                message.update()
                .where(message.c.id == message_id)
                .values(payload={**payload, "raw": kept})
            )
