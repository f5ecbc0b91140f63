"""Key rotation for residents' data at rest (`intake311 keys rotate`, SECURITY.md).

ENCRYPTION_KEYS lists Fernet keys, newest first: every value is written with the first and
read with any. To rotate: put a new key first (`intake311 keys new`), restart, run
`intake311 keys rotate` (every stored value re-encrypted under it), then drop the old key.

LOOKUP_KEY keys the hash that finds a contact by address. A hash cannot be converted to a new
key, only computed again from the address: `keys rotate --rehash`, run with the new LOOKUP_KEY
set and nothing else running, hashes every contact whose address we still hold. A contact kept
only as an opt-out (STOP erased its address) cannot be: it keeps its old hash, and is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from bot import personal_data
from bot.db import session_scope

# The encrypted columns, read and written as the stored tokens (not through EncryptedText).
ENCRYPTED = {"contact": ("address",), "report": ("phone", "email")}
BATCH = 500


@dataclass(frozen=True)
class Rotated:
    """What a rotation did: values re-encrypted, contacts rehashed, opt-outs left as they were."""

    values: int = 0
    rehashed: int = 0
    not_rehashed: int = 0


def rotate_all(rehash: bool = False) -> Rotated:
    """Re-encrypt every stored value under the newest ENCRYPTION_KEYS key; with `rehash`,
    compute every contact's address_key again under LOOKUP_KEY."""
    values = sum(
        _rotate(table, column) for table, columns in ENCRYPTED.items() for column in columns
    )
    rehashed = not_rehashed = 0
    if rehash:
        rehashed, not_rehashed = _rehash()
    return Rotated(values, rehashed, not_rehashed)


def _rotate(table_name: str, column: str) -> int:
    table = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column, sa.Text))
    done, last = 0, 0
    while True:
        with session_scope() as session:
            rows = session.execute(
                sa.select(table.c.id, table.c[column])
                .where(table.c.id > last, table.c[column].is_not(None))
                .order_by(table.c.id)
                .limit(BATCH)
            ).all()
            for row_id, token in rows:
                session.execute(
                    table.update()
                    .where(table.c.id == row_id)
                    .values({column: personal_data.rotate(token)})
                )
        if not rows:
            return done
        done += len(rows)
        last = rows[-1][0]


def _rehash() -> tuple[int, int]:
    contact = sa.table(
        "contact",
        sa.column("id", sa.Integer),
        sa.column("address", sa.Text),
        sa.column("address_key", sa.String),
    )
    with session_scope() as session:
        rows = session.execute(
            sa.select(contact.c.id, contact.c.address).where(contact.c.address_key.is_not(None))
        ).all()
        held = [(row_id, token) for row_id, token in rows if token is not None]
        # Two passes, so a new hash never meets a not-yet-rehashed contact's old one.
        for row_id, _ in held:
            session.execute(
                contact.update()
                .where(contact.c.id == row_id)
                .values(address_key=f"rehash-{row_id}")
            )
        for row_id, token in held:
            new = personal_data.address_key(personal_data.decrypt(token))
            session.execute(contact.update().where(contact.c.id == row_id).values(address_key=new))
    return len(held), len(rows) - len(held)
